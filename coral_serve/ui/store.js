// One store of state for every page, fed by push: GET /api/v1/watch (Server-Sent Events)
// read through fetch, so the token travels in a header and a 401 is seen (EventSource can
// do neither). When the stream drops the store says so and reconnects with a backoff.
import { useEffect, useReducer } from "preact/hooks";
import { authHeaders, onTokenChange, unauthorized } from "./api.js";

const CHART_SECONDS = 300;
const OBJECTS_KEPT = 50;
const SILENCE_MS = 20000;  // the server writes at least every few seconds; past this it is gone
const BACKOFF_MS = [500, 5000];

const state = {
  connection: "connecting",  // connecting | live | stale | down | unauthorized
  detail: "",
  retryAt: 0,
  pipelines: new Map(),  // id -> view, replaced (never mutated) when it changes
  points: new Map(),  // id -> [{time, values}], the last CHART_SECONDS
  objects: [],  // newest object events pushed since the page opened
  updates: 0,  // pushes applied; tests and the overview's timing read it
};
const listeners = new Set();

function set(changes) {
  Object.assign(state, changes);
  listeners.forEach((fn) => fn());
}

export const getState = () => state;
export function subscribe(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// Re-render the calling component on every change of the store; returns `select(state)`.
export function useStore(select) {
  const [, force] = useReducer((n) => n + 1, 0);
  useEffect(() => subscribe(force), []);
  return select(state);
}

const handlers = {
  snapshot({ pipelines }) {
    set({ connection: "live", detail: "", pipelines: new Map(pipelines.map((v) => [v.id, v])) });
  },
  changes({ pipelines, removed }) {
    const next = new Map(state.pipelines);
    pipelines.forEach((v) => next.set(v.id, v));
    removed.forEach((id) => { next.delete(id); state.points.delete(id); });
    set({ connection: "live", detail: "", pipelines: next });
  },
  stale({ detail }) { set({ connection: "stale", detail }); },
  metrics({ points }) {
    for (const { pipeline_id: id, time, values } of points) {
      const kept = (state.points.get(id) || []).filter((p) => p.time > time - CHART_SECONDS);
      state.points.set(id, [...kept, { time, values }]);
    }
    set({});
  },
  objects({ events }) {
    const ids = new Set(events.map((e) => e.id));
    set({ objects: [...events, ...state.objects.filter((e) => !ids.has(e.id))].slice(0, OBJECTS_KEPT) });
  },
};

// Lines of one SSE message ("event: name", "data: json"); comments keep the stream alive.
function dispatch(message) {
  let name = "message";
  let data = "";
  for (const line of message.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (!data || !handlers[name]) return;
  const start = performance.now();
  handlers[name](JSON.parse(data));
  state.updates += 1;
  // With `window.coralTiming` set (a performance test, a curious operator in devtools), the
  // main-thread cost of each push, its re-render included (Preact renders in a microtask,
  // before this timer runs), becomes a User Timing entry.
  if (window.coralTiming) setTimeout(() => performance.measure(`coral-push:${name}`, { start }), 0);
}

let current = null;

async function follow(controller) {
  let watchdog = null;
  const alive = () => { clearTimeout(watchdog); watchdog = setTimeout(() => controller.abort(), SILENCE_MS); };
  try {
    alive();
    const response = await fetch("/api/v1/watch", { headers: authHeaders({ Accept: "text/event-stream" }), signal: controller.signal });
    if (response.status === 401) {
      const body = await response.json().catch(() => ({}));
      set({ connection: "unauthorized", detail: body.detail || "a token is needed" });
      unauthorized(body);
      return "unauthorized";
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.detail || `HTTP ${response.status}`);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the server closed the stream");
      alive();
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } finally {
    clearTimeout(watchdog);
  }
}

// Follow the stream for as long as the page is open: reconnect after a failure (backing
// off), and after a 401 wait for a new token.
export async function connect() {
  let pause = BACKOFF_MS[0];
  for (;;) {
    const controller = new AbortController();
    current = controller;
    let outcome;
    try {
      outcome = await follow(controller);
    } catch (error) {
      if (state.connection === "live") pause = BACKOFF_MS[0];  // it had worked: retry soon
      const detail = controller.signal.aborted && !controller.replaced
        ? "no word from the server" : error.message;
      if (!controller.replaced) {
        set({ connection: "down", detail, retryAt: Date.now() + pause });
        await new Promise((resolve) => setTimeout(resolve, pause));
        pause = Math.min(pause * 2, BACKOFF_MS[1]);
      }
      continue;
    }
    if (outcome === "unauthorized") await new Promise((resolve) => { const off = onTokenChange(() => { off(); resolve(); }); });
    pause = BACKOFF_MS[0];
  }
}

// A new token: drop the stream made with the old one, the loop opens another at once.
onTokenChange(() => {
  if (current) { current.replaced = true; current.abort(); }
});
