"""Composition root: one module per Lambda function, each with its settings model and its wiring.

`sluice.runtime.<function>` holds `Settings` (the single source of that function's environment:
the stack renders it, the local platform renders it, the handler validates it at init) and
`build(settings, clients)` (the function's dependencies, built once, at import time).
"""
