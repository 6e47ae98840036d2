"""The events page's timeline in headless Chromium: a row per pipeline, a mark per event
coloured by its class, and a mark that plays its clip."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from coral_serve.schema.events import EventPhase
from tests.browser.chromium import chromium
from tests.browser.support import shot, watched_page
from tests.browser.test_dashboard import stored_event
from tests.browser.test_live_view import playing
from tests.conftest import shared_file
from tests.unit.object_events import new_id, revision
from tests.unit.streams.support import passthrough, start_pipeline, streams_server

pytestmark = pytest.mark.browser


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
