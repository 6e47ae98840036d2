"""Notifiers from the descriptor: names made unique, `coral_serve.event_sinks` plugins built
with their options, and a plugin that cannot be built kept as a notifier that is down."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from coral_serve.config.notifications import NotifierConfig
from coral_serve.config.plugins import PluginsConfig
from coral_serve.notify.base import NotifierError
from coral_serve.notify.registry import UnavailableNotifier, build_notifiers
from coral_serve.notify.webhook import WebhookNotifier

SINK_MODULE = """
from coral_serve.notify.base import EventSinkSpec, Notifier

class Recorder(Notifier):
    def __init__(self, options):
        self.options = options
    async def deliver(self, message):
        pass

def broken(options):
    raise RuntimeError("no licence key")

SPEC = EventSinkSpec(name="recorder", factory=Recorder)
BROKEN = EventSinkSpec(name="broken", factory=broken)
"""


@pytest.fixture
def event_sink_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party distribution with two entry points, installed on sys.path."""
    (tmp_path / "recorder_sink.py").write_text(SINK_MODULE)
    dist = tmp_path / "recorder_sink-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: recorder-sink\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[coral_serve.event_sinks]\nrecorder = recorder_sink:SPEC\nbroken = recorder_sink:BROKEN\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))


async def allow_all(url: str) -> None:
    """The outbound policy, allowing every URL."""


async def test_plugins_are_built_with_their_options_and_names_stay_unique(
    event_sink_plugins: None,
) -> None:
    configs = TypeAdapter(list[NotifierConfig]).validate_python(
        [
            {"type": "plugin", "plugin": "recorder", "options": {"room": "lobby"}},
            {"type": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s" * 16},
            {"type": "webhook", "url": "http://127.0.0.1:9/other", "secret": "s" * 16},
            {"type": "plugin", "plugin": "broken"},
            {"type": "plugin", "plugin": "nowhere"},
        ]
    )
    built = build_notifiers(configs, PluginsConfig(), allow_all)
    assert [b.name for b in built] == ["recorder", "webhook", "webhook-2", "broken", "nowhere"]
    recorder, hook, _, broken, nowhere = (b.notifier for b in built)
    assert type(recorder).__name__ == "Recorder" and recorder.options == {"room": "lobby"}
    assert isinstance(hook, WebhookNotifier)
    assert isinstance(broken, UnavailableNotifier)
    assert broken.reason == "plugin unavailable: could not create it: RuntimeError: no licence key"
    assert isinstance(nowhere, UnavailableNotifier)
    assert "no coral_serve.event_sinks entry point named 'nowhere'" in nowhere.reason
    with pytest.raises(NotifierError, match="no licence key"):
        await broken.deliver(None)  # type: ignore[arg-type]  # its events wait in the outbox
