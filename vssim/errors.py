"""Errors a user can act on: each names the field path, the value and what is allowed."""
from __future__ import annotations

_MISSING = object()


def show(value: object) -> str:
    """Render a value the way the user wrote it in YAML (null, true, 0.5, 'text')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


class VssimError(Exception):
    """Base class of every error vssim raises on purpose."""


class SpecError(VssimError, ValueError):
    """A stream, scenario or simulation setting is invalid.

    ``SpecError("steps.build.wip_limit", "a positive integer or null", 0)`` reads
    ``steps.build.wip_limit: must be a positive integer or null, got 0``.
    With ``message=...`` the text after the path is free-form.
    """

    def __init__(self, path: str, allowed: str = "", got: object = _MISSING, *, message: str | None = None):
        self.path = path
        if message is None:
            message = f"must be {allowed}" + ("" if got is _MISSING else f", got {show(got)}")
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class DeadlockError(VssimError, RuntimeError):
    """The stream stopped moving: every committed item waits on a full column that waits on it."""
