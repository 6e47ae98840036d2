"""Result types of health checks, shared by every service and the health routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from pydantic import BaseModel, Field

__all__ = ["CheckResult", "Readiness", "timed_check"]


class CheckResult(BaseModel):
    name: str = Field(description="Check name.")
    ok: bool = Field(description="Whether the check passed.")
    detail: str = Field(default="", description="Why it failed, or what it saw.")
    required: bool = Field(default=True, description="Whether a failure makes the app unready.")
    seconds: float = Field(default=0.0, description="Time the check took.")


class Readiness(BaseModel):
    ready: bool = Field(description="True when every required check passed.")
    checks: list[CheckResult] = Field(description="Each check's result.")


async def timed_check(
    name: str, check: Awaitable[CheckResult], timeout: float, required: bool = True
) -> CheckResult:
    """Run one check with a deadline; a timeout or an exception is a failed check, not a crash."""
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(check, timeout)
    except asyncio.TimeoutError:
        result = CheckResult(name=name, ok=False, detail=f"no answer within {timeout:g}s")
    except Exception as exc:
        result = CheckResult(name=name, ok=False, detail=f"{type(exc).__name__}: {exc}")
    return result.model_copy(
        update={"name": name, "required": required, "seconds": time.perf_counter() - started}
    )
