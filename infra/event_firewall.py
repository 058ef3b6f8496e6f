"""EventFirewall: puts an inspection function between event sources and the function they used to
trigger. One inspection function per protected source, each allowed to read only its source,
invoke only its target and write only its own quarantine prefix."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IValidation

from firewall.engine.model import MODES, ON_ERROR_POLICIES

from .bundling import PROJECT_ROOT, firewall_code
from .nag import acknowledge, arn_in_finding
from .quarantine_bucket import QuarantineBucket
from .signature_check import validate_signatures

METRIC_NAMESPACE = "EventFirewall"
HANDLER = "firewall.runtime.handler.handler"


@dataclass(frozen=True)
class InspectionOptions:
    """How a route inspects: mode, paranoia, policies, limits (see DESIGN.md's settings table)."""

    mode: str = "enforce"
    paranoia: int = 1
    on_error: str = "quarantine"
    on_oversize: str = "quarantine"
    max_bytes: int = 1_048_576
    budget: Duration = Duration.seconds(2)
    include_old_image: bool = False
    inspect_object_metadata: bool = False
    exclusions: tuple[tuple[str, str | None], ...] = ()
    """(signature id, field path glob or None for every field): reviewed false positives."""

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.on_error not in ON_ERROR_POLICIES or self.on_oversize not in ON_ERROR_POLICIES:
            raise ValueError(f"on_error and on_oversize must be one of {ON_ERROR_POLICIES}")
        if self.paranoia not in (1, 2, 3, 4):
            raise ValueError(f"paranoia must be 1..4, got {self.paranoia!r}")


def firewall_timeout_seconds(target_seconds: int, budget_ms: int, batch_size: int) -> int:
    """The inspection function's timeout: the target's, every record of a batch using its whole
    inspection budget (a table's batch is 100 records by default), and 5 s more; at most Lambda's
    900 s, where the runtime's time guard takes over."""
    return min(900, target_seconds + -(-budget_ms * max(1, batch_size) // 1000) + 5)


class InspectionFunction(Construct):
    """One route's firewall function. Attributes: `function`, `role`, `dead_letter_queue`, `route`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: str,
        target: lambda_.IFunction,
        target_timeout: Duration,
        quarantine: QuarantineBucket,
        options: InspectionOptions,
        batch_size: int,
        reserved_concurrency: int | None,
        memory_size: int,
        code: lambda_.Code,
        notification_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.route = route
        self.target = target
        target_seconds, budget_ms = int(target_timeout.to_seconds()), int(options.budget.to_milliseconds())
        self.timeout = Duration.seconds(firewall_timeout_seconds(target_seconds, budget_ms, batch_size))
        self.dead_letter_queue = sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(self.dead_letter_queue, rule, "This queue is itself the dead-letter destination")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Event firewall route {route}: read its source, invoke its target, write its quarantine",
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.ONE_YEAR)
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"Event firewall for route {route}",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=code,
            memory_size=memory_size,
            timeout=self.timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=self.dead_letter_queue,
            environment={
                "FIREWALL_ROUTE": route,
                "FIREWALL_TARGET": target.function_arn,
                "FIREWALL_QUARANTINE_BUCKET": quarantine.bucket.bucket_name,
                "FIREWALL_QUARANTINE_KMS_KEY": quarantine.key.key_arn,
                "FIREWALL_MODE": options.mode,
                "FIREWALL_PARANOIA": str(options.paranoia),
                "FIREWALL_ON_ERROR": options.on_error,
                "FIREWALL_ON_OVERSIZE": options.on_oversize,
                "FIREWALL_MAX_BYTES": str(options.max_bytes),
                "FIREWALL_BUDGET_MS": str(int(options.budget.to_milliseconds())),
                "FIREWALL_TARGET_TIMEOUT_MS": str(int(target_timeout.to_milliseconds())),
                "FIREWALL_INCLUDE_OLD_IMAGE": str(options.include_old_image).lower(),
                "FIREWALL_INSPECT_OBJECT_METADATA": str(options.inspect_object_metadata).lower(),
                **({"FIREWALL_NOTIFY_TOPIC": notification_topic.topic_arn} if notification_topic else {}),
                **(
                    {"FIREWALL_EXCLUSIONS": json.dumps([{"signature": s, "path": p} for s, p in options.exclusions])}
                    if options.exclusions
                    else {}
                ),
            },
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(sid="InvokeTarget", actions=["lambda:InvokeFunction"], resources=[target.function_arn])
        )
        quarantine.grant_write(self.role, route)
        if notification_topic is not None:
            # Publish only: the topic uses the AWS-managed SNS key, whose key policy already admits
            # publishers of this account through SNS, so no KMS statement (with its key/* wildcard).
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="NotifyQuarantine", actions=["sns:Publish"], resources=[notification_topic.topic_arn]
                )
            )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(quarantine.bucket, quarantine.bucket.bucket_arn)}/{route}/*]",
            "Write-only access to this route's quarantine prefix: object keys are record ids, unknown in advance",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords (and DynamoDB's ListStreams) have no resource-level "
            "permissions",
        )


class EventFirewall(Construct):
    """Protects one target function: `protect_queue`, `protect_bucket` and `protect_table` each put
    an inspection function in front of it for one source.

    Attributes: `target`, `quarantine` (created unless given), `alarm_topic` (created unless
    given), `routes` (the InspectionFunctions made so far).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: lambda_.IFunction,
        quarantine: QuarantineBucket | None = None,
        alarm_topic: sns.ITopic | None = None,
        notification_topic: sns.ITopic | None = None,
        options: InspectionOptions | None = None,
        target_timeout: Duration | None = None,
        reserved_concurrency: int | None = 5,
        memory_size: int = 1024,
        signatures: str | Path | None = None,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options or InspectionOptions()
        self.options.validate()
        self.target = target
        self.quarantine = quarantine or QuarantineBucket(self, "Quarantine")
        self.alarm_topic = alarm_topic or _encrypted_topic(self, "Alarms", "Event firewall alarms", for_alarms=True)
        self.notification_topic = notification_topic
        """Told of each quarantined record (no payload); None: no notifications, alarms only."""
        self.target_timeout = target_timeout or _timeout_of(target)
        self.reserved_concurrency = reserved_concurrency
        self.memory_size = memory_size
        signature_dir = Path(signatures) if signatures else PROJECT_ROOT / "signatures"
        validate_signatures(signature_dir.resolve())
        self.code = code or firewall_code(signature_dir)
        self.routes: list[InspectionFunction] = []
        self._protected: list[str] = []
        self._buckets: list[s3.IBucket] = []
        self.node.add_validation(_NoDirectTrigger(self))

    # -- sources -----------------------------------------------------------------------------

    def _route(self, route: str | None, default: str, batch_size: int) -> InspectionFunction:
        name = route or f"{self.node.id}-{default}".lower()
        inspection = InspectionFunction(
            self,
            f"Route-{name}",
            route=name,
            target=self.target,
            target_timeout=self.target_timeout,
            quarantine=self.quarantine,
            options=self.options,
            batch_size=batch_size,
            reserved_concurrency=self.reserved_concurrency,
            memory_size=self.memory_size,
            code=self.code,
            notification_topic=self.notification_topic,
        )
        self.routes.append(inspection)
        self._alarm(inspection, "Errors", inspection.function.metric_errors(period=Duration.minutes(5)))
        self._alarm(inspection, "Throttles", inspection.function.metric_throttles(period=Duration.minutes(5)))
        self._alarm(inspection, "Quarantined", self.metric_quarantined(route=name))
        self._alarm(
            inspection,
            "FailedEventsWaiting",
            inspection.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
        )
        return inspection

    def protect_queue(
        self,
        queue: sqs.IQueue,
        *,
        route: str | None = None,
        batch_size: int = 10,
        max_batching_window: Duration = Duration.seconds(1),
    ) -> InspectionFunction:
        """SQS: partial batch responses, so one bad message never fails or loses the others.
        The queue needs a visibility timeout of at least six times the firewall's timeout and a
        redrive policy (a DLQ); queues created by `source_queue` have both."""
        inspection = self._route(route, "queue", batch_size)
        acknowledge(
            inspection.function,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings take no on-failure destination: failed messages return to the queue "
            "and its redrive policy moves them to the queue's dead-letter queue",
        )
        inspection.function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=batch_size,
                max_batching_window=max_batching_window
                if batch_size > 10 or max_batching_window.to_seconds()
                else None,
                report_batch_item_failures=True,
                # the pollers stop at the function's reserved concurrency: throttled batches would
                # count as receives and send clean messages to the dead-letter queue uninspected
                max_concurrency=max(2, self.reserved_concurrency) if self.reserved_concurrency else None,
            )
        )
        self._protected.append(queue.queue_arn)
        if isinstance(queue, sqs.Queue):
            self.node.add_validation(_VisibilityTimeout(queue, inspection))
            if queue.dead_letter_queue is not None:
                self._alarm(
                    inspection,
                    "SourceDeadLetters",
                    queue.dead_letter_queue.queue.metric_approximate_number_of_messages_visible(
                        period=Duration.minutes(5)
                    ),
                )
        return inspection

    def protect_bucket(
        self,
        bucket: s3.IBucket,
        *,
        route: str | None = None,
        prefix: str | None = None,
        suffix: str | None = None,
    ) -> InspectionFunction:
        """S3: object-created notifications go to the firewall (never to the target), which reads
        the object (ranged, capped) and forwards the notification asynchronously."""
        if isinstance(bucket, s3.Bucket) and bucket.node.path == self.quarantine.bucket.node.path:
            raise ValueError("the quarantine bucket can never be a protected source")
        inspection = self._route(route, "bucket", 1)
        object_pattern = f"{prefix or ''}*"
        actions = ["s3:GetObject", "s3:GetObjectVersion"]
        if self.options.inspect_object_metadata:
            actions += ["s3:GetObjectTagging", "s3:GetObjectVersionTagging"]
        inspection.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadSourceObjects", actions=actions, resources=[bucket.arn_for_objects(object_pattern)]
            )
        )
        acknowledge(
            inspection.role,
            f"AwsSolutions-IAM5[Resource::{arn_in_finding(bucket, bucket.bucket_arn)}/{object_pattern}]",
            "Reads objects under the protected prefix of the source bucket only: keys are unknown in advance",
        )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant_decrypt(inspection.role)
        key_filter = s3.NotificationKeyFilter(prefix=prefix, suffix=suffix) if prefix or suffix else None
        filters = [key_filter] if key_filter else []
        bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(inspection.function), *filters)
        inspection.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(inspection.dead_letter_queue),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        self._catch_target_failures(inspection)
        self._protected.append(bucket.bucket_arn)
        self._buckets.append(bucket)
        return inspection

    def _catch_target_failures(self, inspection: InspectionFunction) -> None:
        """A bucket route forwards to its target asynchronously: what the target then fails after
        Lambda's retries must land somewhere, as it would have without the firewall. A target this
        app defines gets the route's failed-events queue as its on-failure destination (unless it
        has its own); an existing one is the owner's to configure (README)."""
        target = self.target
        if isinstance(target, lambda_.Function) and target.node.try_find_child("EventInvokeConfig") is None:
            target.configure_async_invoke(
                on_failure=destinations.SqsDestination(inspection.dead_letter_queue),
                retry_attempts=2,
                max_event_age=Duration.hours(6),
            )

    def protect_table(
        self,
        table: dynamodb.ITable,
        *,
        route: str | None = None,
        batch_size: int = 100,
        retry_attempts: int = 3,
        max_record_age: Duration = Duration.hours(6),
        max_batching_window: Duration = Duration.seconds(1),
    ) -> InspectionFunction:
        """DynamoDB streams: in order; the first failed record is reported by sequence number,
        batches are bisected on error, retries and record age are bounded, and what still fails
        goes to the route's on-failure queue. That queue gets where the records were, not the
        records: the default age (6 h) leaves most of the stream's 24 hours to fetch them."""
        if table.table_stream_arn is None:
            raise ValueError("the table has no stream: enable one (NEW_IMAGE or NEW_AND_OLD_IMAGES)")
        inspection = self._route(route, "table", batch_size)
        inspection.function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=batch_size,
                bisect_batch_on_error=True,
                retry_attempts=retry_attempts,
                max_record_age=max_record_age,
                max_batching_window=max_batching_window,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(inspection.dead_letter_queue),
                parallelization_factor=1,
            )
        )
        self._alarm(
            inspection,
            "IteratorAge",
            inspection.function.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(5)),
            threshold=60_000,
        )
        self._protected.append(table.table_stream_arn)
        return inspection

    # -- metrics, alarms and review ----------------------------------------------------------

    def metric(self, name: str, *, route: str | None = None, statistic: str = "Sum", **props: Any) -> cloudwatch.Metric:
        """A firewall metric (EMF, namespace EventFirewall) for one route, or the first route."""
        route_name = route or (self.routes[0].route if self.routes else self.node.id.lower())
        return cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=name,
            dimensions_map={"Route": route_name},
            statistic=statistic,
            period=props.pop("period", Duration.minutes(5)),
            **props,
        )

    def metric_inspected(self, **props: Any) -> cloudwatch.Metric:
        return self.metric("RecordsInspected", **props)

    def metric_forwarded(self, **props: Any) -> cloudwatch.Metric:
        return self.metric("RecordsForwarded", **props)

    def metric_quarantined(self, **props: Any) -> cloudwatch.Metric:
        return self.metric("RecordsQuarantined", **props)

    def metric_failed(self, **props: Any) -> cloudwatch.Metric:
        return self.metric("RecordsFailed", **props)

    def grant_review(self, grantee: iam.IGrantable) -> None:
        """Read, release (invoke the target) and delete quarantined records. Releasing an S3 record
        first checks that the object version still exists, hence read access to protected buckets."""
        self.quarantine.grant_review(grantee)
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.target.function_arn])
        )
        if self._buckets:
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[bucket.arn_for_objects("*") for bucket in self._buckets],
                )
            )

    def _alarm(
        self, inspection: InspectionFunction, name: str, metric: cloudwatch.IMetric, threshold: float = 1
    ) -> None:
        alarm = cloudwatch.Alarm(
            inspection,
            f"{name}Alarm",
            alarm_description=f"Event firewall route {inspection.route}: {name}",
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.alarm_topic))


def _encrypted_topic(
    scope: Construct, construct_id: str, display_name: str, *, for_alarms: bool = False
) -> sns.Topic:
    """An SNS topic encrypted at rest. CloudWatch cannot publish to a topic under the AWS-managed
    key (its policy cannot name cloudwatch.amazonaws.com): an alarm topic gets a key of its own
    that lets CloudWatch encrypt, or every alarm would fail to notify without a word."""
    if for_alarms:
        key = kms.Key(
            scope,
            f"{construct_id}Key",
            description=f"{display_name}: lets CloudWatch alarms publish to the encrypted topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        master_key: kms.IKey = key
    else:
        master_key = kms.Alias.from_alias_name(scope, f"{construct_id}Key", "alias/aws/sns")
    return sns.Topic(scope, construct_id, display_name=display_name, master_key=master_key, enforce_ssl=True)


def _timeout_of(target: lambda_.IFunction) -> Duration:
    """The target's own timeout when this app defines it; 30 s (a common setting) otherwise."""
    child = target.node.default_child
    timeout = getattr(child, "timeout", None) if isinstance(child, lambda_.CfnFunction) else None
    if isinstance(timeout, int | float) and not Token.is_unresolved(timeout):
        return Duration.seconds(timeout)
    if isinstance(child, lambda_.CfnFunction):
        return Duration.seconds(3)
    return Duration.seconds(30)


@jsii.implements(IValidation)
class _VisibilityTimeout:
    """A queue must hide a message longer than six firewall timeouts, or a slow batch is delivered
    twice while still being processed (AWS's own recommendation for Lambda event sources)."""

    def __init__(self, queue: sqs.Queue, inspection: InspectionFunction) -> None:
        self.queue = queue
        self.inspection = inspection

    def validate(self) -> list[str]:
        child = self.queue.node.default_child
        visibility = getattr(child, "visibility_timeout", None) or 30
        needed = 6 * int(self.inspection.timeout.to_seconds())
        if isinstance(visibility, int) and visibility < needed:
            return [
                f"queue {self.queue.node.path}: visibility timeout {visibility}s is below {needed}s "
                f"(six times the firewall's timeout of {self.inspection.timeout.to_seconds():.0f}s)"
            ]
        return []


@jsii.implements(IValidation)
class _NoDirectTrigger:
    """The target must no longer be triggered by a protected source, or events bypass the firewall."""

    def __init__(self, firewall: EventFirewall) -> None:
        self.firewall = firewall

    def validate(self) -> list[str]:
        stack = Stack.of(self.firewall)
        target = self.firewall.target
        target_path = target.node.path
        target_refs = [stack.resolve(target.function_name), stack.resolve(target.function_arn)]
        protected = [stack.resolve(arn) for arn in self.firewall._protected]
        errors = []
        for construct in stack.node.find_all():
            if isinstance(construct, lambda_.CfnEventSourceMapping):
                function, source = stack.resolve(construct.function_name), stack.resolve(construct.event_source_arn)
            elif isinstance(construct, lambda_.CfnPermission) and construct.principal == "s3.amazonaws.com":
                # a bucket notification to the target grants S3 this permission on it
                function, source = stack.resolve(construct.function_name), stack.resolve(construct.source_arn)
            else:
                continue
            if function in target_refs and source in protected:
                where = construct.node.path
                errors.append(f"{target_path} is still triggered directly by a protected source ({where})")
        return errors
