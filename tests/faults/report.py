"""The fault matrix's last figures as the table of docs/reliability.md.

python -m tests.faults.report            # print the table (`make faults` does)
python -m tests.faults.report --write    # and put it into docs/reliability.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SUMMARY = REPO / ".faults" / "last-run.json"
DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- faults:begin -->", "<!-- faults:end -->"

# In the order of docs/reliability.md, the baseline first.
SCENARIOS = {
    "baseline": "the good stream, no fault (what every scenario is compared with)",
    "kafka_stopped_60s": "Kafka (private) stopped 60 s while simulator, worker and sink run",
    "postgres_stopped_60s": "PostgreSQL (private) stopped 60 s under the sink",
    "stream_worker_killed_3x": "stream worker SIGKILLed at 20 s, 55 s, 110 s, restarted",
    "sink_killed_2x": "sink SIGKILLed at 35 s and 80 s while writing, restarted",
    "partitions_move_back": "worker A alone, B joins at 15 s, B killed at 45 s, back at 80 s",
    "bad_input_campaign": "10,400 bad records (and 60 odd valid ones) between the samples",
}
HEADER = (
    "| scenario | what it does | samples sent | landed | lost | duplicated | bad rows landed | "
    "bad records: sent / dead-letter rows / counted twice | windows differing / compared | "
    "stopped parts | "
    "wall s | run |\n"
    "|---|---|--:|--:|--:|--:|--:|---|---|---|--:|---|"
)


def _row(name: str, f: dict[str, Any]) -> str:
    dl, windows = f["dead_letters"], f["windows_differ"]
    cells = [
        f"`{name}`",
        SCENARIOS.get(name, ""),
        f"{f['samples']:,}" if f.get("samples") is not None else "–",
        f"{f['landed']:,}",
        f"{f['lost']:,}",
        f"{f['duplicated']:,}",
        f"{f['unexpected_rows']:,}",
        f"{dl['expected_bad_records']:,} / {dl['rows']:,} / {dl['counted_more_than_once']:,}",
        f"{windows['total']:,} / {windows['compared']:,}",
        "; ".join(f["crashes"]) or "none",
        str(f["duration_s"]),
        f"{f['date']}, {f['commit']}",
    ]
    return "| " + " | ".join(cells) + " |"


def table(doc: dict[str, Any]) -> str:
    found = doc["scenarios"]
    names = [n for n in SCENARIOS if n in found] + [n for n in found if n not in SCENARIOS]
    return "\n".join([HEADER, *(_row(n, found[n]) for n in names)])


def main(argv: list[str]) -> int:
    try:
        doc = json.loads(SUMMARY.read_text())
    except OSError:
        print(f"no {SUMMARY.relative_to(REPO)}: run `make faults` first", file=sys.stderr)
        return 1
    text = table(doc)
    print(text)
    if "--write" in argv:
        page = DOC.read_text()
        head, rest = page.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")
        print(f"written to {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
