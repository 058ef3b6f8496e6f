"""The Lambda function's side of the firewall: all I/O lives here (objects, targets, quarantine, logs)."""
