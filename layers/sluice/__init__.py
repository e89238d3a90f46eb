"""Sluice: the library behind the platform's Lambda handlers, shipped as a Lambda layer.

Modules are imported lazily by the handlers that need them; this package imports nothing heavy.
"""

__version__ = "0.1.0"
