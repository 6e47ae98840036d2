// Placeholder dashboard: branding from /config.json, live readiness from /readyz.
async function loadConfig() {
  const config = await (await fetch("/config.json")).json();
  document.title = config.title;
  document.getElementById("title").textContent = config.title;
  document.getElementById("version").textContent = `${config.name} ${config.version}`;
  document.documentElement.style.setProperty("--accent", config.accent_color);
}

async function refreshHealth() {
  const badge = document.getElementById("ready");
  const body = document.querySelector("#checks tbody");
  try {
    const readiness = await (await fetch("/readyz")).json();
    badge.textContent = readiness.ready ? "ready" : "not ready";
    badge.className = "badge " + (readiness.ready ? "ok" : "fail");
    body.replaceChildren(...readiness.checks.map((check) => {
      const row = document.createElement("tr");
      for (const text of [check.name, check.ok ? "ok" : "failing", check.detail]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }));
  } catch (error) {
    badge.textContent = "unreachable";
    badge.className = "badge fail";
  }
}

loadConfig();
refreshHealth();
setInterval(refreshHealth, 5000);
