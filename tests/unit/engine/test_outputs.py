"""Results ring, stats windows, stage channel and the annotator."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from coral_serve.engine.annotate import annotate, class_color
from coral_serve.engine.channel import Channel, ChannelClosedError
from coral_serve.engine.decoders import Detection
from coral_serve.engine.results import ResultsBuffer
from coral_serve.engine.stats import LatencyWindow, PipelineStats, RateWindow


def record(frame_id: int) -> dict:
    return {"frame_id": frame_id, "timestamp": 0.0, "source_id": "s", "detections": []}


def test_results_ring_is_bounded_and_consume_removes() -> None:
    ring = ResultsBuffer(3)
    for frame_id in range(5):
        ring.append(record(frame_id))
    assert len(ring) == 3 and ring.overflowed == 2
    assert [r["frame_id"] for r in ring.consume(2)] == [2, 3]
    assert ring.consume(10, exclude_fields=("detections", "timestamp", "seq")) == [
        {"frame_id": 4, "source_id": "s"}
    ]
    assert ring.consume() == [] and len(ring) == 0
    with pytest.raises(ValueError):
        ResultsBuffer(0)


def test_results_ring_reads_by_seq_without_removing() -> None:
    ring = ResultsBuffer(3)
    for frame_id in range(5):
        ring.append(record(frame_id))
    assert [r["seq"] for r in ring.read()] == [3, 4, 5]  # 1 and 2 were pushed out
    assert [r["frame_id"] for r in ring.read(after=3, max_items=1)] == [3]
    assert ring.read(after=5) == [] and len(ring) == 3
    assert ring.read(after=4, exclude_fields=("detections", "timestamp")) == [
        {"seq": 5, "frame_id": 4, "source_id": "s"}
    ]
    # A cursor from an earlier worker (numbering restarted) reads from the oldest record.
    fresh = ResultsBuffer(3)
    fresh.append(record(0))
    assert [r["seq"] for r in fresh.read(after=40)] == [1]


def test_results_ring_under_concurrent_writers() -> None:
    ring = ResultsBuffer(10_000)

    def write(offset: int) -> None:
        for i in range(1000):
            ring.append(record(offset + i))

    threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    taken = []
    for thread in threads:
        thread.join()
    taken += ring.consume(10_000)
    assert sorted(r["frame_id"] for r in taken) == list(range(4000))


def test_latency_window_last_mean_p95() -> None:
    window = LatencyWindow(size=100)
    assert window.summary() == {"last": None, "mean": None, "p95": None}
    for value in range(1, 101):
        window.add(value / 1000)
    window.add(0.5)  # pushes 0.001 out of the 100-sample window
    summary = window.summary()
    assert summary["last"] == 0.5
    assert summary["p95"] == pytest.approx(0.096)
    assert summary["mean"] == pytest.approx((sum(range(2, 101)) / 1000 + 0.5) / 100)


def test_rate_window_and_counters() -> None:
    rate = RateWindow(seconds=5)
    for i in range(11):
        rate.add(100 + i * 0.1)  # 10 per second
    assert rate.rate(101.0) == pytest.approx(10.0)
    assert rate.rate(200.0) == 0.0  # events stopped: the rate falls to zero
    stats = PipelineStats()
    stats.add_read(3)
    stats.add_dropped()
    stats.add_reconnect()
    stats.inference(0.02)
    stats.processed(0.05)
    snapshot = stats.snapshot()
    assert snapshot["counters"] == {
        "frames_read": 3,
        "frames_processed": 1,
        "frames_dropped": 1,
        "reconnects": 1,
    }
    assert snapshot["latency"]["inference"]["last"] == 0.02
    assert snapshot["latency"]["end_to_end"]["p95"] == 0.05


def test_channel_drops_oldest_or_waits_and_closes() -> None:
    channel: Channel[int] = Channel(2)
    assert channel.put(1) == 0 and channel.put(2) == 0
    assert channel.put(3, drop_oldest=True) == 1
    assert [channel.get(), channel.get()] == [2, 3]
    channel.put(4)
    channel.put(5)
    outcome: list[str] = []

    def produce() -> None:
        try:
            channel.put(6)
        except ChannelClosedError:
            outcome.append("closed")

    blocked = threading.Thread(target=produce)
    blocked.start()
    blocked.join(0.1)
    assert blocked.is_alive()  # full and lossless: the producer waits
    channel.close()
    blocked.join(1)
    assert not blocked.is_alive() and outcome == ["closed"]
    with pytest.raises(ChannelClosedError):
        channel.get()


def test_annotate_draws_boxes_and_labels() -> None:
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    assert annotate(frame, []) is frame and not frame.any()
    detection = Detection(3, "motorcycle", 0.87, (20.0, 40.0, 100.0, 110.0))
    annotate(frame, [detection])
    assert tuple(int(v) for v in frame[75, 20]) == class_color(3)  # left edge of the box
    assert frame[30:40, 20:60].any()  # the label above the box
    assert not frame[115:, 120:].any()  # nothing drawn far from it
