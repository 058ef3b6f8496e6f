"""EventFirewall as a user meets it in their own CDK app, and the errors it gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import Duration, Stack, assertions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from cdk_support import ROOT, new_app

from firewall.engine.checks import lint
from firewall.engine.errors import SignatureError
from firewall.engine.loader import load_directory
from infra.config import ConfigError, parse_config
from infra.event_firewall import EventFirewall, InspectionOptions
from infra.nag import add_checks
from infra.stack import FirewallStack


def _target(stack: Stack, timeout: int = 60) -> lambda_.Function:
    return lambda_.Function(
        stack,
        "Worker",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="orders.handler",
        code=lambda_.Code.from_asset(str(ROOT / "samples" / "targets")),
        timeout=Duration.seconds(timeout),
    )


@pytest.fixture(scope="module")
def user_app(cdk_out: Path) -> tuple[Stack, EventFirewall, assertions.Template]:
    app = new_app(cdk_out)
    stack = Stack(app, "UserStack")
    firewall = EventFirewall(
        stack,
        "Firewall",
        target=_target(stack),
        options=InspectionOptions(mode="monitor", paranoia=2, exclusions=(("FW-SQLI-001", "sqs.body.note"),)),
    )
    queue = sqs.Queue(stack, "Jobs", visibility_timeout=Duration.minutes(15))
    firewall.protect_queue(queue, route="jobs")
    firewall.protect_bucket(s3.Bucket(stack, "Uploads"), route="uploads", suffix=".csv")
    table = dynamodb.Table(
        stack,
        "Items",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    firewall.protect_table(table, route="items")
    reviewer = iam.Role(stack, "Reviewer", assumed_by=iam.AccountRootPrincipal())
    firewall.grant_review(reviewer)
    return stack, firewall, assertions.Template.from_stack(stack)


def test_protect_methods_return_routes_with_their_resources(
    user_app: tuple[Stack, EventFirewall, assertions.Template],
) -> None:
    _, firewall, template = user_app
    assert [r.route for r in firewall.routes] == ["jobs", "uploads", "items"]
    assert all(r.function and r.role and r.dead_letter_queue for r in firewall.routes)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)


def test_route_timeout_covers_the_targets_own_timeout(
    user_app: tuple[Stack, EventFirewall, assertions.Template],
) -> None:
    _, firewall, _ = user_app
    assert firewall.target_timeout.to_seconds() == 60
    assert all(r.timeout.to_seconds() > 60 + 2 for r in firewall.routes)


def test_options_and_exclusions_reach_the_function_environment(
    user_app: tuple[Stack, EventFirewall, assertions.Template],
) -> None:
    _, _, template = user_app
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": assertions.Match.object_like(
                    {
                        "FIREWALL_MODE": "monitor",
                        "FIREWALL_PARANOIA": "2",
                        "FIREWALL_EXCLUSIONS": json.dumps([{"signature": "FW-SQLI-001", "path": "sqs.body.note"}]),
                    }
                )
            }
        },
    )


def test_grant_review_gives_the_reviewer_read_release_and_delete(
    user_app: tuple[Stack, EventFirewall, assertions.Template],
) -> None:
    _, _, template = user_app
    policies = [p for name, p in template.find_resources("AWS::IAM::Policy").items() if name.startswith("Reviewer")]
    document = json.dumps(policies[0]["Properties"]["PolicyDocument"])
    for action in ("s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "lambda:InvokeFunction", "kms:Decrypt"):
        assert action in document


def test_metric_helpers_name_the_route(user_app: tuple[Stack, EventFirewall, assertions.Template]) -> None:
    _, firewall, _ = user_app
    metric = firewall.metric_quarantined(route="jobs")
    assert (metric.namespace, metric.metric_name, metric.dimensions) == (
        "EventFirewall",
        "RecordsQuarantined",
        {"Route": "jobs"},
    )


def test_a_target_still_triggered_by_its_protected_queue_fails_synth(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Bypass")
    target = _target(stack)
    queue = sqs.Queue(stack, "Jobs", visibility_timeout=Duration.minutes(15))
    target.add_event_source(event_sources.SqsEventSource(queue))
    EventFirewall(stack, "Firewall", target=target).protect_queue(queue, route="jobs")
    with pytest.raises(Exception, match="still triggered directly"):
        app.synth()


def test_a_target_still_notified_by_its_protected_bucket_fails_synth(tmp_path: Path) -> None:
    from aws_cdk import aws_s3_notifications as s3n

    app = new_app(tmp_path)
    stack = Stack(app, "BucketBypass")
    target = _target(stack)
    bucket = s3.Bucket(stack, "Uploads")
    bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(target))
    EventFirewall(stack, "Firewall", target=target).protect_bucket(bucket, route="uploads", prefix="incoming/")
    with pytest.raises(Exception, match="still triggered directly"):
        app.synth()


def test_a_queue_with_a_short_visibility_timeout_fails_synth(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Short")
    EventFirewall(stack, "Firewall", target=_target(stack)).protect_queue(sqs.Queue(stack, "Jobs"), route="jobs")
    with pytest.raises(Exception, match="visibility timeout 30s is below"):
        app.synth()


def test_the_quarantine_bucket_cannot_be_protected(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = Stack(app, "Loop")
    firewall = EventFirewall(stack, "Firewall", target=_target(stack))
    with pytest.raises(ValueError, match="quarantine bucket"):
        firewall.protect_bucket(firewall.quarantine.bucket)


def test_invalid_options_are_refused(tmp_path: Path) -> None:
    stack = Stack(new_app(tmp_path), "Bad")
    with pytest.raises(ValueError, match="mode"):
        EventFirewall(stack, "Firewall", target=_target(stack), options=InspectionOptions(mode="block"))


_SIGNATURE_HEAD = (
    "family: demo\nsignatures:\n  - id: FW-DEMO-001\n    title: t\n    severity: high\n    paranoia: 1\n"
    "    targets: [any]\n    transforms: [lowercase]\n"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    pattern: 'evil('\n    examples: {match: [evil], no_match: [good]}\n",
            r"broken\.yaml:9 \[FW-DEMO-001\]: pattern does not compile",
        ),
        (
            "    pattern: 'evil'\n    examples: {match: [evil], no_match: [devil]}\n",
            r"broken\.yaml:3 \[FW-DEMO-001\]: no_match example detected: 'devil'",
        ),
        (  # `wickedx` matches, yet holds no literal of the declared prefilter: it would pass unseen
            "    pattern: '(?:evil|wicked)x'\n    prefilter: ['evil']\n"
            "    examples: {match: [evilx], no_match: [good]}\n",
            r"broken\.yaml:3 \[FW-DEMO-001\]: prefilter misses 'wickedx'",
        ),
        (  # a long run of `a` makes this regex try every way of splitting it
            "    pattern: '(a|aa)+!'\n    examples: {match: [aa!], no_match: [good]}\n",
            r"broken\.yaml:3 \[FW-DEMO-001\]: catastrophic backtracking",
        ),
    ],
    ids=["regex", "example", "prefilter", "backtracking"],
)
def test_a_bad_signature_file_fails_synth_with_its_path_and_line(tmp_path: Path, body: str, message: str) -> None:
    signatures = tmp_path / "signatures"
    signatures.mkdir()
    (signatures / "broken.yaml").write_text(_SIGNATURE_HEAD + body)
    stack = Stack(new_app(tmp_path / "out"), "Sigs")
    with pytest.raises(SignatureError, match=message):
        EventFirewall(stack, "Firewall", target=_target(stack), signatures=signatures)


def test_a_lint_warning_does_not_fail_synth(tmp_path: Path) -> None:
    signatures = tmp_path / "signatures"
    signatures.mkdir()
    (signatures / "plain.yaml").write_text(
        _SIGNATURE_HEAD + "    pattern: '[a-z]x'\n    examples: {match: [ax], no_match: [good]}\n"
    )
    (signature,) = load_directory(signatures)
    assert [problem.level for problem in lint(signature)] == ["warning"]  # no literal: runs on every field
    stack = Stack(new_app(tmp_path / "out"), "Sigs")
    EventFirewall(stack, "Firewall", target=_target(stack), signatures=signatures)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"routes": {}}, "routes: at least one route is required"),
        ({"routes": {"Bad Name": {}}}, "route 'Bad Name': route names"),
        ({"routes": {"a": {"source": {"queue": "new"}}}}, "route 'a': needs both `source` and `target`"),
        ({"routes": {"a": {"source": {"pipe": "x"}, "target": {"sample": "orders"}}}}, "unknown field 'pipe'"),
        (
            {"routes": {"a": {"source": {"queue": "new", "bucket": "new"}, "target": {"sample": "orders"}}}},
            "exactly one",
        ),
        ({"routes": {"a": {"source": {"table": "t"}, "target": {"sample": "orders"}}}}, "needs `stream_arn`"),
        ({"routes": {"a": {"source": {"queue": "new"}, "target": {"sample": "nope"}}}}, "target.sample"),
        (
            {"routes": {"a": {"source": {"queue": "new"}, "target": {"sample": "orders"}, "paranoia": 7}}},
            "route 'a': paranoia: must be a whole number from 1 to 4",
        ),
        (
            {"routes": {"a": {"source": {"queue": "new"}, "target": {"sample": "orders"}, "mode": "block"}}},
            "route 'a': mode: must be one of enforce, monitor",
        ),
        (
            {
                "routes": {
                    "a": {
                        "source": {"queue": "new"},
                        "target": {"sample": "orders"},
                        "exclusions": [{"signature": "FW-X-001"}],
                    }
                }
            },
            "reviewer's reason",
        ),
        ({"defaults": {"max_bytes": 1}, "routes": {}}, "defaults.max_bytes"),
        (
            {
                "routes": {
                    "a": {
                        "source": {"queue": "new"},
                        "target": {"sample": "orders"},
                        "batch_size": 50,
                        "batching_window_seconds": 0,
                    }
                }
            },
            "an SQS batch over 10 messages needs batching_window_seconds of 1 or more",
        ),
        (
            {"routes": {"a": {"source": {"table": "new"}, "target": {"sample": "orders"}, "max_record_age_hours": 24}}},
            "max_record_age_hours must be under 24",
        ),
    ],
)
def test_invalid_firewall_yaml_names_file_route_and_field(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")) as error:
        parse_config(config, "firewall.yaml")
    assert str(error.value).startswith("firewall.yaml: ")


_KEY = "arn:aws:kms:eu-west-1:111122223333:key/{}"


def test_existing_sources_under_a_customer_managed_key_may_be_decrypted_with_it(tmp_path: Path) -> None:
    target = {"function": "orders-handler"}
    config = parse_config(
        {
            "routes": {
                "queue": {"source": {"queue": "orders", "kms_key": _KEY.format("q")}, "target": target},
                "bucket": {"source": {"bucket": "arn:aws:s3:::uploads", "kms_key": _KEY.format("b")}, "target": target},
                "table": {
                    "source": {
                        "table": "items",
                        "stream_arn": "arn:aws:dynamodb:eu-west-1:111122223333:table/items/stream/2026-01-01T00:00",
                        "kms_key": _KEY.format("t"),
                    },
                    "target": target,
                },
                "plain": {"source": {"queue": "audit"}, "target": target},
            }
        },
        "firewall.yaml",
    )
    app = new_app(tmp_path)
    stack = FirewallStack(app, "Keys", config)
    add_checks(app)
    app.synth()  # an imported bucket's acknowledgements name its ARN as cdk-nag prints it
    decrypting: dict[str, set[str]] = {}
    for policy in assertions.Template.from_stack(stack).find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "kms:Decrypt" in actions and isinstance(statement["Resource"], str):
                roles = {role["Ref"] for role in policy["Properties"]["Roles"]}
                decrypting.setdefault(statement["Resource"], set()).update(roles)
    keys = {arn: roles for arn, roles in decrypting.items() if arn.startswith("arn:aws:kms:eu-west-1:111122223333")}
    assert set(keys) == {_KEY.format(name) for name in ("q", "b", "t")}
    assert all(len(roles) == 1 for roles in keys.values())  # each key: its own route's firewall only
    assert len(set().union(*keys.values())) == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"queue": "new", "kms_key": _KEY.format("k")}, "existing sources only"),
        ({"queue": "orders", "kms_key": "alias/orders"}, "IAM cannot grant on an alias"),
        ({"bucket": "uploads", "kms_key": ["arn"]}, "the ARN of a KMS key"),
        ({"bucket": "arn:aws:s3:::uploads/incoming/*"}, r"a bucket's name, or its ARN \(arn:aws:s3:::NAME\)"),
    ],
)
def test_a_source_key_must_be_the_arn_of_a_key_of_an_existing_source(source: dict[str, object], message: str) -> None:
    """(And a bucket named by an ARN must be a bucket's ARN.)"""
    with pytest.raises(ConfigError, match=message):
        parse_config({"routes": {"a": {"source": source, "target": {"sample": "orders"}}}}, "firewall.yaml")
