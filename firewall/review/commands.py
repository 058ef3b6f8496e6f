"""`firewall quarantine ...`: the command line of the review workflow.

`add_parser` hooks the command group into `firewall` (see `firewall.cli`); `run` runs it with
injected clients (tests, the local account). Nothing here imports boto3 until a command runs, so
`firewall scan` and the signature commands work without it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..engine.errors import FirewallError
from .filters import SEVERITIES, STATUSES, Filters, ReviewError, choices, parse_time

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
BUCKET_VARIABLE = "FIREWALL_QUARANTINE_BUCKET"
SOURCES = ("s3", "sqs", "dynamodb", "sns", "kinesis", "eventbridge")

DESCRIPTION = """\
Review the quarantine bucket: list and inspect quarantined records, release false positives to
their target, delete the rest, export evidence, and turn a false positive into a route exclusion.
The bucket comes from --bucket or FIREWALL_QUARANTINE_BUCKET; credentials, region and endpoint
(AWS_ENDPOINT_URL for the local account) from the usual AWS environment. A record is named by its
record id (as `list` shows it) or by its full key."""


@dataclass
class Clients:
    """boto3 clients, made on first use (or injected: tests attach local targets to `lambda_`)."""

    profile: str | None = None
    region: str | None = None
    s3: Any = None
    lambda_: Any = None
    sts: Any = None
    _session: Any = field(default=None, repr=False)

    def _client(self, service: str, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        from ..runtime.clients import CLIENT_CONFIG

        if self._session is None:
            self._session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        merged = CLIENT_CONFIG.merge(Config(**config)) if config else CLIENT_CONFIG
        return self._session.client(service, config=merged)

    def get_s3(self) -> Any:
        if self.s3 is None:
            self.s3 = self._client("s3")
        return self.s3

    def get_lambda(self) -> Any:
        """No automatic retry (a retried invoke could deliver twice) and a read timeout longer than
        any function's: a release waits for the target's answer."""
        if self.lambda_ is None:
            from ..runtime.clients import NO_RETRY

            self.lambda_ = self._client("lambda", read_timeout=910, retries=NO_RETRY)
        return self.lambda_

    def get_sts(self) -> Any:
        if self.sts is None:
            self.sts = self._client("sts")
        return self.sts


# -- the parser --------------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bucket", default=None, help=f"quarantine bucket (default: ${BUCKET_VARIABLE})")
    common.add_argument("--profile", default=None, help="AWS profile (default: the environment's credentials)")
    common.add_argument("--region", default=None, help="AWS region (default: the environment's)")
    return common


def _filter_options(parser: argparse.ArgumentParser, *, verdict: bool = True) -> None:
    group = parser.add_argument_group("filters (repeat an option or separate values with commas)")
    group.add_argument("--route", action="append", help="route name")
    group.add_argument("--source", action="append", help=f"event source: {', '.join(SOURCES)}")
    if verdict:
        group.add_argument("--signature", action="append", help="signature id, e.g. FW-SQLI-001")
        group.add_argument("--family", action="append", help="signature family, e.g. sqli")
        group.add_argument("--severity", action="append", help=f"a matched severity: {', '.join(SEVERITIES)}")
        group.add_argument("--status", action="append", help=f"{', '.join(STATUSES)}")
    group.add_argument("--since", help="from this time: ISO date or time (UTC unless it says), or 30m, 24h, 7d, 2w ago")
    group.add_argument("--until", help="before this time (an ISO date includes that whole day)")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `quarantine` and its actions to the `firewall` command's subparsers."""
    quarantine: argparse.ArgumentParser = commands.add_parser(
        "quarantine",
        help="review quarantined records: list, show, release, delete, stats, export, allow",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _actions(quarantine)
    quarantine.set_defaults(run=run_from_cli)
    return quarantine


def _actions(parser: argparse.ArgumentParser) -> None:
    common = _common()
    actions = parser.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list",
        parents=[common],
        help="quarantined records, newest first, a page at a time",
        description="Quarantined records, newest first (by the record's event day, then by when the envelope "
        "was written). Route, source and time filters use the keys only; the others read envelopes. "
        "Progress goes to standard error when it is a terminal.",
    )
    _filter_options(listing)
    listing.add_argument("--limit", type=_positive, default=50, help="records per page (default 50)")
    listing.add_argument("--page-token", help="continue after the page that printed this token")
    listing.add_argument("--keys-only", action="store_true", help="do not read envelopes (faster; fewer columns)")
    listing.add_argument("--json", action="store_true", help="one JSON document: items and next_page_token")
    listing.set_defaults(quarantine_action=_list)

    show = actions.add_parser(
        "show",
        parents=[common],
        help="one envelope: verdict, matches (path, transforms, masked excerpt)",
        description="One quarantined record: its envelope, the verdict and each match with its field path, "
        "transforms and masked excerpt. The original record is printed only with --raw.",
    )
    show.add_argument("id", help="record id or envelope key")
    show.add_argument(
        "--raw",
        action="store_true",
        help="print the original record as received, JSON (it holds the attacker's payload)",
    )
    show.add_argument("--json", action="store_true", help="the envelope as JSON (without the record unless --raw)")
    _narrowing(show)
    show.set_defaults(quarantine_action=_show)

    release = actions.add_parser(
        "release",
        parents=[common],
        help="deliver records to their target without inspecting them again",
        description="Deliver each record once to the target named in its envelope, without inspection, in the "
        "shape its source would have used (SQS, DynamoDB and Kinesis: a synchronous one-record event; S3, SNS "
        "and EventBridge: an asynchronous invoke with the original notification or event, after checking the "
        "S3 object still exists). A target error or batchItemFailures fails the release and changes nothing. "
        "Releasing again, or from two places at once, delivers once.",
    )
    release.add_argument("ids", nargs="+", metavar="ID", help="record ids or envelope keys")
    release.add_argument("--reason", required=True, help="why (kept in the envelope's history)")
    release.add_argument("--dry-run", action="store_true", help="check and say what would happen; change nothing")
    release.add_argument("--json", action="store_true")
    _narrowing(release)
    release.set_defaults(quarantine_action=_release)

    delete = actions.add_parser(
        "delete",
        parents=[common],
        help="mark records deleted and remove their object copies",
        description="Mark records deleted: the copies of their S3 objects are removed (in a versioned bucket, "
        "the bucket's lifecycle and object lock rules decide when the old versions go); the envelope itself is "
        "kept, with status deleted and who, when and why in its history, as the audit record.",
    )
    delete.add_argument("ids", nargs="+", metavar="ID", help="record ids or envelope keys")
    delete.add_argument("--reason", required=True, help="why (kept in the envelope's history)")
    delete.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")
    delete.add_argument("--json", action="store_true")
    _narrowing(delete)
    delete.set_defaults(quarantine_action=_delete)

    stats = actions.add_parser(
        "stats",
        parents=[common],
        help="counts by route, family, signature and day",
        description="Counts of quarantined records by status, route, family, signature (most quarantines "
        "first) and day. Reads every selected envelope.",
    )
    _filter_options(stats)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(quarantine_action=_stats)

    export = actions.add_parser(
        "export",
        parents=[common],
        help="selected envelopes as JSON Lines, for evidence or test examples",
        description="Write the selected envelopes, newest first, one JSON document per line, as stored "
        "(they hold the original records: handle the file as sensitive).",
    )
    _filter_options(export)
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(quarantine_action=_export)

    allow = actions.add_parser(
        "allow",
        parents=[common],
        help="turn a false positive into a reviewed exclusion in firewall.yaml",
        description="Add an exclusion to the record's route in firewall.yaml (never to the signature) for each "
        "signature that matched the record: --scope field excludes the signature on the field where it matched, "
        "--scope route on the whole route. Comments and layout of the file are kept. Deploy to apply.",
    )
    allow.add_argument("id", help="record id or envelope key")
    allow.add_argument("--scope", required=True, choices=("field", "route"))
    allow.add_argument("--reason", required=True, help="why this is a false positive (written into the file)")
    allow.add_argument("--config", default="firewall.yaml", help="configuration file (default: firewall.yaml)")
    allow.add_argument("--signature", action="append", help="only these of the matched signatures")
    allow.add_argument("--dry-run", action="store_true", help="print the new file instead of writing it")
    _narrowing(allow)
    allow.set_defaults(quarantine_action=_allow)


def _narrowing(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("finding a record id faster (keys are listed to find it)")
    group.add_argument("--route", action="append", help="route name")
    group.add_argument("--source", action="append", help="event source")
    group.add_argument("--since", help="the record is not older than this")
    group.add_argument("--until", help=argparse.SUPPRESS)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be from 1 to 10000")
    return value


# -- running -----------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    clients: Clients
    now: datetime
    out: Any
    err: Any
    _identity: str | None = None

    @property
    def bucket(self) -> str:
        bucket = self.args.bucket or os.environ.get(BUCKET_VARIABLE)
        if not bucket:
            raise ReviewError(f"no quarantine bucket: pass --bucket or set {BUCKET_VARIABLE}")
        return str(bucket)

    @property
    def identity(self) -> str:
        """Who acts, for the envelope's history. A release or delete by no one known is refused:
        the history is the audit record of who let a quarantined record through."""
        if self._identity is None:
            from .actions import caller_arn

            self._identity = caller_arn(self.clients.get_sts())
        if self._identity == "unknown":
            raise ReviewError("cannot tell who you are (STS GetCallerIdentity failed): the history must name who acted")
        return self._identity

    def store(self) -> Any:
        from .store import ReviewStore

        store = ReviewStore(self.clients.get_s3(), self.bucket)
        store.check()
        return store

    def progress(self, label: str = "") -> Any:
        from .progress import Progress

        return Progress(self.err, label=label)

    def filters(self) -> Filters:
        args = self.args
        since = parse_time(args.since, now=self.now) if getattr(args, "since", None) else None
        until = parse_time(args.until, now=self.now, end_of_day=True) if getattr(args, "until", None) else None
        if since and until and since >= until:
            raise ReviewError("--since must be before --until")
        sources = choices(getattr(args, "source", None))
        unknown = sorted(sources - set(SOURCES))
        if unknown:
            raise ReviewError(f"unknown source {unknown[0]!r} (sources: {', '.join(SOURCES)})")
        severities = choices(getattr(args, "severity", None))
        if severities - set(SEVERITIES):
            raise ReviewError(f"unknown severity {sorted(severities - set(SEVERITIES))[0]!r}")
        statuses = choices(getattr(args, "status", None))
        if statuses - set(STATUSES):
            raise ReviewError(f"unknown status {sorted(statuses - set(STATUSES))[0]!r}")
        return Filters(
            routes=choices(getattr(args, "route", None)),
            sources=sources,
            signatures=choices(getattr(args, "signature", None)),
            families=choices(getattr(args, "family", None)),
            severities=severities,
            statuses=statuses,
            since=since,
            until=until,
        )


Command = Callable[[Context], int]


def run(
    argv: Sequence[str],
    *,
    clients: Clients | None = None,
    now: datetime | None = None,
    out: Any = None,
    err: Any = None,
) -> int:
    """`firewall quarantine ARGV...` with these clients (made from the environment when None)."""
    parser = argparse.ArgumentParser(
        prog="firewall quarantine", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _actions(parser)
    args = parser.parse_args(list(argv))
    return execute(args, clients=clients, now=now, out=out, err=err)


def execute(
    args: argparse.Namespace,
    *,
    clients: Clients | None = None,
    now: datetime | None = None,
    out: Any = None,
    err: Any = None,
) -> int:
    """Run a parsed `quarantine` action; errors become a message and exit status 2."""
    context = Context(
        args=args,
        clients=clients or Clients(profile=args.profile, region=args.region),
        now=now or datetime.now(UTC),
        out=out or sys.stdout,
        err=err or sys.stderr,
    )
    command: Command = args.quarantine_action
    try:
        return command(context)
    except FirewallError as exc:
        print(f"firewall quarantine: {exc}", file=context.err)
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        message = _aws_error(exc)
        if message is None:
            raise
        print(f"firewall quarantine: {message}", file=context.err)
    return EXIT_BAD_INPUT


def run_from_cli(args: argparse.Namespace) -> int:
    """The entry `firewall.cli` calls."""
    return execute(args)


def _aws_error(exc: Exception) -> str | None:
    """A readable message for AWS errors (the service's code and message), None for anything else."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        operation = getattr(exc, "operation_name", "request")
        return f"{operation} failed: {error.get('Code')}: {error.get('Message', '')}".rstrip(": ")
    if type(exc).__module__.startswith("botocore"):
        return f"AWS request failed: {exc}"
    return None


# -- the actions -------------------------------------------------------------------------------


def _list(context: Context) -> int:
    from .query import page
    from .render import summary, table

    filters = context.filters()
    progress = context.progress()
    store = context.store()
    result = page(
        store,
        filters,
        limit=context.args.limit,
        token=context.args.page_token,
        fetch=not context.args.keys_only,
        progress=progress,
    )
    progress.done()
    _warn_unreadable(context, store)
    if context.args.json:
        document = {"items": [summary(item) for item in result.items], "next_page_token": result.next_token}
        print(json.dumps(document, indent=2), file=context.out)
        return EXIT_OK
    if not result.items:
        print("no quarantined records match", file=context.out)
        return EXIT_OK
    table(result.items, context.out)
    if result.next_token:
        print(f"\nmore: --page-token {result.next_token}", file=context.out)
    return EXIT_OK


def _resolve(context: Context, store: Any, ids: list[str]) -> list[str]:
    progress = context.progress("finding records: ")
    return list(store.resolve(ids, context.filters(), progress))


def _show(context: Context) -> int:
    from .render import clean, masked_objects, show
    from .store import lock_key

    store = context.store()
    (key,) = _resolve(context, store, [context.args.id])
    envelope = store.read(key).envelope
    if context.args.json:
        document = dict(envelope) if context.args.raw else {k: v for k, v in envelope.items() if k != "record"}
        if not context.args.raw and "objects" in document:
            document["objects"] = masked_objects(document["objects"])
        print(json.dumps({"key": key, "envelope": document}, indent=2), file=context.out)
        return EXIT_OK
    if context.args.raw:
        print(
            "warning: the original record follows, as received: it holds the payload that was quarantined",
            file=context.err,
        )
        print(json.dumps(envelope.get("record"), indent=2), file=context.out)
        return EXIT_OK
    show(store.bucket, key, envelope, context.out)
    lock = store.read_lock(key) if envelope.get("status") == "pending" else None
    if lock is not None:
        print(
            f"release lock: state {clean(lock.get('state'))!r} by {clean(lock.get('by'))} at {clean(lock.get('at'))}"
            + (
                f" - the target may have received the record; check it, then remove s3://{store.bucket}/"
                f"{lock_key(key)} to allow another release"
                if lock.get("state") == "uncertain"
                else ""
            ),
            file=context.out,
        )
    return EXIT_OK


def _outcomes(context: Context, outcomes: list[Any]) -> int:
    from .render import print_outcomes

    if context.args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2), file=context.out)
    else:
        print_outcomes(outcomes, context.out)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _release(context: Context) -> int:
    from .actions import require_reason
    from .release import Releaser

    reason = require_reason(context.args.reason)
    store = context.store()
    keys = _resolve(context, store, context.args.ids)
    identity = "unknown (dry run)" if context.args.dry_run else context.identity
    releaser = Releaser(store, context.clients.get_lambda(), identity=identity)
    return _outcomes(context, _each(keys, lambda key: releaser.release(key, reason, dry_run=context.args.dry_run)))


def _delete(context: Context) -> int:
    from .actions import Deleter, require_reason

    reason = require_reason(context.args.reason)
    store = context.store()
    keys = _resolve(context, store, context.args.ids)
    identity = "unknown (dry run)" if context.args.dry_run else context.identity
    deleter = Deleter(store, identity=identity)
    return _outcomes(context, _each(keys, lambda key: deleter.delete(key, reason, dry_run=context.args.dry_run)))


def _warn_unreadable(context: Context, store: Any) -> None:
    """Name the keys a listing skipped because they hold no readable envelope."""
    for key in store.unreadable:
        print(f"warning: s3://{store.bucket}/{key} is not a readable envelope; left out", file=context.err)


def _each(keys: list[str], act: Callable[[str], Any]) -> list[Any]:
    """`act` on each key, every outcome kept: one unreadable envelope must not hide that the records
    before it were already released or deleted (an error becomes that key's failed outcome)."""
    from .actions import Outcome

    outcomes = []
    for key in keys:
        try:
            outcomes.append(act(key))
        except FirewallError as exc:
            outcomes.append(Outcome(key, "", "failed", str(exc)))
        except Exception as exc:
            message = _aws_error(exc) or f"unexpected {type(exc).__name__}; see the envelope with show --raw"
            outcomes.append(Outcome(key, "", "failed", message))
    return outcomes


def _stats(context: Context) -> int:
    from .query import select
    from .render import print_statistics, statistics

    progress = context.progress()
    store = context.store()
    stats = statistics(select(store, context.filters(), fetch=True, chunk=100, progress=progress))
    progress.done()
    _warn_unreadable(context, store)
    if context.args.json:
        print(json.dumps(stats, indent=2), file=context.out)
    else:
        print_statistics(stats, context.out)
    return EXIT_OK


def _export(context: Context) -> int:
    from .query import select

    progress = context.progress()
    store = context.store()
    filters = context.filters()
    target = Path(context.args.output) if context.args.output else None
    try:
        out = target.open("w", encoding="utf-8") if target else context.out
    except OSError as exc:
        raise ReviewError(f"cannot write {target}: {exc.strerror}") from None
    count = 0
    try:
        for item in select(store, filters, fetch=True, chunk=100, progress=progress):
            if item.stored is not None:
                out.write(json.dumps(item.stored.envelope, ensure_ascii=False, sort_keys=False) + "\n")
                count += 1
    finally:
        if target:
            out.close()
    progress.done()
    _warn_unreadable(context, store)
    if target or context.err.isatty():
        print(f"{count} envelope(s) exported" + (f" to {target}" if target else ""), file=context.err)
    return EXIT_OK


def _allow(context: Context) -> int:
    from .actions import history_entry, local_user, require_reason
    from .exclusions import add_exclusions, exclusions_for, read_config, write_atomically
    from .render import clean

    reason = require_reason(context.args.reason)
    config = Path(context.args.config)
    text = read_config(config)
    store = context.store()
    (key,) = _resolve(context, store, [context.args.id])
    envelope = store.read(key).envelope
    route = str(envelope.get("route", ""))
    by = context.identity
    if by == "unknown":
        by = local_user()
    wanted = exclusions_for(
        envelope,
        scope=context.args.scope,
        reason=reason,
        added_by=by,
        added_at=context.now.date(),
        signatures=choices(context.args.signature),
    )
    edit = add_exclusions(text, route, wanted, name=str(config))
    for exclusion in edit.skipped:
        where = f" on {exclusion.path}" if exclusion.path else ""
        print(f"already excluded: {clean(exclusion.signature)}{clean(where)} in route {clean(route)}", file=context.out)
    if context.args.dry_run:
        context.out.write(edit.text)
        return EXIT_OK
    if not edit.added:
        return EXIT_OK
    write_atomically(config, edit.text)
    for exclusion in edit.added:
        where = f" on field {exclusion.path}" if exclusion.path else " on the whole route"
        print(
            f"excluded {clean(exclusion.signature)}{clean(where)} in route {clean(route)} ({config})", file=context.out
        )
    entry = history_entry(
        "allow",
        by=by,
        at=context.now,
        reason=reason,
        scope=context.args.scope,
        signatures=[e.signature for e in edit.added],
        config=str(config),
    )

    def change(current: dict[str, Any]) -> dict[str, Any]:
        current.setdefault("history", []).append(entry)
        return current

    store.update(key, change)
    print("deploy the configuration (cdk deploy) for the exclusion to take effect", file=context.out)
    return EXIT_OK
