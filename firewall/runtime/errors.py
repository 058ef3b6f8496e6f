"""What the runtime may say about an AWS error: its code, never its message (which can echo input)."""

from __future__ import annotations

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


def error_code(exc: BaseException) -> str:
    """The AWS error code (`TooManyRequestsException`...), or the exception's class name. A
    botocore timeout or dropped connection carries a `response` of None, not a dict."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return str(code) if code else type(exc).__name__
