"""The built-in dashboard in headless Chromium, as an operator uses it: create a pipeline
through the form, watch it live, play its recording, visit every page, see a pause made
elsewhere arrive by push, resume and delete it; the connection banner when the server goes
and comes back; an overview of 30 pipelines. Each page leaves a screenshot in
$TEST_ARTIFACTS/dashboard/ (default test-artifacts/dashboard/)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from coral_serve.engine.event_media_files import event_media_path
from coral_serve.schema.events import ClipState, EventPhase
from tests.browser.chromium import BRIGHTNESS_JS, chromium
from tests.browser.support import reopenable, shot, watched_page
from tests.browser.test_live_view import playing
from tests.conftest import shared_file
from tests.unit.object_events import new_id, revision
from tests.unit.streams.support import passthrough, streams_app, streams_server
from tests.unit.waiting import eventually

pytestmark = pytest.mark.browser

API = "/api/v1/pipelines"


async def stored_event(services: dict[str, Any], pipeline_id: str, video: Path) -> str:
    """An ended object event of the pipeline, with a snapshot, a crop and a clip, stored as
    EventService stores what a worker reports; its id."""
    event = revision(
        new_id(),
        2,
        EventPhase.end,
        pipeline_id=pipeline_id,
        start=time.time() - 6,
        clip=ClipState.ready,
        has_snapshot=True,
    )
    picture = await services["streams"].snapshot(pipeline_id)
    for kind in ("snapshot", "crop", "clip"):
        path = event_media_path(services["events"]._data_dir, pipeline_id, event.id, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(video.read_bytes() if kind == "clip" else picture)
    await services["events"].store.store(pipeline_id, 1, [event])
    return event.id


async def test_operator_workflow_in_the_dashboard(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video, "streams.recordings.segment_seconds=2") as (
            client,
            services,
            url,
        ),
        chromium(tmp_path / "profile") as browser,
    ):
        page, errors = await watched_page(browser)
        await page.goto(f"{url}/")
        # The empty state says how to add a pipeline, file-roots rule and override included.
        empty = await page.locator("#empty-state").inner_text()
        assert "pipelines.sources.file_roots=[/videos]" in empty
        await shot(page, "01-empty")

        # Create through the form, with a probe preview and an inline validation error first.
        await page.get_by_role("link", name="New pipeline").first.click()
        form = page.locator("#create-form")
        await form.locator("[name=uri]").fill(str(video))
        await form.get_by_role("button", name="Probe source").click()
        await page.wait_for_selector("#probe-preview img")
        assert "768x576" in await page.locator("#probe-preview").inner_text()
        backends = await form.locator("[name=backend] option").all_inner_texts()
        assert {"onnxruntime", "rknn", "none"} <= set(backends)  # from the server's registry
        await form.locator("[name=name]").fill("bad name!")
        await form.locator("[name=backend]").select_option("none")
        await form.get_by_role("button", name="Create pipeline").click()
        await form.locator(".field-error[data-field=name]").wait_for()
        assert "name" in await page.locator("#create-errors").inner_text()
        await form.locator("[name=name]").fill("plaza")
        await form.locator("[name=loop]").check()
        await form.locator("[name=record]").check()
        await shot(page, "02-form")
        await form.get_by_role("button", name="Create pipeline").click()

        tile = page.locator("#pipelines [data-name=plaza]")
        plaza = (await eventually(lambda: client.get(API), lambda r: r.json())).json()[0]["id"]
        await tile.locator(".badge.running").wait_for(timeout=30_000)
        await page.wait_for_function(
            "() => Number(document.querySelector('[data-name=plaza] .fps').textContent) > 0",
            timeout=30_000,
        )
        await page.wait_for_function(
            "() => document.querySelector('[data-name=plaza] img.tile-thumb').naturalWidth > 0",
            timeout=15_000,
        )
        await shot(page, "03-overview")

        # Live view: WebRTC video that shows the plaza, and results on the data channel.
        await tile.get_by_role("link", name="plaza").click()
        await playing(page, "live-video", 1.0)
        assert await page.evaluate(BRIGHTNESS_JS, "live-video") > 40
        assert await page.locator("#live-mode").inner_text() == "live via webrtc"
        # Results as a table (a passthrough pipeline detects nothing), the record behind "raw".
        await page.wait_for_function(
            "() => document.getElementById('live-results-frame').textContent.startsWith('frame ')"
        )
        assert "nothing detected" in await page.locator("#live-results").inner_text()
        assert not await page.locator("#live-raw-record").is_visible()
        await page.locator("#live-raw summary").click()
        await page.wait_for_function(
            "() => document.getElementById('live-raw-record').textContent.includes('detections')"
        )
        # Charts with axes, growing by push; the lifecycle log says it started.
        await page.wait_for_function(
            "() => document.querySelectorAll('#chart-fps .u-axis').length === 2", timeout=10_000
        )
        assert "started" in await page.locator("#lifecycle").inner_text()
        await shot(page, "04-pipeline")
        # A field that applies in place, edited through PATCH with the revision's ETag.
        edit = page.locator("#edit-form")
        await edit.locator("[name='source.max_fps']").fill("8")
        await edit.get_by_role("button", name="Save changes").click()
        await page.get_by_role("status").filter(has_text="Saved (hot)").wait_for()
        assert (await client.get(API)).json()[0]["spec"]["source"]["max_fps"] == 8

        # A finished segment plays in the recordings browser, which finds it by itself.
        await page.goto(f"{url}/#/recordings")
        await page.locator("#recordings tr[data-segment]").first.wait_for(timeout=30_000)
        await (
            page.locator("#recordings tr[data-segment]")
            .first.get_by_role("button", name="Play")
            .click()
        )
        await playing(page, "recording-player", 0.5)
        assert await page.evaluate("document.getElementById('recording-player').videoWidth") == 768
        # The pipeline's timeline plays a segment from where it is clicked.
        await page.locator("#timelines .timeline-row .segment").first.click()
        assert "plaza" in await page.locator("#recording-caption").inner_text()
        await shot(page, "05-recordings")

        # An object event with its thumbnail, and its clip played from the list.
        event = await stored_event(services, plaza, video)
        await page.evaluate("location.hash = '#/events'")
        await page.wait_for_function(
            f"() => document.querySelector('#events tr[data-event=\"{event}\"] img')?.naturalWidth"
        )
        await page.locator(f"#events tr[data-event='{event}']").click()
        await playing(page, "event-player", 0.5)
        await shot(page, "06-events")

        # Every other page renders.
        for view, selector in [
            ("health", "#checks tr"),
            ("plugins", "#plugins"),
            ("config", "#effective-config"),
        ]:
            await page.evaluate(f"location.hash = '#/{view}'")
            await page.locator(selector).first.wait_for()
            await shot(page, f"06-{view}")

        # A pause made through the API shows within a second, without a reload.
        await page.evaluate("location.hash = '#/pipelines'")
        await tile.locator(".badge.running").wait_for()
        assert (await client.post(f"{API}/{plaza}/pause")).status_code == 200
        await tile.locator(".badge.paused").wait_for(timeout=1_000)
        await shot(page, "07-paused")
        # Its page waits for it to run, and plays as soon as it runs again.
        await tile.get_by_role("link", name="plaza").click()
        await page.wait_for_function(
            "() => document.getElementById('live-mode')?.textContent"
            " === 'waiting for the pipeline to run (paused)'"
        )
        await page.evaluate("location.hash = '#/pipelines'")
        await tile.get_by_role("button", name="Resume").click()
        await tile.locator(".badge.running").wait_for(timeout=30_000)
        await tile.get_by_role("link", name="plaza").click()
        await playing(page, "live-video", 1.0)
        assert await page.locator("#live-mode").inner_text() == "live via webrtc"
        await page.evaluate("location.hash = '#/pipelines'")

        # Delete asks first; Cancel keeps it, Yes deletes it.
        await tile.get_by_role("button", name="Delete").click()
        await page.locator("#confirm-dialog").get_by_role("button", name="Cancel").click()
        assert await tile.count() == 1
        await tile.get_by_role("button", name="Delete").click()
        await shot(page, "08-confirm")
        await page.locator("#confirm-dialog").get_by_role("button", name="Yes").click()
        await tile.wait_for(state="detached", timeout=30_000)
        assert (await client.get(API)).json() == []
        # The only console error is the form's deliberate 422.
        assert [e for e in errors if "status of 422" not in e] == []


TOKEN = "t" * 40
AUTH = ("http.auth.mode=token", f"http.auth.tokens=[{{name: ops, role: admin, token: {TOKEN}}}]")


async def test_sign_in_then_the_banner_while_the_server_is_away_and_recovery(
    tmp_path: Path,
) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_app(tmp_path / "data", video, *AUTH) as (client, services),
        reopenable(services["app"]) as server,
        chromium(tmp_path / "profile") as browser,
    ):
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        page = await browser.new_page()
        await page.goto(f"{server.url}/")
        # No token yet: a sign-in dialog (not a prompt()); a wrong token asks again.
        login = page.locator("#login-dialog")
        await login.locator("[name=token]").fill("not-the-token-" + "x" * 26)
        await login.get_by_role("button", name="Sign in").click()
        await login.locator("[name=token]").fill(TOKEN)
        await shot(page, "09-sign-in")
        await login.get_by_role("button", name="Sign in").click()
        await page.locator("#empty-state").wait_for()
        assert await page.evaluate("sessionStorage.getItem('coral-token')") == TOKEN
        assert await page.locator("#connection-banner").count() == 0

        await server.stop()
        banner = page.locator("#connection-banner")
        await banner.wait_for(timeout=10_000)
        assert "reconnecting" in await banner.inner_text()
        await shot(page, "10-disconnected")
        # Made while the page cannot hear: it shows once the stream is back.
        created = await client.post(API, json=passthrough("while-away", video))
        assert created.status_code == 201

        await server.start()
        await banner.wait_for(state="detached", timeout=15_000)
        await page.locator("[data-name=while-away]").wait_for(timeout=10_000)


TIMING_JS = """
window.coralTiming = true;
window.longTasks = [];
new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)))
  .observe({ type: "longtask", buffered: true });
"""
PUSHES_JS = """performance.getEntriesByType("measure")
  .filter((m) => m.name === "coral-push:changes").map((m) => m.duration)"""


async def test_an_overview_of_30_pipelines_stays_responsive(tmp_path: Path) -> None:
    """Prints the main-thread time of each push (status changes of up to 30 pipelines, the
    re-render included) and the long tasks seen; the page holds one stream, not 30."""
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        for n in range(30):
            spec = passthrough(f"cam-{n:02d}", video)
            spec["source"]["max_fps"] = 2
            assert (await client.post(API, json=spec)).status_code == 201
        await eventually(
            lambda: client.get(API),
            lambda r: all(v["status"]["state"] == "running" for v in r.json()),
            timeout=90,
        )
        page, errors = await watched_page(browser)
        await page.add_init_script(TIMING_JS)
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.goto(f"{url}/")
        await page.wait_for_function(
            "() => document.querySelectorAll('#pipelines .badge.running').length === 30",
            timeout=30_000,
        )
        started = time.monotonic()
        await page.wait_for_function(f"() => ({PUSHES_JS}).length >= 5", timeout=60_000)
        pushes: list[float] = await page.evaluate(PUSHES_JS)
        long_tasks: list[float] = await page.evaluate("longTasks")
        seconds = time.monotonic() - started
        print(
            f"30 pipelines: {len(pushes)} status pushes in {seconds:.0f} s, main-thread time "
            f"per push mean {statistics.mean(pushes):.1f} ms, max {max(pushes):.1f} ms; "
            f"{len(long_tasks)} long tasks (>50 ms) since load"
            + (f", longest {max(long_tasks):.0f} ms" if long_tasks else "")
        )
        await shot(page, "11-overview-30")
        # Thumbnails are snapshots: they arrive although the page keeps only its push stream.
        await page.wait_for_function(
            "() => [...document.querySelectorAll('img.tile-thumb')].every((i) => i.naturalWidth)",
            timeout=30_000,
        )
        assert await services["streams"].session_count() == 0
        assert errors == []
