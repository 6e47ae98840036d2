// Dashboard shell: branding and features from /config.json, hash routing between views.
"use strict";

const app = { authEnabled: false, cleanup: null };

async function route() {
  const main = document.getElementById("main");
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  main.replaceChildren();
  const [view, id] = (location.hash.replace(/^#\//, "") || "pipelines").split("/");
  document.querySelectorAll("nav a[data-view]").forEach((a) => {
    a.classList.toggle("active", a.dataset.view === view || (view === "pipeline" && a.dataset.view === "pipelines"));
  });
  const views = {
    pipelines: () => viewPipelines(main),
    pipeline: () => viewPipeline(main, id, app),
    recordings: () => viewRecordings(main, app),
    health: () => viewHealth(main),
    plugins: () => viewPlugins(main),
    config: () => viewConfig(main),
  };
  try {
    app.cleanup = (await (views[view] || views.pipelines)()) || null;
  } catch (error) {
    if (error.status === 401) return askForToken();
    main.append(h("section", { className: "card error", textContent: error.message }));
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
  const config = await (await fetch("/config.json")).json();
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

init();
