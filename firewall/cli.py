"""The `firewall` command: scan events and values, test and lint signature files, review the quarantine."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .api import DEFAULT_SIGNATURES, Firewall
from .engine.checks import Problem, check_examples, lint
from .engine.errors import FirewallError
from .engine.loader import load_directory
from .engine.model import MODES, ON_ERROR_POLICIES, Verdict
from .local.command import add_parser as add_local_parser
from .review.commands import add_parser as add_quarantine_parser

EXIT_CLEAN, EXIT_DETECTED, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in an event must not crash the output
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except FirewallError as exc:
        print(f"firewall: {exc}", file=sys.stderr)
        if getattr(args, "json", False):  # a machine reading stdout gets a document either way
            document = json.dumps({"error": str(exc), "exit": EXIT_BAD_INPUT}, ensure_ascii=False)
            _output(lambda: print(document))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_CLEAN


def _output(write: Callable[[], object]) -> None:
    """Run `write` (printing to stdout). A reader that stopped early (`| head`) is no error: the
    command's exit status, worked out before, still says what was found."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    """After a broken pipe: Python's flush at exit would fail again and print a traceback."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor: stdout was replaced in-process
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firewall", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="inspect a Lambda event (file or -) or a --text value")
    source = scan.add_mutually_exclusive_group(required=True)
    source.add_argument("event", nargs="?", help="event JSON file, or - for standard input")
    source.add_argument("--text", help="inspect this single value instead of an event")
    scan.add_argument("--json", action="store_true", help="machine-readable output, one JSON document")
    _engine_options(scan)
    scan.set_defaults(run=_scan)

    signatures = commands.add_parser("signatures", help="test, lint or list signature files")
    sig_commands = signatures.add_subparsers(required=True, metavar="ACTION")
    for name, run, text in (
        ("test", _signatures_test, "run every signature's match and no_match examples"),
        ("lint", _signatures_lint, "schema, unique ids, examples, fast pattern and its soundness, backtracking probe"),
        ("list", _signatures_list, "id, family, severity, paranoia and title of every signature"),
    ):
        sub = sig_commands.add_parser(name, help=text)
        sub.add_argument("path", nargs="?", default=str(DEFAULT_SIGNATURES), help="file or directory")
        if name == "list":
            sub.add_argument("--json", action="store_true")
        if name == "lint":
            sub.add_argument("--strict", action="store_true", help="warnings fail too")
        sub.set_defaults(run=run)
    add_quarantine_parser(commands)
    add_local_parser(commands)
    return parser


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signatures", default=None, help="signature file or directory (default: bundled)")
    parser.add_argument("--paranoia", type=int, choices=(1, 2, 3, 4), default=1)
    parser.add_argument("--mode", choices=MODES, default="enforce")
    parser.add_argument("--on-error", choices=ON_ERROR_POLICIES, default="quarantine")


def _read_event(name: str) -> Any:
    """The event in file `name` (`-`: standard input), read as strict UTF-8 from either."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FirewallError(f"cannot read {name}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FirewallError(f"{name} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise FirewallError(f"{name} nests JSON too deeply to read") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise FirewallError(f"{name} holds a number Python does not read: {exc}") from None


def _scan(args: argparse.Namespace) -> int:
    firewall = Firewall.load(args.signatures, paranoia=args.paranoia, mode=args.mode, on_error=args.on_error)
    if args.text is not None:
        verdicts = [firewall.inspect(args.text)]
    else:
        verdicts = firewall.inspect_event(_read_event(args.event))
    if args.json:
        document = {"signature_set": firewall.version, "records": [v.to_dict() for v in verdicts]}
        _output(lambda: print(json.dumps(document, indent=2, ensure_ascii=False)))
    else:
        _output(lambda: _print_verdicts(verdicts, sys.stdout))
    return EXIT_DETECTED if any(v.detected or v.error for v in verdicts) else EXIT_CLEAN


def _print_verdicts(verdicts: list[Verdict], out: TextIO) -> None:
    if not verdicts:
        print("no records to inspect (a test event?)", file=out)
    for number, verdict in enumerate(verdicts, 1):
        who = verdict.record_id or "value"
        status = verdict.action.upper() + (" (detected)" if verdict.detected and verdict.action == "forward" else "")
        print(f"[{number}/{len(verdicts)}] {who}: {status}, score {verdict.score}", file=out)
        if verdict.error:
            print(f"    error: {verdict.error}", file=out)
        for m in verdict.matches:
            print(f"    {m.signature_id:<14} {m.severity:<8} {m.path}: {m.excerpt!r}  ({m.title})", file=out)
    forwarded = sum(v.action == "forward" for v in verdicts)
    print(f"{len(verdicts)} record(s): {forwarded} forwarded, {len(verdicts) - forwarded} quarantined", file=out)


def _report(problems: list[Problem], checked: int, what: str, strict: bool = False) -> int:
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors

    def write() -> None:
        for problem in problems:
            print(problem, file=sys.stderr if problem.level == "error" else sys.stdout)
        print(f"{checked} signature(s) {what}: {errors} error(s), {warnings} warning(s)")

    _output(write)
    return EXIT_DETECTED if errors or (strict and warnings) else EXIT_CLEAN


def _signatures_test(args: argparse.Namespace) -> int:
    signatures = load_directory(args.path)
    problems = [p for sig in signatures for p in check_examples(sig)]
    examples = sum(len(s.match_examples) + len(s.no_match_examples) for s in signatures)
    return _report(problems, len(signatures), f"tested ({examples} examples)")


def _signatures_lint(args: argparse.Namespace) -> int:
    signatures = load_directory(args.path)
    problems = [p for sig in signatures for p in lint(sig)]
    return _report(problems, len(signatures), "linted", strict=args.strict)


def _signatures_list(args: argparse.Namespace) -> int:
    signatures = load_directory(args.path)
    rows = [
        {"id": s.id, "family": s.family, "severity": s.severity.value, "paranoia": s.paranoia, "title": s.title}
        for s in signatures
    ]
    if args.json:
        _output(lambda: print(json.dumps(rows, indent=2)))
        return EXIT_CLEAN

    def table() -> None:
        print(f"{'ID':<16} {'FAMILY':<16} {'SEVERITY':<9} {'PL':<3} TITLE")
        for r in rows:
            print(f"{r['id']:<16} {r['family']:<16} {r['severity']:<9} {r['paranoia']:<3} {r['title']}")
        print(f"{len(rows)} signature(s)")

    _output(table)
    return EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
