"""`python -m cli …` is `iiot …` (the demo and the tests start the parts this way)."""

from cli.main import app

app()
