"""Earlier demo runs: each leaves a record (`.demo/<run id>/run.json`), its topics, its
consumer groups and its schema. A new run keeps the newest few for Grafana and drops the
rest, so running the demo again and again does not fill the disk.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from confluent_kafka import KafkaException
from psycopg import sql

from cli.demo.plan import DemoPlan
from iiot import kafka_admin
from iiot.settings import Settings

RECORD = "run.json"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    pid: int
    topic_prefix: str
    schema: str

    @classmethod
    def of(cls, plan: DemoPlan) -> RunRecord:
        return cls(plan.run_id, os.getpid(), plan.topic_prefix, plan.schema)


def write_record(plan: DemoPlan) -> None:
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    (plan.run_dir / RECORD).write_text(json.dumps(asdict(RunRecord.of(plan)), indent=2) + "\n")


def _read(path: Path) -> RunRecord | None:
    try:
        doc = json.loads(path.read_text())
        return RunRecord(**doc)
    except (OSError, ValueError, TypeError):
        return None


def _running(pid: int) -> bool:
    """Is that demo still running? (A pid reused by something else is not a demo.)"""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"demo" in cmdline


def records(home: Path) -> list[RunRecord]:
    """Every run under `home`, oldest first."""
    found = [_read(p) for p in sorted(home.glob(f"*/{RECORD}"))]
    return [r for r in found if r is not None]


def earlier_runs(home: Path, current: str) -> list[RunRecord]:
    """Finished (or crashed) runs under `home`, oldest first; running ones are left alone."""
    return [r for r in records(home) if r.run_id != current and not _running(r.pid)]


def discard(record: RunRecord, settings: Settings, home: Path | None = None) -> None:
    """Drop a run's schema and topics (and its directory under `home`). Its consumer groups
    lose their offsets with the topics, and Kafka drops empty groups itself."""
    with psycopg.connect(settings.pg_migrator_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(record.schema))
        )
    kafka_admin.delete_prefixed_topics(record.topic_prefix, settings)
    if home is not None:
        shutil.rmtree(home / record.run_id, ignore_errors=True)


def prune(plan: DemoPlan, keep: int) -> tuple[list[str], str | None]:
    """Discard all but the newest `keep` earlier runs: (run ids discarded, why it stopped).

    Pruning is housekeeping: a failure is reported, never fatal to the run."""
    earlier = earlier_runs(plan.home, plan.run_id)
    done: list[str] = []
    for record in earlier[: max(len(earlier) - keep, 0)]:
        try:
            discard(record, plan.settings, plan.home)
        except (psycopg.Error, KafkaException, TimeoutError) as exc:
            return done, f"could not drop demo run {record.run_id}: {' '.join(str(exc).split())}"
        done.append(record.run_id)
    return done, None
