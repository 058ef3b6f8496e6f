"""Performance benchmark: latency of `Firewall.inspect_event` on SQS events, hostile bodies, cold start.

    python bench/performance.py [--quick] [--json] [--strict] [--paranoia N] [--signatures DIR]

What it measures on this machine, as the median and the 95th percentile of repeated runs timed with
`time.perf_counter` after warm-up runs (the garbage collector stays on, as in Lambda):

1. one SQS record whose body is a 256 KiB benign JSON document (a product catalog: nested objects,
   lists, prose, URLs, e-mails, dates), through `Firewall.inspect_event(event)` with the event shape
   Lambda delivers, and the ratio to `json.loads` of the same body;
2. the per-record time for 1 KiB JSON bodies, 10 records per event, and the ratio to `json.loads`;
3. hostile bodies of up to 256 KiB (runs of quotes, brackets, percent signs, SQL keywords, `../`,
   `<a `, `${`, `&#x`, backslashes, base64-looking text, deep nesting, one long word, full-width
   Unicode, many tiny fields, 19,000 fields that decode to newlines, into HTML entities, or in six
   encodings, and 19,000 fields each repeating one trigger: escapes, `%%`, `%25`, `..%2f`, `$IFS%`,
   `${`, `{{7*`, `/*`, `--`), each as a string value in a JSON body and as the raw body, slowest
   first, with the verdict each gets (action, error): a budget overrun must be a quarantine;
4. cold start: `from firewall import Firewall` plus `Firewall.load()`, timed inside fresh interpreters,
   next to the start-up time of `python -c pass`.

Floors, judged on the median and printed PASS/FAIL next to each figure: the 256 KiB body within 30x
`json.loads`, a 1 KiB record within 30x, every hostile body within 250 ms, cold start under 300 ms.
CPU time (`time.process_time`) is shown beside wall time: when other processes share the machine,
wall time grows and CPU time much less, and the report says how much of a CPU the run obtained.

The run takes under two minutes (`--quick`: under one) whatever the engine's speed: slow cases get
fewer samples (n is printed). `--json` prints one JSON document instead of the report; `--strict`
exits with status 1 when a floor is missed (by default 0, so `make bench` goes on to the detection
benchmark).
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firewall import Firewall, SignatureError, Verdict  # noqa: E402
from firewall.sources import parse_event  # noqa: E402

BODY_BYTES = 256 * 1024
"""SQS's largest message: 256 KiB."""
SMALL_BODY_BYTES = 1024
BATCH_SIZE = 10

FLOOR_RATIO = 30.0
FLOOR_HOSTILE_SECONDS = 0.250
FLOOR_COLD_START_SECONDS = 0.300


# --------------------------------------------------------------------------------------------------
# Timing


@dataclass
class Stats:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """Nearest-rank 95th percentile (the maximum when there are fewer than 20 samples)."""
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    def scaled(self, factor: float) -> Stats:
        return Stats([s * factor for s in self.samples])

    def to_dict(self, scale: float = 1.0) -> dict[str, Any]:
        return {"median": self.median * scale, "p95": self.p95 * scale, "min": min(self.samples) * scale,
                "n": len(self.samples)}


@dataclass
class Timing:
    wall: Stats
    cpu: Stats

    def scaled(self, factor: float) -> Timing:
        return Timing(self.wall.scaled(factor), self.cpu.scaled(factor))

    def to_dict(self, scale: float) -> dict[str, Any]:
        return {**self.wall.to_dict(scale), "cpu_median": self.cpu.median * scale}


def measure(
    function: Callable[[], object],
    *,
    repeat: int,
    warmup: int,
    min_repeat: int = 3,
    max_seconds: float = 10.0,
    first: tuple[float, float] | None = None,
) -> Timing:
    """`warmup` untimed runs, then timed runs: `repeat` of them, or fewer (never under `min_repeat`)
    once `max_seconds` of timed runs have passed. `first` is an already timed (wall, cpu) run."""
    for _ in range(warmup):
        function()
    wall: list[float] = []
    cpu: list[float] = []
    if first is not None:
        wall.append(first[0])
        cpu.append(first[1])
    while len(wall) < repeat:
        if len(wall) >= min_repeat and sum(wall) > max_seconds:
            break
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(Stats(wall), Stats(cpu))


def timed(function: Callable[[], Any]) -> tuple[Any, float, float]:
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - start, time.process_time() - start_cpu


# --------------------------------------------------------------------------------------------------
# SQS events as Lambda delivers them


def sqs_record(body: str, rng: random.Random, queue: str = "orders") -> dict[str, Any]:
    sent = 1_767_225_600_000 + rng.randrange(10_000_000)
    return {
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "receiptHandle": "AQEB" + base64.b64encode(rng.randbytes(96)).decode(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(sent + 12),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{queue}",
        "awsRegion": "eu-west-1",
    }


def sqs_event(bodies: list[str], rng: random.Random) -> dict[str, Any]:
    return {"Records": [sqs_record(body, rng) for body in bodies]}


# --------------------------------------------------------------------------------------------------
# Benign documents

_WORD_TEXT = (
    "the a an and or but with without for from into over under about after before during between this that "
    "these those our your their its it is are was were be been has have had will can may should would "
    "comfortable durable lightweight premium classic modern compact versatile elegant sturdy soft warm "
    "breathable waterproof adjustable ergonomic wireless rechargeable portable stainless organic recycled "
    "handmade vintage minimalist chair table lamp jacket sweater backpack bottle kettle speaker headphones "
    "keyboard monitor blanket pillow sofa desk shelf mug notebook pen watch shoes boots scarf gloves tent "
    "design material fabric cotton wool leather steel aluminium oak walnut bamboo ceramic glass finish color "
    "size fit weight capacity battery life warranty delivery shipping return customer quality price value "
    "perfect ideal great excellent everyday office home travel outdoor kitchen garden kids family gift "
    "season summer winter spring autumn morning evening week month year easy quick simple clean care wash "
    "machine hand dry store keep use enjoy choose order love feel look work stay make take give"
)
WORDS = tuple(_WORD_TEXT.split())
CONTRACTIONS = ("don't", "it's", "you'll", "won't", "we're", "can't", "isn't", "that's", "o'clock")
FIRST = ("Alice", "Bruno", "Chloé", "Dmitri", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kaito", "Léa",
         "Mateo", "Nora", "Olivia", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Víctor", "Wen", "Yusuf")
LAST = ("Smith", "Müller", "García", "Rossi", "Dubois", "Nowak", "Jensen", "O'Brien", "Tanaka", "Silva",
        "Kowalski", "Novak", "Andersson", "Fischer", "Moreau", "Costa", "Ivanova", "Walsh", "Nguyen", "Khan")
CITIES = ("Lisbon", "Berlin", "Lyon", "Kraków", "Dublin", "Osaka", "Porto", "Göteborg", "Austin", "Toronto")
STREETS = ("Main Street", "Rua Augusta", "Hauptstraße", "Rue de la Paix", "Elm Avenue", "Calle Mayor")
DOMAINS = ("example.com", "shop.example.org", "mail.example.net", "customer.example.io")
COLORS = ("black", "white", "navy blue", "forest green", "charcoal grey", "sand", "burgundy", "sky blue")
CATEGORIES = ("home/furniture", "home/kitchen", "apparel/outerwear", "electronics/audio", "outdoor/camping")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
    if rng.random() < 0.25:
        words.insert(rng.randrange(len(words)), rng.choice(CONTRACTIONS))
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), f"{rng.randint(5, 60)}% off")
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), "R&D")
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), f"({rng.randint(2, 12)} x {rng.randint(10, 90)} cm)")
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....!?")


def prose(rng: random.Random, sentences: tuple[int, int]) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(*sentences)))


def _date(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z")


def _person(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = f"{first}.{last}".lower().replace("'", "").replace("é", "e").replace("è", "e")
    return {
        "name": f"{first} {last}",
        "email": f"{local}+orders@{rng.choice(DOMAINS)}",
        "phone": f"+351 21 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "address": {
            "line1": f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
            "city": rng.choice(CITIES),
            "postcode": f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}",
            "country": rng.choice(("PT", "DE", "FR", "PL", "IE", "JP", "US", "CA")),
        },
    }


def _product(rng: random.Random, index: int) -> dict[str, Any]:
    adjective, noun = rng.choice(WORDS[60:90]), rng.choice(WORDS[90:120])
    slug = f"{adjective}-{noun}-{rng.choice(COLORS).replace(' ', '-')}"
    sku = f"SKU-{rng.randint(100000, 999999)}-{index:04d}"
    return {
        "sku": sku,
        "title": f"{adjective.title()} {noun.title()} - {rng.choice(COLORS).title()}",
        "description": prose(rng, (2, 6)),
        "category": rng.choice(CATEGORIES),
        "price": {"amount": round(rng.uniform(4, 900), 2), "currency": rng.choice(("EUR", "USD", "GBP"))},
        "stock": rng.randint(0, 500),
        "active": rng.random() < 0.9,
        "url": f"https://shop.example.com/products/{slug}?ref=catalog&utm_source=feed",
        "images": [f"https://cdn.example.com/img/{sku.lower()}/{n}.jpg" for n in range(rng.randint(1, 4))],
        "tags": rng.sample(WORDS[40:140], rng.randint(2, 6)),
        "attributes": {"color": rng.choice(COLORS), "size": rng.choice(("XS", "S", "M", "L", "XL", "one size")),
                       "material": rng.choice(WORDS[120:130])},
        "vendor": {"name": f"{rng.choice(LAST)} & Sons", "contact": _person(rng)["email"],
                   "website": f"https://{rng.choice(LAST).lower().replace(chr(39), '')}.example.org/"},
        "createdAt": _date(rng),
        "updatedAt": _date(rng),
        "reviews": [
            {"author": _person(rng)["name"], "rating": rng.randint(1, 5), "date": _date(rng)[:10],
             "title": _sentence(rng)[:40], "text": prose(rng, (1, 4)), "verified": rng.random() < 0.7}
            for _ in range(rng.randint(0, 3))
        ],
    }


def _fit(document: dict[str, Any], key: str, size: int, rng: random.Random) -> str:
    """Serialise `document`, with prose in `document[key]` grown or cut so the body is `size` bytes."""
    document[key] = ""
    base = len(json.dumps(document, ensure_ascii=False).encode())
    filler = ""
    while base + len(filler.encode()) < size:
        filler += " " + _sentence(rng)
    filler = filler.strip()
    document[key] = filler
    while (excess := len(json.dumps(document, ensure_ascii=False).encode()) - size) > 0:
        filler = filler[: len(filler) - max(1, excess // 3)]
        document[key] = filler
    return json.dumps(document, ensure_ascii=False)


def catalog_body(rng: random.Random, size: int = BODY_BYTES) -> str:
    """A product catalog export of `size` bytes."""
    document: dict[str, Any] = {
        "type": "catalog.export",
        "catalogId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "generatedAt": _date(rng),
        "merchant": {"name": "Example Home & Outdoor", "owner": _person(rng),
                     "homepage": "https://shop.example.com/", "support": "support@example.com"},
        "items": [],
        "notes": "",
    }
    items: list[dict[str, Any]] = document["items"]
    total = len(json.dumps(document, ensure_ascii=False).encode())
    while True:
        item = _product(rng, len(items))
        item_size = len(json.dumps(item, ensure_ascii=False).encode()) + 2
        if total + item_size > size - 512:
            break
        items.append(item)
        total += item_size
    return _fit(document, "notes", size, rng)


def order_body(rng: random.Random, size: int = SMALL_BODY_BYTES) -> str:
    """An order placed on the shop, `size` bytes."""
    lines = []
    for i in range(rng.randint(1, 3)):
        product = _product(rng, i)
        lines.append({"sku": product["sku"], "title": product["title"], "qty": rng.randint(1, 4),
                      "unitPrice": product["price"]})
    document = {
        "type": "order.created",
        "orderId": f"ORD-{rng.randint(10**9, 10**10 - 1)}",
        "createdAt": _date(rng),
        "customer": _person(rng),
        "lines": lines,
        "trackingUrl": f"https://shop.example.com/orders/track?id={rng.getrandbits(64):x}",
        "note": "",
    }
    return _fit(document, "note", size, rng)


# --------------------------------------------------------------------------------------------------
# Hostile bodies


def json_limit_depth() -> int:
    """The deepest array nesting `json.loads` accepts here (at top level of this process)."""
    low, high = 1, 200_000
    while low < high:
        mid = (low + high + 1) // 2
        try:
            json.loads("[" * mid + "]" * mid)
        except RecursionError:
            high = mid - 1
        else:
            low = mid
    return low


def _repeat_to_fit(unit: str, render: Callable[[str], str], size: int = BODY_BYTES) -> str:
    """The longest `render(unit * k)` (k whole repetitions, then a partial one) that fits in `size` bytes."""
    low, high = 0, size
    while low < high:
        mid = (low + high + 1) // 2
        if len(render((unit * (mid // len(unit) + 1))[:mid]).encode()) <= size:
            low = mid
        else:
            high = mid - 1
    return render((unit * (low // len(unit) + 1))[:low])


def _in_json(text: str) -> str:
    return json.dumps({"orderId": "ORD-1000000001", "customer": "x@example.com", "note": text}, ensure_ascii=False)


def _raw(text: str) -> str:
    return text


def hostile_bodies(rng: random.Random) -> list[tuple[str, str]]:
    """(name, body) pairs, every body at most 256 KiB of UTF-8."""
    b64_text = base64.b64encode(
        " ".join(_sentence(rng) for _ in range(3000)).encode()
    ).decode()
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    no_space = "".join(rng.choice(alnum) for _ in range(BODY_BYTES))
    looks_b64 = " ".join(
        "".join(rng.choice(alnum + "+/") for _ in range(24)) for _ in range(BODY_BYTES // 25)
    )
    fullwidth = "".join(
        chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else "\u3000" if ch == " " else ch
        for ch in " ".join(_sentence(rng) for _ in range(2000))
    )
    runs = [
        ("single quotes '''", "'"),
        ('double quotes """', '"'),
        ("brackets [[[[", "["),
        ("braces {{{{", "{"),
        ("percent signs %%%%", "%"),
        ("encoded percent %25%25", "%25"),
        ("'union select ' repeated", "union select "),
        ("'../' repeated", "../"),
        ("'<a ' repeated", "<a "),
        ("'${' repeated", "${"),
        ("'&#x' repeated", "&#x"),
        ("backslashes \\\\\\\\", "\\"),
        ("one valid base64 run (256 KB)", b64_text),
        ("base64-looking 24-char runs", looks_b64),
        ("one 256 KB word, no spaces", no_space),
        ("full-width Unicode prose", fullwidth),
    ]
    bodies: list[tuple[str, str]] = []
    for name, unit in runs:
        bodies.append((f"{name} in a JSON string", _repeat_to_fit(unit, _in_json)))
        bodies.append((f"{name} as the raw body", _repeat_to_fit(unit, _raw)))

    limit = json_limit_depth()
    deepest = "[" * limit + "]" * limit
    copies = max(1, BODY_BYTES // (2 * (limit - 1) + 1))
    copy = "[" * (limit - 1) + "]" * (limit - 1)
    while copies > 1 and len(copies * (copy + ",")) + 1 > BODY_BYTES:
        copies -= 1
    bodies += [
        (f"arrays nested {limit} deep (json.loads' top-level limit)", deepest),
        (f"{copies} sibling arrays nested {limit - 1} deep", "[" + ",".join([copy] * copies) + "]"),
        ("arrays nested 10,000 deep (json.loads refuses)", "[" * 10_000 + "]" * 10_000),
        ("objects nested 10,000 deep", '{"a":' * 10_000 + "1" + "}" * 10_000),
    ]
    quotes = _repeat_to_fit('"\'",', lambda t: "[" + t.rstrip(",") + "]")
    bodies.append((f"{quotes.count(',') + 1:,} one-quote strings (over the field cap)", quotes))
    # Just under the collector's 20,000-field cap: the per-field cost, with no cap to stop it.
    count = 19_900
    width = (BODY_BYTES - 2) // count - 3
    strings = json.dumps([f"it's {i:0{width - 5}d}" for i in range(count)], separators=(",", ":"))
    bodies.append((f"{count:,} short strings with a quote", strings))
    count = 9_900  # a key and its value are two fields
    width = (BODY_BYTES - 2) // count - 6
    pairs = json.dumps(
        {f"k'{i:0{width // 2 - 2}d}": f"v'{i:0{width - width // 2 - 2}d}" for i in range(count)}, separators=(",", ":")
    )
    bodies.append((f"{count:,} keys and values with a quote", pairs))
    # Fields whose decoding is out of the ordinary, as many as fit: a decoding that yields a newline,
    # one that wakes another decoder, and six encodings taking turns. Then one flood per trigger an
    # attacker can repeat in every field: each decoder, comment and expansion opener, and anchors
    # of the traversal, template and injection families (the number keeps each text distinct).
    floods = {
        "strings that decode to a newline (%0a)": "a%0ab{}",
        "strings that decode into an HTML entity (%26lt%3B)": "%26lt%3B{}",
        "strings in six encodings taking turns": "{}",
        "strings of \\\\N (escapes yielding control characters)": "\\\\{}",
        "strings of ..\\\\N": "..\\\\{}",
        "strings of %%N": "%%{}",
        "strings of %25N": "%25{}",
        "strings of ..%2fN": "..%2f{}",
        "strings of \\x3cN": "\\x3c{}",
        "strings of &#xN": "&#x{}",
        "strings of $IFS%N": "$IFS%{}",
        "strings of ${N": "${{{}",
        "strings of {{7*N": "{{{{7*{}",
        "strings of /*N": "/*{}",
        "strings of --N": "--{}",
        "strings of '-N": "'-{}",
    }
    turns = ("it's ", "50% ", "a&amp;b ", "x+y ", "é ", "a\\tb ")
    for name, form in floods.items():
        count = 19_000
        while True:
            texts = [form.format(i) if form != "{}" else turns[i % 6] + str(i) for i in range(count)]
            body = json.dumps(texts, separators=(",", ":"))
            if len(body.encode()) <= BODY_BYTES:
                break
            count -= 1_000
        bodies.append((f"{count:,} {name}", body))
    return bodies


# --------------------------------------------------------------------------------------------------
# The four measurements


def verdict_summary(verdict: Verdict) -> dict[str, Any]:
    return {
        "action": verdict.action,
        "detected": verdict.detected,
        "score": verdict.score,
        "error": verdict.error,
        "signatures": list(dict.fromkeys(m.signature_id for m in verdict.matches)),
    }


@dataclass
class Plan:
    quick: bool

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def seconds(self, full: float, quick: float) -> float:
        return quick if self.quick else full


@dataclass
class Report:
    data: dict[str, Any] = field(default_factory=dict)
    floors: list[dict[str, Any]] = field(default_factory=list)

    def floor(self, name: str, value: float, limit: float, unit: str) -> None:
        self.floors.append({"name": name, "value": value, "limit": limit, "unit": unit, "pass": value <= limit})


def bench_large(firewall: Firewall, plan: Plan, report: Report, rng: random.Random) -> None:
    bodies = [catalog_body(rng) for _ in range(3)]
    events = [sqs_event([body], rng) for body in bodies]
    verdicts = [firewall.inspect_event(event)[0] for event in events]  # also warm-up runs
    turn = iter(range(1 << 62))

    def inspect() -> None:
        firewall.inspect_event(events[next(turn) % len(events)])

    def loads() -> None:
        json.loads(bodies[next(turn) % len(bodies)])

    inspect_timing = measure(inspect, repeat=plan.reps(40, 10), warmup=1, min_repeat=5,
                             max_seconds=plan.seconds(10, 4))
    loads_timing = measure(loads, repeat=plan.reps(300, 60), warmup=10, max_seconds=2)
    ratio = inspect_timing.wall.median / loads_timing.wall.median
    report.data["benign_256k"] = {
        "body_bytes": len(bodies[0].encode()),
        "fields": len(parse_event(events[0]).records[0].fields),
        "inspect_event_ms": inspect_timing.to_dict(1e3),
        "json_loads_ms": loads_timing.to_dict(1e3),
        "ratio_median": ratio,
        "ratio_p95": inspect_timing.wall.p95 / loads_timing.wall.median,
        "ratio_cpu": inspect_timing.cpu.median / loads_timing.cpu.median,
        "verdicts": [verdict_summary(v) for v in verdicts],
    }
    report.floor("256 KB benign body vs json.loads", ratio, FLOOR_RATIO, "x")


def bench_small(firewall: Firewall, plan: Plan, report: Report, rng: random.Random) -> None:
    batches = [[order_body(rng) for _ in range(BATCH_SIZE)] for _ in range(20)]
    events = [sqs_event(batch, rng) for batch in batches]
    verdicts = [v for event in events for v in firewall.inspect_event(event)]  # also warm-up runs
    turn = iter(range(1 << 62))

    def inspect() -> None:
        firewall.inspect_event(events[next(turn) % len(events)])

    def loads() -> None:
        for body in batches[next(turn) % len(batches)]:
            json.loads(body)

    event_timing = measure(inspect, repeat=plan.reps(600, 150), warmup=0, min_repeat=20,
                           max_seconds=plan.seconds(8, 3))
    loads_timing = measure(loads, repeat=plan.reps(3000, 600), warmup=100, max_seconds=1)
    per_record = event_timing.scaled(1 / BATCH_SIZE)
    per_loads = loads_timing.scaled(1 / BATCH_SIZE)
    ratio = per_record.wall.median / per_loads.wall.median
    flagged = [verdict_summary(v) for v in verdicts if v.action != "forward" or v.matches]
    report.data["benign_1k"] = {
        "body_bytes": len(batches[0][0].encode()),
        "records_per_event": BATCH_SIZE,
        "records": len(verdicts),
        "fields_per_record": sum(len(r.fields) for e in events for r in parse_event(e).records) / len(verdicts),
        "per_record_us": per_record.to_dict(1e6),
        "per_event_us": event_timing.to_dict(1e6),
        "json_loads_per_record_us": per_loads.to_dict(1e6),
        "ratio_median": ratio,
        "ratio_p95": per_record.wall.p95 / per_loads.wall.median,
        "ratio_cpu": per_record.cpu.median / per_loads.cpu.median,
        "records_flagged": len(flagged),
        "flagged": flagged[:5],
    }
    report.floor("1 KB record (batch of 10) vs json.loads", ratio, FLOOR_RATIO, "x")


def bench_hostile(firewall: Firewall, plan: Plan, report: Report, rng: random.Random) -> None:
    """Every case is timed at least once (its first run, which also gives the verdict: the engine keeps
    no per-body state, and phases 1 and 2 warmed it up); more runs while the phase's budget allows."""
    cases = hostile_bodies(rng)
    budget = plan.seconds(35.0, 12.0)
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    for number, (name, body) in enumerate(cases):
        event = sqs_event([body], rng)
        verdicts, wall, cpu = timed(lambda event=event: firewall.inspect_event(event))  # type: ignore[misc]
        share = (budget - (time.perf_counter() - began)) / (len(cases) - number)
        timing = measure(
            lambda event=event: firewall.inspect_event(event),  # type: ignore[misc]
            repeat=plan.reps(9, 3),
            warmup=0,
            min_repeat=plan.reps(2, 1),
            max_seconds=max(0.0, share),
            first=(wall, cpu),
        )
        results.append({"name": name, "body_bytes": len(body.encode()), "ms": timing.to_dict(1e3),
                        "verdict": verdict_summary(verdicts[0])})
    results.sort(key=lambda r: r["ms"]["median"], reverse=True)
    report.data["hostile"] = results
    for r in results:
        report.floor(f"hostile: {r['name']}", r["ms"]["median"] / 1e3, FLOOR_HOSTILE_SECONDS, "s")


COLD_START = """
import json, sys, time
event = json.loads(sys.stdin.read())
start, start_cpu = time.perf_counter(), time.process_time()
from firewall import Firewall
imported = time.perf_counter()
fw = Firewall.load({load_args})
loaded, loaded_cpu = time.perf_counter(), time.process_time()
fw.inspect_event(event)
inspected = time.perf_counter()
print(imported - start, loaded - imported, loaded_cpu - start_cpu, inspected - loaded)
"""


def bench_cold_start(plan: Plan, report: Report, paranoia: int, signatures: str | None, rng: random.Random) -> None:
    """Import plus load in fresh interpreters; then, outside the floor, the first `inspect_event` of the
    process (a batch of ten 1 KiB records), which pays for whatever the load left to first use."""
    load_args = ", ".join([*([repr(signatures)] if signatures else []), f"paranoia={paranoia}"])
    code = COLD_START.format(load_args=load_args)
    event = json.dumps(sqs_event([order_body(rng) for _ in range(BATCH_SIZE)], rng))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    runs = plan.reps(10, 4)
    imports, loads, totals, cpus, firsts, walls, bare = [], [], [], [], [], [], []
    for run in range(runs + 1):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, input=event, capture_output=True,
                             text=True, check=True)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
        bare_wall = time.perf_counter() - start
        if run == 0:
            continue  # warm-up: page cache, missing .pyc files, caches the load may write
        imported, loaded, cpu, first = (float(x) for x in out.stdout.split())
        imports.append(imported)
        loads.append(loaded)
        totals.append(imported + loaded)
        cpus.append(cpu)
        firsts.append(first)
        walls.append(wall)
        bare.append(bare_wall)
    total = Timing(Stats(totals), Stats(cpus))
    report.data["cold_start"] = {
        "runs": runs,
        "import_plus_load_ms": total.to_dict(1e3),
        "import_ms": Stats(imports).to_dict(1e3),
        "load_ms": Stats(loads).to_dict(1e3),
        "first_inspect_event_ms": Stats(firsts).to_dict(1e3),
        "process_wall_ms": Stats(walls).to_dict(1e3),
        "python_c_pass_wall_ms": Stats(bare).to_dict(1e3),
    }
    report.floor("cold start (import + Firewall.load)", total.wall.median, FLOOR_COLD_START_SECONDS, "s")


# --------------------------------------------------------------------------------------------------
# Output


def _ms(d: dict[str, Any]) -> str:
    cpu = f"   cpu {d['cpu_median']:8.2f} ms" if "cpu_median" in d else ""
    return f"median {d['median']:8.2f} ms   p95 {d['p95']:8.2f} ms{cpu}   (n={d['n']})"


def _us(d: dict[str, Any]) -> str:
    cpu = f"   cpu {d['cpu_median']:8.1f} us" if "cpu_median" in d else ""
    return f"median {d['median']:8.1f} us   p95 {d['p95']:8.1f} us{cpu}   (n={d['n']})"


def _mark(report: Report, prefix: str) -> str:
    """FAIL if any floor whose name starts with `prefix` failed."""
    floors = [f for f in report.floors if f["name"].startswith(prefix)]
    if not floors:
        return "?"
    return "PASS" if all(f["pass"] for f in floors) else "FAIL"


def _verdict(v: dict[str, Any]) -> str:
    text = f"{v['action']:<10}"
    if v["signatures"]:
        shown = ", ".join(v["signatures"][:4]) + (", ..." if len(v["signatures"]) > 4 else "")
        text += f" score {v['score']} [{shown}]"
    elif v["action"] == "forward" and not v["error"]:
        text += " no match"
    if v["error"]:
        error = v["error"] if len(v["error"]) <= 100 else v["error"][:97] + "..."
        text += f" error: {error}"
    return text.rstrip()


def print_report(report: Report) -> None:
    d = report.data
    meta, sig = d["meta"], d["signatures"]
    print(f"Event firewall performance   {meta['python']} on {meta['platform']}, {meta['cpus']} CPUs"
          f"{'   (--quick)' if meta['quick'] else ''}")
    print(f"signatures: {sig['active']} active at paranoia {sig['paranoia']} ({sig['loaded']} loaded), "
          f"signature set version {sig['version']}")
    print(f"machine: load average {meta['load_before']:.1f} before, {meta['load_after']:.1f} after; this run got "
          f"{meta['cpu_share']:.0%} of a CPU while inspecting"
          + ("   <- busy machine: wall times inflated, see the cpu column" if meta["cpu_share"] < 0.85 else ""))

    b = d["benign_256k"]
    print(f"\n1. one SQS record, {b['body_bytes']:,}-byte benign JSON catalog body ({b['fields']:,} fields)")
    print(f"   inspect_event   {_ms(b['inspect_event_ms'])}")
    print(f"   json.loads      {_ms(b['json_loads_ms'])}")
    print(f"   ratio           {b['ratio_median']:.1f}x (p95 {b['ratio_p95']:.1f}x, cpu {b['ratio_cpu']:.1f}x)   "
          f"floor <= {FLOOR_RATIO:g}x   {_mark(report, '256 KB')}")
    for number, v in enumerate(b["verdicts"], 1):
        print(f"   verdict, catalog {number}: {_verdict(v)}"
              + ("   <- a benign document is not forwarded" if v["action"] != "forward" else ""))

    s = d["benign_1k"]
    print(f"\n2. {s['body_bytes']:,}-byte JSON order bodies, {s['records_per_event']} records per event "
          f"({s['fields_per_record']:.0f} fields per record)")
    print(f"   per record      {_us(s['per_record_us'])}")
    print(f"   per event       {_us(s['per_event_us'])}")
    print(f"   json.loads      {_us(s['json_loads_per_record_us'])}")
    print(f"   ratio           {s['ratio_median']:.1f}x (p95 {s['ratio_p95']:.1f}x, cpu {s['ratio_cpu']:.1f}x)   "
          f"floor <= {FLOOR_RATIO:g}x   {_mark(report, '1 KB')}")
    print(f"   verdicts        {s['records'] - s['records_flagged']} of {s['records']} benign records "
          "forwarded with no match")
    for v in s["flagged"]:
        print(f"     flagged: {_verdict(v)}")

    h = d["hostile"]
    limit_ms = FLOOR_HOSTILE_SECONDS * 1e3
    over = [r for r in h if r["ms"]["median"] > limit_ms]
    print(f"\n3. hostile bodies (<= {BODY_BYTES:,} bytes), one per SQS record, slowest first; floor <= "
          f"{limit_ms:g} ms each: {'PASS' if not over else f'FAIL ({len(over)} of {len(h)} over)'}")
    print(f"   {'case':<52} {'bytes':>8} {'median':>9} {'p95':>9} {'cpu':>9}  n       verdict")
    for r in h:
        t = r["ms"]
        mark = "FAIL" if t["median"] > limit_ms else "ok"
        print(f"   {r['name'][:52]:<52} {r['body_bytes']:>8,} {t['median']:>6.1f} ms {t['p95']:>6.1f} ms "
              f"{t['cpu_median']:>6.1f} ms  {t['n']:<2} {mark:<4} {_verdict(r['verdict'])}")

    c = d["cold_start"]
    print(f"\n4. cold start in a fresh process ({c['runs']} runs after 1 warm-up; timed inside the child)")
    print(f"   import + load   {_ms(c['import_plus_load_ms'])}   floor < "
          f"{FLOOR_COLD_START_SECONDS * 1e3:g} ms   {_mark(report, 'cold start')}")
    print(f"     import        {_ms(c['import_ms'])}")
    print(f"     Firewall.load {_ms(c['load_ms'])}")
    print(f"   1st inspection  {_ms(c['first_inspect_event_ms'])}   (inspect_event, 10 x 1 KB records, after the "
          "load; not in the floor)")
    print(f"   process wall    {_ms(c['process_wall_ms'])}   (whole child: interpreter start-up included)")
    print(f"   python -c pass  {_ms(c['python_c_pass_wall_ms'])}   (reference)")

    groups = {
        f"256 KB benign body <= {FLOOR_RATIO:g}x json.loads": "256 KB",
        f"1 KB record <= {FLOOR_RATIO:g}x json.loads": "1 KB",
        f"every hostile body <= {limit_ms:g} ms": "hostile:",
        f"cold start < {FLOOR_COLD_START_SECONDS * 1e3:g} ms": "cold start",
    }
    print("\nfloors (judged on the wall-clock median):")
    for label, prefix in groups.items():
        print(f"   {_mark(report, prefix)}  {label}")
    print(f"benchmark took {meta['seconds']:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in meta['phases'].items())})")


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the report")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a floor is missed")
    parser.add_argument("--paranoia", type=int, default=1, choices=(1, 2, 3, 4))
    parser.add_argument("--signatures", help="signature directory or file (default: the bundled set)")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    try:
        firewall = Firewall.load(args.signatures, paranoia=args.paranoia)
    except SignatureError as error:
        print(f"performance benchmark: the signature set does not load: {error}", file=sys.stderr)
        return 2
    plan = Plan(quick=args.quick)
    report = Report()
    load_before = os.getloadavg()[0]
    report.data["signatures"] = {
        "loaded": len(firewall.signatures),
        "active": len(firewall.rules.signatures),
        "paranoia": args.paranoia,
        "version": firewall.version,
    }
    rng = random.Random(20261)
    phases: dict[str, float] = {}
    wall_in_process = cpu_in_process = 0.0
    for name, phase in (("256 KB", bench_large), ("1 KB", bench_small), ("hostile", bench_hostile)):
        gc.collect()
        _, wall, cpu = timed(lambda phase=phase: phase(firewall, plan, report, rng))  # type: ignore[misc]
        phases[name] = wall
        wall_in_process += wall
        cpu_in_process += cpu
    _, phases["cold start"], _ = timed(
        lambda: bench_cold_start(plan, report, args.paranoia, args.signatures, rng)
    )
    report.data["meta"] = {
        "python": f"Python {platform.python_version()}",
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "cpu_share": cpu_in_process / wall_in_process,
        "phases": phases,
        "seconds": time.perf_counter() - began,
    }
    report.data["floors"] = report.floors
    report.data["all_floors_pass"] = all(f["pass"] for f in report.floors)
    if args.json:
        json.dump(report.data, sys.stdout, indent=2)
        print()
    else:
        print_report(report)
    return 1 if args.strict and not report.data["all_floors_pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
