"""Admission control on the ingress: each client (a token, else its address) gets a bounded
number of requests in flight and a token-bucket rate; beyond them a 429 JSON answer with
Retry-After, while probes and the metrics scrape are never refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket

from coral_serve.config import ConfigError, ConfigSources, load_config
from coral_serve.config.admission import AdmissionConfig
from coral_serve.web.admission import AdmissionMiddleware, Budget
from tests.unit.waiting import eventually
from tests.unit.webapp import make_config, running_app, served_on_loopback

API = "/api/v1/pipelines"
OPS = "ops-token-0123456789"
WALL = "wall-token-0123456789"
ON = "http.admission.enabled=true"
# A bucket that does not refill while a test runs: every admitted request is counted.
NO_REFILL = "http.admission.rate=0.001"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_beyond_its_burst_a_client_gets_429_with_retry_after(tmp_path: Path) -> None:
    config = make_config(tmp_path, ON, NO_REFILL, "http.admission.burst=3", "monitoring=prometheus")
    async with running_app(config) as (client, services):
        assert [(await client.get(API)).status_code for _ in range(3)] == [200] * 3
        refused = await client.get(API)
        assert refused.status_code == 429
        assert refused.json()["error"] == "too_many"
        assert "http.admission.rate" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        # Probes and the scrape are exempt; so is nobody else's budget touched.
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
        other = httpx.ASGITransport(app=services["app"], client=("192.0.2.7", 4000))
        async with httpx.AsyncClient(transport=other, base_url="http://coral.test") as elsewhere:
            assert (await elsewhere.get(API)).status_code == 200


async def test_each_token_has_its_budget_and_bad_tokens_spend_the_address(tmp_path) -> None:
    tokens = (
        f"http.auth.tokens=[{{name: ops, role: admin, token: {OPS}}},"
        f"{{name: wall, role: viewer, token: {WALL}}}]"
    )
    config = make_config(
        tmp_path, ON, NO_REFILL, "http.admission.burst=2", "http.auth.mode=token", tokens
    )
    async with running_app(config) as (client, _):
        codes = [(await client.get(API, headers=bearer(OPS))).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await client.get(API, headers=bearer(WALL))).status_code == 200

        # Made-up tokens are not clients of their own: they share the address's budget.
        guesses = [bearer(f"guess-{n}-0123456789") for n in range(3)]
        codes = [(await client.get(API, headers=guess)).status_code for guess in guesses]
        assert codes == [401, 401, 429]
        assert (await client.get(API)).status_code == 429  # no token: the same address


async def test_requests_in_flight_are_bounded_per_client(tmp_path: Path) -> None:
    """Open streams count as in flight until they close; another address is unaffected."""
    config = make_config(
        tmp_path, ON, "http.admission.max_in_flight=2", "http.admission.rate=10000",
        "http.admission.burst=10000",
    )  # fmt: skip
    async with running_app(config) as (client, services):
        await client.get(API)  # primes the snapshot the streams follow
        async with (
            served_on_loopback(services["app"]) as url,
            httpx.AsyncClient(base_url=url) as browser,
            browser.stream("GET", "/api/v1/watch") as first,
        ):
            async with browser.stream("GET", "/api/v1/watch") as second:
                assert first.status_code == second.status_code == 200
                refused = await browser.get(API)
                assert refused.status_code == 429, refused.text
                assert "http.admission.max_in_flight" in refused.json()["detail"]
                assert refused.headers["retry-after"] == "1"
                assert (await browser.get("/healthz")).status_code == 200
                transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
                async with httpx.AsyncClient(base_url=url, transport=transport) as neighbour:
                    assert (await neighbour.get(API)).status_code == 200
            # The closed stream gives its slot back once the server sees it gone.
            await eventually(lambda: browser.get(API), lambda r: r.status_code == 200)


def test_a_bucket_refills_at_its_rate_and_says_when() -> None:
    budget = Budget(capacity=2, rate=0.5)
    now = budget.refilled_at
    budget.tokens -= 2
    assert budget.wait_for_token() == 2  # one token takes 1 / 0.5 s
    budget.refill(now + 1.0)
    assert budget.tokens == pytest.approx(0.5) and budget.wait_for_token() == 1
    budget.refill(now + 60.0)
    assert budget.tokens == 2  # never above the burst
    assert budget.idle(now + 60.0)


async def test_429_is_documented_on_limited_routes_only(tmp_path: Path) -> None:
    async with running_app(make_config(tmp_path, ON)) as (client, _):
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert "429" in paths[API]["get"]["responses"]
    assert "429" in paths[f"{API}/{{pipeline_id}}/pause"]["post"]["responses"]
    assert "429" not in paths["/healthz"]["get"]["responses"]
    assert "429" not in paths["/readyz"]["get"]["responses"]


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("http.admission.rate=0", "http.admission.rate"),
        ("http.admission.max_in_flight=0", "http.admission.max_in_flight"),
        ("http.admission.burst=lots", "http.admission.burst"),
    ],
)
def test_a_bad_admission_setting_names_its_key(setting: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ConfigSources(sets=[setting], environ={}))
    assert key in str(caught.value)


async def test_concurrent_requests_beyond_the_limit_are_refused_not_queued(tmp_path) -> None:
    """A burst of 40 at once from one client: 8 admitted, the rest 429 at once."""
    config = make_config(tmp_path, ON, NO_REFILL, "http.admission.burst=8")
    async with running_app(config) as (client, _):
        answers = await asyncio.gather(*(client.get(API) for _ in range(40)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 8 + [429] * 32


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


class Socket:
    """One WebSocket connection driven by its ASGI messages."""

    def __init__(self, app: AdmissionMiddleware) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.outbox: asyncio.Queue[Message] = asyncio.Queue()
        scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b"",
                 "client": ("127.0.0.1", 5000), "root_path": "", "subprotocols": []}  # fmt: skip
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(app(scope, self.inbox.get, self.outbox.put))

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        await self.task


async def test_an_open_websocket_holds_its_slot_and_one_too_many_is_closed_1013() -> None:
    """1013 is "try again later"; the slot comes back when the socket closes."""
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    limited = AdmissionMiddleware(app, AdmissionConfig(max_in_flight=1), frozenset())
    first = Socket(limited)
    assert (await first.outbox.get())["type"] == "websocket.accept"
    second = Socket(limited)
    assert await second.outbox.get() == {"type": "websocket.close", "code": 1013}
    await second.task
    await first.close()
    third = Socket(limited)
    assert (await third.outbox.get())["type"] == "websocket.accept"
    await third.close()
