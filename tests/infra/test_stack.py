"""Assertions on the stack app.py builds from the project's firewall.yaml (one synth per module)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import assertions
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from cdk_support import ROOT, new_app

from infra.config import load_config
from infra.nag import add_checks
from infra.stack import FirewallStack


@pytest.fixture(scope="module")
def stack(cdk_out: Path) -> FirewallStack:
    app = new_app(cdk_out)
    stack = FirewallStack(app, "EventFirewall", load_config(ROOT / "firewall.yaml"))
    add_checks(app)
    app.synth()  # raises if cdk-nag reports an unacknowledged error
    return stack


@pytest.fixture(scope="module")
def template(stack: FirewallStack) -> assertions.Template:
    return assertions.Template.from_stack(stack)


def resources(template: assertions.Template, kind: str) -> dict[str, Any]:
    return template.find_resources(kind)


def firewall_functions(template: assertions.Template) -> dict[str, Any]:
    return {
        name: r
        for name, r in resources(template, "AWS::Lambda::Function").items()
        if r["Properties"].get("Handler") == "firewall.runtime.handler.handler"
    }


def logical_id(template: assertions.Template, kind: str, fragment: str) -> str:
    matches = [name for name in resources(template, kind) if fragment in name]
    assert len(matches) == 1, (fragment, matches)
    return matches[0]


def test_one_firewall_function_per_route_on_the_newest_arm64_python(template: assertions.Template) -> None:
    functions = firewall_functions(template)
    assert len(functions) == 3
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["ReservedConcurrentExecutions"] == 5
        env = props["Environment"]["Variables"]
        assert env["FIREWALL_MODE"] == "enforce" and env["FIREWALL_PARANOIA"] == "1"
        assert {"FIREWALL_ROUTE", "FIREWALL_TARGET", "FIREWALL_QUARANTINE_BUCKET", "FIREWALL_NOTIFY_TOPIC"} <= set(env)


def test_firewalls_may_publish_quarantine_notifications(template: assertions.Template) -> None:
    topic_id = logical_id(template, "AWS::SNS::Topic", "QuarantineNotifications")
    publishers = [name for name, s in _firewall_statements(template) if "sns:Publish" in _actions(s)]
    assert len(set(publishers)) == 3
    for _name, statement in _firewall_statements(template):
        if "sns:Publish" in _actions(statement):
            assert statement["Resource"] == {"Ref": topic_id}


def test_no_secrets_in_environment_variables(template: assertions.Template) -> None:
    for function in resources(template, "AWS::Lambda::Function").values():
        for name in function["Properties"].get("Environment", {}).get("Variables", {}):
            assert not any(word in name.upper() for word in ("SECRET", "PASSWORD", "TOKEN", "ACCESS_KEY")), name


def test_firewall_timeout_exceeds_target_timeout_plus_inspection_budget(template: assertions.Template) -> None:
    for function in firewall_functions(template).values():
        props = function["Properties"]
        budget_seconds = int(props["Environment"]["Variables"]["FIREWALL_BUDGET_MS"]) / 1000
        assert props["Timeout"] > 30 + budget_seconds  # the sample targets' timeout is 30 s
        # the function waits for the target only with this much time left
        assert props["Environment"]["Variables"]["FIREWALL_TARGET_TIMEOUT_MS"] == "30000"


def test_queue_route_reports_partial_batch_failures(template: assertions.Template) -> None:
    """The pollers stop at the function's reserved concurrency (5): a throttled batch would count
    as a receive and, five times over, send clean messages to the dead-letter queue uninspected."""
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [logical_id(template, "AWS::SQS::Queue", "Sourceorders"), "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_source_queue_hides_messages_six_firewall_timeouts_and_has_a_dlq(template: assertions.Template) -> None:
    queue = resources(template, "AWS::SQS::Queue")[logical_id(template, "AWS::SQS::Queue", "Sourceorders")]
    orders = next(
        f
        for f in firewall_functions(template).values()
        if f["Properties"]["Environment"]["Variables"]["FIREWALL_ROUTE"] == "orders"
    )
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * orders["Properties"]["Timeout"]
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5


def test_stream_route_bisects_bounds_retries_and_age_and_has_a_failure_destination(
    template: assertions.Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {
                "Fn::GetAtt": [logical_id(template, "AWS::DynamoDB::Table", "Sourceprofiles"), "StreamArn"]
            },
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 6 * 3600,  # well inside the stream's 24 h retention
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "StartingPosition": "TRIM_HORIZON",
            "DestinationConfig": {"OnFailure": {"Destination": assertions.Match.any_value()}},
        },
    )


def test_bucket_notifications_go_to_the_firewall_not_the_target(template: assertions.Template) -> None:
    notifications = resources(template, "Custom::S3BucketNotifications")
    assert len(notifications) == 1
    config = next(iter(notifications.values()))["Properties"]["NotificationConfiguration"]
    targets = [c["LambdaFunctionArn"]["Fn::GetAtt"][0] for c in config["LambdaFunctionConfigurations"]]
    assert all("Firewalluploads" in t for t in targets), targets
    assert config["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"] == [
        {"Name": "prefix", "Value": "incoming/"}
    ]
    for permission in resources(template, "AWS::Lambda::Permission").values():
        if permission["Properties"]["Principal"] == "s3.amazonaws.com":
            assert "Firewall" in json.dumps(permission["Properties"]["FunctionName"])


def test_targets_are_not_triggered_directly(template: assertions.Template) -> None:
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        assert "Firewall" in json.dumps(mapping["Properties"]["FunctionName"])


def test_asynchronous_invokes_have_an_on_failure_destination(template: assertions.Template) -> None:
    """The bucket route's firewall, and the target it invokes asynchronously: what fails after
    Lambda's retries lands in the route's failed-events queue, not nowhere."""
    configs = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    functions = {json.dumps(c["Properties"]["FunctionName"]) for c in configs}
    uploads_target = logical_id(template, "AWS::Lambda::Function", "Targetuploads")
    assert any(uploads_target in name for name in functions), functions
    assert len(functions) == len(list(configs)) >= 2
    for config in configs:
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert config["Properties"]["MaximumRetryAttempts"] == 2


def test_quarantine_bucket_is_encrypted_private_tls_only_versioned_logged_and_expiring(
    template: assertions.Template,
) -> None:
    bucket_id = logical_id(template, "AWS::S3::Bucket", "QuarantineBucket")
    props = resources(template, "AWS::S3::Bucket")[bucket_id]["Properties"]
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms" and "KMSMasterKeyID" in sse
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    assert any(rule.get("ExpirationInDays") == 90 for rule in props["LifecycleConfiguration"]["Rules"])
    policies = [
        p
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    keys = resources(template, "AWS::KMS::Key")
    assert any(k["Properties"].get("EnableKeyRotation") for k in keys.values())


def test_quarantine_bucket_is_never_an_event_source(template: assertions.Template) -> None:
    bucket_id = logical_id(template, "AWS::S3::Bucket", "QuarantineBucket")
    for notification in resources(template, "Custom::S3BucketNotifications").values():
        assert notification["Properties"]["BucketName"] != {"Ref": bucket_id}


def _firewall_statements(template: assertions.Template) -> list[tuple[str, dict[str, Any]]]:
    statements = []
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        if "Firewall" in name:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                statements.append((name, statement))
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_firewall_roles_have_no_wildcard_actions(template: assertions.Template) -> None:
    for name, statement in _firewall_statements(template):
        for action in _actions(statement):
            assert "*" not in action, (name, action)


def test_firewall_may_invoke_only_its_own_target(template: assertions.Template) -> None:
    for name, statement in _firewall_statements(template):
        if "lambda:InvokeFunction" in _actions(statement):
            route = name.split("Route")[1].split("Role")[0]
            resource = statement["Resource"]
            assert isinstance(resource, dict), resource  # one ARN, not a list with "ARN:*"
            assert f"Target{route}" in resource["Fn::GetAtt"][0]


def test_firewall_writes_but_never_reads_or_deletes_the_quarantine(template: assertions.Template) -> None:
    bucket_id = logical_id(template, "AWS::S3::Bucket", "QuarantineBucket")
    for name, statement in _firewall_statements(template):
        text = json.dumps(statement["Resource"])
        if bucket_id in text:
            assert set(_actions(statement)) <= {"s3:PutObject", "s3:PutObjectTagging"}, (name, statement)
            route = name.split("Route")[1].split("Role")[0]
            assert f"/{route}/*" in text


def test_reviewer_policy_is_separate_from_the_functions(template: assertions.Template) -> None:
    policies = resources(template, "AWS::IAM::ManagedPolicy")
    assert len(policies) == 1
    document = json.dumps(next(iter(policies.values()))["Properties"]["PolicyDocument"])
    for action in ("s3:ListBucket", "s3:GetObject", "s3:DeleteObject", "lambda:InvokeFunction", "kms:Decrypt"):
        assert action in document
    for name, statement in _firewall_statements(template):
        assert "s3:ListBucket" not in _actions(statement), name


def test_alarms_for_quarantine_errors_throttles_failed_events_and_iterator_age(template: assertions.Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    names = [a["Properties"]["MetricName"] for a in alarms if "MetricName" in a["Properties"]]
    assert names.count("RecordsQuarantined") == 3
    assert names.count("Errors") == 3 and names.count("Throttles") == 3
    assert names.count("ApproximateNumberOfMessagesVisible") == 4  # each route's failed events, the source DLQ
    source_dlq = logical_id(template, "AWS::SQS::Queue", "SourceDlqorders")
    assert any(source_dlq in json.dumps(a["Properties"].get("Dimensions", [])) for a in alarms)
    assert names.count("IteratorAge") == 1
    topic_id = logical_id(template, "AWS::SNS::Topic", "Alarms")
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    assert "KmsMasterKeyId" in resources(template, "AWS::SNS::Topic")[topic_id]["Properties"]
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_cloudwatch_may_encrypt_to_the_alarm_topic(template: assertions.Template) -> None:
    """Under the AWS-managed SNS key no alarm could publish: its key policy cannot name CloudWatch."""
    topic_id = logical_id(template, "AWS::SNS::Topic", "Alarms")
    key_ref = resources(template, "AWS::SNS::Topic")[topic_id]["Properties"]["KmsMasterKeyId"]
    assert "alias/aws/sns" not in json.dumps(key_ref)
    key = resources(template, "AWS::KMS::Key")[key_ref["Fn::GetAtt"][0]]
    granted = [
        statement
        for statement in key["Properties"]["KeyPolicy"]["Statement"]
        if statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert granted and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(_actions(granted[0]))


def test_cdk_nag_packs_find_no_unacknowledged_error_and_every_acknowledgement_has_a_reason(
    cdk_out: Path, stack: FirewallStack
) -> None:
    report = json.loads((cdk_out / "validation-report.json").read_text())
    packs = {r["pluginName"]: r for r in report["pluginReports"]}
    assert {"AwsSolutions", "Serverless"} <= set(packs)
    for pack in packs.values():
        errors = [v["ruleName"] for v in pack["violations"] if v.get("severity") == "error"]
        assert errors == [], pack["pluginName"]
        for violation in pack.get("suppressedViolations", []):
            assert len(violation.get("reason", "")) > 20, violation["ruleName"]


def test_the_packs_would_fail_without_the_acknowledgements(stack: FirewallStack) -> None:
    """Proves the check above is not vacuous: the raw packs do find the acknowledged findings."""
    assert not AwsSolutionsChecks().validate_scope(stack).success
    assert not ServerlessChecks().validate_scope(stack).success


def test_cfn_lint_reports_no_error(cdk_out: Path, stack: FirewallStack) -> None:
    from cfnlint.api import lint_all

    template = (cdk_out / "EventFirewall.template.json").read_text()
    errors = [m for m in lint_all(template) if m.rule.id.startswith("E")]
    assert errors == []
