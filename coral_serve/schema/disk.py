"""What the recordings disk-quota routes return: usage, the segments at either end, cleanups."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "CleanupReport",
    "DeletedSegment",
    "DiskReport",
    "NodeDisk",
    "Reason",
    "SegmentInfo",
]

Reason = Literal["age", "quota", "emergency"]


class SegmentInfo(BaseModel):
    path: str = Field(description="Path relative to the recordings directory.")
    pipeline: str = Field(description="Top-level directory under the recordings directory.")
    bytes: int = Field(description="File size.")
    modified: float = Field(description="Unix time of the last write.")


class DeletedSegment(SegmentInfo):
    reason: Reason = Field(
        description="age: older than max_age_hours; quota: over max_bytes; "
        "emergency: the filesystem had less than min_free_percent free."
    )


class DiskReport(BaseModel):
    directory: str = Field(description="The recordings directory.")
    used_bytes: int = Field(description="Bytes of every file under it, partial ones included.")
    segments: int = Field(description="Complete and in-progress segments.")
    in_progress: int = Field(description="Files being written (never deleted).")
    max_bytes: int | None = Field(description="Byte quota; null: none.")
    max_age_hours: float | None = Field(description="Age quota; null: none.")
    quota_percent: float | None = Field(description="used_bytes as a share of max_bytes.")
    warn_percent: float = Field(description="Readiness warns above this share of max_bytes.")
    filesystem_bytes: int = Field(description="Size of the filesystem holding the directory.")
    filesystem_free_bytes: int = Field(description="Free bytes on that filesystem.")
    filesystem_free_percent: float = Field(description="Free share of that filesystem.")
    min_free_percent: float = Field(description="Below this, cleanup ignores the quota.")
    oldest: SegmentInfo | None = Field(description="Oldest segment, if any.")
    newest: SegmentInfo | None = Field(description="Newest segment, if any.")
    last_cleanup: float | None = Field(
        description="Unix time the quota was last enforced (dry runs aside); null: not yet."
    )
    last_cleanup_deleted: int = Field(description="Segments that last enforcement deleted.")
    downloads_bytes: int = Field(
        default=0,
        description="Bytes of downloaded sources (`<data_dir>/downloads`) beside it: they use "
        "the same node's free space, which min_free_percent guards, but not max_bytes.",
    )
    nodes: list[NodeDisk] = Field(
        default_factory=list,
        description="Each node's own media disk, as its media agent reports it, on a cluster "
        "whose nodes keep their media on their own disks (`streams.media.shared: false`); "
        "empty on one box and with a shared volume, where the fields above are the truth.",
    )


class NodeDisk(BaseModel):
    node: str = Field(description="The Ray node id.")
    disk: DiskReport | None = Field(description="That node's report; null: no answer.")
    error: str | None = Field(default=None, description="Why the node's agent did not answer.")


class CleanupReport(BaseModel):
    dry_run: bool = Field(description="True: nothing was deleted, `deleted` is the plan.")
    deleted: list[DeletedSegment] = Field(
        description="Segments deleted (or to delete), oldest first."
    )
    freed_bytes: int = Field(description="Bytes deleted (or that would be).")
    kept_in_progress: int = Field(description="Files skipped because they are being written.")
    errors: list[str] = Field(default_factory=list, description="Files that could not be deleted.")
