// A row of marks over a span of time, as the recordings and events pages draw it: each mark
// sits from its start to its end and is a button (for the keyboard); a click on the bar
// itself can name the moment it points at.
import { html } from "./lib.js";

// The span that `intervals` ([start, end] pairs, seconds) cover; at least a second long.
export function spanOf(intervals) {
  const t0 = Math.min(...intervals.map(([start]) => start));
  const t1 = Math.max(...intervals.map(([, end]) => end));
  return { t0, t1, span: Math.max(t1 - t0, 1) };
}

// Items by their `pipeline_id`, in the order first seen: one timeline row each.
export function byPipeline(items) {
  const rows = new Map();
  for (const item of items) rows.set(item.pipeline_id, [...(rows.get(item.pipeline_id) || []), item]);
  return rows;
}

// marks: [{ key, start, end, className, title, label, style, attrs, onPick }];
// onAt(time), when given, hears clicks on the bar between marks.
export function TimelineRow({ pipelineId, name, note, range, marks, onAt }) {
  const place = (m) => ({
    ...m.style,
    left: `${((m.start - range.t0) / range.span) * 100}%`,
    width: `max(3px, ${((m.end - m.start) / range.span) * 100}%)`,
  });
  const at = (event) => {
    const box = event.currentTarget.getBoundingClientRect();
    onAt(range.t0 + ((event.clientX - box.left) / box.width) * range.span);
  };
  return html`<div class="timeline-row" data-pipeline=${pipelineId}>
    <div class="timeline-head"><strong>${name}</strong> <span class="muted">${note}</span></div>
    <div class=${onAt ? "timeline seekable" : "timeline"} onClick=${onAt && at}>
      ${marks.map((m) => html`<button key=${m.key} type="button" class=${m.className} title=${m.title}
        aria-label=${m.label} style=${place(m)} ...${m.attrs}
        onClick=${(e) => { e.stopPropagation(); m.onPick(); }}></button>`)}
    </div></div>`;
}
