"""Secrets — passwords inside RTSP URLs, TURN credentials, API and sink tokens — appear in no
response, log line or metric (the TURN credential only in the ICE config browsers need)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app

RTSP_PASSWORD = "rtsp-Pa55word-9f3k"
TURN_SECRET = "turn-Cred-x81LmQ"
INFLUX_TOKEN = "influx-Tok-55aa77"
ADMIN_TOKEN = "admin-Tok-0123456789abcdef"
SECRETS = (RTSP_PASSWORD, TURN_SECRET, INFLUX_TOKEN, ADMIN_TOKEN)


async def test_secrets_never_leave_through_responses_logs_or_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    config = make_config(
        tmp_path,
        "http.auth.mode=token",
        f"http.auth.tokens=[{{name: ops, role: admin, token: {ADMIN_TOKEN}}}]",
        "streams.webrtc.ice_servers=[{urls: ['turn:127.0.0.1:3478'], username: u, "
        f"credential: {TURN_SECRET}}}]",
        "monitoring.sinks=[{type: prometheus}, {type: stdout}, "
        f"{{type: influx, url: 'http://127.0.0.1:9', org: o, bucket: b, token: {INFLUX_TOKEN}}}]",
        "monitoring.poll_interval=0.2",
        "monitoring.flush_interval=0.2",
    )
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with running_app(config) as (client, _):
        spec = {
            "name": "door",
            "source": {
                "uri": f"rtsp://admin:{RTSP_PASSWORD}@127.0.0.1:9/stream?token={RTSP_PASSWORD}",
                "reconnect": {"initial_delay": 0.1, "max_attempts": 1},
            },
            "model": {"backend": "none"},
            "restart_policy": "never",
        }
        created = await client.post("/api/v1/pipelines", json=spec, headers=headers)
        assert created.status_code == 201
        pipeline_id = created.json()["id"]
        await eventually(
            lambda: client.get(f"/api/v1/pipelines/{pipeline_id}/status", headers=headers),
            lambda r: r.json()["state"] == "failed",
            timeout=60,
        )
        probe = await client.post(
            "/api/v1/sources/probe",
            json={"uri": f"rtsp://u:{RTSP_PASSWORD}@127.0.0.1:9/x"},
            headers=headers,
        )
        assert RTSP_PASSWORD not in probe.text
        # Every GET route of the API, with the pipeline's id where one is needed.
        schema = (await client.get("/openapi.json")).json()
        bodies: dict[str, str] = {}
        for path, operations in schema["paths"].items():
            if "get" not in operations or _endless(path, operations["get"]):
                continue
            url = re.sub(r"\{pipeline_id\}", pipeline_id, path)
            if "{" in url:
                continue
            bodies[url] = (await client.get(url, headers=headers)).text
        bodies["/metrics"] = (await client.get("/metrics", headers=headers)).text
        unauthenticated = await client.get("/api/v1/pipelines")
        bodies["401"] = unauthenticated.text

    assert f"/api/v1/pipelines/{pipeline_id}/events" in bodies and "/api/v1/config" in bodies
    ice = bodies.pop("/api/v1/streams/ice-config")
    assert TURN_SECRET in ice  # the browser needs it to use the relay
    for url, body in bodies.items():
        for secret in SECRETS:
            assert secret not in body, f"{secret} leaked through {url}"
    logged = caplog.text + capsys.readouterr().out
    for secret in SECRETS:
        assert secret not in logged, f"{secret} leaked into the logs"
    assert "rtsp://***@127.0.0.1:9" in bodies[f"/api/v1/pipelines/{pipeline_id}"]


def _endless(path: str, operation: dict) -> bool:
    """Live streams (MJPEG, Server-Sent Events) never end, so a whole-body read would wait
    forever; what they carry is the masked views and records the other routes return."""
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    return path.endswith("/mjpeg") or "text/event-stream" in content
