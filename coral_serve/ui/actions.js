// Pipeline actions shared by the overview and the pipeline page: pause/resume, restart,
// delete (confirmed first). Their effect arrives through the push stream.
import { api } from "./api.js";
import { act, confirmAction, html } from "./lib.js";

export function PipelineActions({ view, onDeleted }) {
  const path = `/api/v1/pipelines/${view.id}`;
  const paused = view.desired_state === "paused";
  const remove = async () => {
    if (!(await confirmAction(`Delete pipeline “${view.name}”? Its worker stops; recordings stay.`))) return;
    await act(() => api.del(path), onDeleted);
  };
  return html`<div class="actions">
    ${paused
      ? html`<button class="ghost" onClick=${() => act(() => api.post(`${path}/resume`))}>Resume</button>`
      : html`<button class="ghost" onClick=${() => act(() => api.post(`${path}/pause`))}>Pause</button>`}
    <button class="ghost" onClick=${() => act(() => api.post(`${path}/restart`))}>Restart</button>
    <button class="danger" onClick=${remove}>Delete</button>
  </div>`;
}
