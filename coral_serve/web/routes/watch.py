"""`/api/v1/watch`: pipeline views and status changes as Server-Sent Events.

What a dashboard needs instead of polling: a `snapshot` event with every pipeline, then a
`changes` event with the views that changed and the ids removed. A `stale` event says the
replica lost touch with PipelineService; a new `snapshot` follows once it is back. The
stream opens at once even before the replica holds the views (a browser's EventSource
does not retry a refused connection): comment lines say it is waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from coral_serve.config.http import Role
from coral_serve.schema.views import PipelineView
from coral_serve.web.roles import require_role
from coral_serve.web.snapshot import PipelineSnapshot, get_snapshot
from coral_serve.web.sse import MEDIA_TYPE, sse_event

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["pipelines"])


@router.get(
    "/watch",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {}}}},
    summary="Pipeline views and status changes as Server-Sent Events (snapshot, changes, stale)",
    dependencies=[Depends(require_role(Role.viewer))],
)
async def watch(
    snapshot: Annotated[PipelineSnapshot, Depends(get_snapshot)],
) -> StreamingResponse:
    return StreamingResponse(
        _events(snapshot), media_type=MEDIA_TYPE, headers={"Cache-Control": "no-store"}
    )


async def _events(snapshot: PipelineSnapshot) -> AsyncIterator[str]:
    sent: dict[str, PipelineView] | None = None
    async for views in snapshot.changes():
        if views is None:
            if sent is not None:
                yield sse_event("stale", {"detail": "pipeline views are not current"})
            else:
                yield ": waiting for the pipeline views\n\n"
        elif sent is None:
            yield sse_event("snapshot", {"pipelines": _dumped(views.values())})
        else:
            changed = [view for key, view in views.items() if sent.get(key) != view]
            removed = [key for key in sent if key not in views]
            if changed or removed:
                yield sse_event("changes", {"pipelines": _dumped(changed), "removed": removed})
            else:
                yield ": idle\n\n"  # keeps proxies from closing a quiet stream
        sent = views


def _dumped(views: Any) -> list[dict[str, Any]]:
    return [view.model_dump(mode="json") for view in views]
