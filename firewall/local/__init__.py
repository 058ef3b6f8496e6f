"""An AWS account on this machine: moto server, deployment, pollers, local target functions, demo."""
