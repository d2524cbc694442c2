"""The contract every part shares: message models, topic names, settings, KPI formulas, CLI."""

# First: it decides, before anything imports them, whether the stream worker's per-sample
# modules run compiled (iiot/native.py).
from iiot import native as _native

__version__ = "0.1.0"

_native.choose()
