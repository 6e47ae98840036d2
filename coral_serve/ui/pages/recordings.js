// Recorded segments: a timeline per pipeline (click anywhere to play from that moment; each
// segment is also a button for the keyboard) and the list, newest first, to play, download
// or delete (confirmed). The list refreshes itself while the page is open.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { act, confirmAction, ErrorBox, fmtBytes, fmtClock, fmtTime, html, toast, useLoad } from "../lib.js";
import { useStore } from "../store.js";

const REFRESH_MS = 10000;
const path = (s) => `/api/v1/recordings/${s.pipeline_id}/${s.segment}`;

function Timeline({ name, segments, onPlay }) {
  const t0 = segments[0].start;
  const t1 = Math.max(...segments.map((s) => s.start + s.duration));
  const span = Math.max(t1 - t0, 1);
  const at = (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    const time = t0 + ((event.clientX - box.left) / box.width) * span;
    const hit = segments.find((s) => time >= s.start && time <= s.start + s.duration);
    if (hit) onPlay(hit, time - hit.start);
  };
  return html`<div class="timeline-row" data-pipeline=${segments[0].pipeline_id}>
    <div class="timeline-head"><strong>${name}</strong>
      <span class="muted">${fmtClock(t0)} – ${fmtClock(t1)} · ${segments.length} segments</span></div>
    <div class="timeline" onClick=${at}>
      ${segments.map((s) => html`<button class="segment" title=${`${fmtTime(s.start)}, ${s.duration.toFixed(1)} s`}
        aria-label=${`play ${name} from ${fmtTime(s.start)}`}
        style=${{ left: `${((s.start - t0) / span) * 100}%`, width: `max(3px, ${(s.duration / span) * 100}%)` }}
        onClick=${(e) => { e.stopPropagation(); onPlay(s, 0); }}></button>`)}
    </div></div>`;
}

export function RecordingsPage({ config }) {
  const authEnabled = config.auth_mode === "token";
  const pipelines = useStore((s) => s.pipelines);
  const list = useLoad((signal) => api.get("/api/v1/recordings", signal));
  const [playing, setPlaying] = useState(null);
  const player = useRef(null);
  useEffect(() => {
    const timer = setInterval(list.reload, REFRESH_MS);
    return () => { clearInterval(timer); player.current?.pause(); };
  }, []);
  useEffect(() => {
    if (!playing) return;
    const video = player.current;
    const start = () => { video.currentTime = playing.offset; video.play().catch((error) => toast(`Playback failed: ${error.message}`)); };
    if (video.readyState >= 1) start();
    else video.addEventListener("loadedmetadata", start, { once: true });
  }, [playing]);
  const play = async (segment, offset) => setPlaying({ src: await api.mediaUrl(path(segment), authEnabled), offset, segment });
  const nameOf = (id) => pipelines.get(id)?.name || id;
  const all = list.data || [];
  const byPipeline = new Map();
  for (const s of all) byPipeline.set(s.pipeline_id, [...(byPipeline.get(s.pipeline_id) || []), s]);
  const download = async (s) => {
    const link = Object.assign(document.createElement("a"), { href: await api.mediaUrl(path(s), authEnabled), download: s.segment });
    link.click();
  };
  const remove = async (s) => {
    if (await confirmAction(`Delete recording ${s.segment}?`)) await act(() => api.del(path(s)), list.reload);
  };
  return html`<section class="card">
    <div class="page-head"><h2>Recordings</h2>
      <button class="ghost" id="recordings-refresh" onClick=${list.reload}>Refresh</button></div>
    <${ErrorBox} error=${list.error} />
    <video controls id="recording-player" ref=${player} src=${playing?.src}></video>
    ${playing && html`<p class="muted" id="recording-caption">${nameOf(playing.segment.pipeline_id)}, ${fmtTime(playing.segment.start + playing.offset)}</p>`}
    <div id="timelines">
      ${[...byPipeline].map(([id, segments]) => html`<${Timeline} key=${id} name=${nameOf(id)}
        segments=${segments.slice().sort((a, b) => a.start - b.start)} onPlay=${(s, offset) => act(() => play(s, offset))} />`)}
    </div>
    <table id="recordings">
      <thead><tr><th>pipeline</th><th>start</th><th>duration</th><th>size</th><th></th></tr></thead>
      <tbody>
        ${list.data && !all.length && html`<tr><td colspan="5" class="muted">No recordings yet.</td></tr>`}
        ${all.slice().reverse().map((s) => html`<tr data-segment=${s.segment} key=${path(s)}>
          <td>${nameOf(s.pipeline_id)}</td><td>${fmtTime(s.start)}</td>
          <td>${s.duration.toFixed(1)} s</td><td>${fmtBytes(s.bytes)}</td>
          <td><div class="actions">
            <button class="ghost" onClick=${() => act(() => play(s, 0))}>Play</button>
            <button class="ghost" onClick=${() => act(() => download(s))}>Download</button>
            <button class="danger" onClick=${() => remove(s)}>Delete</button>
          </div></td></tr>`)}
      </tbody>
    </table></section>`;
}
