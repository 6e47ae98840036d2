// The control plane itself: readiness checks (refreshed), plugins, effective config (masked).
import { useEffect } from "preact/hooks";
import { api } from "../api.js";
import { Badge, ErrorBox, html, useLoad } from "../lib.js";

const HEALTH_MS = 3000;

// /readyz answers 503 with the same body when not ready: read it either way.
async function readiness(signal) {
  const response = await fetch("/readyz", { signal });
  return response.json();
}

export function HealthPage() {
  const ready = useLoad(readiness);
  useEffect(() => {
    const timer = setInterval(ready.reload, HEALTH_MS);
    return () => clearInterval(timer);
  }, []);
  const r = ready.data;
  return html`<section class="card">
    <h2>Readiness ${r && html`<${Badge} state=${r.ready ? "ok" : "fail"} />`}</h2>
    <${ErrorBox} error=${ready.error} />
    <table id="checks"><tbody>
      ${(r?.checks || []).map((c) => html`<tr><td>${c.name}</td>
        <td><${Badge} state=${c.ok ? "ok" : c.required ? "fail" : "warn"} /></td><td>${c.detail}</td></tr>`)}
    </tbody></table></section>`;
}

export function PluginsPage() {
  const plugins = useLoad((signal) => api.get("/api/v1/plugins", signal));
  return html`<section class="card"><h2>Plugins</h2>
    <${ErrorBox} error=${plugins.error} />
    <table id="plugins">
      <thead><tr><th>name</th><th>group</th><th>version</th><th>loaded</th><th>reason</th></tr></thead>
      <tbody>
        ${plugins.data && !plugins.data.length && html`<tr><td colspan="5" class="muted">No plugins installed.</td></tr>`}
        ${(plugins.data || []).map((p) => html`<tr><td>${p.name}</td><td>${p.group}</td><td>${p.version}</td>
          <td><${Badge} state=${p.loaded ? "ok" : "fail"} /></td><td>${p.reason}</td></tr>`)}
      </tbody></table></section>`;
}

export function ConfigPage() {
  const config = useLoad((signal) => api.get("/api/v1/config", signal));
  return html`<section class="card"><h2>Effective configuration</h2>
    <p class="muted">Read-only; secrets are masked.</p>
    <${ErrorBox} error=${config.error} />
    ${config.data && html`<pre id="effective-config">${JSON.stringify(config.data, null, 2)}</pre>`}
  </section>`;
}
