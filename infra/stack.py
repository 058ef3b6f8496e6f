"""The stack `app.py` builds from firewall.yaml: sources, sample targets, one EventFirewall per route,
a shared quarantine bucket, alarm topic, dashboard and reviewer policy."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .bundling import PROJECT_ROOT, firewall_code
from .config import FirewallConfig, Route
from .event_firewall import (
    EventFirewall,
    InspectionFunction,
    InspectionOptions,
    _encrypted_topic,
    firewall_timeout_seconds,
)
from .nag import BASIC_EXECUTION_ROLE, acknowledge, arn_in_finding
from .quarantine_bucket import QuarantineBucket

SAMPLE_CODE = PROJECT_ROOT / "samples" / "targets"


class FirewallStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, config: FirewallConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        lock = Duration.days(config.object_lock_days) if config.object_lock_days else None
        self.quarantine = QuarantineBucket(
            self, "Quarantine", retention=Duration.days(config.retention_days), object_lock_retention=lock
        )
        acknowledge(
            self.quarantine.access_logs,
            "AwsSolutions-S1",
            "This is the server access log bucket; logging it to itself would loop",
        )
        self.alarm_topic = self._alarm_topic()
        self.notification_topic = _encrypted_topic(self, "QuarantineNotifications", "Event firewall quarantine notices")
        if config.alarm_email:
            self.notification_topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.reviewer_policy = iam.ManagedPolicy(
            self, "QuarantineReviewer", description="Review, release and delete quarantined event records"
        )
        self.code = firewall_code()
        """One bundle serves every route's function."""
        self.firewalls: dict[str, EventFirewall] = {}
        self.source_buckets: list[s3.IBucket] = []
        self.inspections: dict[str, InspectionFunction] = {}
        for route in config.routes:
            self._add_route(route)
        quarantine_arn = arn_in_finding(self.quarantine.bucket, self.quarantine.bucket.bucket_arn)
        acknowledge(
            self.reviewer_policy,
            f"AwsSolutions-IAM5[Resource::{quarantine_arn}/*]",
            "Reviewers act on any quarantined record: the bucket's objects are the unit of review",
        )
        for bucket in self.source_buckets:
            acknowledge(
                self.reviewer_policy,
                f"AwsSolutions-IAM5[Resource::{arn_in_finding(bucket, bucket.bucket_arn)}/*]",
                "Releasing an S3 record first reads the object version it names, which can be any key",
            )
        self._dashboard()
        self._acknowledge_cdk_helpers()
        CfnOutput(self, "QuarantineBucketName", value=self.quarantine.bucket.bucket_name)
        CfnOutput(self, "ReviewerPolicyArn", value=self.reviewer_policy.managed_policy_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
        CfnOutput(self, "NotificationTopicArn", value=self.notification_topic.topic_arn)

    def _acknowledge_cdk_helpers(self) -> None:
        """CDK's own helper function that applies S3 notification configurations at deploy time."""
        for child in self.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                acknowledge(
                    child, f"AwsSolutions-IAM4[{BASIC_EXECUTION_ROLE}]", "CDK's S3 notification helper (basic role)"
                )

    def _alarm_topic(self) -> sns.ITopic:
        if self.config.alarm_topic_arn:
            return sns.Topic.from_topic_arn(self, "Alarms", self.config.alarm_topic_arn)
        topic = _encrypted_topic(self, "Alarms", "Event firewall alarms", for_alarms=True)
        if self.config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.config.alarm_email))
        return topic

    def _add_route(self, route: Route) -> None:
        s = route.settings
        target = self._target(route)
        firewall = EventFirewall(
            self,
            f"Firewall-{route.name}",
            target=target,
            quarantine=self.quarantine,
            alarm_topic=self.alarm_topic,
            notification_topic=self.notification_topic,
            options=InspectionOptions(
                mode=s.mode,
                paranoia=s.paranoia,
                on_error=s.on_error,
                on_oversize=s.on_oversize,
                max_bytes=s.max_bytes,
                budget=Duration.millis(s.budget_ms),
                include_old_image=s.include_old_image,
                inspect_object_metadata=s.inspect_object_metadata,
                exclusions=tuple((e.signature, e.path) for e in route.exclusions),
            ),
            target_timeout=None if route.target.sample else Duration.seconds(s.target_timeout_seconds),
            reserved_concurrency=s.reserved_concurrency,
            memory_size=s.memory_mb,
            code=self.code,
        )
        source = route.source
        if source.kind == "queue":
            inspection = firewall.protect_queue(
                self._queue(route),
                route=route.name,
                batch_size=s.batch_size,
                max_batching_window=Duration.seconds(s.batching_window_seconds),
            )
        elif source.kind == "bucket":
            bucket = self._bucket(route)
            self.source_buckets.append(bucket)
            inspection = firewall.protect_bucket(
                bucket, route=route.name, prefix=source.prefix or None, suffix=source.suffix or None
            )
        else:
            inspection = firewall.protect_table(
                self._table(route),
                route=route.name,
                batch_size=s.batch_size,
                retry_attempts=s.retry_attempts,
                max_record_age=Duration.hours(s.max_record_age_hours),
                max_batching_window=Duration.seconds(s.batching_window_seconds),
            )
        firewall.grant_review(self.reviewer_policy)
        self.firewalls[route.name] = firewall
        self.inspections[route.name] = inspection
        CfnOutput(self, f"Route{_camel(route.name)}Function", value=inspection.function.function_name)

    # -- targets and sources -----------------------------------------------------------------

    def _target(self, route: Route) -> lambda_.IFunction:
        if route.target.function:
            ref = route.target.function
            if ref.startswith("arn:"):
                return lambda_.Function.from_function_arn(self, f"Target-{route.name}", ref)
            return lambda_.Function.from_function_name(self, f"Target-{route.name}", ref)
        sample = route.target.sample or ""
        group = _log_group(self, f"TargetLogs-{route.name}")
        function = lambda_.Function(
            self,
            f"Target-{route.name}",
            description=f"Sample target for route {route.name} ({sample})",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{sample}.handler",
            code=lambda_.Code.from_asset(str(SAMPLE_CODE)),
            timeout=Duration.seconds(30),
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=group,
            reserved_concurrent_executions=None,
        )
        acknowledge(
            function, f"AwsSolutions-IAM4[{BASIC_EXECUTION_ROLE}]", "Sample target: the basic execution role is enough"
        )
        acknowledge(
            function, "AwsSolutions-IAM5[Resource::*]", "Sample target: X-Ray permissions have no resource scope"
        )
        acknowledge(
            function,
            "Serverless-LambdaDLQ",
            "Invoked by the firewall: synchronously for queues and streams (the firewall reports failures"
            " back to the source); asynchronously for buckets, with an on-failure destination",
        )
        acknowledge(function, "Serverless-LambdaDefaultMemorySize", "Sample target: memory set explicitly to 256 MB")
        return function

    def _queue(self, route: Route) -> sqs.IQueue:
        existing = route.source.existing
        if existing:
            arn = existing if existing.startswith("arn:") else self.format_arn(service="sqs", resource=existing)
            return sqs.Queue.from_queue_attributes(
                self, f"Source-{route.name}", queue_arn=arn, key_arn=route.source.kms_key
            )
        timeout = 6 * self._firewall_timeout(route)
        dlq = sqs.Queue(
            self,
            f"SourceDlq-{route.name}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(dlq, rule, "This queue is the source queue's dead-letter queue")
        return sqs.Queue(
            self,
            f"Source-{route.name}",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(timeout),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
        )

    def _source_key(self, route: Route) -> kms.IKey | None:
        """An existing source's customer-managed key: the source's grants to the firewall then
        include decrypting with it (`kms:Decrypt` on that key only)."""
        if route.source.kms_key is None:
            return None
        return kms.Key.from_key_arn(self, f"SourceKey-{route.name}", route.source.kms_key)

    def _firewall_timeout(self, route: Route) -> int:
        s = route.settings
        target = 30 if route.target.sample else s.target_timeout_seconds
        return firewall_timeout_seconds(target, s.budget_ms, s.batch_size)

    def _bucket(self, route: Route) -> s3.IBucket:
        if route.source.existing:
            return s3.Bucket.from_bucket_attributes(
                self, f"Source-{route.name}", bucket_name=route.source.existing, encryption_key=self._source_key(route)
            )
        return s3.Bucket(
            self,
            f"Source-{route.name}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.quarantine.access_logs,
            server_access_logs_prefix=f"source-{route.name}/",
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _table(self, route: Route) -> dynamodb.ITable:
        if route.source.existing:
            return dynamodb.Table.from_table_attributes(
                self,
                f"Source-{route.name}",
                table_name=route.source.existing,
                table_stream_arn=route.source.stream_arn,
                encryption_key=self._source_key(route),
            )
        return dynamodb.Table(
            self,
            f"Source-{route.name}",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _dashboard(self) -> None:
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{self.stack_name}-firewall")
        for name, firewall in self.firewalls.items():
            inspection = self.inspections[name]
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{name}: records",
                    left=[
                        firewall.metric_inspected(route=name),
                        firewall.metric_forwarded(route=name),
                        firewall.metric_quarantined(route=name),
                        firewall.metric_failed(route=name),
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title=f"{name}: function",
                    left=[inspection.function.metric_errors(), inspection.function.metric_throttles()],
                    right=[inspection.function.metric_duration(statistic="p99")],
                    width=12,
                ),
            )


def _log_group(scope: Construct, construct_id: str) -> logs.LogGroup:
    return logs.LogGroup(scope, construct_id, retention=logs.RetentionDays.ONE_MONTH)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
