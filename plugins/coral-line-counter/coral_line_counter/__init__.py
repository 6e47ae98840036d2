"""coral_serve web plugin: count objects crossing a line."""

from __future__ import annotations

from pathlib import Path

from coral_line_counter.routes import build_router
from coral_serve.plugins.specs import UiEntry, WebPluginSpec

plugin = WebPluginSpec(
    name="line-counter",
    version="0.1.0",
    description="Counts objects crossing a line in a pipeline's results.",
    min_coral_version="0.1.0",
    router_factory=build_router,
    static_dir=Path(__file__).parent / "static",
    ui_entry=UiEntry(label="Line counter", path="/plugins/line-counter/static/"),
)
