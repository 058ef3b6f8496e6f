"""An e-mail message stored as an S3 object (SES's receipt rule writes each inbound mail so) -> fields:
each header, and each part decoded from its transfer encoding (base64, quoted-printable).

Taken whole, a message is lines of `Name: value` after line breaks: what a header-injection
signature looks for in a field, so every ordinary mail would be quarantined. An attachment is
base64 in 76-character lines, which hides what it holds (the EICAR test file among others).
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import re
from collections.abc import Callable
from email.message import Message

from .fields import Collector, child_path

MAIL_EXTENSIONS = frozenset({"eml"})
MAIL_TYPES = frozenset({"message/rfc822"})
MAX_PARTS = 1_000
"""Parts of one message turned into fields; a message with more is a problem (the rest unread)."""

_HEADER_LINE = re.compile(r"[!-9;-~]{1,76}:[ \t]?[^\r\n]*\r?\n|[ \t][^\r\n]*\r?\n")
"""A header line (a printable name, a colon, a value) or a folded continuation of one."""
_MAIL_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "mime-version", "received", "return-path"})
SNIFFED_HEAD = 64 * 1024
"""How far into a text the header block of a message is looked for."""


def looks_like_mail(extension: str, content_type: str, text: str) -> bool:
    """Named or typed as a message, or (SES gives neither: its keys are message ids) a text that
    opens with a block of header lines, a blank line, and two or more of the usual headers."""
    if extension in MAIL_EXTENSIONS or content_type in MAIL_TYPES:
        return True
    position, names = 0, set()
    head = text[:SNIFFED_HEAD]
    while (line := _HEADER_LINE.match(head, position)) is not None:
        if not line.group().startswith((" ", "\t")):
            names.add(line.group().split(":", 1)[0].lower())
        position = line.end()
    return position > 0 and head.startswith(("\r\n", "\n"), position) and len(names & _MAIL_HEADERS) >= 2


def read_message(
    collector: Collector, path: str, text: str, add_content: Callable[[str, bytes], None], whole_path: str
) -> None:
    """`add_message`, except that a message the parser fails on is a problem of the record and is
    inspected whole, as text at `whole_path`: hostile mail must not end the inspection."""
    try:
        add_message(collector, path, text, add_content, whole_path)
    except Exception as exc:
        collector.problem(f"{whole_path}: unreadable e-mail message ({type(exc).__name__}); inspected as text")
        collector.walk_text(whole_path, text)


def add_message(
    collector: Collector, path: str, text: str, add_content: Callable[[str, bytes], None], whole_path: str
) -> None:
    """Headers at `<path>.headers.NAME`; each leaf part at `<path>.parts[i]` (its headers at
    `.parts[i].headers.NAME`, its file name at `.parts[i].filename`), its decoded bytes handed to
    `add_content`. A message the parser finds defects in is also inspected whole, as text at
    `whole_path`: a broken structure must not hide what lies outside the parts it found."""
    message = email.message_from_string(text, policy=email.policy.compat32)
    _add_headers(collector, f"{path}.headers", message)
    number = 0
    for part in message.walk():
        if part.is_multipart():
            for extra in (part.preamble, part.epilogue):
                if extra and extra.strip():
                    collector.walk_text(f"{path}.parts[{number}]", extra)
                    number += 1
            continue
        if number >= MAX_PARTS:
            collector.problem(f"{path}: more than {MAX_PARTS} parts; the rest were not read")
            break
        part_path = f"{path}.parts[{number}]"
        if part is not message:
            _add_headers(collector, f"{part_path}.headers", part)
        filename = part.get_filename()
        if filename:
            collector.add(f"{part_path}.filename", filename)
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            add_content(part_path, payload)
        number += 1
    if any(part.defects for part in message.walk()):
        collector.walk_text(whole_path, text)


def _add_headers(collector: Collector, path: str, message: Message) -> None:
    """Each header's value, with RFC 2047 encoded words (`=?utf-8?b?...?=`) decoded."""
    for name, value in message.items():
        collector.walk_text(child_path(path, name, collector.limits), _decoded(value))


def _decoded(value: object) -> str:
    """A header value as its reader sees it: encoded words decoded, undecodable ones kept as sent."""
    text = str(value)
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (LookupError, UnicodeDecodeError, ValueError, email.errors.HeaderParseError):
        return text
