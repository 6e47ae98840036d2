// Time charts with axes (uPlot): one component per chart, fed whole series; the series
// come from the metric samples (history, then pushed points) by the names the server uses.
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { html } from "./lib.js";

const COLORS = ["#ff6f61", "#3b82f6", "#2e9e5b"];

function options(width, { unit, labels }) {
  const muted = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#888";
  const axis = { stroke: muted, grid: { stroke: "rgba(127,127,127,.18)" }, ticks: { stroke: "rgba(127,127,127,.3)" } };
  return {
    width,
    height: 160,
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
    axes: [axis, { ...axis, size: 68, values: (u, ticks) => ticks.map((t) => `${+t.toFixed(2)}${unit}`) }],
    series: [{}, ...labels.map((label, i) => ({
      label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
      value: (u, v) => (v == null ? "–" : `${v.toFixed(2)}${unit}`),
    }))],
  };
}

// `data` is uPlot's [[times], [values of series 1], ...].
export function Chart({ id, title, unit = "", labels, data }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const node = box.current;
    const chart = new uPlot(options(node.clientWidth || 300, { unit, labels }), data, node);
    plot.current = chart;
    const resize = new ResizeObserver(() => node.clientWidth && chart.setSize({ width: node.clientWidth, height: 160 }));
    resize.observe(node);
    return () => { resize.disconnect(); chart.destroy(); };
  }, []);
  useEffect(() => { plot.current.setData(data); }, [data]);
  return html`<figure class="chart" id=${id}><figcaption>${title}</figcaption><div ref=${box}></div></figure>`;
}

const value = (sample, key) => {
  const v = sample.values[key];
  return typeof v === "number" ? v : null;
};

// fps, latencies (ms) and the drop rate (frames/s, from the counter's differences; a
// counter that went back, a restarted worker, starts over).
export function chartSeries(samples) {
  const times = samples.map((s) => s.time);
  const ms = (key) => samples.map((s) => { const v = value(s, key); return v == null ? null : v * 1000; });
  const drops = samples.map((s, i) => {
    if (i === 0) return null;
    const before = value(samples[i - 1], "frames_dropped");
    const now = value(s, "frames_dropped");
    const dt = s.time - samples[i - 1].time;
    if (before == null || now == null || dt <= 0) return null;
    return now >= before ? (now - before) / dt : 0;
  });
  return {
    fps: [times, samples.map((s) => value(s, "fps"))],
    latency: [times, ms("e2e_latency_mean_seconds"), ms("inference_mean_seconds")],
    drops: [times, drops],
  };
}
