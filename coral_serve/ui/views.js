// One render function per page; each builds DOM from the public API and returns a cleanup.
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

async function viewPipelines(main) {
  const body = h("tbody");
  const refresh = async () => {
    const pipelines = await api.get("/api/v1/pipelines");
    body.replaceChildren(...pipelines.map((p) => pipelineRow(p, refresh)));
    if (!pipelines.length) body.append(h("tr", {}, h("td", { colSpan: 5, className: "muted", textContent: "No pipelines yet." })));
  };
  main.append(
    h("section", { className: "card" }, h("h2", { textContent: "Pipelines" }),
      h("table", { id: "pipelines" },
        h("thead", {}, h("tr", {}, ...["name", "state", "fps", "source", ""].map((t) => h("th", { textContent: t })))),
        body)),
    h("section", { className: "card" }, h("h2", { textContent: "New pipeline" }), createForm(refresh)));
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 2000);
  return () => clearInterval(timer);
}

// -- one pipeline ------------------------------------------------------------------------

async function viewPipeline(main, id, app) {
  const pipeline = await api.get(`/api/v1/pipelines/${id}`);
  const liveBox = h("div", { className: "live", id: "live" });
  const mode = h("span", { className: "muted", id: "live-mode" });
  const results = h("pre", { id: "live-results", textContent: "waiting for results…" });
  const charts = ["fps", "latency", "dropped"].map((name) => h("canvas", { className: "chart", id: `chart-${name}` }));
  const status = h("div");
  const events = h("tbody");
  main.append(
    h("section", { className: "card" },
      h("h2", {}, `${pipeline.name} `, badge(pipeline.status.state)),
      h("p", { className: "muted", textContent: pipeline.spec.source.uri }),
      h("div", { className: "grid2" },
        h("div", {}, liveBox, mode),
        h("div", {}, ...charts))),
    h("section", { className: "grid2" },
      h("div", { className: "card" }, h("h2", { textContent: "Status" }), status),
      h("div", { className: "card" }, h("h2", { textContent: "Latest results" }), results)),
    h("section", { className: "card" }, h("h2", { textContent: "Events" }),
      h("table", {}, events)));

  const live = await openLiveView(liveBox, id, app.authEnabled, (frame) => {
    results.textContent = JSON.stringify(frame, null, 1).slice(0, 2000);
  });
  mode.textContent = `live via ${live.mode}`;

  const refresh = async () => {
    const [view, history, log] = await Promise.all([
      api.get(`/api/v1/pipelines/${id}`),
      api.get(`/api/v1/metrics/pipelines/${id}?window=300`).catch(() => ({ samples: [] })),
      api.get(`/api/v1/pipelines/${id}/events?limit=20`),
    ]);
    const s = view.status;
    status.replaceChildren(
      h("p", {}, badge(s.state), s.reason ? ` ${s.reason}` : ""),
      h("p", { textContent: `fps ${s.fps.toFixed(1)} · frames ${s.counters.frames_processed} · dropped ${s.counters.frames_dropped} · reconnects ${s.counters.reconnects} · restarts ${s.restarts}` }));
    drawChart(charts[0], series(history.samples, /^fps$/), { label: "fps" });
    drawChart(charts[1], series(history.samples, /e2e|end_to_end|latency/), { label: "latency", unit: " s" });
    drawChart(charts[2], series(history.samples, /dropped/), { label: "dropped frames" });
    events.replaceChildren(...log.reverse().map((e) =>
      h("tr", {}, h("td", { textContent: fmtTime(e.ts) }), h("td", { textContent: e.kind }), h("td", { textContent: e.detail }))));
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 2000);
  return () => { clearInterval(timer); live.close(); };
}

// -- recordings --------------------------------------------------------------------------

async function viewRecordings(main, app) {
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
            player.play().catch(() => {});
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
  await refresh();
  return () => { player.pause(); };
}

// -- health, plugins, config -------------------------------------------------------------

async function viewHealth(main) {
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
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), 3000);
  return () => clearInterval(timer);
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
