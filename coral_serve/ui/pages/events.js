// Object events (what tracked objects did), newest first, with their best-frame thumbnails,
// and above them a timeline of the same events, a row per pipeline; filters by pipeline,
// class, zone and time; a click (on a row or a mark) plays the clip. New events arrive by
// push and are offered at the top. Not the lifecycle log, which a pipeline's page shows.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { Badge, ErrorBox, fmtClock, fmtTime, html, toast } from "../lib.js";
import { useStore } from "../store.js";
import { byPipeline, spanOf, TimelineRow } from "../timeline.js";

function Thumb({ event, authEnabled }) {
  const [src, setSrc] = useState(null);
  useEffect(() => {
    if (!event.has_snapshot) return undefined;
    let live = true;
    api.mediaUrl(`/api/v1/events/${event.id}/snapshot.jpg?crop=true`, authEnabled)
      .then((url) => live && setSrc(url), () => {});
    return () => { live = false; };
  }, [event.id, event.has_snapshot]);
  if (!event.has_snapshot) return html`<span class="muted">—</span>`;
  return html`<img class="thumb" alt=${event.label} loading="lazy" src=${src || undefined} />`;
}

// A hue per label, from its characters: a class keeps its colour across rows and visits.
const hueOf = (label) => [...label].reduce((hue, c) => (hue * 31 + c.codePointAt(0)) % 360, 7);

// The shown events over the span they cover; an ongoing event reaches up to now.
function EventTimeline({ events, nameOf, onPlay }) {
  if (!events.length) return null;
  const now = Date.now() / 1000;
  const endOf = (e) => e.end ?? Math.max(now, e.start);
  const range = spanOf(events.map((e) => [e.start, endOf(e)]));
  const labels = [...new Set(events.map((e) => e.label))].sort();
  const count = (list) => (list.length === 1 ? "1 event" : `${list.length} events`);
  const marks = (list) => list.map((e) => ({
    key: e.id, start: e.start, end: endOf(e), className: "event-mark", style: { "--hue": hueOf(e.label) },
    title: `${e.label}, ${fmtTime(e.start)}`, label: `play ${e.label} on ${nameOf(e.pipeline_id)} at ${fmtTime(e.start)}`,
    attrs: { "data-event": e.id, "data-label": e.label }, onPick: () => onPlay(e),
  }));
  return html`<div id="event-timeline">
    <p class="legend"><span class="muted">${fmtClock(range.t0)} – ${fmtClock(range.t1)}</span>
      ${labels.map((label) => html`<span class="legend-item" data-label=${label}>
      <span class="swatch" style=${{ "--hue": hueOf(label) }}></span>${label}</span>`)}</p>
    ${[...byPipeline(events)].map(([id, list]) => html`<${TimelineRow} key=${id} pipelineId=${id}
      name=${nameOf(id)} note=${count(list)} range=${range} marks=${marks(list)} />`)}
  </div>`;
}

function query(filters, cursor) {
  const params = new URLSearchParams({ limit: "25" });
  for (const key of ["pipeline_id", "label", "zone"]) if (filters[key]) params.set(key, filters[key]);
  if (filters.after) params.set("after", String(new Date(filters.after).getTime() / 1000));
  if (cursor) params.set("cursor", cursor);
  return `/api/v1/events?${params}`;
}

export function EventsPage({ config }) {
  const authEnabled = config.auth_mode === "token";
  const pipelines = useStore((s) => s.pipelines);
  const pushed = useStore((s) => s.objects);
  const [filters, setFilters] = useState({});
  const [page, setPage] = useState({ events: [], cursor: null, error: null, loaded: false });
  const [playing, setPlaying] = useState(null);
  const player = useRef(null);
  const nameOf = (id) => pipelines.get(id)?.name || id;

  const load = async (append, signal) => {
    try {
      const found = await api.get(query(filters, append ? page.cursor : null), signal);
      setPage((p) => ({ events: append ? [...p.events, ...found.events] : found.events, cursor: found.next_cursor, error: null, loaded: true }));
    } catch (error) {
      if (error.name !== "AbortError") setPage((p) => ({ ...p, error, loaded: true }));
    }
  };
  useEffect(() => {
    const controller = new AbortController();
    load(false, controller.signal);
    return () => controller.abort();
  }, [filters]);
  useEffect(() => () => player.current?.pause(), []);

  // Pushed events that match no filter are merged at the top (filtered lists reload).
  const unfiltered = !Object.values(filters).some(Boolean);
  const shownIds = new Set(page.events.map((e) => e.id));
  const fresh = unfiltered ? pushed.filter((e) => !shownIds.has(e.id)) : [];
  const events = [...fresh, ...page.events.map((e) => pushed.find((p) => p.id === e.id) || e)];

  const play = async (event) => {
    if (event.clip !== "ready") return setPlaying({ event, detail: `no clip (${event.clip_reason || event.clip})` });
    setPlaying({ event, src: await api.mediaUrl(`/api/v1/events/${event.id}/clip.mp4`, authEnabled) });
  };
  useEffect(() => {
    if (playing?.src) player.current.play().catch((error) => toast(`Playback failed: ${error.message}`));
  }, [playing]);

  const submit = (e) => {
    e.preventDefault();
    const f = e.currentTarget.elements;
    setFilters({ pipeline_id: f.pipeline_id.value, label: f.label.value.trim(), zone: f.zone.value.trim(), after: f.after.value });
  };
  return html`<section class="card"><h2>Object events</h2>
    <form class="row" id="event-filters" onSubmit=${submit}>
      <label>Pipeline <select name="pipeline_id"><option value="">every pipeline</option>
        ${[...pipelines.values()].map((p) => html`<option value=${p.id}>${p.name}</option>`)}</select></label>
      <label>Class <input name="label" placeholder="person" /></label>
      <label>Zone <input name="zone" placeholder="any zone" /></label>
      <label>From <input name="after" type="datetime-local" /></label>
      <button type="submit">Filter</button>
    </form>
    <${ErrorBox} error=${page.error} />
    <${EventTimeline} events=${events} nameOf=${nameOf} onPlay=${play} />
    ${playing && html`<p class="muted" id="event-caption">${`${playing.event.label} on ${nameOf(playing.event.pipeline_id)}, ${fmtTime(playing.event.start)}${playing.detail ? `: ${playing.detail}` : ""}`}</p>`}
    <video controls id="event-player" ref=${player} hidden=${!playing?.src} src=${playing?.src}></video>
    <table id="events">
      <thead><tr><th></th><th>class</th><th>pipeline</th><th>zones</th><th>start</th><th>length</th><th>clip</th></tr></thead>
      <tbody>
        ${page.loaded && !events.length && html`<tr><td colspan="7" class="muted">No object events yet.</td></tr>`}
        ${events.map((event) => html`<tr data-event=${event.id} tabindex="0" class="clickable"
            onClick=${() => play(event)} onKeyDown=${(e) => e.key === "Enter" && play(event)}>
          <td><${Thumb} event=${event} authEnabled=${authEnabled} /></td>
          <td>${event.label}</td><td>${nameOf(event.pipeline_id)}</td>
          <td>${event.zones.join(", ") || "—"}</td><td>${fmtTime(event.start)}</td>
          <td>${event.end ? `${(event.end - event.start).toFixed(1)} s` : "ongoing"}</td>
          <td><${Badge} state=${event.clip === "ready" ? "ok" : event.clip} /></td></tr>`)}
      </tbody>
    </table>
    ${page.cursor && html`<button class="ghost" onClick=${() => load(true)}>Older events</button>`}
  </section>`;
}
