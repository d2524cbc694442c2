"""A simulation run: the province's devices stepped in simulated time, faults injected, and
every record to publish yielded in delivery order.

Sample intervals are whole seconds and each device keeps its phase, so the order in which
devices sample repeats (every least common multiple of the intervals): it is sorted once,
and no priority queue is needed per sample. Time advances in batches of 30 simulated
seconds; a batch is made device by device, which keeps a device's state in the CPU caches
while it makes its samples, then delivered in time order. Records that a fault delays (out
of order, late, a duplicate sent again) wait in a heap by delivery time and are yielded when
the simulated clock reaches it. No wall clock is read: `pace()` adds real time if wanted.
"""

from __future__ import annotations

import bisect
import gc
import heapq
import itertools
import math
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NamedTuple, TypeVar

import orjson

from iiot.contract import encode
from iiot.messages import DeviceBirth
from iiot.topics import Topic
from simulators.calendar import ShiftCalendar
from simulators.faults import GAP_INTERVALS, FaultPlan, FaultReport
from simulators.machine import Machine
from simulators.maturity import DAY_MS, level_on, next_gap
from simulators.options import SimulationOptions
from simulators.process import ProcessModel
from simulators.province import DeviceSpec, build_province
from simulators.seeds import stream, uniform
from simulators.wire import (
    MILLIS_SEQ,
    format_ts_ms,
    malformed,
    product_texts,
    sample_head,
    second_prefix,
)


class Emitted(NamedTuple):
    """One Kafka record to publish."""

    topic: Topic  # logical name, without IIOT_TOPIC_PREFIX
    key: bytes  # device_id, UTF-8
    value: bytes  # JSON, or the raw bytes of an injected malformed payload
    timestamp_ms: int  # event time (of a malformed one: when it was due)
    valid: bool  # False only for injected malformed payloads: they test the dead letters
    due_ms: int | None = None  # simulated time of delivery; None = timestamp_ms


# A tuple built by tuple.__new__ from a tuple is made in C: a fifth of the cost of a slotted
# dataclass's fields set one by one, which at 100,000+ records/s was a tenth of the budget.
_new: Final = tuple.__new__  # Final: a constant once compiled (simulators/native.py)


def emitted(
    topic: Topic, key: bytes, value: bytes, timestamp_ms: int, valid: bool, due_ms: int
) -> Emitted:
    """`Emitted(...)`, built fast."""
    return _new(Emitted, (topic, key, value, timestamp_ms, valid, due_ms))


_NO_FAULTS = random.Random(0)


class _Device(Machine):
    """A device during the run: its machine, process values, seq and fault state.

    A Machine itself rather than holding one: one object less to reach per sample, which
    counts when 10,000 devices' state no longer fits the CPU caches.
    """

    __slots__ = (
        "connect_ms",
        "device_id",
        "fault_rng",
        "gaps",
        "head",
        "key",
        "offline",
        "process",
        "product_texts",
        "seed",
        "seq",
        "seq_base",
        "silent_from_ms",
        "silent_until_ms",
        "spec",
        "start_ms",
    )

    def __init__(
        self,
        spec: DeviceSpec,
        options: SimulationOptions,
        calendars: dict[int, ShiftCalendar],
        faults: bool,
    ) -> None:
        seed = self.seed = options.seed
        self.spec = spec
        self.device_id = spec.birth.device_id
        self.key = self.device_id.encode()
        self.head = sample_head(self.device_id)  # its samples' JSON, written once
        # Its samples' texts per product and reason (Machine.reason), written once.
        self.product_texts = [product_texts(p.ideal_cycle_s, p.name) for p in spec.products]
        # One stream for the machine and its process values: a Random is 2.5 KB of state.
        rng = stream(seed, "machine", self.device_id)
        interval_ms = int(spec.kind.sample_interval_s * 1000)
        super().__init__(spec.params, calendars[spec.shifts], spec.products, interval_ms, rng)
        self.process = ProcessModel(spec.kind, spec.kind.sample_interval_s, rng)
        # The device's own fault stream, apart from its machine's (never drawn without faults).
        self.fault_rng = stream(seed, "faults", self.device_id) if faults else _NO_FAULTS
        self.offline = 0  # sample intervals left offline (an injected gap)
        self.seq = self.seq_base = 0
        # When it reports (simulators/maturity.py): from its connect day on, with gaps.
        self.start_ms = options.start_ms
        self.gaps = 0
        self.connect_ms = self.silent_from_ms = self.silent_until_ms = self.start_ms
        if options.every_device_reports:
            self.silent_from_ms = sys.maxsize
        else:
            self.connect_ms += spec.connect_day * DAY_MS
            self.next_gap(self.start_ms)

    def next_gap(self, t_ms: int) -> None:
        """Draw the next reporting gap after `t_ms`: when it begins and when it ends. Each
        gap is two named draws, not a Random's state, and grows rarer as the level rises."""
        self.gaps += 1
        names = (self.device_id, str(self.gaps))
        level = level_on(self.spec.level, (t_ms - self.start_ms) / DAY_MS)
        after_s, length_s = next_gap(
            level,
            uniform(self.seed, "gap after", *names),
            uniform(self.seed, "gap length", *names),
            GAP_INTERVALS[0] * self.dt_s,  # beyond max_gap, so the stream sees unknown time
        )
        if after_s == math.inf:
            self.silent_from_ms = sys.maxsize
            return
        self.silent_from_ms = t_ms + max(self.interval_ms, int(after_s * 1000))
        self.silent_until_ms = self.silent_from_ms + int(length_s * 1000)


BATCH_MS: Final = 30_000  # simulated time made per batch, device by device
T = TypeVar("T")
# Told, before a batch is made, the highest seq each device may reach in it.
Reserve = Callable[[dict[str, int]], None]


def _without_gc(make: Callable[..., T], *args: Any) -> T:
    """`make(*args)` with the cyclic garbage collector paused: a batch makes tens of
    thousands of acyclic dicts and records, and collections scanning them cost a tenth of
    the time while freeing nothing."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return make(*args)
    finally:
        if was_enabled:
            gc.enable()


class _Schedule:
    """When each device samples within one batch of simulated time.

    Intervals are whole seconds and each device keeps its phase, so sampling repeats every
    least common multiple of the intervals; a batch is a whole number of those. `offsets`
    are the batch's slots in delivery order; `mine[i]` the (slot, offset, second, rest of
    the time's text) of device i: a batch starts at the same millisecond of a second as the
    run (`start_ms`), so the second of the batch and the text after it are the same in every
    batch, and a sample's time is written without arithmetic on epoch milliseconds.
    """

    def __init__(self, devices: list[_Device], start_ms: int, batch: int) -> None:
        self.batch_ms = batch
        slots = sorted(
            (offset, i)
            for i, d in enumerate(devices)
            for offset in range(d.spec.phase_ms, batch, d.interval_ms)
        )
        self.offsets = [offset for offset, _ in slots]
        self.mine: list[list[tuple[int, int, int, str]]] = [[] for _ in devices]
        millis = start_ms % 1000
        for slot, (offset, i) in enumerate(slots):
            second, ms = divmod(millis + offset, 1000)
            self.mine[i].append((slot, offset, second, MILLIS_SEQ[ms]))


def batch_length(devices: list[_Device]) -> int:
    """A whole number of the devices' common sampling period, near BATCH_MS: of every device
    of the run, connected or not, so batches begin at the same times all run long."""
    period = math.lcm(*(d.interval_ms for d in devices))
    return period * max(1, BATCH_MS // period)


class Simulation:
    """A deterministic province run; `run()` may be called more than once (same output)."""

    def __init__(self, options: SimulationOptions) -> None:
        self.options = options
        province = build_province(options.devices, options.seed)
        self.devices = province[options.shard :: options.shards]
        self.injected = FaultReport()
        self._end_ms = sys.maxsize
        self._plan = FaultPlan(options.faults)
        self._running: list[_Device] = []

    def births(self) -> list[DeviceBirth]:
        return [spec.birth for spec in self.devices]

    def last_seqs(self) -> dict[str, int]:
        """The seq of each device's latest sample in the current run (its base if none)."""
        return {d.device_id: d.seq for d in self._running}

    def run(
        self, seq_base: Mapping[str, int] | None = None, reserve: Reserve | None = None
    ) -> Iterator[Emitted]:
        """Births first, then samples in delivery order, as fast as they can be computed.

        Each device's seqs continue above `seq_base[device_id]` (0 = from 1; docs/contract.md:
        a seq never restarts, so a run that follows another continues its numbers); nothing
        else depends on it. `reserve`, if given, is told before each batch how far each
        device's seq may get in it, so a crash never leaves a number to be used again.
        """
        start_ms = self.options.start_ms
        self.injected = FaultReport()
        births = [
            emitted(Topic.REGISTRY, b.device_id.encode(), encode(b), start_ms, True, start_ms)
            for b in self.births()
        ]
        calendars = {n: ShiftCalendar(n) for n in (2, 3)}
        faults = self.options.faults.any()
        devices = [_Device(spec, self.options, calendars, faults) for spec in self.devices]
        for d in devices:
            d.seq = d.seq_base = (seq_base or {}).get(d.device_id, 0)
        self._running = devices
        # Records are handed on list by list: iterating them is C, not a generator's resume
        # per record (a fifth of the cost of making one).
        batches = self._batches(devices, reserve)
        return itertools.chain(births, itertools.chain.from_iterable(batches))

    def _batches(self, devices: list[_Device], reserve: Reserve | None) -> Iterator[list[Emitted]]:
        """Batch after batch, each the list of its records in delivery order: made device by
        device, with the delayed records of earlier samples slotted in when their time
        comes. Devices not yet connected are left out of the schedule until they are."""
        opts, report = self.options, self.injected
        end_ms = self._end_ms = sys.maxsize if opts.end_ms is None else opts.end_ms
        batch_ms = batch_length(devices)
        connects = sorted({d.connect_ms for d in devices})  # connect days fall on batch starts
        delayed: list[tuple[int, int, Emitted]] = []
        arrivals = itertools.count()  # ties in delivery time keep the order of arrival
        bases = sum(d.seq_base for d in devices)
        base = opts.start_ms
        schedule, active = _Schedule([], opts.start_ms, batch_ms), []
        while base < end_ms:
            if connects and connects[0] <= base:  # devices connect: schedule them
                while connects and connects[0] <= base:
                    connects.pop(0)
                active = [d for d in devices if d.connect_ms <= base]
                schedule = _Schedule(active, opts.start_ms, batch_ms)
            if reserve is not None:  # at most one seq per slot of the device
                mine = zip(active, schedule.mine, strict=True)
                reserve({d.device_id: d.seq + len(m) for d, m in mine})
            made, plain, holes = _without_gc(self._batch, active, schedule, base)
            report.samples = sum(d.seq for d in devices) - bases  # made so far
            if not plain or delayed:
                yield self._in_order(made, delayed, arrivals, base, schedule.offsets)
            else:  # one record a slot, in order, but for the slots of reporting gaps
                if base + batch_ms > end_ms:  # the last one, cut at the end
                    made = made[: bisect.bisect_left(schedule.offsets, end_ms - base)]
                yield [r for r in made if not isinstance(r, list)] if holes else made  # type: ignore[misc]
            base += batch_ms
        yield [heapq.heappop(delayed)[2] for _ in range(len(delayed))]

    def _in_order(
        self,
        made: list[Emitted | list[Emitted]],
        delayed: list[tuple[int, int, Emitted]],
        arrivals: Iterator[int],
        base: int,
        offsets: list[int],
    ) -> list[Emitted]:
        """A batch's records in delivery order, faulted ones and delayed ones included."""
        ordered: list[Emitted] = []
        for slot, offset in enumerate(offsets):
            t_ms = base + offset
            if t_ms >= self._end_ms:
                break
            while delayed and delayed[0][0] <= t_ms:
                ordered.append(heapq.heappop(delayed)[2])
            records = made[slot]
            if not isinstance(records, list):  # a sample no fault touched
                ordered.append(records)
                continue
            for event in records:  # faulted: 0, 1 or 2 records
                due_ms: int = event.due_ms  # type: ignore[assignment]  # set for samples
                if due_ms <= t_ms:
                    ordered.append(event)
                else:
                    heapq.heappush(delayed, (due_ms, next(arrivals), event))
        return ordered

    def _batch(
        self, devices: list[_Device], schedule: _Schedule, base: int
    ) -> tuple[list[Emitted | list[Emitted]], bool, bool]:
        """The records of every slot of the batch from `base`: a sample, or the list a fault
        made of it (empty while the device is offline); whether no fault touched any; and
        whether a slot fell in a reporting gap (empty too)."""
        report, plan, end_ms = self.injected, self._plan, self._end_ms
        faults_on, per_sample_rate = plan.on, plan.per_sample_rate
        gap_rate, reset_rate = plan.gap, plan.counter_reset
        telemetry, new = Topic.TELEMETRY, _new
        first_second = base // 1000
        second_texts = [
            second_prefix(first_second + k) for k in range(schedule.batch_ms // 1000 + 2)
        ]
        made: list[Emitted | list[Emitted]] = [[]] * len(schedule.offsets)
        plain, holes = True, False
        for d, mine in zip(devices, schedule.mine, strict=True):
            metrics_of, head, products = d.process.wire, d.head, d.product_texts
            for slot, offset, second, after_second in mine:
                t_ms = base + offset
                if t_ms >= end_ms:
                    break
                if t_ms >= d.silent_from_ms:  # a reporting gap: the machine pauses with it
                    if t_ms < d.silent_until_ms:
                        holes = True
                        continue
                    d.next_gap(t_ms)
                state = d.step(t_ms)
                metrics = metrics_of(state, d)
                u = 1.0  # the per-sample fault draw; 1.0 hits none
                if faults_on:
                    if d.offline or (gap_rate and d.fault_rng.random() < gap_rate):
                        self._offline(d, plan)
                        plain = False
                        continue
                    if reset_rate and d.fault_rng.random() < reset_rate:
                        d.reset_counters()
                        report.record("counter_reset", d.device_id, d.seq + 1)
                    u = d.fault_rng.random()
                d.seq += 1
                # The sample's JSON (simulators/wire.py): as orjson writes Sample's fields.
                value = (
                    f'{head}{second_texts[second]}{after_second}{d.seq},"state":"{state}",'
                    f'"count_total":{d.count_total},"count_good":{d.count_good}'
                    f"{products[d.product_index][d.reason]}{metrics}}}"
                ).encode()
                if u >= per_sample_rate:  # emitted(…), inline
                    made[slot] = new(Emitted, (telemetry, d.key, value, t_ms, True, t_ms))
                else:
                    made[slot] = self._faulted(d, t_ms, value, plan.per_sample(u))
                    plain = False
        return made, plain, holes

    def _offline(self, d: _Device, plan: FaultPlan) -> None:
        """The device sends nothing at this sample (an injected gap); the machine runs on."""
        if d.offline == 0:  # the gap begins
            d.offline = plan.gap_intervals(d.fault_rng)
            self.injected.record("gap", d.device_id, d.seq + 1)
        d.offline -= 1
        self.injected.missing_samples += 1

    def _faulted(self, d: _Device, t_ms: int, value: bytes, fault: str | None) -> list[Emitted]:
        """The records a sample (its JSON `value`) hit by `fault` becomes, each with its
        delivery time."""
        rng, opts = d.fault_rng, self.options
        ts_ms = deliver_ms = again_ms = t_ms
        if fault == "clock_skew":  # a device clock running ahead, beyond the future tolerance
            ts_ms = t_ms + (opts.future_tolerance_s + rng.randint(60, 1_800)) * 1000
        elif fault == "out_of_order":  # after the device's next sample, well within the grace
            deliver_ms = t_ms + int(d.interval_ms * (1.5 + rng.random()))
        elif fault == "late":  # beyond the grace, in event time
            deliver_ms = t_ms + (opts.grace_s + rng.randint(30, 180)) * 1000
        elif fault == "duplicate":  # a retry of a sample already sent, shortly after
            again_ms = t_ms + int(d.interval_ms * 2 * rng.random())
        if max(deliver_ms, again_ms) >= self._end_ms:
            fault = None  # it could not arrive within the run: inject nothing
        if fault is None:
            return [emitted(Topic.TELEMETRY, d.key, value, t_ms, True, t_ms)]
        self.injected.record(fault, d.device_id, d.seq)
        if fault == "clock_skew":
            value = orjson.dumps({**orjson.loads(value), "ts": format_ts_ms(ts_ms)})
        elif fault == "malformed":
            value = malformed(orjson.loads(value), rng.randrange(4))
        event = emitted(Topic.TELEMETRY, d.key, value, ts_ms, fault != "malformed", deliver_ms)
        if fault != "duplicate":
            return [event]
        return [event, emitted(Topic.TELEMETRY, d.key, value, ts_ms, True, again_ms)]
