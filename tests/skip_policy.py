"""No silent skips: under `CI=true` a skipped test fails unless its reason is allowed here.

A green run that skipped a third of the tests says nothing; this list is the one place that
names what may be skipped, and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

__all__ = ["ALLOWED_SKIPS", "NOT_BUNDLED", "POSE_MODEL_ABSENT", "AllowedSkip", "skip_allowed"]

POSE_MODEL_ABSENT = (
    "is AGPL-3.0 and not in the repository: see examples/NOTICE.md for how to export it "
    "into ../shared/models/"
)
# Test data that may not be redistributed (`shared_file` names it in its skip): why it is
# absent and how to get it.
NOT_BUNDLED = {("models", "yolo11n-pose-320.onnx"): POSE_MODEL_ABSENT}


@dataclass(frozen=True)
class AllowedSkip:
    reason_contains: str
    why: str


ALLOWED_SKIPS: tuple[AllowedSkip, ...] = (
    AllowedSkip(
        POSE_MODEL_ABSENT,
        "the YOLO11n-pose weights may not be redistributed, so a clone cannot carry them",
    ),
)


def skip_allowed(reason: str) -> bool:
    return any(entry.reason_contains in reason for entry in ALLOWED_SKIPS)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _enforce(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (report.skipped and _in_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if skip_allowed(reason):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI=true, and {reason!r} is not an allowed skip "
        "(tests/skip_policy.py ALLOWED_SKIPS): provide what the test needs, or list it there "
        "with the reason"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    report = yield
    _enforce(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    report = yield
    _enforce(report)
    return report
