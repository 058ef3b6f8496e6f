"""What the deployed stack holds, read back from the local account, and what moto left undone.

Routes are found the way an operator would find them: the stack's functions whose environment
names a firewall route (`FIREWALL_ROUTE`), their event source mappings (SQS queues, DynamoDB
streams), and, for buckets, the stack's S3-notifications custom resource, whose configuration moto
cannot apply (custom resources need their Lambda code to run). `apply_template_gaps` puts that
configuration on the bucket, delivered through an SQS queue the local runner polls, and applies the
bucket versioning moto's CloudFormation ignores.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deploy import ACCOUNT, REGION, Assembly

FIREWALL_HANDLER_VARIABLE = "FIREWALL_ROUTE"
NOTIFICATIONS_TYPE = "Custom::S3BucketNotifications"
LOCAL_QUEUE_PREFIX = "local-s3-notifications-"


class AccountError(RuntimeError):
    """The deployed stack is not what the local runner can serve."""


@dataclass
class Function:
    name: str
    arn: str
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    logical_id: str
    code_dir: Path | None
    """The function's code asset in the cloud assembly (what was zipped and uploaded)."""
    log_group: str | None = None
    dead_letter_arn: str | None = None


@dataclass
class QueueSource:
    kind = "sqs"
    arn: str
    url: str
    batch_size: int
    report_failures: bool
    dead_letter_arn: str | None


@dataclass
class StreamSource:
    kind = "dynamodb"
    arn: str
    table: str
    batch_size: int
    starting_position: str
    retry_attempts: int
    bisect: bool
    max_record_age: int
    report_failures: bool
    on_failure_arn: str | None


@dataclass
class BucketSource:
    kind = "s3"
    bucket: str
    configuration: dict[str, Any]
    """The LambdaFunctionConfiguration from the template (events, key filter)."""
    retry_attempts: int
    on_failure_arn: str | None
    queue_url: str = ""
    queue_arn: str = ""

    @property
    def prefix(self) -> str:
        return self._filter("prefix")

    @property
    def suffix(self) -> str:
        return self._filter("suffix")

    def _filter(self, name: str) -> str:
        rules = self.configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        return next((str(r["Value"]) for r in rules if str(r.get("Name", "")).lower() == name), "")


Source = QueueSource | StreamSource | BucketSource


@dataclass
class Route:
    name: str
    function: Function
    target: Function
    source: Source
    quarantine_bucket: str

    @property
    def failure_queues(self) -> list[str]:
        """ARNs where failed events would wait: on-failure destinations and dead-letter queues."""
        arns = [self.function.dead_letter_arn]
        if isinstance(self.source, QueueSource):
            arns.append(self.source.dead_letter_arn)
        else:
            arns.append(self.source.on_failure_arn)
        return sorted({a for a in arns if a})


@dataclass
class Deployment:
    stack_name: str
    routes: list[Route]
    skipped: Counter[str] = field(default_factory=Counter)
    """Resource types in the template that moto's CloudFormation did not create, with counts."""
    applied: list[str] = field(default_factory=list)
    """What the runner applied in moto's place."""

    @property
    def quarantine_buckets(self) -> list[str]:
        return sorted({r.quarantine_bucket for r in self.routes})


class StackReader:
    """Resolves the template's references against the stack's physical resources."""

    def __init__(self, clients: Any, assembly: Assembly) -> None:
        self.clients = clients
        self.assembly = assembly
        self.resources: dict[str, dict[str, Any]] = assembly.template.get("Resources", {})
        self.physical: dict[str, str] = {}
        self.listed: set[str] = set()
        paginator = clients.cloudformation.get_paginator("list_stack_resources")
        for page in paginator.paginate(StackName=assembly.stack_name):
            for summary in page["StackResourceSummaries"]:
                self.listed.add(summary.get("LogicalResourceId", ""))
                if summary.get("LogicalResourceId") and summary.get("PhysicalResourceId"):
                    self.physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]

    def skipped(self) -> Counter[str]:
        """Types moto's CloudFormation does not support (it lists them without a logical id)."""
        return Counter(r["Type"] for logical, r in self.resources.items() if logical not in self.listed)

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(logical, r) for logical, r in self.resources.items() if r.get("Type") == kind]

    def logical_of(self, value: Any) -> str | None:
        if isinstance(value, dict):
            if "Ref" in value:
                return str(value["Ref"])
            if "Fn::GetAtt" in value:
                return str(value["Fn::GetAtt"][0])
        return None

    def arn(self, value: Any) -> str | None:
        """`Ref` or `Fn::GetAtt [X, Arn]` of a function, queue or bucket; a plain ARN string as is."""
        if isinstance(value, str):
            return value
        logical = self.logical_of(value)
        if logical is None or logical not in self.physical:
            return None
        physical = self.physical[logical]
        kind = self.resources.get(logical, {}).get("Type")
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        if kind == "AWS::SQS::Queue":
            attributes = self.clients.sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])
            return str(attributes["Attributes"]["QueueArn"])
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{physical}"
        return physical if physical.startswith("arn:") else None

    def function(self, name_or_arn: str) -> Function:
        name = name_or_arn.split(":")[6] if name_or_arn.startswith("arn:") else name_or_arn
        config = self.clients.lambda_.get_function_configuration(FunctionName=name)
        logical = next((lid for lid, pid in self.physical.items() if pid == name), "")
        properties = self.resources.get(logical, {}).get("Properties", {})
        code_key = properties.get("Code", {}).get("S3Key")
        code_dir = None
        if isinstance(code_key, str) and code_key.endswith(".zip"):
            code_dir = self.assembly.asset_directory(code_key.removesuffix(".zip"))
        log_group = None
        group_logical = self.logical_of(properties.get("LoggingConfig", {}).get("LogGroup"))
        if group_logical:
            log_group = self.physical.get(group_logical)
        dead_letter = config.get("DeadLetterConfig", {}).get("TargetArn") or self.arn(
            properties.get("DeadLetterConfig", {}).get("TargetArn")
        )
        return Function(
            name=config["FunctionName"],
            arn=config["FunctionArn"],
            handler=config.get("Handler", ""),
            timeout=int(config.get("Timeout", 3)),
            memory=int(config.get("MemorySize", 128)),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            logical_id=logical,
            code_dir=code_dir,
            log_group=log_group,
            dead_letter_arn=dead_letter,
        )


def discover(clients: Any, assembly: Assembly) -> Deployment:
    reader = StackReader(clients, assembly)
    routes = []
    for logical, _resource in reader.of_type("AWS::Lambda::Function"):
        physical = reader.physical.get(logical)
        if physical is None:
            continue
        function = reader.function(physical)
        route = function.environment.get(FIREWALL_HANDLER_VARIABLE)
        if not route:
            continue
        try:
            target = reader.function(function.environment["FIREWALL_TARGET"])
            source = _source(reader, function)
        except AccountError:
            raise
        except Exception as exc:  # an existing (external) resource the local account does not have
            raise AccountError(f"route {route}: {type(exc).__name__}: {str(exc)[:300]}") from exc
        routes.append(
            Route(
                name=route,
                function=function,
                target=target,
                source=source,
                quarantine_bucket=function.environment["FIREWALL_QUARANTINE_BUCKET"],
            )
        )
    if not routes:
        raise AccountError(f"stack {assembly.stack_name} has no firewall function (none sets FIREWALL_ROUTE)")
    routes.sort(key=lambda r: r.name)
    return Deployment(assembly.stack_name, routes, reader.skipped())


def _source(reader: StackReader, function: Function) -> Source:
    clients = reader.clients
    mappings = clients.lambda_.list_event_source_mappings(FunctionName=function.name)["EventSourceMappings"]
    for mapping in mappings:
        arn = mapping["EventSourceArn"]
        responses = mapping.get("FunctionResponseTypes", [])
        if arn.startswith("arn:aws:sqs:"):
            url = clients.sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
            attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
            redrive = attributes.get("Attributes", {}).get("RedrivePolicy")
            return QueueSource(
                arn=arn,
                url=url,
                batch_size=int(mapping.get("BatchSize", 10)),
                report_failures="ReportBatchItemFailures" in responses,
                dead_letter_arn=json.loads(redrive)["deadLetterTargetArn"] if redrive else None,
            )
        if ":dynamodb:" in arn and "/stream/" in arn:
            return StreamSource(
                arn=arn,
                table=arn.split(":table/", 1)[1].split("/stream/", 1)[0],
                batch_size=int(mapping.get("BatchSize", 100)),
                starting_position=str(mapping.get("StartingPosition", "TRIM_HORIZON")),
                retry_attempts=int(mapping.get("MaximumRetryAttempts", -1)),
                bisect=bool(mapping.get("BisectBatchOnFunctionError", False)),
                max_record_age=int(mapping.get("MaximumRecordAgeInSeconds", -1)),
                report_failures="ReportBatchItemFailures" in responses,
                on_failure_arn=mapping.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
            )
        raise AccountError(f"{function.name}: event source {arn} is not one the local runner polls")
    for _logical, resource in reader.of_type(NOTIFICATIONS_TYPE):
        properties = resource.get("Properties", {})
        for configuration in properties.get("NotificationConfiguration", {}).get("LambdaFunctionConfigurations", []):
            if reader.logical_of(configuration.get("LambdaFunctionArn")) != function.logical_id:
                continue
            bucket_logical = reader.logical_of(properties.get("BucketName"))
            bucket = reader.physical.get(bucket_logical or "") if bucket_logical else properties.get("BucketName")
            if not isinstance(bucket, str):
                raise AccountError(f"{function.name}: the notification's bucket is not in the stack")
            retries, on_failure = _async_config(reader, function)
            return BucketSource(bucket, configuration, retries, on_failure)
    raise AccountError(f"{function.name}: no event source mapping or bucket notification feeds it")


def _async_config(reader: StackReader, function: Function) -> tuple[int, str | None]:
    """Retries and on-failure destination of asynchronous invocations (AWS::Lambda::EventInvokeConfig,
    which moto's CloudFormation skips: read from the template). Lambda's defaults: 2, none."""
    for _logical, resource in reader.of_type("AWS::Lambda::EventInvokeConfig"):
        properties = resource.get("Properties", {})
        if reader.logical_of(properties.get("FunctionName")) == function.logical_id:
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            return int(properties.get("MaximumRetryAttempts", 2)), reader.arn(destination)
    return 2, function.dead_letter_arn


def apply_template_gaps(clients: Any, assembly: Assembly, deployment: Deployment) -> None:
    """Does what moto's CloudFormation left undone and the runner needs (see the module docstring)."""
    for route in deployment.routes:
        source = route.source
        if not isinstance(source, BucketSource):
            continue
        queue = LOCAL_QUEUE_PREFIX + route.name
        source.queue_url = clients.sqs.create_queue(QueueName=queue)["QueueUrl"]
        attributes = clients.sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["QueueArn"])
        source.queue_arn = attributes["Attributes"]["QueueArn"]
        existing = clients.s3.get_bucket_notification_configuration(Bucket=source.bucket)
        queues = [q for q in existing.get("QueueConfigurations", []) if q.get("QueueArn") != source.queue_arn]
        entry: dict[str, Any] = {"QueueArn": source.queue_arn, "Events": source.configuration["Events"]}
        if "Filter" in source.configuration:
            entry["Filter"] = source.configuration["Filter"]
        clients.s3.put_bucket_notification_configuration(
            Bucket=source.bucket,
            NotificationConfiguration={
                "QueueConfigurations": [*queues, entry],
                **{k: existing[k] for k in ("TopicConfigurations", "LambdaFunctionConfigurations") if existing.get(k)},
            },
        )
        deployment.applied.append(
            f"{NOTIFICATIONS_TYPE} on {source.bucket}: {', '.join(source.configuration['Events'])}"
            f"{' under ' + source.prefix if source.prefix else ''} -> queue {queue} -> {route.function.name}"
        )
    reader = StackReader(clients, assembly)
    for logical, resource in reader.of_type("AWS::S3::Bucket"):
        status = resource.get("Properties", {}).get("VersioningConfiguration", {}).get("Status")
        bucket = reader.physical.get(logical)
        if status != "Enabled" or bucket is None:
            continue
        if clients.s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
            clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            deployment.applied.append(f"VersioningConfiguration of {bucket}")
