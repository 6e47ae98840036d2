// A pipeline's analytics zones and lines: drawn over its live view (Overlay), and drawn,
// moved, renamed and deleted on its current frame (ZoneEditor). Coordinates are 0..1 of
// the frame, as the spec keeps them. Saving sends both lists whole (a merge patch replaces
// lists) with the revision the editor opened at, so a change made meanwhile is a 412, not
// overwritten; shapes the user did not touch (the line-counter plugin's line) go back as
// they came, with every field.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";
import { act, ErrorBox, html, toast } from "./lib.js";

const POINTS = { zones: "polygon", lines: "points" };  // where each kind keeps its points
const KIND = { zones: "zone", lines: "line" };
const CLOSE_PX = 12;  // a click this near a zone's first point closes it
// RegionName in schema/analytics.py (its \w is Unicode's, as in the server's regex engine).
const NAME = /^[A-Za-z0-9][\p{Alphabetic}\p{M}\p{Nd}\p{Pc}.-]*$/u;

const pointList = (points) => points.map((p) => p.join(",")).join(" ");
const unit = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

// The SVG elements of the shapes; `selected` and `onSelect` only when editing.
function shapes(zones, lines, selected, onSelect) {
  const cls = (kind, index, base) => (selected?.kind === kind && selected.index === index ? `${base} selected` : base);
  return [
    ...zones.map((z, i) => html`<polygon class=${cls("zones", i, "zone")} data-zone=${z.name}
      points=${pointList(z.polygon)} onClick=${onSelect && (() => onSelect("zones", i))} />`),
    ...lines.flatMap((l, i) => {
      const [[x1, y1], [x2, y2]] = l.points;
      const pick = onSelect && (() => onSelect("lines", i));
      const line = html`<line class=${cls("lines", i, "count-line")} data-line=${l.name} x1=${x1} y1=${y1} x2=${x2} y2=${y2} onClick=${pick} />`;
      // A wide invisible twin, so a thin line is easy to pick.
      return onSelect ? [line, html`<line class="hit" x1=${x1} y1=${y1} x2=${x2} y2=${y2} onClick=${pick} />`] : [line];
    }),
  ];
}

export function Overlay({ analytics }) {
  const zones = analytics?.zones || [];
  const lines = analytics?.lines || [];
  if (!zones.length && !lines.length) return null;
  return html`<svg class="overlay" id="live-overlay" viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
    ${shapes(zones, lines)}</svg>`;
}

// What the server would say of a name, said while typing; the server still decides on Save.
function nameProblem(name, taken) {
  if (!name) return "a name is needed";
  if (name.length > 64) return "at most 64 characters";
  if (!NAME.test(name)) return "letters, digits, _ . and -, starting with a letter or digit";
  return taken.includes(name) ? "another one has this name" : null;
}

const freeName = (kind, list) => {
  let n = 1;
  while (list.some((s) => s.name === `${KIND[kind]}-${n}`)) n += 1;
  return `${KIND[kind]}-${n}`;
};

// The classes field keeps the text as typed (a pushed re-render must not reset it, and
// "person, " is on its way to a second class); the shape gets the parsed list at once.
function ShapeForm({ kind, shape, others, onChange, onDelete }) {
  const problem = nameProblem(shape.name, others.map((s) => s.name));
  const [classesText, setClassesText] = useState((shape.classes || []).join(", "));
  const typeClasses = (text) => {
    setClassesText(text);
    onChange({ ...shape, classes: text.split(",").map((c) => c.trim()).filter(Boolean) });
  };
  return html`<div class="row" id="shape-form" data-kind=${kind}>
    <label>Name<input id="shape-name" value=${shape.name} maxlength="64" aria-invalid=${!!problem}
      onInput=${(e) => onChange({ ...shape, name: e.currentTarget.value.trim() })} />
      ${problem && html`<span class="field-error" data-field="name">${problem}</span>`}</label>
    <label>Classes (comma separated; empty: all)<input id="shape-classes" value=${classesText}
      onInput=${(e) => typeClasses(e.currentTarget.value)} /></label>
    <button type="button" class="danger" onClick=${onDelete}>Delete ${KIND[kind]}</button>
  </div>`;
}

export function ZoneEditor({ view, authEnabled, onClose }) {
  const [base] = useState(view);  // the revision Save names in If-Match
  const [regions, setRegions] = useState({
    zones: base.spec.analytics?.zones || [], lines: base.spec.analytics?.lines || [],
  });
  const [selected, setSelected] = useState(null);  // { kind, index }
  const [drawing, setDrawing] = useState(null);  // { kind, points }
  const [picture, setPicture] = useState({ src: null, failed: false });
  const [error, setError] = useState(null);
  const canvas = useRef(null);
  const dragging = useRef(null);  // the index of the point being dragged

  useEffect(() => {
    let live = true;
    api.mediaUrl(`/api/v1/streams/${base.id}/snapshot.jpg`, authEnabled)
      .then((src) => live && setPicture({ src, failed: false }), (e) => live && setError(e));
    return () => { live = false; };
  }, []);
  useEffect(() => {
    if (!drawing) return undefined;
    const escape = (e) => e.key === "Escape" && setDrawing(null);
    document.addEventListener("keydown", escape);
    return () => document.removeEventListener("keydown", escape);
  }, [!!drawing]);

  const at = (event) => {
    const box = canvas.current.getBoundingClientRect();
    return [unit((event.clientX - box.left) / box.width), unit((event.clientY - box.top) / box.height)];
  };
  const add = (kind, points) => {
    const list = regions[kind];
    const shape = { name: freeName(kind, list), [POINTS[kind]]: points, classes: [] };
    setRegions({ ...regions, [kind]: [...list, shape] });
    setSelected({ kind, index: list.length });
    setDrawing(null);
  };
  const finish = () => add("zones", drawing.points);
  const nearFirst = (event) => {
    const box = canvas.current.getBoundingClientRect();
    const [x, y] = drawing.points[0];
    return Math.hypot(event.clientX - box.left - x * box.width, event.clientY - box.top - y * box.height) <= CLOSE_PX;
  };
  const click = (event) => {
    if (!drawing) return;
    if (drawing.kind === "zones" && drawing.points.length >= 3 && nearFirst(event)) return finish();
    const points = [...drawing.points, at(event)];
    if (drawing.kind === "lines" && points.length === 2) return add("lines", points);
    setDrawing({ ...drawing, points });
  };
  const draw = (kind) => { setSelected(null); setDrawing({ kind, points: [] }); };
  const change = (shape) => {
    const list = regions[selected.kind].slice();
    list[selected.index] = shape;
    setRegions({ ...regions, [selected.kind]: list });
  };
  const remove = () => {
    setRegions({ ...regions, [selected.kind]: regions[selected.kind].filter((_, i) => i !== selected.index) });
    setSelected(null);
  };
  const shape = selected && regions[selected.kind][selected.index];
  const move = (event) => {
    if (dragging.current === null) return;
    const points = shape[POINTS[selected.kind]].slice();
    points[dragging.current] = at(event);
    change({ ...shape, [POINTS[selected.kind]]: points });
  };
  const handle = (point, index) => html`<span class="handle" data-point=${index}
    style=${{ left: `${point[0] * 100}%`, top: `${point[1] * 100}%` }}
    onPointerDown=${(e) => { e.stopPropagation(); e.currentTarget.setPointerCapture(e.pointerId); dragging.current = index; }}
    onPointerMove=${move} onPointerUp=${() => { dragging.current = null; }}></span>`;

  const save = () => {
    setError(null);
    const analytics = { zones: regions.zones, lines: regions.lines };
    const before = { zones: base.spec.analytics?.zones || [], lines: base.spec.analytics?.lines || [] };
    if (JSON.stringify(analytics) === JSON.stringify(before)) { toast("Nothing changed"); return onClose(); }
    return act(() => api.patch(`/api/v1/pipelines/${base.id}`, { analytics }, `"${base.revision}"`)
      .catch((e) => { setError(e); throw e; }),
    (update) => { toast(`Saved (${update.applied}): zones and lines`); onClose(); });
  };

  const { width, height } = base.status;
  const hint = !drawing ? (shape ? "Drag its points to move them; rename or delete it below."
    : "Draw a zone or a line, or pick a shape to change it.")
    : drawing.kind === "lines" ? "Click the line's two points (Escape cancels)."
      : "Click the zone's corners; click the first one again or Finish to close it (Escape cancels).";
  return html`<div class="zone-editor" id="zone-editor">
    <div class="actions">
      <button type="button" class="ghost" aria-pressed=${drawing?.kind === "zones"} onClick=${() => draw("zones")}>Draw zone</button>
      <button type="button" class="ghost" aria-pressed=${drawing?.kind === "lines"} onClick=${() => draw("lines")}>Draw line</button>
      ${drawing?.kind === "zones" && html`<button type="button" disabled=${drawing.points.length < 3} onClick=${finish}>Finish zone</button>`}
      ${drawing && html`<button type="button" class="ghost" onClick=${() => setDrawing(null)}>Cancel shape</button>`}
    </div>
    <p class="muted" id="zone-hint">${hint}</p>
    <div class=${drawing ? "zone-canvas drawing" : "zone-canvas"} ref=${canvas} onClick=${click}
      style=${{ aspectRatio: width && height ? `${width} / ${height}` : "16 / 9" }}>
      ${picture.src && !picture.failed && html`<img id="zone-picture" alt="the pipeline's current frame" src=${picture.src}
        onError=${() => setPicture({ ...picture, failed: true })} />`}
      ${picture.failed && html`<p class="zone-no-picture">No picture from the pipeline now; shapes can still be drawn.</p>`}
      <svg class="overlay editing" viewBox="0 0 1 1" preserveAspectRatio="none">
        ${shapes(regions.zones, regions.lines, selected, !drawing && ((kind, index) => setSelected({ kind, index })))}
        ${drawing && html`<polyline class="sketch" points=${pointList(drawing.points)} />`}
      </svg>
      ${shape && shape[POINTS[selected.kind]].map(handle)}
      ${drawing && drawing.points.map((p, i) => html`<span class=${i ? "handle sketch" : "handle sketch first"}
        style=${{ left: `${p[0] * 100}%`, top: `${p[1] * 100}%` }}></span>`)}
    </div>
    <div class="actions" id="shape-list" aria-label="zones and lines">
      ${["zones", "lines"].flatMap((kind) => regions[kind].map((s, index) => html`<button type="button" class="ghost"
        data-kind=${kind} data-name=${s.name} aria-pressed=${selected?.kind === kind && selected.index === index}
        onClick=${() => { setDrawing(null); setSelected({ kind, index }); }}>${KIND[kind]}: ${s.name}</button>`))}
    </div>
    ${shape && html`<${ShapeForm} key=${`${selected.kind}-${selected.index}`} kind=${selected.kind} shape=${shape}
      others=${regions[selected.kind].filter((_, i) => i !== selected.index)} onChange=${change} onDelete=${remove} />`}
    <${ErrorBox} error=${error} id="zone-errors" />
    <div class="actions">
      <button type="button" id="zones-save" onClick=${save}>Save zones and lines</button>
      <button type="button" class="ghost" onClick=${onClose}>Cancel</button>
    </div>
  </div>`;
}
