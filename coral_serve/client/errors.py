"""The exception every refused request raises, carrying the server's `{error, detail}`."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["CoralAPIError"]


class CoralAPIError(Exception):
    """The server said no: `status` (HTTP), `error` (machine-readable kind) and `detail`
    (what was wrong, for a person; one line per field for a 422 on request fields)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail

    @classmethod
    def of(cls, response: httpx.Response) -> CoralAPIError:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = response.text.strip()[:200] or response.reason_phrase
            return cls(response.status_code, "error", text)
        detail = body.get("detail", "")
        if isinstance(detail, list):  # 422 on request fields: [{field, message}, ...]
            detail = "; ".join(
                f"{item.get('field', '')}: {item.get('message', '')}"
                if isinstance(item, dict)
                else str(item)
                for item in detail
            )
        return cls(response.status_code, str(body.get("error", "error")), str(detail))
