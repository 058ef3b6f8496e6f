"""QuarantineBucket: where malicious records wait for review. Encrypted with its own KMS key,
private, TLS only, versioned, access-logged, expiring, optionally WORM; never an event source."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


class QuarantineBucket(Construct):
    """Attributes: `bucket`, `key` (KMS), `access_logs` (the server access log bucket)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention: Duration = Duration.days(90),
        object_lock_retention: Duration | None = None,
        access_logs: s3.IBucket | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts quarantined event records",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.access_logs = access_logs or s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=removal_policy,
        )
        lock = s3.ObjectLockRetention.governance(object_lock_retention) if object_lock_retention is not None else None
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="quarantine/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=retention,
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            object_lock_enabled=lock is not None,
            object_lock_default_retention=lock,
            removal_policy=removal_policy,
        )

    def grant_write(self, grantee: iam.IGrantable, prefix: str) -> None:
        """Write-only under `prefix/`: the firewall can add envelopes, never read or delete them."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QuarantineWriteOnly",
                actions=["s3:PutObject", "s3:PutObjectTagging"],
                resources=[self.bucket.arn_for_objects(f"{prefix}/*")],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="QuarantineEncrypt",
                actions=["kms:GenerateDataKey"],
                resources=[self.key.key_arn],
            )
        )

    def grant_review(self, grantee: iam.IGrantable) -> None:
        """What `firewall quarantine` needs: list, read, update status, delete."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:PutObject",
                    "s3:PutObjectTagging",
                    "s3:DeleteObject",
                ],
                resources=[self.bucket.arn_for_objects("*")],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn])
        )
