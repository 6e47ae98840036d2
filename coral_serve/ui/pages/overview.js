// Overview: one tile per pipeline with a periodic JPEG snapshot (never a stream per tile:
// ingress admission counts open streams per client), its state, fps, counters and object
// counts, all updated by the push stream.
import { Component } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { api } from "../api.js";
import { Badge, html } from "../lib.js";
import { PipelineActions } from "../actions.js";
import { useStore } from "../store.js";

const SNAPSHOT_MS = 5000;

// The newest frame, fetched every few seconds while the pipeline runs and the tab shows.
function Thumbnail({ id, running, delay }) {
  const img = useRef(null);
  useEffect(() => {
    if (!running) return undefined;
    const controller = new AbortController();
    let timer;
    let url = null;
    const refresh = async () => {
      if (!document.hidden) {
        try {
          const next = await api.blobUrl(`/api/v1/streams/${id}/snapshot.jpg`, controller.signal);
          if (url) URL.revokeObjectURL(url);
          url = next;
          img.current.src = url;
        } catch (error) {
          if (controller.signal.aborted) return;
        }
      }
      timer = setTimeout(refresh, SNAPSHOT_MS);
    };
    timer = setTimeout(refresh, delay);
    return () => { controller.abort(); clearTimeout(timer); if (url) URL.revokeObjectURL(url); };
  }, [id, running]);
  return html`<a href="#/pipeline/${id}" class="thumb-link" tabindex="-1" aria-hidden="true">
    <img ref=${img} class="tile-thumb" alt="" /></a>`;
}

// What the newest frame holds per label, and who is in each zone now (from the worker's
// analytics counts in its status), most first.
function Counts({ analytics }) {
  const objects = Object.entries(analytics?.objects || {}).sort((a, b) => b[1] - a[1]);
  const zones = Object.entries(analytics?.zones || {})
    .map(([zone, labels]) => [zone, Object.values(labels).reduce((sum, n) => sum + n, 0)])
    .filter(([, n]) => n > 0);
  if (!objects.length && !zones.length) return null;
  return html`<p class="tile-counts">
    ${objects.map(([label, n]) => html`<span class="count" data-label=${label}>${n} ${label}</span> `)}
    ${zones.map(([zone, n]) => html`<span class="count zone" data-zone=${zone}>${zone}: ${n}</span> `)}
  </p>`;
}

// A tile re-renders only when its own view changes, so one push costs one tile's diff.
class Tile extends Component {
  shouldComponentUpdate(next) { return next.view !== this.props.view; }
  render({ view, index }) {
    const s = view.status;
    return html`<article class="tile card" data-id=${view.id} data-name=${view.name}>
      <${Thumbnail} id=${view.id} running=${s.state === "running"} delay=${(index % 10) * 150} />
      <div class="tile-head">
        <a href="#/pipeline/${view.id}" class="tile-name">${view.name}</a>
        <${Badge} state=${s.state} />
      </div>
      <p class="tile-stats muted"><span class="fps">${s.fps.toFixed(1)}</span> fps · <span class="frames">${s.counters.frames_processed}</span> frames · <span class="dropped">${s.counters.frames_dropped}</span> dropped${s.restarts ? ` · ${s.restarts} restarts` : ""}</p>
      <${Counts} analytics=${s.analytics} />
      ${s.reason && html`<p class="tile-reason error">${s.reason}</p>`}
      <${PipelineActions} view=${view} />
    </article>`;
  }
}

// What a first-time user needs to add a pipeline, including the rule that trips most.
function EmptyState() {
  return html`<section class="card" id="empty-state">
    <p><strong>No pipelines yet.</strong> <a href="#/new">Add one</a>: a camera
      (<code>rtsp://user:pass@camera/stream</code> or <code>device://0</code>), an http(s) stream,
      or a local video file, with a model file and its decoder.</p>
    <p>Local files are refused unless they lie under a folder of <code>pipelines.sources.file_roots</code>
      (and models under <code>pipelines.models.roots</code>). Start the server with, for example:</p>
    <pre>python -m coral_serve 'pipelines.sources.file_roots=[/videos]' 'pipelines.models.roots=[/models]'</pre>
    <p class="muted">or set <code>CORAL_PIPELINES__SOURCES__FILE_ROOTS='[/videos]'</code>.
      <code>make run</code> starts a demo pipeline on the bundled clip (<code>demo=none</code> turns it off).</p>
  </section>`;
}

export function Overview() {
  const { pipelines, updates } = useStore((s) => s);
  const views = [...pipelines.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (!updates) return html`<p class="muted" id="connecting">Connecting to the server…</p>`;
  return html`<section>
    <div class="page-head"><h2>Pipelines</h2><a class="button" href="#/new">New pipeline</a></div>
    ${views.length
      ? html`<div id="pipelines" class="tiles">${views.map((view, index) => html`<${Tile} key=${view.id} view=${view} index=${index} />`)}</div>`
      : html`<${EmptyState} />`}
  </section>`;
}
