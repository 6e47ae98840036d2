// One pipeline: live view (WebRTC, MJPEG fallback) with its zones and lines drawn over it,
// the newest results, charts of fps, latencies and drop rate, the lifecycle log, the zone
// and line editor and the edit form for the fields that apply in place. Status and chart
// points arrive by push.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { Chart, chartSeries } from "../charts.js";
import { act, Badge, ErrorBox, fmtMs, fmtTime, html, toast, useLoad } from "../lib.js";
import { openLiveView } from "../live.js";
import { PipelineActions } from "../actions.js";
import { useStore } from "../store.js";
import { Overlay, ZoneEditor } from "../zones.js";

const RESULTS_MS = 250;  // results arrive per frame; the table redraws at most this often

// `annotated`: the pipeline's frames with boxes, encoded once for every viewer; `raw`: the
// camera's own H.264 passed through (no boxes, no encode; the server says when it cannot).
function LiveView({ view, authEnabled, onResults }) {
  const video = useRef(null);
  const [how, setHow] = useState({ mode: "connecting" });
  const [picture, setPicture] = useState("annotated");
  // Opened when the pipeline runs, and again each time it runs anew (a page opened while it
  // starts, or a restart): a stopped pipeline has no frames to offer.
  const running = view.status.state === "running";
  useEffect(() => {
    if (!running) {
      setHow({ mode: "waiting" });
      return undefined;
    }
    const controller = new AbortController();  // aborted when the page goes, set-up or not
    setHow({ mode: "connecting" });
    openLiveView({
      pipelineId: view.id, video: video.current, authEnabled, onResults, view: picture,
      signal: controller.signal,
    }).then((found) => controller.signal.aborted || setHow(found));
    return () => controller.abort();
  }, [view.id, picture, running]);
  const { width, height } = view.status;
  const ratio = width && height ? `${width} / ${height}` : "16 / 9";
  const mode = how.mode === "connecting" ? "connecting…"
    : how.mode === "waiting" ? `waiting for the pipeline to run (${view.status.state})`
    : how.reason ? `live via ${how.mode} (WebRTC: ${how.reason})` : `live via ${how.mode}`;
  return html`<div>
    <label class="check">View
      <select id="live-picture" value=${picture} onChange=${(e) => setPicture(e.currentTarget.value)}>
        <option value="annotated">annotated</option>
        <option value="raw">camera's own video</option>
      </select></label>
    <div class="live" id="live" style=${{ aspectRatio: ratio }}>
      <video id="live-video" ref=${video} autoplay muted playsinline hidden=${how.mode === "mjpeg"}></video>
      ${how.mode === "mjpeg" && html`<img id="live-mjpeg" alt="live video (MJPEG)" src=${how.url} />`}
      <${Overlay} analytics=${view.spec.analytics} />
    </div>
    <span class="muted" id="live-mode">${mode}</span>
  </div>`;
}

// The newest result record as a table: one row per class, with its count and best score.
function Results({ record }) {
  const rows = useMemo(() => {
    const classes = new Map();
    for (const d of record?.detections || []) {
      const seen = classes.get(d.class) || { count: 0, best: 0 };
      classes.set(d.class, { count: seen.count + 1, best: Math.max(seen.best, d.score) });
    }
    return [...classes].sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]));
  }, [record]);
  const [open, setOpen] = useState(false);
  return html`<div>
    <table id="live-results" class="compact">
      <thead><tr><th>class</th><th>count</th><th>best score</th></tr></thead>
      <tbody>
        ${!record && html`<tr><td colspan="3" class="muted">waiting for results…</td></tr>`}
        ${record && !rows.length && html`<tr><td colspan="3" class="muted">nothing detected in this frame</td></tr>`}
        ${rows.map(([name, c]) => html`<tr data-class=${name}><td>${name}</td>
          <td class="num">${c.count}</td><td class="num">${c.best.toFixed(2)}</td></tr>`)}
      </tbody>
    </table>
    <p class="muted" id="live-results-frame">${record ? `frame ${record.frame_id ?? "?"}` : ""}</p>
    <details id="live-raw" onToggle=${(e) => setOpen(e.currentTarget.open)}>
      <summary>raw</summary>
      <pre id="live-raw-record">${open && record ? JSON.stringify(record, null, 1) : ""}</pre>
    </details>
  </div>`;
}

function useThrottled(ms) {
  const [value, setValue] = useState(null);
  const latest = useRef(null);
  const timer = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  const push = (next) => {
    latest.current = next;
    if (!timer.current) timer.current = setTimeout(() => { timer.current = 0; setValue(latest.current); }, ms);
  };
  return [value, push];
}

function Charts({ id }) {
  const history = useLoad((signal) => api.get(`/api/v1/metrics/pipelines/${id}?window=300`, signal), [id]);
  const pushed = useStore((s) => s.points.get(id));
  const series = useMemo(() => {
    const old = history.data?.samples || [];
    const last = old.length ? old[old.length - 1].time : 0;
    return chartSeries([...old, ...(pushed || []).filter((p) => p.time > last)]);
  }, [history.data, pushed]);
  if (history.loading && !history.data) return html`<p class="muted">loading charts…</p>`;
  return html`<div class="charts">
    ${history.error && html`<p class="muted" id="chart-note">charts from now on (history unavailable: ${history.error.message})</p>`}
    <${Chart} id="chart-fps" title="Frames per second" labels=${["fps"]} data=${series.fps} />
    <${Chart} id="chart-latency" title="Latency (mean)" unit=" ms" labels=${["end to end", "inference"]} data=${series.latency} />
    <${Chart} id="chart-drops" title="Dropped frames per second" labels=${["drop rate"]} data=${series.drops} />
  </div>`;
}

function Lifecycle({ view }) {
  const log = useLoad((signal) => api.get(`/api/v1/pipelines/${view.id}/events?limit=20`, signal),
    [view.id, view.status.state, view.generation, view.revision, view.desired_state]);
  return html`<section class="card"><h2>Lifecycle</h2>
    <${ErrorBox} error=${log.error} />
    <table id="lifecycle"><tbody>
      ${(log.data || []).slice().reverse().map((e) => html`<tr><td>${fmtTime(e.ts)}</td><td>${e.kind}</td><td>${e.detail}</td></tr>`)}
    </tbody></table></section>`;
}

const EDITABLE = [
  ["model.confidence", "Confidence", "number", { min: 0, max: 1, step: 0.05 }],
  ["model.iou", "IoU", "number", { min: 0, max: 1, step: 0.05 }],
  ["source.max_fps", "Max fps (empty: source rate)", "number", { min: 0.1, step: 0.1 }],
  ["outputs.stream_fps", "Stream fps (empty: default)", "number", { min: 0.1, step: 0.1 }],
  ["outputs.annotate", "Draw boxes", "checkbox", {}],
  ["outputs.record", "Record", "checkbox", {}],
];
const dig = (spec, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), spec);

// A merge patch of the fields that apply in place, sent with the revision's ETag so two
// editors do not overwrite each other; a 412 or 422 is shown with the server's detail.
function EditForm({ view }) {
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const patch = {};
    for (const [path, , type] of EDITABLE) {
      const input = form.elements[path];
      const value = type === "checkbox" ? input.checked : input.value === "" ? null : Number(input.value);
      if (value === (dig(view.spec, path) ?? null)) continue;
      const [section, key] = path.split(".");
      patch[section] = { ...patch[section], [key]: value };
    }
    setError(null);
    if (!Object.keys(patch).length) return toast("Nothing changed");
    await act(() => api.patch(`/api/v1/pipelines/${view.id}`, patch, `"${view.revision}"`)
      .catch((e) => { setError(e); throw e; }),
    (update) => toast(`Saved (${update.applied}): ${update.changed.join(", ")}`));
  };
  return html`<form id="edit-form" key=${view.revision} onSubmit=${submit}>
    <div class="row">
      ${EDITABLE.map(([path, label, type, attrs]) => type === "checkbox"
        ? html`<label class="check"><input type="checkbox" name=${path} checked=${!!dig(view.spec, path)} /> ${label}</label>`
        : html`<label>${label}<input type="number" name=${path} ...${attrs} value=${dig(view.spec, path) ?? ""} /></label>`)}
    </div>
    <div class="actions"><button type="submit">Save changes</button></div>
    <${ErrorBox} error=${error} id="edit-errors" />
  </form>`;
}

export function PipelinePage({ id, config }) {
  const view = useStore((s) => s.pipelines.get(id));
  const updates = useStore((s) => s.updates);
  const [record, pushRecord] = useThrottled(RESULTS_MS);
  const [editing, setEditing] = useState(false);
  const fetched = useLoad((signal) => (view ? Promise.resolve(null) : api.get(`/api/v1/pipelines/${id}`, signal)), [id]);
  const shown = view || fetched.data;
  if (!shown) {
    if (fetched.error) return html`<${ErrorBox} error=${fetched.error} id="page-error" />`;
    if (updates && !fetched.loading) return html`<p class="card error" id="page-error">No pipeline ${id}.</p>`;
    return html`<p class="muted">loading…</p>`;
  }
  const s = shown.status;
  return html`
    <section class="card">
      <div class="page-head">
        <h2>${shown.name} <${Badge} state=${s.state} /></h2>
        <${PipelineActions} view=${shown} onDeleted=${() => { location.hash = "#/pipelines"; }} />
      </div>
      <p class="muted">${shown.spec.source.uri}${s.reason ? ` · ${s.reason}` : ""}</p>
      <div class="grid2">
        <${LiveView} view=${shown} authEnabled=${config.auth_mode === "token"} onResults=${pushRecord} />
        <${Charts} id=${id} />
      </div>
      ${!editing && html`<div class="actions"><button type="button" class="ghost" id="edit-zones"
        onClick=${() => setEditing(true)}>Edit zones and lines</button></div>`}
    </section>
    ${editing && html`<section class="card"><h2>Zones and lines</h2>
      <${ZoneEditor} key=${id} view=${shown} authEnabled=${config.auth_mode === "token"} onClose=${() => setEditing(false)} /></section>`}
    <section class="grid2">
      <div class="card"><h2>Status</h2>
        <p id="status-line">${`fps ${s.fps.toFixed(1)} · frames ${s.counters.frames_processed} · dropped ${s.counters.frames_dropped} · reconnects ${s.counters.reconnects} · restarts ${s.restarts}`}</p>
        <p class="muted">${`end to end ${fmtMs(s.latency.end_to_end.mean)} (p95 ${fmtMs(s.latency.end_to_end.p95)}) · inference ${fmtMs(s.latency.inference.mean)} (p95 ${fmtMs(s.latency.inference.p95)})`}</p>
      </div>
      <div class="card"><h2>Latest results</h2><${Results} record=${record} /></div>
    </section>
    <section class="card"><h2>Settings that apply in place</h2><${EditForm} view=${shown} /></section>
    <${Lifecycle} view=${shown} />`;
}
