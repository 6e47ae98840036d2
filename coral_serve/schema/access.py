"""Who the caller is, and signed media URLs: the bodies of `/api/v1/auth`."""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["SignRequest", "SignedUrl", "WhoAmI"]


class WhoAmI(BaseModel):
    name: str = Field(description="Token label (anonymous when auth is off).")
    role: str = Field(description="admin or viewer.")
    auth_enabled: bool


class SignRequest(BaseModel):
    path: str = Field(
        pattern=r"^/api/v1/(recordings|streams|events)/[A-Za-z0-9._~/-]+$",
        max_length=512,
        description="Media path to sign (a recording file, MJPEG stream, snapshot, or an "
        "object event's clip or snapshot).",
    )


class SignedUrl(BaseModel):
    url: str = Field(description="The path with `exp` and `sig` query parameters.")
    expires_in: float = Field(description="Seconds the URL stays valid.")
