// The line counter's page: picks a pipeline, sets its counting line, shows the totals.
const api = "/plugins/line-counter";
// The dashboard keeps the bearer token for the browser session when authentication is on.
const token = sessionStorage.getItem("coral-token") || localStorage.getItem("coral-token");
const auth = token ? { Authorization: `Bearer ${token}` } : {};
const select = document.getElementById("pipeline");
const error = document.getElementById("error");

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...auth, ...options.headers } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.error || response.statusText);
  return body;
}

function show(counts) {
  document.getElementById("counts").textContent =
    `in ${counts.crossed_in}   out ${counts.crossed_out}`;
}

document.getElementById("set").onclick = async () => {
  const [x1, y1, x2, y2] = document.getElementById("line").value.split(",").map(Number);
  const classes = document.getElementById("classes").value.split(",")
    .map((c) => c.trim()).filter(Boolean);
  try {
    show(await call(`${api}/lines/${select.value}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ points: [[x1, y1], [x2, y2]], classes }),
    }));
    error.textContent = "";
  } catch (failure) {
    error.textContent = String(failure.message);
  }
};

setInterval(async () => {
  if (!select.value) return;
  try {
    show(await call(`${api}/counts/${select.value}`));
  } catch {
    document.getElementById("counts").textContent = "—"; // no line set yet
  }
}, 1000);

call("/api/v1/pipelines").then((pipelines) => {
  select.replaceChildren(...pipelines.map((p) => new Option(p.name, p.id)));
});
