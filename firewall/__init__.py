"""Event firewall for serverless applications: screens the records of Lambda events (S3, SQS,
DynamoDB streams, SNS, Kinesis, EventBridge) with WAF-style signatures before they reach a function."""

from .api import DEFAULT_SIGNATURES, Firewall
from .engine.errors import FirewallError, SignatureError, UnknownEventError
from .engine.matcher import Limits
from .engine.model import Exclusion, Match, Severity, Signature, Verdict

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SIGNATURES",
    "Exclusion",
    "Firewall",
    "FirewallError",
    "Limits",
    "Match",
    "Severity",
    "Signature",
    "SignatureError",
    "UnknownEventError",
    "Verdict",
    "__version__",
]
