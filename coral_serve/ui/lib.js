// What every component shares: `html` (htm bound to Preact), formatting, and the few
// widgets more than one page uses (state badge, error box, confirmation, toasts).
import { h, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);
export { render };

export const fmtTime = (t) => new Date(t * 1000).toLocaleString();
export const fmtClock = (t) => new Date(t * 1000).toLocaleTimeString();
export const fmtBytes = (n) => (n > 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`);
export const fmtMs = (seconds) => (Number.isFinite(seconds) ? `${(seconds * 1000).toFixed(0)} ms` : "–");

export const Badge = ({ state }) => html`<span class="badge ${state}">${state}</span>`;

// A failed request as the server explained it; nothing when there is no error.
export const ErrorBox = ({ error, id }) => error
  ? html`<p class="card error" role="alert" id=${id}>${error.message}</p>`
  : null;

// Toasts: short notices any component can raise (a failed action, a finished one).
const toastListeners = new Set();
export function toast(message) {
  toastListeners.forEach((fn) => fn(message));
}
export function Toasts() {
  const [message, setMessage] = useState("");
  useEffect(() => {
    let timer;
    const show = (text) => { setMessage(text); clearTimeout(timer); timer = setTimeout(() => setMessage(""), 6000); };
    toastListeners.add(show);
    return () => { toastListeners.delete(show); clearTimeout(timer); };
  }, []);
  return message ? html`<div id="toast" role="status">${message}</div>` : null;
}

// Destructive actions ask first, in a real dialog (keyboard: Enter confirms, Esc cancels).
let askConfirm = null;
export function confirmAction(question) {
  return askConfirm ? askConfirm(question) : Promise.resolve(window.confirm(question));
}
export function ConfirmDialog() {
  const [question, setQuestion] = useState(null);
  useEffect(() => {
    askConfirm = (text) => new Promise((resolve) => setQuestion({ text, resolve }));
    return () => { askConfirm = null; };
  }, []);
  const yes = useRef(null);
  useEffect(() => { if (question) yes.current.focus(); }, [question]);
  const answer = (ok) => { question.resolve(ok); setQuestion(null); };
  if (!question) return null;
  return html`<div class="backdrop">
    <form class="card dialog" role="alertdialog" aria-modal="true" id="confirm-dialog"
      onSubmit=${(e) => { e.preventDefault(); answer(true); }}
      onKeyDown=${(e) => e.key === "Escape" && answer(false)}>
      <p>${question.text}</p>
      <div class="actions">
        <button type="submit" class="danger" ref=${yes}>Yes</button>
        <button type="button" class="ghost" onClick=${() => answer(false)}>Cancel</button>
      </div>
    </form></div>`;
}

// Run an action; its failure is shown with the server's detail; `done` runs after success.
export async function act(action, done) {
  try {
    const result = await action();
    if (done) await done(result);
    return result;
  } catch (error) {
    if (error.name !== "AbortError") toast(error.message);
    return undefined;
  }
}

// Data loaded once per page (or when `deps` change); aborted when the page goes.
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: undefined, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    load(controller.signal).then(
      (data) => controller.signal.aborted || setState({ data, error: null, loading: false }),
      (error) => controller.signal.aborted || setState((s) => ({ ...s, error, loading: false })));
    return () => controller.abort();
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
