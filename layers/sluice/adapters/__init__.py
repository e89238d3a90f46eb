"""Adapters: the only modules in `sluice` that talk to AWS. Each takes an injected boto3 client."""
