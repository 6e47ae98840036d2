"""What `PipelineService.watch` answers: pipeline views changed since a version."""

from __future__ import annotations

from pydantic import BaseModel, Field

from coral_serve.schema.views import PipelineView

__all__ = ["ViewChanges"]


class ViewChanges(BaseModel):
    """Views changed and ids removed after `since`, up to `version`.

    `epoch` names one run of the feed: versions of another run (PipelineService restarted)
    mean nothing here, so an unknown epoch or a version older than the feed remembers gets
    `full=True`, every view, and a reader replaces what it holds.
    """

    epoch: str = Field(description="Identifies the run of the feed the versions belong to.")
    since: int = Field(description="The version these changes start after.")
    version: int = Field(description="The version after these changes.")
    full: bool = Field(description="Every view is listed: replace, do not merge.")
    views: list[PipelineView] = Field(description="Views added or changed.")
    removed: list[str] = Field(description="Ids of pipelines deleted.")
