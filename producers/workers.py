"""`iiot simulate --workers N`: the province dealt by device over N processes.

One Python process makes and publishes ~120,000 samples/s (bench/README.md): the simulator
and the Publisher share one core, however many the machine has. With workers, each process
simulates its share of the devices (`SimulationOptions.shard`) and publishes it through its
own Publisher, with its own spool file: worker 0 uses the spool as given, worker k
`<name>.w<k><suffix>` next to it. Every device's records are exactly those of a
single-process run (one device, one worker, same random streams); only the interleaving of
different devices differs, and Kafka orders per device anyway.

The workers are forked (the simulator kit handed in by the CLI comes along; nothing has to
be importable by name). They send their numbers to the parent every quarter second; the
parent shows the sum and prints one summary. Ctrl-C reaches every worker, each stops at its
next record, flushes and reports.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from rich.console import RenderableType

from iiot.settings import Settings
from producers.display import live_panel
from producers.run import SimulateRun, ensure_topics
from producers.stats import Counters


def worker_spool(spool: Path, worker: int) -> Path:
    """The spool file of worker `worker` (0: the one given)."""
    return spool if worker == 0 else spool.with_name(f"{spool.stem}.w{worker}{spool.suffix}")


class Workers:
    """N forked workers, their latest numbers and their summaries."""

    def __init__(
        self,
        make_events: Callable[[int, int, Any], tuple[Any, Iterator[Any]]],
        workers: int,
        settings: Settings,
        spool: Path,
        *,
        validate: bool,
    ) -> None:
        ensure_topics(settings)  # once, before any worker publishes
        # A Kafka client the parent dropped may still wait in a reference cycle; collected
        # in a forked child it would join threads the child does not have, and hang there.
        gc.collect()
        self.started = time.monotonic()
        self.latest: dict[int, dict[str, Any]] = {}
        self.summaries: dict[int, dict[str, Any]] = {}
        self._conns: dict[int, Connection] = {}
        self._processes: list[multiprocessing.process.BaseProcess] = []
        context = multiprocessing.get_context("fork")
        for k in range(workers):
            ours, theirs = context.Pipe()
            args = (make_events, k, workers, settings, worker_spool(spool, k), validate, theirs)
            process = context.Process(target=_work, args=args, name=f"iiot-simulate-{k}")
            process.start()
            self._processes.append(process)
            theirs.close()
            self._conns[k] = ours

    def follow(
        self, stop: Mapping[str, bool], tick: Callable[[], None] | None, every_s: float = 0.25
    ) -> None:
        """Collect numbers until every worker reported its summary (or went away)."""
        told = False
        while self._conns:
            for conn in wait(list(self._conns.values()), timeout=every_s):
                k = next(k for k, c in self._conns.items() if c is conn)
                try:
                    kind, numbers = conn.recv()
                except EOFError:  # died without a summary (killed): its spool keeps the rest
                    del self._conns[k]
                    continue
                if kind == "done":
                    self.summaries[k] = numbers
                    del self._conns[k]
                else:
                    self.latest[k] = numbers
            if stop["stop"] and not told:  # (the workers had the Ctrl-C too; to be sure)
                told = True
                for conn in self._conns.values():
                    conn.send("stop")
            if tick is not None:
                tick()
        for process in self._processes:
            process.join()

    def panel(self) -> RenderableType:
        numbers = list(self.latest.values())
        counters = _sum_counters([n["counters"] for n in numbers])
        modes = sorted({n["mode"] for n in numbers}) or ["live"]
        simulated = min((n["simulated"] for n in numbers), default="–")
        return live_panel(
            counters,
            sum(n["rate"] for n in numbers),
            "/".join(modes),
            sum(n["in_spool"] for n in numbers),
            simulated,
            time.monotonic() - self.started,
        )

    def summary(self) -> dict[str, Any]:
        """The workers' summaries added up; wall time is the parent's."""
        parts = list(self.summaries.values())
        summary: dict[str, Any] = dict.fromkeys(Counters.__slots__, 0)
        for part in parts:
            for field in Counters.__slots__:
                summary[field] += part[field]
        summary["left_in_spool"] = sum(p["left_in_spool"] for p in parts)
        summary["wall_s"] = round(time.monotonic() - self.started, 3)
        injected: dict[str, int] = {}
        for part in parts:
            for name, count in part["injected"].items():
                injected[name] = injected.get(name, 0) + count
        summary["injected"] = injected
        summary["missing_samples"] = sum(p["missing_samples"] for p in parts)
        summary["spools"] = [s for p in parts for s in p["spools"]]
        summary["workers"] = len(parts)
        return summary


def _sum_counters(parts: list[dict[str, int]]) -> Counters:
    return Counters(**{f: sum(p[f] for p in parts) for f in Counters.__slots__})


def _work(
    make_events: Callable[[int, int, Any], tuple[Any, Iterator[Any]]],
    worker: int,
    workers: int,
    settings: Settings,
    spool: Path,
    validate: bool,
    conn: Connection,
) -> None:
    """One worker: its share of the devices, through its own Publisher."""
    gc.freeze()  # what came from the parent is the parent's to free (see Workers.__init__)
    stop = {"stop": False}
    signal.signal(signal.SIGINT, lambda *_: stop.update(stop=True))
    run = SimulateRun(settings, spool, validate=validate, topics=False)
    simulation, events = make_events(worker, workers, run)  # seqs from its spool

    def report() -> None:
        publisher = run.publisher
        counters = publisher.counters
        numbers = {
            "counters": {f: getattr(counters, f) for f in Counters.__slots__},
            "rate": publisher.rate(),
            "mode": publisher.mode.value,
            "in_spool": len(publisher.spool),
            "simulated": run.simulated_text(),
        }
        conn.send(("progress", numbers))
        if conn.poll():  # the parent says stop
            stop["stop"] = True

    run.publish_all(events, stop, report)
    for generator in (events,):  # stopped early: the simulator closes its report
        getattr(generator, "close", lambda: None)()
    conn.send(("done", run.close(simulation.injected)))
    conn.close()
