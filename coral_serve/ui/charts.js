// Minimal line charts on <canvas>: enough for fps, latency and drops over a few minutes.
"use strict";

function drawChart(canvas, points, { label, unit = "", color }) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio;
  const height = canvas.clientHeight * ratio;
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const styles = getComputedStyle(document.documentElement);
  ctx.clearRect(0, 0, width, height);
  ctx.font = `${12 * ratio}px system-ui`;
  ctx.fillStyle = styles.getPropertyValue("--muted");
  const values = points.map((p) => p.value).filter((v) => Number.isFinite(v));
  const latest = values.length ? values[values.length - 1] : null;
  ctx.fillText(`${label}: ${latest === null ? "–" : latest.toFixed(2)}${unit}`, 6 * ratio, 14 * ratio);
  if (points.length < 2) return;
  const max = Math.max(...values, 1e-9);
  const t0 = points[0].time;
  const span = Math.max(points[points.length - 1].time - t0, 1);
  const top = 22 * ratio;
  ctx.strokeStyle = color || styles.getPropertyValue("--accent");
  ctx.lineWidth = 2 * ratio;
  ctx.beginPath();
  points.forEach((p, i) => {
    const x = ((p.time - t0) / span) * (width - 8 * ratio) + 4 * ratio;
    const y = height - 4 * ratio - ((p.value || 0) / max) * (height - top - 8 * ratio);
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
}

// Pick the first sample key that matches, so the charts follow the metric names served.
function series(samples, pattern) {
  const first = samples.find((s) => Object.keys(s.values).some((k) => pattern.test(k)));
  if (!first) return [];
  const key = Object.keys(first.values).find((k) => pattern.test(k));
  return samples.map((s) => ({ time: s.time, value: Number(s.values[key]) }));
}
