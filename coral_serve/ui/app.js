// Dashboard shell: branding and features from /config.json, hash routing between views.
"use strict";

const app = { authEnabled: false, page: null };

// One page per navigation. Its cleanups (timers, live sessions) are registered as they
// are made, before the view's first await, and a cleanup added after the user left runs at
// once; the view draws into its own root, so a view that finishes late shows nothing.
function newPage(root) {
  const cleanups = [];
  return {
    root,
    closed: false,
    onCleanup(fn) {
      if (this.closed) fn();
      else cleanups.push(fn);
    },
    close() {
      this.closed = true;
      cleanups.splice(0).forEach((fn) => fn());
    },
  };
}

async function route() {
  if (app.page) app.page.close();
  const root = h("div", { className: "page" });
  const page = newPage(root);
  app.page = page;
  document.getElementById("main").replaceChildren(root);
  const [view, id] = (location.hash.replace(/^#\//, "") || "pipelines").split("/");
  document.querySelectorAll("nav a[data-view]").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === view || (view === "pipeline" && a.dataset.view === "pipelines"));
  });
  const views = {
    pipelines: () => viewPipelines(root, page),
    pipeline: () => viewPipeline(root, page, id, app),
    events: () => viewEvents(root, page, app),
    recordings: () => viewRecordings(root, page, app),
    health: () => viewHealth(root, page),
    plugins: () => viewPlugins(root),
    config: () => viewConfig(root),
  };
  try {
    await (views[view] || views.pipelines)();
  } catch (error) {
    if (page.closed) return;
    if (error.status === 401) return askForToken();
    root.append(h("section", { className: "card error", textContent: error.message }));
  }
}

function askForToken() {
  const token = prompt("This coral_serve needs an access token:");
  if (token) {
    api.setToken(token.trim());
    route();
  }
}

async function init() {
  const config = await api.get("/config.json");
  document.title = config.title;
  document.getElementById("title").textContent = config.title;
  document.getElementById("version").textContent = `${config.name} ${config.version}`;
  document.documentElement.style.setProperty("--accent", config.accent_color);
  if (config.logo_url) Object.assign(document.getElementById("logo"), { src: config.logo_url, hidden: false });
  app.authEnabled = config.auth_mode === "token";
  const tokenButton = document.getElementById("token-button");
  tokenButton.hidden = !app.authEnabled;
  tokenButton.onclick = askForToken;
  const nav = document.getElementById("nav");
  for (const page of config.plugin_pages) {
    nav.append(h("a", { href: page.path, textContent: page.label, className: "plugin-link" }));
  }
  window.addEventListener("hashchange", route);
  await route();
}

init().catch((error) => {
  document.getElementById("main").replaceChildren(
    h("section", { className: "card error", textContent: `The dashboard could not start: ${error.message}` }));
});
