"""`/readyz` tells anyone whether the app is ready, and only a token holder why (paths, sink
errors), like the `?verbose` split of Kubernetes' own probes."""

from __future__ import annotations

from pathlib import Path

from tests.unit.security.test_auth import TOKENS, VIEWER, bearer
from tests.unit.webapp import make_config, running_app


async def test_readiness_details_need_a_token(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http.auth.mode=token", TOKENS, "health.checks=[store,disk]")
    async with running_app(config) as (client, _):
        anonymous = await client.get("/readyz")
        known = await client.get("/readyz", headers=bearer(VIEWER))
        wrong = await client.get("/readyz", headers=bearer("not-a-token-at-all-000"))
    assert anonymous.status_code == known.status_code == wrong.status_code == 200
    assert anonymous.json() == wrong.json()
    assert anonymous.json() == {
        "ready": True,
        "checks": [
            {"name": "store", "ok": True, "required": True},
            {"name": "disk", "ok": True, "required": True},
        ],
    }
    assert str(tmp_path) not in anonymous.text
    assert str(tmp_path) in known.text  # the disk check names the data dir it measured
    assert {check["name"] for check in known.json()["checks"]} == {"store", "disk"}


async def test_without_authentication_readiness_stays_verbose(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, "health.checks=[disk]")) as (client, _):
        check = (await client.get("/readyz")).json()["checks"][0]
    assert check["name"] == "disk" and str(tmp_path) in check["detail"]
