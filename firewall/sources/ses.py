"""SES receipt notifications: an inbound mail, raw, in the `content` of an SNS message.

A receipt rule's SNS action publishes the whole message (up to 150 KB) as text or base64. Taken
whole, a message is lines of `Name: value` after line breaks, what a header-injection signature
looks for in a field: every inbound mail was quarantined. It is read as the mail it is, as an S3
object holding one is (`mail`): its headers at `<root>.mail.headers.NAME`, its decoded parts at
`<root>.mail.parts[i]`, where `<root>` is the record's source (`sns`, or `sqs` for SNS in SQS).
"""

from __future__ import annotations

from typing import Any

from firewall.sources.fields import Collector, as_str, decode_base64, member, text_or_bytes


def is_receipt(value: Any) -> bool:
    """An SES notification that carries the message itself."""
    return member(value, "notificationType") == "Received" and isinstance(member(value, "content"), str)


def add_receipt_content(collector: Collector, value: Any, path: str) -> None:
    """Replace the raw message the flat walk took at `<path>.content` with its headers and parts.
    Content SES sent as base64 is decoded first; a message that cannot be read stays whole."""
    content_path = f"{path}.content"
    raw = as_str(member(value, "content")) or ""
    content = raw
    if str(member(member(member(value, "receipt"), "action"), "encoding")).upper() == "BASE64":
        data, problem = decode_base64(raw)
        if data is None:
            collector.problem(f"{content_path}: {problem}")
            return
        decoded = text_or_bytes(data)
        # An 8-bit message is still a message: its headers and MIME structure are ASCII, and
        # Latin-1 keeps every other byte.
        content = decoded if isinstance(decoded, str) else data.decode("latin-1")
    # Only the copy read here leaves the fields: with a duplicate `content` key, the other copy
    # stays a field of its own, inspected whole.
    collector.fields[:] = [f for f in collector.fields if not (f.path == content_path and f.value == raw)]
    # Imported here, not with the module: the standard library's e-mail package, loaded in every
    # process, made each later inspection of unrelated records 4-7% dearer (callgrind counts).
    from firewall.sources.mail import read_message

    read_message(collector, f"{path.split('.', 1)[0]}.mail", content, collector.add_bytes, content_path)
