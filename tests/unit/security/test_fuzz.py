"""Schemathesis against the app's own OpenAPI schema: no 5xx, and every answer is one the
schema describes (status code, content type, headers, body), for data that fits the schema
and data that does not.

CI runs a few examples per operation; `make fuzz` runs thousands (CORAL_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import shared_file
from tests.unit.webapp import make_config, running_app, served_on_loopback

EXAMPLES_PER_OPERATION = int(os.environ.get("CORAL_FUZZ_EXAMPLES", "12"))
# Endless streams cannot be fuzzed by request/response; their handlers are covered elsewhere.
UNBOUNDED = ("/mjpeg", "/watch", "/results/stream")
# Not run: a schema-valid request may still name a file that does not exist or a host the
# outbound policy refuses, which the API rightly answers 422 and no JSON schema can express.
NOT_CHECKED = [positive_data_acceptance]


@dataclass
class FuzzReport:
    requests: int = 0
    server_errors: int = 0
    # One line per distinct failure: operation, generation mode, check and message.
    failures: Counter[str] = field(default_factory=Counter)


def fuzz(base_url: str, examples: int) -> FuzzReport:
    """Run every operation in both generation modes with the default checks."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(UNBOUNDED):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, base_url, examples, report)
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to negate: no parameters
    return report


def _fuzz_operation(
    operation: APIOperation, mode: GenerationMode, base_url: str, examples: int, report: FuzzReport
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        phases=[hypothesis.Phase.generate],  # every failure is counted, none shrunk
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, timeout=20)
        report.requests += 1
        report.server_errors += response.status_code >= 500
        try:
            case.validate_response(
                response, additional_checks=[not_a_server_error], excluded_checks=NOT_CHECKED
            )
        except (Exception, FailureGroup) as exc:
            lines = [line for line in str(exc).splitlines() if line.strip()]
            first = next((line for line in lines if line.startswith("- ")), lines[0])
            report.failures[f"{operation.label} [{mode.value}] {first}"] += 1

    check()


async def fuzzed_app_report(tmp_path: Path, examples: int) -> FuzzReport:
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(
        tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", "monitoring=prometheus"
    )
    async with running_app(config) as (client, services):
        spec = {"name": "fuzzed", "source": {"uri": str(video), "loop": True},
                "model": {"backend": "none"}}  # fmt: skip
        assert (await client.post("/api/v1/pipelines", json=spec)).status_code == 201
        async with served_on_loopback(services["app"]) as url:
            return await asyncio.to_thread(fuzz, url, examples)


async def test_no_server_errors_and_no_schema_violations(tmp_path: Path) -> None:
    report = await fuzzed_app_report(tmp_path, EXAMPLES_PER_OPERATION)
    print(f"fuzz: {report.requests} requests, {report.server_errors} server errors")
    for line, count in report.failures.most_common():
        print(f"  {count:5d}  {line}")
    assert report.requests > 0
    assert report.server_errors == 0
    assert sorted(report.failures) == []
