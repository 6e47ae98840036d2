"""MonitorService's loops: polling that no worker can stall, stdout and plugin sinks, and a
stop that leaves nothing running."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from coral_serve.services.monitor import TASK_PREFIX, MonitorService
from tests.integration.processes import free_port
from tests.unit.monitor.stub_workers import StubWorkers, running_status
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config


def monitor_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(TASK_PREFIX)]


async def test_a_hung_worker_never_holds_up_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path, "monitoring.poll_interval=0.2", "monitoring.flush_interval=0.3")
    workers = StubWorkers()
    workers.statuses["cam-1"] = running_status("lobby")
    workers.hung.add("cam-2")
    monitor = MonitorService(config, workers)
    await monitor.start()
    try:
        history = await eventually(
            lambda: monitor.history("cam-1", 60), lambda h: len(h.samples) >= 6, timeout=20
        )
        # Each status call to cam-2 would hang for an hour but for its deadline: cam-1 kept
        # getting samples, and cam-2 has one per poll too.
        assert {s.values["state"] for s in history.samples} == {"running"}
        hung = (await monitor.history("cam-2", 60)).samples
        assert hung and {s.values["state"] for s in hung} == {"unresponsive"}

        del workers.statuses["cam-1"]  # its worker went away
        output: list[str] = []

        async def printed() -> str:
            output.append(capsys.readouterr().out)
            return "".join(output)

        text = await eventually(printed, lambda text: '"gone"' in text)
    finally:
        await monitor.stop()

    points = [json.loads(line) for line in text.splitlines()]  # one JSON object per line
    lobby = [p for p in points if p["tags"]["pipeline"] == "cam-1"]
    assert lobby[0]["fields"]["fps"] == 25.0 and lobby[0]["tags"]["name"] == "lobby"
    assert lobby[0]["fields"]["inference_mean_seconds"] == 0.012
    assert lobby[-1]["fields"]["state"] == "gone" and lobby[-1]["final"] is True


async def test_stop_ends_every_task_despite_a_hung_worker_and_a_down_sink(
    tmp_path: Path,
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    config = make_config(
        tmp_path,
        "monitoring.poll_interval=0.2",
        "monitoring.flush_interval=0.2",
        f"monitoring.sinks=[{{type: influx, url: '{down}', org: o, bucket: b}}, {{type: stdout}}]",
    )
    workers = StubWorkers()
    workers.statuses["cam-1"] = running_status("lobby")
    workers.hung.add("cam-2")
    monitor = MonitorService(config, workers)
    await monitor.start()
    assert (await monitor.check_tasks()).ok
    await eventually(monitor.sinks, lambda sinks: not sinks[0].up)

    await monitor.stop()

    assert await monitor.running_tasks() == []
    assert monitor_tasks() == []
    assert not (await monitor.check_tasks()).ok


async def test_sink_from_an_entry_point_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third-party distribution's `coral_serve.metric_sinks` entry point, installed on
    sys.path; one that does not exist shows as a sink that is down."""
    (tmp_path / "memory_sink.py").write_text(
        "from coral_serve.sinks import MetricsSink, SinkSpec\n"
        "RECEIVED = []\n"
        "class MemorySink(MetricsSink):\n"
        "    def __init__(self, options):\n"
        "        self.label = options['label']\n"
        "    async def write(self, points):\n"
        "        RECEIVED.extend((self.label, p.tags['name']) for p in points)\n"
        "SPEC = SinkSpec(name='memory', factory=MemorySink)\n"
    )
    dist = tmp_path / "memory_sink-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: memory-sink\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[coral_serve.metric_sinks]\nmemory = memory_sink:SPEC\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = make_config(
        tmp_path,
        "monitoring.poll_interval=0.2",
        "monitoring.flush_interval=0.2",
        "monitoring.sinks=[{type: plugin, name: memory, options: {label: mine}}, "
        "{type: plugin, name: nowhere}]",
    )
    workers = StubWorkers()
    workers.statuses["cam-1"] = running_status("lobby")
    monitor = MonitorService(config, workers)
    await monitor.start()
    try:
        import memory_sink  # type: ignore[import-not-found]

        await eventually(lambda: asyncio.sleep(0, memory_sink.RECEIVED), lambda r: len(r) >= 2)
        assert memory_sink.RECEIVED[0] == ("mine", "lobby")
        memory, nowhere = await eventually(monitor.sinks, lambda s: not s[1].up)
        assert memory.up and memory.written >= 1
        assert "no coral_serve.metric_sinks entry point named 'nowhere'" in nowhere.last_error
        assert (await monitor.check_tasks()).ok
    finally:
        await monitor.stop()
