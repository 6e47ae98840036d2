// Dashboard shell: branding from /config.json, the connection banner, the login dialog,
// and hash routing. Each page is a component: what it starts it stops in an effect's
// cleanup, registered before anything is awaited, so leaving during set-up leaks nothing.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, onTokenChange, onUnauthorized, setToken } from "./api.js";
import { ConfirmDialog, html, render, Toasts } from "./lib.js";
import { connect, useStore } from "./store.js";
import { Overview } from "./pages/overview.js";
import { PipelinePage } from "./pages/pipeline.js";
import { CreatePage } from "./pages/create.js";
import { EventsPage } from "./pages/events.js";
import { RecordingsPage } from "./pages/recordings.js";
import { ConfigPage, HealthPage, PluginsPage } from "./pages/system.js";

const NAV = [
  ["pipelines", "Overview"], ["new", "New pipeline"], ["events", "Events"], ["recordings", "Recordings"],
  ["health", "Health"], ["plugins", "Plugins"], ["config", "Config"],
];
const PAGES = {
  pipelines: Overview, pipeline: PipelinePage, new: CreatePage, events: EventsPage,
  recordings: RecordingsPage, health: HealthPage, plugins: PluginsPage, config: ConfigPage,
};

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  const [view, id] = (hash.replace(/^#\//, "") || "pipelines").split("/");
  return PAGES[view] ? [view, id] : ["pipelines", undefined];
}

// Says when the push stream is down (and when it retries) or its views are not current.
function ConnectionBanner() {
  const { connection, detail, retryAt } = useStore((s) => s);
  const [, tick] = useState(0);
  useEffect(() => {
    if (connection !== "down") return undefined;
    const timer = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(timer);
  }, [connection]);
  if (connection === "live" || connection === "connecting") return null;
  const text = {
    down: `Disconnected from the server (${detail}); reconnecting${retryAt > Date.now() ? ` in ${Math.ceil((retryAt - Date.now()) / 1000)} s` : "…"}`,
    stale: `Connected, but the pipeline views are not current: ${detail}`,
    unauthorized: `Signed out: ${detail}`,
  }[connection];
  return html`<div id="connection-banner" class="banner ${connection}" role="alert">${text}</div>`;
}

// Asked for on any 401 (a revoked or missing token); the token is kept for this tab only.
function LoginDialog({ ask }) {
  const [reason, setReason] = useState(ask ? "Enter a new access token" : null);
  const input = useRef(null);
  useEffect(() => onUnauthorized((body) => setReason(body.detail || "this server needs an access token")), []);
  useEffect(() => { if (reason !== null) input.current.focus(); }, [reason]);
  if (reason === null) return null;
  const submit = (event) => {
    event.preventDefault();
    const value = input.current.value.trim();
    if (!value) return;
    setReason(null);
    setToken(value);
  };
  return html`<div class="backdrop">
    <form class="card dialog" id="login-dialog" role="dialog" aria-modal="true" aria-labelledby="login-title" onSubmit=${submit}>
      <h2 id="login-title">Sign in</h2>
      <p class="muted">${reason}</p>
      <label>Access token <input ref=${input} name="token" type="password" autocomplete="current-password" required /></label>
      <div class="actions"><button type="submit">Sign in</button>
        ${ask && html`<button type="button" class="ghost" onClick=${() => setReason(null)}>Cancel</button>`}</div>
    </form></div>`;
}

function App({ config }) {
  const [view, id] = useHash();
  const [signIns, setSignIns] = useState(0);
  const [tokens, setTokens] = useState(0);  // a new token: the page loads again with it
  useEffect(() => onTokenChange(() => setTokens((n) => n + 1)), []);
  const Page = PAGES[view];
  const active = view === "pipeline" ? "pipelines" : view;
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header>
      ${config.logo_url && html`<img id="logo" alt="" src=${config.logo_url} />`}
      <h1 id="title">${config.title}</h1>
      <nav id="nav" aria-label="Pages">
        ${NAV.map(([key, label]) => html`<a href="#/${key}" data-view=${key} class=${active === key ? "active" : ""}
          aria-current=${active === key ? "page" : undefined}>${label}</a>`)}
        ${config.plugin_pages.map((p) => html`<a href=${p.path} class="plugin-link">${p.label}</a>`)}
      </nav>
      <span id="version" class="muted">${config.name} ${config.version}</span>
      ${config.auth_mode === "token" && html`<button id="token-button" class="ghost"
        onClick=${() => setSignIns((n) => n + 1)}>Token</button>`}
    </header>
    <${ConnectionBanner} />
    <main id="main" tabindex="-1">
      <${Page} key=${`${view}/${id}/${tokens}`} id=${id} config=${config} />
    </main>
    <${LoginDialog} key=${signIns} ask=${signIns > 0} />
    <${ConfirmDialog} />
    <${Toasts} />`;
}

async function start() {
  const root = document.getElementById("app");
  try {
    const config = await api.get("/config.json");
    document.title = config.title;
    document.documentElement.style.setProperty("--accent", config.accent_color);
    root.replaceChildren();  // the "loading" line, which Preact would leave in place
    render(html`<${App} config=${config} />`, root);
    connect();
  } catch (error) {
    root.replaceChildren();
    render(html`<p class="card error">The dashboard could not start: ${error.message}</p>`, root);
  }
}

start();
