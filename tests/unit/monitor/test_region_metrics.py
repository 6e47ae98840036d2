"""Zone occupancy and line crossings as metrics: the totals outlive workers and the monitor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from coral_serve.monitoring.line_totals import LineTotals
from coral_serve.monitoring.poller import WorkerPoller
from coral_serve.sinks.prometheus import PrometheusSink
from tests.unit.monitor.stub_workers import StubWorkers, running_status
from tests.unit.webapp import make_config


def status(generation: int, people_in: int, in_zone: dict[str, int]) -> dict[str, Any]:
    analytics = {
        "zones": {"dock": in_zone},
        "lines": {"gate": {"in": {"person": people_in}, "out": {}}},
    }
    return {**running_status("cam"), "generation": generation, "analytics": analytics}


class Monitor:
    """A poller and a Prometheus sink, as MonitorService composes them."""

    def __init__(self, workers: StubWorkers, tmp_path: Path, totals: str = "line_totals.json"):
        config = make_config(tmp_path)
        lines = LineTotals(tmp_path / totals)
        self.poller = WorkerPoller(workers, config.monitoring, lines)
        self.sink = PrometheusSink()
        self.registry = CollectorRegistry()
        self.registry.register(self.sink)

    async def scrape(self, now: float) -> dict[tuple[str, tuple], float]:
        await self.sink.write(await self.poller.poll({}, now))
        text = generate_latest(self.registry).decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name in ("coral_zone_objects", "coral_line_crossings_total")
        }


GATE_IN = (
    "coral_line_crossings_total",
    (("class", "person"), ("direction", "in"), ("line", "gate"), ("pipeline", "p1")),
)
DOCK_PEOPLE = ("coral_zone_objects", (("class", "person"), ("pipeline", "p1"), ("zone", "dock")))


async def test_line_totals_survive_a_new_worker_and_a_restarted_monitor(tmp_path: Path) -> None:
    workers = StubWorkers()
    monitor = Monitor(workers, tmp_path)
    workers.statuses["p1"] = status(generation=1, people_in=3, in_zone={"person": 2})
    assert (await monitor.scrape(1.0))[GATE_IN] == 3
    # The worker is replaced: the new one counts from zero.
    workers.statuses["p1"] = status(generation=2, people_in=1, in_zone={"person": 1})
    assert (await monitor.scrape(2.0))[GATE_IN] == 4
    # The monitor restarts too (its process, its sink): the file carries the totals.
    monitor = Monitor(workers, tmp_path)
    assert monitor.poller.line_totals("p1") == {("gate", "in", "person"): 4}  # before a poll
    workers.statuses["p1"] = status(generation=2, people_in=2, in_zone={"person": 1})
    assert (await monitor.scrape(3.0))[GATE_IN] == 5
    # A worker restarted in place (same generation, counts fell) adds on as well.
    workers.statuses["p1"] = status(generation=2, people_in=1, in_zone={})
    assert (await monitor.scrape(4.0))[GATE_IN] == 6
    assert monitor.poller.line_totals("p1") == {("gate", "in", "person"): 6}


async def test_zone_occupancy_is_a_gauge_that_empties(tmp_path: Path) -> None:
    workers = StubWorkers()
    monitor = Monitor(workers, tmp_path)
    workers.statuses["p1"] = status(generation=1, people_in=0, in_zone={"person": 2})
    assert (await monitor.scrape(1.0))[DOCK_PEOPLE] == 2
    workers.statuses["p1"] = status(generation=1, people_in=0, in_zone={})
    assert (await monitor.scrape(2.0))[DOCK_PEOPLE] == 0
    del workers.statuses["p1"]  # gone: its series are no longer exposed
    assert await monitor.scrape(3.0) == {}
    # The history of the charts keeps pipeline points only.
    history = monitor.poller.history("p1", 60, 3.0)
    assert history.samples and all("fps" in sample.values for sample in history.samples)


async def test_a_totals_file_that_cannot_be_written_does_not_stop_the_metrics(
    tmp_path: Path,
) -> None:
    (tmp_path / "taken").mkdir()  # a directory where the file should go
    workers = StubWorkers()
    monitor = Monitor(workers, tmp_path, totals="taken")
    workers.statuses["p1"] = status(generation=1, people_in=3, in_zone={})
    assert (await monitor.scrape(1.0))[GATE_IN] == 3
    workers.statuses["p1"] = status(generation=2, people_in=1, in_zone={})
    assert (await monitor.scrape(2.0))[GATE_IN] == 4  # kept in memory meanwhile
