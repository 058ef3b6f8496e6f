"""`firewall local` and `firewall demo`: the command line of the local account.

`firewall local` deploys the app into a moto server on this machine and serves its routes;
`firewall demo` does the same and sends the demo traffic. Both print a summary per route, then how
to review the quarantine. In a terminal the account stays up until Ctrl-C (send your own events to
it); with `--once`, or when standard input is not a terminal, the command exits after the summary:
status 0 only if the accounting holds (every clean event reached its target exactly as sent, every
malicious one is in the quarantine with a correct envelope and reached no target, nothing lost).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


def add_parser(commands: Any) -> None:
    for name, traffic, text in (
        ("demo", "full", "deploy the app into a local AWS account (moto) and send it demo traffic"),
        ("local", "none", "deploy the app into a local AWS account (moto) and serve its routes"),
    ):
        parser: argparse.ArgumentParser = commands.add_parser(
            name, help=text, description=text + ". " + __doc__.split("\n\n")[1].replace("\n", " ")
        )
        parser.add_argument(
            "--once", action="store_true", help="exit after the summary (the default when stdin is not a terminal)"
        )
        parser.add_argument(
            "--traffic", choices=("full", "small", "none"), default=traffic, help=f"demo traffic (default: {traffic})"
        )
        parser.add_argument("--config", default=None, help="routes file for the app (default: firewall.yaml)")
        parser.add_argument("--fresh", action="store_true", help="synthesize again even if a cached synth matches")
        parser.add_argument("--project", default=None, help="project folder (default: the one holding cdk.json)")
        parser.set_defaults(run=run, run_name=name)


def find_project(given: str | None) -> Path:
    if given:
        return Path(given).resolve()
    for folder in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parent.parent.parent):
        if (folder / "cdk.json").is_file() and (folder / "app.py").is_file():
            return folder
    raise SystemExit("firewall: no project found (a folder with cdk.json and app.py); use --project")


class Progress:
    """A spinner line on a terminal; plain lines otherwise."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        utf8 = (getattr(out, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.frames = self.FRAMES if utf8 else "|/-\\"
        self.check = "✓" if utf8 else "+"
        self.text = ""
        self.started = time.monotonic()
        self.frame = 0
        self.last_draw = 0.0

    def step(self, text: str) -> None:
        self.text, self.started = text, time.monotonic()
        if self.tty:
            self._draw()
        else:
            print(f"  {text} ...", file=self.out, flush=True)

    def tick(self, text: str | None = None) -> None:
        if text is not None:
            self.text = text
        if self.tty and time.monotonic() - self.last_draw > 0.08:
            self._draw()

    def done(self, text: str) -> None:
        self._clear()
        print(f"{self.check} {text}", file=self.out, flush=True)
        self.text = ""

    def info(self, text: str) -> None:
        self._clear()
        print(text, file=self.out, flush=True)
        if self.text and self.tty:
            self._draw()

    def _draw(self) -> None:
        self.frame = (self.frame + 1) % len(self.frames)
        elapsed = time.monotonic() - self.started
        line = f"{self.frames[self.frame]} {self.text} ({elapsed:.0f} s)"
        columns = os.get_terminal_size(self.out.fileno()).columns if self.tty else 0
        width = columns - 1 if columns > 20 else 100
        self.out.write("\r\033[K" + line[:width])
        self.out.flush()
        self.last_draw = time.monotonic()

    def _clear(self) -> None:
        if self.tty and self.text:
            self.out.write("\r\033[K")


def run(args: argparse.Namespace) -> int:
    from .account import AccountError
    from .deploy import DeployError
    from .server import ServerError
    from .session import LocalAccount
    from .traffic import SETS

    out = sys.stdout
    progress = Progress(out)
    interactive = not args.once and sys.stdin.isatty()
    project = find_project(args.project)
    samples = SETS[args.traffic]
    started = time.monotonic()
    print(f"firewall {args.run_name}: the event firewall in an AWS account on this machine (moto)", file=out)
    accounting_holds = False
    try:
        with LocalAccount(project, config=args.config, fresh=args.fresh, reporter=progress) as local:
            workdir = local.workdir
            for warning in local.warnings:
                progress.info(f"warning: {warning}")
            assert local.deployment is not None
            _print_gaps(local, progress)
            traffic_started = time.monotonic()
            sent = []
            if samples:
                progress.step(f"sending {len(samples)} demo events")
                sent = local.send(samples)
                progress.step("the firewall is judging them")
                settled = local.settle(tick=lambda: progress.tick(_status(local)))
                seconds = time.monotonic() - traffic_started
                progress.done(f"{len(sent)} events sent and processed ({seconds:.1f} s)" if settled else "timed out")
                local.timings["traffic"] = seconds
            else:
                local.settle(timeout=5)
            accounting = local.accounting(sent)
            accounting_holds = accounting.holds
            print_summary(local, accounting, out)
            _print_timings(local, time.monotonic() - started, out)
            _print_review(local, accounting.example_record_id, interactive, out)
            if interactive:
                _serve(local, progress, out)
        seconds = time.monotonic() - started
        progress.info(f"stopped the moto server and removed {workdir} ({seconds:.0f} s in all)")
    except KeyboardInterrupt:
        progress.info("interrupted: the moto server is stopped and its files removed")
        return EXIT_OK if interactive and accounting_holds else EXIT_INTERRUPTED
    except (ServerError, DeployError, AccountError, RuntimeError) as exc:
        progress.info(f"firewall {args.run_name}: {exc}")
        return EXIT_FAILED
    return EXIT_OK if accounting_holds else EXIT_FAILED


def _status(local: Any) -> str:
    tallies = [local.tally(r.name) for r in local.deployment.routes]
    judged = sum(t.received for t in tallies)
    forwarded = sum(t.forwarded for t in tallies)
    quarantined = sum(t.quarantined for t in tallies)
    return f"the firewall is judging them: {judged} judged, {forwarded} forwarded, {quarantined} quarantined"


def _print_gaps(local: Any, progress: Progress) -> None:
    skipped = local.deployment.skipped
    if skipped:
        notes = {"AWS::Lambda::EventInvokeConfig": " (its retries and destination are read from the template)"}
        kinds = ", ".join(
            f"{count} {kind.split('::')[-1]}{notes.get(kind, '')}" for kind, count in sorted(skipped.items())
        )
        progress.info(f"  moto's CloudFormation skipped: {kinds}")
    for applied in local.deployment.applied:
        progress.info(f"  applied in moto's place: {applied}")


def print_summary(local: Any, accounting: Any, out: TextIO) -> None:
    routes = local.deployment.routes
    print("", file=out)
    if accounting.rows:
        print("Events", file=out)
        width = max(len(r.label) for r in accounting.rows)
        for row in accounting.rows:
            kind = "malicious" if row.malicious else "clean"
            signatures = ", ".join(row.signatures[:4]) + (" ..." if len(row.signatures) > 4 else "")
            line = f"  {row.route:<9} {kind:<9} {row.label:<{width}}  {row.outcome:<11} {signatures}"
            print(line.rstrip(), file=out)
        print("", file=out)
    header = (
        f"  {'ROUTE':<9} {'SOURCE':<9} {'TARGET':<18} {'RECEIVED':>8} {'FORWARDED':>9} {'QUARANTINED':>11} "
        f"{'FAILED':>6}"
    )
    print("Summary per route (the firewall's own audit log)", file=out)
    print(header, file=out)
    totals = Counter[str]()
    for route in routes:
        tally = local.tally(route.name)
        totals.update(
            received=tally.received, forwarded=tally.forwarded, quarantined=tally.quarantined, failed=tally.failed
        )
        print(
            f"  {route.name:<9} {route.source.kind:<9} {route.target.handler:<18} {tally.received:>8} "
            f"{tally.forwarded:>9} {tally.quarantined:>11} {tally.failed:>6}",
            file=out,
        )
    print(
        f"  {'total':<38} {totals['received']:>8} {totals['forwarded']:>9} {totals['quarantined']:>11} "
        f"{totals['failed']:>6}",
        file=out,
    )
    fired = [(route.name, local.tally(route.name).signatures) for route in routes]
    if any(signatures for _, signatures in fired):
        print("\nSignatures that fired on detected records", file=out)
        for name, signatures in fired:
            if signatures:
                text = ", ".join(f"{sid}×{n}" if n > 1 else sid for sid, n in sorted(signatures.items()))
                lines = textwrap.wrap(text, 100 - 12, break_on_hyphens=False)
                print(f"  {name:<9} {lines[0]}", file=out)
                for line in lines[1:]:
                    print(f"  {'':<9} {line}", file=out)
    print("", file=out)
    if accounting.holds:
        print(
            f"Accounting holds: {accounting.sent} events sent; "
            f"{accounting.clean_delivered} of {accounting.clean} clean "
            f"reached their targets exactly as sent; {accounting.malicious_quarantined} of {accounting.malicious} "
            "malicious are in the quarantine with correct envelopes and reached no target; nothing lost.",
            file=out,
        )
    else:
        print(f"Accounting FAILED ({len(accounting.problems)} problem(s)):", file=out)
        for problem in accounting.problems:
            print(f"  - {problem}", file=out)
    for note in accounting.notes:
        print(f"  note: {note}", file=out)


def _print_timings(local: Any, total: float, out: TextIO) -> None:
    timings = local.timings
    parts = [f"moto server {timings['server']:.1f} s"]
    if "synth" in timings:
        parts.append(f"cdk synth {timings['synth']:.1f} s (cdk bootstrap {timings['bootstrap']:.1f} s alongside)")
    else:
        parts.append(f"cdk synth cached, cdk bootstrap {timings['bootstrap']:.1f} s")
    parts += [
        f"{label} {timings[name]:.1f} s"
        for name, label in (("deploy", "cdk deploy"), ("wiring", "wiring"), ("traffic", "traffic"))
        if name in timings
    ]
    print(f"Timings: {', '.join(parts)}; {total:.1f} s so far", file=out)


def _cli() -> str:
    if Path(".venv/bin/firewall").exists():
        return ".venv/bin/firewall"
    executable = Path(sys.executable)
    with contextlib.suppress(ValueError):
        executable = executable.relative_to(Path.cwd())
    return f"{executable} -m firewall"


def _print_review(local: Any, example: str | None, interactive: bool, out: TextIO) -> None:
    deployment = local.deployment
    bucket = deployment.quarantine_buckets[0]
    environment = (
        f"export AWS_ENDPOINT_URL={local.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=us-east-1"
    )
    cli = _cli()
    print("\nReview the quarantine with the CLI, against this account:", file=out)
    print(f"  {environment}", file=out)
    print(f"  {cli} quarantine list --bucket {bucket}", file=out)
    print(f"  {cli} quarantine show --bucket {bucket} {shlex.quote(example or 'RECORD_ID')}", file=out)
    print(f"  {cli} quarantine stats --bucket {bucket}", file=out)
    if not interactive:
        print(
            "(The account is gone once this command exits: run it in a terminal without --once to keep it.)", file=out
        )
        return
    print(f"\nFunction logs (the firewall's audit lines, the targets' output): {local.workdir / 'logs'}", file=out)
    print("The account stays up until Ctrl-C. Send your own events (boto3 or the AWS CLI, same exports):", file=out)
    for route in deployment.routes:
        source = route.source
        if source.kind == "sqs":
            body = shlex.quote('{"orderId": "X-1", "coupon": "1 UNION SELECT password FROM users"}')
            print(f"  aws sqs send-message --queue-url {source.url} --message-body {body}", file=out)
        elif source.kind == "s3":
            print(f"  aws s3 cp ./some-file s3://{source.bucket}/{source.prefix}", file=out)
        else:
            item = shlex.quote('{"pk": {"S": "user#9"}, "bio": {"S": "<script>alert(1)</script>"}}')
            print(f"  aws dynamodb put-item --table-name {source.table} --item {item}", file=out)


def _serve(local: Any, progress: Progress, out: TextIO) -> None:
    def show(route: str, entry: dict[str, Any]) -> None:
        signatures = ", ".join(entry.get("signatures", [])) if entry.get("detected") else ""
        record = str(entry.get("record_id", ""))
        record = record if len(record) <= 48 else record[:45] + "..."
        progress.info(f"  [{route}] {entry.get('outcome'):<11} {record}  {signatures}".rstrip())

    local.records.listeners.append(show)
    progress.step("serving the routes: waiting for events (Ctrl-C to stop)")
    while True:
        try:
            delivered = local.pump()
        except Exception as exc:  # a bad event or a hiccup of the server must not end the session
            progress.info(f"  poller error: {type(exc).__name__}: {str(exc)[:200]}")
            delivered = 0
        if delivered == 0:
            time.sleep(0.25)
        progress.tick()
