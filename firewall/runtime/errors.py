"""What the runtime may say about an AWS error: its code, never its message (which can echo input)."""

from __future__ import annotations

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code (`TooManyRequestsException`...), or None when AWS did not answer: a
    botocore timeout or dropped connection carries a `response` of None, not a dict."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return None if code is None else str(code)


def error_code(exc: BaseException) -> str:
    """The AWS error code, or the exception's class name."""
    return aws_error_code(exc) or type(exc).__name__
