"""Target functions run locally behind a real boto3 Lambda client.

moto records functions but does not run their code without Docker. `LocalTargets` hooks a boto3
Lambda client (botocore's `before-call` event) so that `Invoke` of a registered function runs its
Python handler here and answers exactly as Lambda would: a synchronous invoke returns the handler's
result, or `FunctionError: Unhandled` when it raises; an asynchronous one returns 202. A handler
may raise `Throttled` to make the invoke fail with `TooManyRequestsException` (HTTP 429).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

TargetHandler = Callable[[dict[str, Any], Any], Any]


class Throttled(Exception):
    """Raised by a local target to simulate Lambda throttling the invoke."""


@dataclass
class Invocation:
    function: str
    invocation_type: str
    event: dict[str, Any]
    error: str | None = None


@dataclass
class LocalTargets:
    handlers: dict[str, TargetHandler] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, name: str, handler: TargetHandler) -> None:
        self.handlers[function_name(name)] = handler

    def attach(self, lambda_client: Any) -> Any:
        lambda_client.meta.events.register("before-call.lambda.Invoke", self._invoke)
        return lambda_client

    def _invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        name = function_name(unquote(params["url_path"].split("/functions/", 1)[1].split("/", 1)[0]))
        handler = self.handlers.get(name)
        if handler is None:
            return None  # not ours: let the request reach the endpoint
        kind = params.get("headers", {}).get("X-Amz-Invocation-Type", "RequestResponse")
        event = json.loads(params.get("body") or b"{}")
        invocation = Invocation(name, kind, event)
        with self._lock:
            self.invocations.append(invocation)
        try:
            result = handler(event, None)
        except Throttled:
            invocation.error = "throttled"
            return _response(429, {"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}})
        except Exception as exc:
            invocation.error = type(exc).__name__
            if kind == "Event":
                return _response(202, {"StatusCode": 202})
            body = {"errorMessage": str(exc)[:200], "errorType": type(exc).__name__}
            return _response(200, {"StatusCode": 200, "FunctionError": "Unhandled"}, body)
        if kind == "Event":
            return _response(202, {"StatusCode": 202})
        return _response(200, {"StatusCode": 200, "ExecutedVersion": "$LATEST"}, result)


def function_name(name_or_arn: str) -> str:
    """`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` or `NAME` -> `NAME`."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn


def _response(status: int, parsed: dict[str, Any], payload: Any = None) -> tuple[AWSResponse, dict[str, Any]]:
    if status < 300 and "Payload" not in parsed:
        data = b"" if payload is None and parsed.get("StatusCode") == 202 else json.dumps(payload).encode()
        parsed["Payload"] = StreamingBody(io.BytesIO(data), len(data))
    parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status, "HTTPHeaders": {}})
    return AWSResponse("http://local-target", status, {}, None), parsed
