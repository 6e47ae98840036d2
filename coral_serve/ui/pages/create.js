// Create a pipeline: a probe preview of the source, backends and decoders from the
// server's registry (plugin backends included), and the 422's errors beside their fields.
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorBox, html, useLoad } from "../lib.js";

// A 422's detail as {field: message}, fields named as the form names its inputs.
function fieldErrors(error) {
  const detail = error?.body?.detail;
  if (!Array.isArray(detail)) return {};
  return Object.fromEntries(detail.map((d) => [String(d.field || "").replace(/^body\./, ""), d.message]));
}

function Field({ label, name, errors, children }) {
  const message = Object.entries(errors).find(([field]) => field === name || field.startsWith(`${name}.`))?.[1];
  return html`<label>${label}${children}
    ${message && html`<span class="field-error" data-field=${name} role="alert">${message}</span>`}</label>`;
}

function Probe({ uri }) {
  const [state, setState] = useState(null);
  const probe = async () => {
    setState({ busy: true });
    try {
      setState({ info: await api.post("/api/v1/sources/probe", { uri }) });
    } catch (error) {
      setState({ error });
    }
  };
  const info = state?.info;
  return html`<div>
    <button type="button" class="ghost" onClick=${probe} disabled=${!uri || state?.busy}>Probe source</button>
    <div class="muted" id="probe-preview" aria-live="polite">
      ${state?.busy && "probing…"}
      ${state?.error && html`<span class="error">${state.error.message}</span>`}
      ${info && html`<img class="thumb" src="data:image/jpeg;base64,${info.thumbnail}" alt="first frame" />
        <div>${info.width}x${info.height} · ${info.fps ?? "?"} fps · ${info.codec ?? "?"}</div>`}
    </div></div>`;
}

export function CreatePage() {
  const registry = useLoad((signal) => api.get("/api/v1/registry", signal));
  const [uri, setUri] = useState("");
  const [backend, setBackend] = useState("onnxruntime");
  const [error, setError] = useState(null);
  const errors = fieldErrors(error);
  const submit = async (event) => {
    event.preventDefault();
    const f = event.currentTarget.elements;
    const model = backend === "none"
      ? { backend: "none" }
      : { backend, path: f.model_path.value, decoder: f.decoder.value, confidence: Number(f.confidence.value) };
    const spec = { name: f.name.value, source: { uri, loop: f.loop.checked }, model, outputs: { record: f.record.checked } };
    setError(null);
    try {
      const created = await api.post("/api/v1/pipelines", spec);
      location.hash = `#/pipelines`;
      return created;
    } catch (failure) {
      setError(failure);
      return null;
    }
  };
  const backends = registry.data?.backends || [{ name: "onnxruntime", description: "" }, { name: "none", description: "" }];
  const decoders = registry.data?.decoders || ["yolo"];
  return html`<section class="card"><h2>New pipeline</h2>
    <${ErrorBox} error=${registry.error} />
    <form id="create-form" onSubmit=${submit} novalidate>
      <div class="row">
        <${Field} label="Name" name="name" errors=${errors}><input name="name" required placeholder="front-door" /><//>
        <${Field} label="Source URI" name="source" errors=${errors}>
          <input name="uri" required placeholder="rtsp://camera/stream or /videos/clip.mp4" value=${uri} onInput=${(e) => setUri(e.currentTarget.value)} /><//>
      </div>
      <${Probe} uri=${uri} />
      <div class="row">
        <${Field} label="Backend" name="model.backend" errors=${errors}>
          <select name="backend" value=${backend} onChange=${(e) => setBackend(e.currentTarget.value)}>
            ${backends.map((b) => html`<option value=${b.name} title=${b.description}>${b.name}</option>`)}
          </select><//>
        ${backend !== "none" && html`
          <${Field} label="Model file" name="model.path" errors=${errors}><input name="model_path" placeholder="/models/yolo.onnx" /><//>
          <${Field} label="Decoder" name="model.decoder" errors=${errors}>
            <select name="decoder">${decoders.map((d) => html`<option value=${d}>${d}</option>`)}</select><//>
          <${Field} label="Confidence" name="model.confidence" errors=${errors}>
            <input name="confidence" type="number" min="0" max="1" step="0.05" value="0.35" /><//>`}
      </div>
      <div class="row">
        <label class="check"><input name="loop" type="checkbox" /> loop files</label>
        <label class="check"><input name="record" type="checkbox" /> record</label>
        <button type="submit">Create pipeline</button>
      </div>
      <div class="error" id="create-errors" role="alert">${error ? error.message : ""}</div>
    </form></section>`;
}
