// The Events page: object events (what tracked objects did), newest first, with their
// best-frame thumbnails; filters by pipeline, class, zone and time; a click plays the clip.
// Not the lifecycle log of a pipeline (created, started, failed), which its own page shows.
"use strict";

async function viewEvents(main, page, app) {
  const player = h("video", { controls: true, id: "event-player", hidden: true });
  const caption = h("p", { className: "muted", id: "event-caption" });
  const body = h("tbody");
  const more = h("button", { className: "ghost", textContent: "Older events", hidden: true });
  const pipelines = Object.fromEntries((await api.get("/api/v1/pipelines")).map((p) => [p.id, p.name]));
  const pipeline = h("select", { name: "pipeline_id" }, h("option", { value: "", textContent: "every pipeline" }),
    ...Object.entries(pipelines).map(([id, name]) => h("option", { value: id, textContent: name })));
  const label = h("input", { name: "label", placeholder: "person" });
  const zone = h("input", { name: "zone", placeholder: "any zone" });
  const after = h("input", { name: "after", type: "datetime-local" });
  let cursor = null;

  const query = () => {
    const params = new URLSearchParams({ limit: "25" });
    if (pipeline.value) params.set("pipeline_id", pipeline.value);
    if (label.value.trim()) params.set("label", label.value.trim());
    if (zone.value.trim()) params.set("zone", zone.value.trim());
    if (after.value) params.set("after", String(new Date(after.value).getTime() / 1000));
    if (cursor) params.set("cursor", cursor);
    return `/api/v1/events?${params}`;
  };

  const play = async (event) => {
    const path = `/api/v1/events/${event.id}/clip.mp4`;
    caption.textContent = `${event.label} on ${pipelines[event.pipeline_id] || event.pipeline_id}, ${fmtTime(event.start)}`;
    if (event.clip !== "ready") {
      player.hidden = true;
      caption.textContent += `: no clip (${event.clip_reason || event.clip})`;
      return;
    }
    player.hidden = false;
    player.src = await api.mediaUrl(path, app.authEnabled);
    player.play().catch((error) => toast(`Playback failed: ${error.message}`));
  };

  const row = (event) => {
    const thumb = h("img", { className: "thumb", alt: event.label, loading: "lazy" });
    if (event.has_snapshot) {
      api.mediaUrl(`/api/v1/events/${event.id}/snapshot.jpg?crop=true`, app.authEnabled)
        .then((url) => { thumb.src = url; }, () => { thumb.alt = "no snapshot"; });
    }
    const seconds = event.end ? `${(event.end - event.start).toFixed(1)} s` : "ongoing";
    return h("tr", { dataset: { event: event.id }, onclick: () => play(event), style: "cursor: pointer" },
      h("td", {}, event.has_snapshot ? thumb : h("span", { className: "muted", textContent: "—" })),
      h("td", { textContent: event.label }),
      h("td", { textContent: pipelines[event.pipeline_id] || event.pipeline_id }),
      h("td", { textContent: event.zones.join(", ") || "—" }),
      h("td", { textContent: fmtTime(event.start) }),
      h("td", { textContent: seconds }),
      h("td", {}, badge(event.clip === "ready" ? "ok" : event.clip)));
  };

  const load = async (append) => {
    if (!append) cursor = null;
    const found = await api.get(query());
    if (!append) body.replaceChildren();
    body.append(...found.events.map(row));
    if (!body.children.length) {
      body.append(h("tr", {}, h("td", { colSpan: 7, className: "muted", textContent: "No object events yet." })));
    }
    cursor = found.next_cursor;
    more.hidden = !cursor;
  };
  more.onclick = () => load(true).catch((error) => toast(error.message));
  const filters = h("form", { className: "row", id: "event-filters", onsubmit: (e) => {
    e.preventDefault();
    load(false).catch((error) => toast(error.message));
  } },
  h("label", {}, "Pipeline", pipeline), h("label", {}, "Class", label), h("label", {}, "Zone", zone),
  h("label", {}, "From", after), h("button", { type: "submit", textContent: "Filter" }));

  main.append(h("section", { className: "card" }, h("h2", { textContent: "Object events" }), filters,
    caption, player,
    h("table", { id: "events" },
      h("thead", {}, h("tr", {}, ...["", "class", "pipeline", "zones", "start", "length", "clip"]
        .map((t) => h("th", { textContent: t })))),
      body),
    more));
  page.onCleanup(() => player.pause());
  await load(false);
}
