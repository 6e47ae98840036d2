// Recorded segments: a timeline per pipeline (click anywhere to play from that moment; each
// segment is also a button for the keyboard) and the list, newest first, to play, download
// or delete (confirmed). The list refreshes itself while the page is open.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { act, confirmAction, ErrorBox, fmtBytes, fmtClock, fmtTime, html, toast, useLoad } from "../lib.js";
import { useStore } from "../store.js";
import { byPipeline, spanOf, TimelineRow } from "../timeline.js";

const REFRESH_MS = 10000;
const path = (s) => `/api/v1/recordings/${s.pipeline_id}/${s.segment}`;

function Timeline({ name, segments, onPlay }) {
  const range = spanOf(segments.map((s) => [s.start, s.start + s.duration]));
  const seek = (time) => {
    const hit = segments.find((s) => time >= s.start && time <= s.start + s.duration);
    if (hit) onPlay(hit, time - hit.start);
  };
  const marks = segments.map((s) => ({
    key: s.segment, start: s.start, end: s.start + s.duration, className: "segment",
    title: `${fmtTime(s.start)}, ${s.duration.toFixed(1)} s`, label: `play ${name} from ${fmtTime(s.start)}`,
    onPick: () => onPlay(s, 0),
  }));
  return html`<${TimelineRow} pipelineId=${segments[0].pipeline_id} name=${name} range=${range} marks=${marks}
    note=${`${fmtClock(range.t0)} – ${fmtClock(range.t1)} · ${segments.length} segments`} onAt=${seek} />`;
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
      ${[...byPipeline(all)].map(([id, segments]) => html`<${Timeline} key=${id} name=${nameOf(id)}
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
