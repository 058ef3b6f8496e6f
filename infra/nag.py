"""cdk-nag (version 3: validation plugins) and reasoned acknowledgements of its findings."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct


def add_checks(app: App) -> None:
    """AWS Solutions and Serverless rule packs; an unacknowledged error fails `app.synth()`."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


PACKS = {"AwsSolutions": "AwsSolutions", "Serverless": "Serverless", "CloudFormation": "CloudFormation-Validate"}


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one finding on `construct` (and its children), with the reason reviewers will read.

    `rule` is the rule id as cdk-nag prints it (`AwsSolutions-IAM4`), optionally with the finding
    (`AwsSolutions-IAM5[Resource::*]`); the rule pack's prefix is added here.
    """
    pack = PACKS[rule.split("-", 1)[0]]
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))


BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def arn_in_finding(construct: IConstruct, arn: str) -> str:
    """How cdk-nag prints an ARN in a finding: `<LogicalId.Arn>` for a resource of this app; for an
    imported one, its template value flattened (`arn:<AWS::Partition>:s3:::uploads`)."""
    if not Token.is_unresolved(arn):
        return arn
    child = construct.node.default_child
    if isinstance(child, CfnElement):
        return f"<{Stack.of(construct).get_logical_id(child)}.Arn>"
    return _flattened(Stack.of(construct).resolve(arn))


def _flattened(value: Any) -> str:
    """A template value as cdk-nag writes it in a finding: joins joined, `Ref` and `Fn::GetAtt` in
    angle brackets."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(map(_flattened, parts))
        if function == "Ref":
            return f"<{_flattened(argument)}>"
        if function == "Fn::GetAtt":
            return f"<{'.'.join(map(_flattened, argument))}>"
    raise ValueError(f"no finding form for the template value {value!r}")
