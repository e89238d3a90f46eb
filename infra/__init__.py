"""CDK constructs for Sluice, one per concern; `stack.py` only composes them."""
