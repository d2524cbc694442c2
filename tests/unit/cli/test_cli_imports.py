"""`iiot --help` loads no Kafka, PostgreSQL, MQTT or Faust client, and no part: the composition
root (cli/) imports them inside the commands that run them."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("confluent_kafka", "aiokafka", "faust", "psycopg", "paho")
PARTS = ("simulators", "producers", "streams", "sinks", "dashboards")

PROBE = """
import sys
from cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as exc:
    assert exc.code == 0, exc.code
print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["sink", "--help"], ["stream", "--help"], ["simulate", "--help"]]
)
def test_help_imports_no_client_and_no_part(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.splitlines()[-1].split())
    assert "Usage: " in done.stdout
    assert loaded.isdisjoint(HEAVY + PARTS), sorted(loaded & set(HEAVY + PARTS))
