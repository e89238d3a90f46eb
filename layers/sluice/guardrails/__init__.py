"""Output guardrails: what a model answers is checked per route before anyone sees it."""
