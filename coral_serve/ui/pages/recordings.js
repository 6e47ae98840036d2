// Recorded segments, newest first, per pipeline: play, download, delete (confirmed). The
// list refreshes itself while the page is open (new segments close every few seconds).
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { act, confirmAction, ErrorBox, fmtBytes, fmtTime, html, toast, useLoad } from "../lib.js";
import { useStore } from "../store.js";

const REFRESH_MS = 10000;

export function RecordingsPage({ config }) {
  const authEnabled = config.auth_mode === "token";
  const pipelines = useStore((s) => s.pipelines);
  const list = useLoad((signal) => api.get("/api/v1/recordings", signal));
  const [src, setSrc] = useState(null);
  const player = useRef(null);
  useEffect(() => {
    const timer = setInterval(list.reload, REFRESH_MS);
    return () => { clearInterval(timer); player.current?.pause(); };
  }, []);
  useEffect(() => {
    if (src) player.current.play().catch((error) => toast(`Playback failed: ${error.message}`));
  }, [src]);
  const segments = (list.data || []).slice().reverse();
  const path = (s) => `/api/v1/recordings/${s.pipeline_id}/${s.segment}`;
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
    <video controls id="recording-player" ref=${player} src=${src || undefined}></video>
    <table id="recordings">
      <thead><tr><th>pipeline</th><th>start</th><th>duration</th><th>size</th><th></th></tr></thead>
      <tbody>
        ${list.data && !segments.length && html`<tr><td colspan="5" class="muted">No recordings yet.</td></tr>`}
        ${segments.map((s) => html`<tr data-segment=${s.segment} key=${path(s)}>
          <td>${pipelines.get(s.pipeline_id)?.name || s.pipeline_id}</td><td>${fmtTime(s.start)}</td>
          <td>${s.duration.toFixed(1)} s</td><td>${fmtBytes(s.bytes)}</td>
          <td><div class="actions">
            <button class="ghost" onClick=${async () => setSrc(await api.mediaUrl(path(s), authEnabled))}>Play</button>
            <button class="ghost" onClick=${() => act(() => download(s))}>Download</button>
            <button class="danger" onClick=${() => remove(s)}>Delete</button>
          </div></td></tr>`)}
      </tbody>
    </table></section>`;
}
