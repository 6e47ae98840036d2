"""The pipeline page's zone and line editor in headless Chromium: shapes clicked onto the
pipeline's frame (a point dragged too) are saved in place (the same worker), a line it was
not asked to touch stays as it was, and a stale revision or a repeated name is refused with
the server's words. Then the events page's timeline: a row per pipeline, a mark per event
coloured by its class, and a mark that plays its clip."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from coral_serve.schema.events import EventPhase
from tests.browser.chromium import chromium
from tests.browser.support import shot, watched_page
from tests.browser.test_dashboard import stored_event
from tests.browser.test_live_view import playing
from tests.conftest import shared_file
from tests.unit.object_events import new_id, revision
from tests.unit.streams.support import passthrough, start_pipeline, streams_server

pytestmark = pytest.mark.browser

API = "/api/v1/pipelines"
MERGE = {"Content-Type": "application/merge-patch+json"}
PLUGIN_LINE = {"name": "line-counter", "points": [[0.0, 0.5], [1.0, 0.5]], "classes": ["person"]}
ZONE = [(0.1, 0.2), (0.5, 0.25), (0.45, 0.7)]
LINE = [(0.2, 0.85), (0.8, 0.75)]


async def click_at(page: Page, points: list[tuple[float, float]]) -> None:
    """Click the editor's picture at these points, in fractions of its size."""
    canvas = page.locator(".zone-canvas")
    box = await canvas.bounding_box()
    assert box is not None
    for x, y in points:
        await canvas.click(position={"x": x * box["width"], "y": y * box["height"]})


async def drag(page: Page, point: int, to: tuple[float, float]) -> None:
    """Drag the selected shape's point `point` to `to` (fractions of the picture)."""
    canvas = await page.locator(".zone-canvas").bounding_box()
    handle = await page.locator(f".zone-canvas .handle[data-point='{point}']").bounding_box()
    assert canvas is not None and handle is not None
    await page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    await page.mouse.down()
    x, y = canvas["x"] + to[0] * canvas["width"], canvas["y"] + to[1] * canvas["height"]
    await page.mouse.move(x, y, steps=4)
    await page.mouse.up()


async def open_editor(page: Page) -> None:
    await page.locator("#edit-zones").click()
    await page.wait_for_function(
        "() => document.getElementById('zone-picture')?.naturalWidth > 0", timeout=10_000
    )


async def analytics(client: httpx.AsyncClient, pipeline_id: str) -> dict[str, Any]:
    return (await client.get(f"{API}/{pipeline_id}")).json()["spec"]["analytics"]


def near(got: list[list[float]], want: list[tuple[float, float]]) -> bool:
    return len(got) == len(want) and all(
        abs(a - b) < 0.01 for p, q in zip(got, want, strict=True) for a, b in zip(p, q, strict=True)
    )


async def test_zones_and_lines_drawn_on_the_frame_are_saved_in_place(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video) as (client, _, url),
        chromium(tmp_path / "profile") as browser,
    ):
        spec = passthrough("plaza", video)
        spec["analytics"] = {"lines": [PLUGIN_LINE]}
        pipeline_id = await start_pipeline(client, spec)
        before = (await client.get(f"{API}/{pipeline_id}")).json()
        page, errors = await watched_page(browser)
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.goto(f"{url}/#/pipeline/{pipeline_id}")

        # A zone clicked corner by corner, closed on its first corner; a two-point line.
        await open_editor(page)
        await page.get_by_role("button", name="Draw zone").click()
        await click_at(page, [*ZONE, ZONE[0]])
        await page.locator("#shape-name").fill("entrance")
        await page.locator("#shape-classes").fill("person, car")
        await page.get_by_role("button", name="Draw line").click()
        await click_at(page, LINE[:1])
        await page.keyboard.press("Escape")  # drops the half-drawn line
        await page.get_by_role("button", name="Draw line").click()
        await click_at(page, [LINE[0], (0.5, 0.5)])
        await drag(page, 1, LINE[1])  # its end moved where it belongs
        await page.locator("#shape-name").fill("door")
        await shot(page, "12-zone-editor")
        await page.get_by_role("button", name="Save zones and lines").click()
        await page.locator("#live-overlay polygon[data-zone=entrance]").wait_for()
        assert await page.locator("#live-overlay line[data-line=door]").count() == 1

        after = (await client.get(f"{API}/{pipeline_id}")).json()
        zones, lines = after["spec"]["analytics"]["zones"], after["spec"]["analytics"]["lines"]
        assert [z["name"] for z in zones] == ["entrance"] and near(zones[0]["polygon"], ZONE)
        assert zones[0]["classes"] == ["person", "car"]
        assert lines[0] == before["spec"]["analytics"]["lines"][0]  # the plugin's, untouched
        assert [line["name"] for line in lines] == ["line-counter", "door"]
        assert near(lines[1]["points"], LINE)
        # Hot: the same worker redraws them, nothing restarted.
        assert after["generation"] == before["generation"]
        assert after["status"]["generation"] == before["status"]["generation"]
        assert after["status"]["restarts"] == before["status"]["restarts"]

        # Changed elsewhere while the editor is open: the save is refused, nothing lands.
        await open_editor(page)
        await page.get_by_role("button", name="zone: entrance").click()
        await page.locator("#shape-name").fill("hall")
        changed = await client.patch(
            f"{API}/{pipeline_id}", json={"source": {"max_fps": 8}}, headers=MERGE
        )
        assert changed.status_code == 200, changed.text
        await page.get_by_role("button", name="Save zones and lines").click()
        revision_now = changed.json()["pipeline"]["revision"]
        stale = page.locator("#zone-errors").filter(has_text=f"is at revision {revision_now}")
        await stale.wait_for()
        assert (await analytics(client, pipeline_id))["zones"] == zones
        await page.get_by_role("button", name="Cancel", exact=True).click()

        # A second line named like the first: flagged while typing, refused by the server.
        await open_editor(page)
        await page.get_by_role("button", name="Draw line").click()
        await click_at(page, [(0.1, 0.1), (0.3, 0.1)])
        await page.locator("#shape-name").fill("door")
        await page.locator("#shape-form .field-error").filter(has_text="another one").wait_for()
        await page.get_by_role("button", name="Save zones and lines").click()
        await page.locator("#zone-errors").filter(has_text="repeated: door").wait_for()
        assert "analytics.lines" in await page.locator("#zone-errors").inner_text()
        assert (await analytics(client, pipeline_id))["lines"] == lines
        assert [e for e in errors if "status of 412" not in e and "status of 422" not in e] == []


async def test_the_events_timeline_marks_each_event_and_plays_its_clip(tmp_path: Path) -> None:
    video = shared_file("media", "vtest-10s.mp4")
    async with (
        streams_server(tmp_path / "data", video) as (client, services, url),
        chromium(tmp_path / "profile") as browser,
    ):
        plaza = await start_pipeline(client, passthrough("plaza", video))
        person = await stored_event(services, plaza, video)  # from 6 s ago, for 5 s
        now = time.time()
        car = revision(new_id(), 2, EventPhase.end, pipeline_id=plaza, label="car", start=now - 20)
        other = revision(new_id(), 1, pipeline_id="gate-cam", label="person", start=now - 10)
        await services["events"].store.store(plaza, 1, [car])
        await services["events"].store.store("gate-cam", 1, [other])
        page, errors = await watched_page(browser)
        await page.goto(f"{url}/#/events")

        timeline = page.locator("#event-timeline")
        await timeline.locator(f"[data-event='{person}']").wait_for()
        rows = timeline.locator(".timeline-row")
        assert await rows.count() == 2
        plaza_row = timeline.locator(f".timeline-row[data-pipeline='{plaza}']")
        assert await plaza_row.locator(".event-mark").count() == 2
        # Placed in time (the car came first), coloured per class, the same class alike.
        left = "(m) => m.getBoundingClientRect().left"
        color = "(m) => getComputedStyle(m).backgroundColor"
        marks = {e: timeline.locator(f"[data-event='{e}']") for e in (person, car.id, other.id)}
        assert await marks[car.id].evaluate(left) < await marks[person].evaluate(left)
        assert await marks[car.id].evaluate(color) != await marks[person].evaluate(color)
        assert await marks[other.id].evaluate(color) == await marks[person].evaluate(color)
        await shot(page, "13-event-timeline")

        # A mark is a button: from the keyboard it plays the event's clip, as the list does.
        await marks[person].focus()
        await page.keyboard.press("Enter")
        await playing(page, "event-player", 0.5)
        assert "person on plaza" in await page.locator("#event-caption").inner_text()
        assert errors == []
