"""Keep credentials embedded in source URIs out of responses, logs and metrics."""

from __future__ import annotations

import re

__all__ = ["MASK", "SECRET_WORDS", "masked_text", "masked_uri"]

MASK = "***"

SECRET_WORDS = ("token", "credential", "password", "secret")
"""A configuration key containing one of these holds a secret: never shown or written out."""

# Query parameters that carry credentials in camera and streaming URLs; a name also counts
# when it ends in one of these after `_`, `-` or `.` (`client_secret`, `X-Amz-Signature`).
_SECRET_PARAMS = (
    *SECRET_WORDS, "apikey", "auth", "credentials", "key", "pass", "passcode", "passphrase",
    "passwd", "pwd", "sig", "signature",
)  # fmt: skip
# Greedy up to the last "@" of the authority, so a password containing "@" is masked whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s?#]*@")
_QUERY_SECRET = re.compile(
    r"(?P<lead>[?&;](?:[^&#=\s]*[_.-])?(?:" + "|".join(_SECRET_PARAMS) + r")=)[^&#\s]*",
    re.IGNORECASE,
)


def masked_uri(uri: str) -> str:
    """`rtsp://user:pass@host/x?token=t` → `rtsp://***@host/x?token=***`; others unchanged."""
    return masked_text(uri)


def masked_text(text: str) -> str:
    """Mask the credentials of every URL inside free text, such as an exception message."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group('lead')}{MASK}", text)
