"""Schemathesis against the app's own OpenAPI schema: no 5xx, no response that breaks the
schema, for a bounded number of generated requests per operation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hypothesis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import shared_file
from tests.unit.webapp import make_config, running_app, served_on_loopback

EXAMPLES_PER_OPERATION = 25
# Endless streams cannot be fuzzed by request/response; their handlers are covered elsewhere.
UNBOUNDED = ("/mjpeg",)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def fuzz(base_url: str) -> list[str]:
    """Run every operation; return one line per failure (the first of each operation)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(UNBOUNDED):
            continue

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
        @hypothesis.given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, timeout=20)
            case.validate_response(response, checks=CHECKS)

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc).splitlines()[0]}")
    return failures


async def test_no_server_errors_and_no_schema_violations(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    config = make_config(
        tmp_path, f"pipelines.sources.file_roots=[{video.parent}]", "monitoring=prometheus"
    )
    async with running_app(config) as (client, services):
        spec = {"name": "fuzzed", "source": {"uri": str(video), "loop": True},
                "model": {"backend": "none"}}  # fmt: skip
        assert (await client.post("/api/v1/pipelines", json=spec)).status_code == 201
        async with served_on_loopback(services["app"]) as url:
            failures = await asyncio.to_thread(fuzz, url)
    assert failures == []
