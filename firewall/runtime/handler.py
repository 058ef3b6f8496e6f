"""The Lambda entry point: `firewall.runtime.handler.handler`.

Settings and the compiled signature set are built once per execution environment. Inside Lambda
that happens during initialisation (at import), so a misconfigured function fails its cold start
with a message naming the variable rather than judging events wrongly; boto3 clients are made on
the first invocation, never at import, so tests and the local account can point them anywhere
with `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import os
from typing import Any

from ..api import Firewall
from ..engine.errors import SignatureError
from ..engine.matcher import Limits
from .audit import Audit
from .clients import TARGET_INVOKE_CONFIG, aws_client
from .forwarder import Forwarder
from .notifier import Notifier
from .objects import ObjectReader
from .processor import Processor
from .quarantine import QuarantineStore
from .settings import PREFIX, Settings, SettingsError


class ColdStart:
    """What one execution environment builds once: settings, signatures, then clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.firewall = Firewall.load(
                settings.signatures,
                paranoia=settings.paranoia,
                mode=settings.mode,
                on_error=settings.on_error,
                limits=Limits(record_budget=settings.budget_ms / 1000),
                exclusions=settings.exclusions,
            )
        except SignatureError as exc:
            if settings.signatures is None:
                raise
            # A bad FIREWALL_SIGNATURES must name the variable, like every other invalid setting.
            raise SettingsError(f"{PREFIX}SIGNATURES={settings.signatures!r} cannot be loaded: {exc}") from exc
        self._processor: Processor | None = None

    @classmethod
    def from_environment(cls) -> ColdStart:
        return cls(Settings.from_env())

    def processor(self) -> Processor:
        if self._processor is None:
            s3 = aws_client("s3")
            settings = self.settings
            self._processor = Processor(
                settings,
                self.firewall,
                forwarder=Forwarder(aws_client("lambda", config=TARGET_INVOKE_CONFIG), settings.target),
                quarantine=QuarantineStore(
                    s3,
                    settings.quarantine_bucket,
                    route=settings.route,
                    target=settings.target,
                    signature_set=self.firewall.version,
                    kms_key=settings.quarantine_kms_key,
                ),
                reader=ObjectReader(s3, settings.max_bytes, with_metadata=settings.inspect_object_metadata),
                audit=Audit(settings.route),
                notifier=(
                    Notifier(
                        aws_client("sns"),
                        settings.notify_topic,
                        route=settings.route,
                        bucket=settings.quarantine_bucket,
                    )
                    if settings.notify_topic
                    else None
                ),
            )
        return self._processor


_state: ColdStart | None = ColdStart.from_environment() if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _state
    if _state is None:
        _state = ColdStart.from_environment()
    return _state.processor().handle(event, context)


def reset() -> None:
    """Forget the cold-start state (tests and local runners that change the environment)."""
    global _state
    _state = None
