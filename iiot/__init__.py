"""The contract every part shares: message models, topic names, settings, KPI formulas, CLI."""

__version__ = "0.1.0"
