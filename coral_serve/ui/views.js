// One render function per page; each builds DOM from the public API into its page's root
// and registers what must stop when the user leaves with `page.onCleanup`.
"use strict";

const h = (tag, { dataset, ...props } = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const badge = (state) => h("span", { className: `badge ${state}`, textContent: state });
const fmtTime = (t) => new Date(t * 1000).toLocaleString();
const fmtBytes = (n) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 5000);
}

// Refresh every `ms`; a failed refresh says so on the page until a later one succeeds.
function every(page, ms, refresh) {
  const banner = h("section", { className: "card error", hidden: true, id: "refresh-error" });
  page.root.prepend(banner);
  const timer = setInterval(() => refresh().then(
    () => { banner.hidden = true; },
    (error) => { banner.textContent = `Could not refresh: ${error.message}`; banner.hidden = false; }), ms);
  page.onCleanup(() => clearInterval(timer));
}

async function act(promise, done) {
  try {
    await promise;
    if (done) await done();
  } catch (error) {
    toast(error.message);
  }
}

// -- pipelines ---------------------------------------------------------------------------

function pipelineRow(p, refresh) {
  const control = (label, action, cls = "ghost") =>
    h("button", { className: cls, textContent: label, onclick: () => act(action(), refresh) });
  const paused = p.desired_state === "paused";
  return h("tr", { dataset: { id: p.id, name: p.name } },
    h("td", {}, h("a", { href: `#/pipeline/${p.id}`, textContent: p.name })),
    h("td", {}, badge(p.status.state)),
    h("td", { className: "fps", textContent: p.status.fps.toFixed(1) }),
    h("td", { className: "muted", textContent: p.spec.source.uri }),
    h("td", {}, h("div", { className: "actions" },
      paused
        ? control("Resume", () => api.post(`/api/v1/pipelines/${p.id}/resume`))
        : control("Pause", () => api.post(`/api/v1/pipelines/${p.id}/pause`)),
      control("Restart", () => api.post(`/api/v1/pipelines/${p.id}/restart`)),
      control("Delete", () => api.del(`/api/v1/pipelines/${p.id}`), "danger"))));
}

function createForm(refresh) {
  const field = (label, input) => h("label", {}, label, input);
  const name = h("input", { name: "name", required: true, placeholder: "front-door" });
  const uri = h("input", { name: "uri", required: true, placeholder: "rtsp://camera/stream or /videos/clip.mp4" });
  const backend = h("select", { name: "backend" },
    ...["onnxruntime", "rknn", "none"].map((b) => h("option", { value: b, textContent: b })));
  const modelPath = h("input", { name: "model_path", placeholder: "/models/yolo.onnx" });
  const decoder = h("select", { name: "decoder" },
    ...["yolo", "yolo-nms", "nanodet"].map((d) => h("option", { value: d, textContent: d })));
  const confidence = h("input", { name: "confidence", type: "number", min: 0, max: 1, step: 0.05, defaultValue: "0.35" });
  const loop = h("input", { name: "loop", type: "checkbox" });
  const record = h("input", { name: "record", type: "checkbox" });
  const errors = h("div", { className: "error", id: "create-errors" });
  const preview = h("div", { className: "muted", id: "probe-preview" });

  const probe = h("button", { type: "button", className: "ghost", textContent: "Probe source" });
  probe.onclick = async () => {
    preview.textContent = "probing…";
    try {
      const info = await api.post("/api/v1/sources/probe", { uri: uri.value });
      preview.replaceChildren(
        h("img", { className: "thumb", src: `data:image/jpeg;base64,${info.thumbnail}`, alt: "first frame" }),
        h("div", { textContent: `${info.width}x${info.height} · ${info.fps ?? "?"} fps · ${info.codec ?? "?"}` }));
    } catch (error) {
      preview.textContent = error.message;
    }
  };

  const form = h("form", { id: "create-form" },
    h("div", { className: "row" }, field("Name", name), field("Source URI", uri), probe),
    preview,
    h("div", { className: "row" }, field("Backend", backend), field("Model file", modelPath),
      field("Decoder", decoder), field("Confidence", confidence)),
    h("div", { className: "row" }, h("label", {}, h("span", {}, loop, " loop files")),
      h("label", {}, h("span", {}, record, " record")),
      h("button", { type: "submit", textContent: "Create pipeline" })),
    errors);
  form.onsubmit = async (event) => {
    event.preventDefault();
    errors.textContent = "";
    const model = backend.value === "none"
      ? { backend: "none" }
      : { backend: backend.value, path: modelPath.value, decoder: decoder.value,
          confidence: Number(confidence.value) };
    const spec = { name: name.value, source: { uri: uri.value, loop: loop.checked }, model,
      outputs: { record: record.checked } };
    try {
      await api.post("/api/v1/pipelines", spec);
      form.reset();
      preview.textContent = "";
      await refresh();
    } catch (error) {
      const detail = error.body?.detail;
      errors.textContent = Array.isArray(detail)
        ? detail.map((d) => `${d.field}: ${d.message}`).join(" · ")
        : error.message;
    }
  };
  return form;
}

// What a first-time user needs to add a pipeline, including the rule that trips most.
function emptyState() {
  const code = (text) => h("code", { textContent: text });
  return h("div", { id: "empty-state" },
    h("p", {}, h("strong", { textContent: "No pipelines yet." }),
      " Add one with the form below: a camera (", code("rtsp://user:pass@camera/stream"),
      " or ", code("device://0"), "), an http(s) stream, or a local video file, with a model file and its decoder."),
    h("p", {}, "Local files are refused unless they lie under a folder of ",
      code("pipelines.sources.file_roots"), " (and models under ", code("pipelines.models.roots"),
      "). Start the server with, for example:"),
    h("pre", { textContent: "python -m coral_serve 'pipelines.sources.file_roots=[/videos]' 'pipelines.models.roots=[/models]'" }),
    h("p", { className: "muted" }, "or set ", code("CORAL_PIPELINES__SOURCES__FILE_ROOTS='[/videos]'"),
      ". `make run` starts a demo pipeline on the bundled clip (", code("demo=none"), " turns it off)."));
}

async function viewPipelines(main, page) {
  const body = h("tbody");
  const empty = h("td", { colSpan: 5 }, emptyState());
  const refresh = async () => {
    const pipelines = await api.get("/api/v1/pipelines");
    body.replaceChildren(...pipelines.map((p) => pipelineRow(p, refresh)));
    if (!pipelines.length) body.append(h("tr", {}, empty));
  };
  main.append(
    h("section", { className: "card" }, h("h2", { textContent: "Pipelines" }),
      h("table", { id: "pipelines" },
        h("thead", {}, h("tr", {}, ...["name", "state", "fps", "source", ""].map((t) => h("th", { textContent: t })))),
        body)),
    h("section", { className: "card" }, h("h2", { textContent: "New pipeline" }), createForm(refresh)));
  every(page, 2000, refresh);
  await refresh();
}

// -- one pipeline ------------------------------------------------------------------------

// The newest result record as a table: one row per class, with its count and best score.
function resultsTable() {
  const body = h("tbody", {}, h("tr", {}, h("td", { colSpan: 3, className: "muted", textContent: "waiting for results…" })));
  const caption = h("p", { className: "muted", id: "live-results-frame" });
  const raw = h("pre", { id: "live-raw-record" });
  const toggle = h("details", { id: "live-raw" }, h("summary", { textContent: "raw" }), raw);
  let latest = null;
  toggle.ontoggle = () => { if (toggle.open && latest) raw.textContent = JSON.stringify(latest, null, 1); };
  const node = h("div", {},
    h("table", { id: "live-results", className: "compact" },
      h("thead", {}, h("tr", {}, ...["class", "count", "best score"].map((t) => h("th", { textContent: t })))),
      body),
    caption, toggle);
  const show = (record) => {
    latest = record;
    const classes = new Map();
    for (const d of record.detections || []) {
      const seen = classes.get(d.class) || { count: 0, best: 0 };
      classes.set(d.class, { count: seen.count + 1, best: Math.max(seen.best, d.score) });
    }
    const rows = [...classes].sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]));
    body.replaceChildren(...rows.map(([name, c]) => h("tr", { dataset: { class: name } },
      h("td", { textContent: name }), h("td", { className: "num", textContent: c.count }),
      h("td", { className: "num", textContent: c.best.toFixed(2) }))));
    if (!rows.length) body.append(h("tr", {}, h("td", { colSpan: 3, className: "muted", textContent: "nothing detected in this frame" })));
    caption.textContent = `frame ${record.frame_id ?? "?"}`;
    if (toggle.open) raw.textContent = JSON.stringify(record, null, 1);
  };
  return { node, show };
}

async function viewPipeline(main, page, id, app) {
  const pipeline = await api.get(`/api/v1/pipelines/${id}`);
  const liveBox = h("div", { className: "live", id: "live" });
  const mode = h("span", { className: "muted", id: "live-mode" });
  const results = resultsTable();
  const charts = ["fps", "latency", "dropped"].map((name) => h("canvas", { className: "chart", id: `chart-${name}` }));
  const chartNote = h("p", { className: "muted", id: "chart-note" });
  const status = h("div");
  const events = h("tbody");
  main.append(
    h("section", { className: "card" },
      h("h2", {}, `${pipeline.name} `, badge(pipeline.status.state)),
      h("p", { className: "muted", textContent: pipeline.spec.source.uri }),
      h("div", { className: "grid2" },
        h("div", {}, liveBox, mode),
        h("div", {}, ...charts, chartNote))),
    h("section", { className: "grid2" },
      h("div", { className: "card" }, h("h2", { textContent: "Status" }), status),
      h("div", { className: "card" }, h("h2", { textContent: "Latest results" }), results.node)),
    h("section", { className: "card" }, h("h2", { textContent: "Events" }),
      h("table", {}, events)));

  const live = openLiveView(liveBox, page, id, app.authEnabled, results.show).then((how) => {
    mode.textContent = how.reason ? `live via ${how.mode} (WebRTC: ${how.reason})` : `live via ${how.mode}`;
  });

  const refresh = async () => {
    const [view, history, log] = await Promise.all([
      api.get(`/api/v1/pipelines/${id}`),
      // Charts are optional (no metrics yet, or monitoring off): say why they are empty.
      api.get(`/api/v1/metrics/pipelines/${id}?window=300`).catch((error) => ({ samples: [], error })),
      api.get(`/api/v1/pipelines/${id}/events?limit=20`),
    ]);
    const s = view.status;
    status.replaceChildren(
      h("p", {}, badge(s.state), s.reason ? ` ${s.reason}` : ""),
      h("p", { textContent: `fps ${s.fps.toFixed(1)} · frames ${s.counters.frames_processed} · dropped ${s.counters.frames_dropped} · reconnects ${s.counters.reconnects} · restarts ${s.restarts}` }));
    chartNote.textContent = history.error ? `charts unavailable: ${history.error.message}` : "";
    drawChart(charts[0], series(history.samples, /^fps$/), { label: "fps" });
    drawChart(charts[1], series(history.samples, /e2e|end_to_end|latency/), { label: "latency", unit: " s" });
    drawChart(charts[2], series(history.samples, /dropped/), { label: "dropped frames" });
    events.replaceChildren(...log.reverse().map((e) =>
      h("tr", {}, h("td", { textContent: fmtTime(e.ts) }), h("td", { textContent: e.kind }), h("td", { textContent: e.detail }))));
  };
  every(page, 2000, refresh);
  await Promise.all([refresh(), live]);
}

// -- recordings --------------------------------------------------------------------------

async function viewRecordings(main, page, app) {
  const player = h("video", { controls: true, id: "recording-player" });
  const body = h("tbody");
  const pipelines = Object.fromEntries((await api.get("/api/v1/pipelines")).map((p) => [p.id, p.name]));
  const refresh = async () => {
    const segments = await api.get("/api/v1/recordings");
    body.replaceChildren(...segments.reverse().map((s) => {
      const path = `/api/v1/recordings/${s.pipeline_id}/${s.segment}`;
      return h("tr", { dataset: { segment: s.segment } },
        h("td", { textContent: pipelines[s.pipeline_id] || s.pipeline_id }),
        h("td", { textContent: fmtTime(s.start) }),
        h("td", { textContent: `${s.duration.toFixed(1)} s` }),
        h("td", { textContent: fmtBytes(s.bytes) }),
        h("td", {}, h("div", { className: "actions" },
          h("button", { className: "ghost", textContent: "Play", onclick: async () => {
            player.src = await api.mediaUrl(path, app.authEnabled);
            player.play().catch((error) => toast(`Playback failed: ${error.message}`));
          } }),
          h("button", { className: "ghost", textContent: "Download", onclick: async () => {
            const link = h("a", { href: await api.mediaUrl(path, app.authEnabled), download: s.segment });
            link.click();
          } }),
          h("button", { className: "danger", textContent: "Delete", onclick: () => act(api.del(path), refresh) }))));
    }));
    if (!segments.length) body.append(h("tr", {}, h("td", { colSpan: 5, className: "muted", textContent: "No recordings yet." })));
  };
  main.append(h("section", { className: "card" }, h("h2", { textContent: "Recordings" }), player,
    h("table", { id: "recordings" },
      h("thead", {}, h("tr", {}, ...["pipeline", "start", "duration", "size", ""].map((t) => h("th", { textContent: t })))),
      body)));
  page.onCleanup(() => player.pause());
  await refresh();
}

// -- health, plugins, config -------------------------------------------------------------

async function viewHealth(main, page) {
  const body = h("tbody");
  const head = h("h2", {}, "Readiness ");
  const refresh = async () => {
    const response = await fetch("/readyz");
    const readiness = await response.json();
    head.replaceChildren("Readiness ", badge(readiness.ready ? "ok" : "fail"));
    body.replaceChildren(...readiness.checks.map((c) =>
      h("tr", {}, h("td", { textContent: c.name }),
        h("td", {}, badge(c.ok ? "ok" : c.required ? "fail" : "warn")),
        h("td", { textContent: c.detail }))));
  };
  main.append(h("section", { className: "card" }, head, h("table", { id: "checks" }, body)));
  every(page, 3000, refresh);
  await refresh();
}

async function viewPlugins(main) {
  const plugins = await api.get("/api/v1/plugins");
  main.append(h("section", { className: "card" }, h("h2", { textContent: "Plugins" }),
    h("table", { id: "plugins" },
      h("thead", {}, h("tr", {}, ...["name", "group", "version", "loaded", "reason"].map((t) => h("th", { textContent: t })))),
      h("tbody", {}, ...plugins.map((p) => h("tr", {},
        h("td", { textContent: p.name }), h("td", { textContent: p.group }),
        h("td", { textContent: p.version }), h("td", {}, badge(p.loaded ? "ok" : "fail")),
        h("td", { textContent: p.reason })))))));
}

async function viewConfig(main) {
  const config = await api.get("/api/v1/config");
  main.append(h("section", { className: "card" }, h("h2", { textContent: "Effective configuration" }),
    h("p", { className: "muted", textContent: "Read-only; secrets are masked." }),
    h("pre", { id: "effective-config", textContent: JSON.stringify(config, null, 2) })));
}
