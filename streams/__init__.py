"""The Faust app: validation and dead letters, OEE windows, roll-ups, digitization, alarms."""

# First: its per-sample modules run compiled only when iiot/native.py says they may.
import iiot  # noqa: F401
