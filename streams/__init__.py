"""The Faust app: validation and dead letters, OEE windows, roll-ups, digitization, alarms."""
