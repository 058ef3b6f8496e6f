"""Reviewing the quarantine: `firewall quarantine list|show|release|delete|stats|export|allow`.

Runs on an operator's machine (or CI), never inside the firewall function: it reads and updates the
envelopes that `firewall.runtime.quarantine.QuarantineStore` wrote, re-delivers released records to
their target without inspecting them again, and turns false positives into reviewed exclusions in
`firewall.yaml`. AWS clients are injected (see `commands.Clients`), so tests and the local account
point it anywhere with the usual `AWS_ENDPOINT_URL`.
"""
