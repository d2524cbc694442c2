"""A simulation run: the province's devices stepped in simulated time, faults injected, and
every record to publish yielded in delivery order.

Sample intervals are whole seconds and each device keeps its phase, so the order in which
devices sample repeats every `period` (the intervals' least common multiple): it is sorted
once, then replayed period after period — no priority queue per sample. Records that a
fault delays (out of order, late, a duplicate sent again) wait in a heap by delivery time
and are yielded when the simulated clock reaches it. No wall clock is read: `pace()` adds
real time if wanted.
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from iiot.contract import encode
from iiot.messages import DeviceBirth
from iiot.topics import Topic
from simulators.calendar import ShiftCalendar
from simulators.faults import FaultPlan, FaultReport
from simulators.machine import Machine
from simulators.options import SimulationOptions
from simulators.process import ProcessModel
from simulators.province import DeviceSpec, build_province
from simulators.seeds import stream
from simulators.wire import MILLIS, format_ts_ms, malformed, second_prefix


@dataclass(frozen=True, slots=True)
class Emitted:
    """One Kafka record to publish."""

    topic: Topic  # logical name, without IIOT_TOPIC_PREFIX
    key: bytes  # device_id, UTF-8
    value: bytes  # JSON, or the raw bytes of an injected malformed payload
    timestamp_ms: int  # event time (of a malformed one: when it was due)
    valid: bool  # False only for injected malformed payloads: they test the dead letters
    due_ms: int | None = None  # simulated time of delivery; None = timestamp_ms


# A frozen dataclass's __init__ sets each field through object.__setattr__, twice as slow as
# the slot descriptors below; at 100,000+ records/s that is a tenth of the budget.
_new = object.__new__
_set_topic, _set_key, _set_value, _set_ts, _set_valid, _set_due = (
    Emitted.__dict__[name].__set__ for name in Emitted.__dataclass_fields__
)


def emitted(
    topic: Topic, key: bytes, value: bytes, timestamp_ms: int, valid: bool, due_ms: int
) -> Emitted:
    """`Emitted(...)`, built fast."""
    event = _new(Emitted)
    _set_topic(event, topic)
    _set_key(event, key)
    _set_value(event, value)
    _set_ts(event, timestamp_ms)
    _set_valid(event, valid)
    _set_due(event, due_ms)
    return event


class _Device:
    """A device during the run: its machine, process values, seq and fault state."""

    __slots__ = (
        "device_id",
        "fault_rng",
        "interval_ms",
        "key",
        "machine",
        "offline",
        "process",
        "seq",
        "spec",
    )

    def __init__(self, spec: DeviceSpec, seed: int, calendars: dict[int, ShiftCalendar]):
        self.spec = spec
        self.device_id = spec.birth.device_id
        self.key = self.device_id.encode()
        self.interval_ms = int(spec.kind.sample_interval_s * 1000)
        # One stream for the machine and its process values: a Random is 2.5 KB of state,
        # and 10,000 devices of three each thrash the CPU caches.
        rng = stream(seed, "machine", self.device_id)
        self.machine = Machine(
            spec.params, calendars[spec.shifts], spec.products, self.interval_ms, rng
        )
        self.process = ProcessModel(spec.kind, spec.kind.sample_interval_s, rng)
        self.fault_rng = stream(seed, "faults", self.device_id)
        self.offline = 0  # sample intervals left offline (an injected gap)
        self.seq = 0


def _schedule(devices: list[_Device]) -> tuple[int, list[tuple[int, _Device]]]:
    """The period after which sampling repeats, and (offset, device) within one period."""
    period = math.lcm(*(d.interval_ms for d in devices))
    slots = [
        (offset, i)
        for i, d in enumerate(devices)
        for offset in range(d.spec.phase_ms, period, d.interval_ms)
    ]
    slots.sort()
    return period, [(offset, devices[i]) for offset, i in slots]


class Simulation:
    """A deterministic province run; `run()` may be called more than once (same output)."""

    def __init__(self, options: SimulationOptions) -> None:
        self.options = options
        self.devices = build_province(options.devices, options.seed)
        self.injected = FaultReport()
        self._end_ms = sys.maxsize

    def births(self) -> list[DeviceBirth]:
        return [spec.birth for spec in self.devices]

    def run(self) -> Iterator[Emitted]:
        """Births first, then samples in delivery order, as fast as they can be computed."""
        start_ms = self.options.start_ms
        self.injected = FaultReport()
        for birth in self.births():
            yield emitted(
                Topic.REGISTRY, birth.device_id.encode(), encode(birth), start_ms, True, start_ms
            )
        calendars = {n: ShiftCalendar(n) for n in (2, 3)}
        devices = [_Device(spec, self.options.seed, calendars) for spec in self.devices]
        try:
            yield from self._samples(devices)
        finally:  # also when the consumer stops early: the report counts what was made
            self.injected.samples = sum(d.seq for d in devices)

    def _samples(self, devices: list[_Device]) -> Iterator[Emitted]:
        opts, report = self.options, self.injected
        end_ms = self._end_ms = sys.maxsize if opts.end_ms is None else opts.end_ms
        period, schedule = _schedule(devices)
        plan = FaultPlan(opts.faults)
        faults_on, per_sample_rate = plan.on, plan.per_sample_rate
        gap_rate, reset_rate = plan.gap, plan.counter_reset
        delayed: list[tuple[int, int, Emitted]] = []
        arrivals = itertools.count()  # ties in delivery time keep the order of arrival
        telemetry, dumps, millis_text = Topic.TELEMETRY, orjson.dumps, MILLIS
        second_ms, second_text = -1000, ""
        base = opts.start_ms
        while base < end_ms:
            for offset, d in schedule:
                t_ms = base + offset
                if t_ms >= end_ms:
                    break
                if t_ms - second_ms >= 1000:  # the time's text up to the second, once a second
                    second_ms = t_ms - t_ms % 1000
                    second_text = second_prefix(second_ms // 1000)
                while delayed and delayed[0][0] <= t_ms:
                    yield heapq.heappop(delayed)[2]
                m = d.machine
                state = m.step(t_ms)
                metrics = d.process.values(state, m)
                u = 1.0  # the per-sample fault draw; 1.0 hits none
                if faults_on:
                    if d.offline or (gap_rate and d.fault_rng.random() < gap_rate):
                        self._offline(d, plan)
                        continue
                    if reset_rate and d.fault_rng.random() < reset_rate:
                        m.reset_counters()
                        report.record("counter_reset", d.device_id, d.seq + 1)
                    u = d.fault_rng.random()
                d.seq += 1
                product = m.product
                fields = {
                    "v": 1,
                    "device_id": d.device_id,
                    "ts": second_text + millis_text[t_ms - second_ms],
                    "seq": d.seq,
                    "state": state,
                    "count_total": m.count_total,
                    "count_good": m.count_good,
                    "ideal_cycle_s": product.ideal_cycle_s,
                    "product": product.name,
                    "metrics": metrics,
                }
                if u >= per_sample_rate:
                    yield emitted(telemetry, d.key, dumps(fields), t_ms, True, t_ms)
                    continue
                for event in self._faulted(d, t_ms, fields, plan.per_sample(u)):
                    due_ms: int = event.due_ms  # type: ignore[assignment]  # set for every sample
                    if due_ms <= t_ms:
                        yield event
                    else:
                        heapq.heappush(delayed, (due_ms, next(arrivals), event))
            base += period
        while delayed:
            yield heapq.heappop(delayed)[2]

    def _offline(self, d: _Device, plan: FaultPlan) -> None:
        """The device sends nothing at this sample (an injected gap); the machine runs on."""
        if d.offline == 0:  # the gap begins
            d.offline = plan.gap_intervals(d.fault_rng)
            self.injected.record("gap", d.device_id, d.seq + 1)
        d.offline -= 1
        self.injected.missing_samples += 1

    def _faulted(
        self, d: _Device, t_ms: int, fields: dict[str, object], fault: str | None
    ) -> list[Emitted]:
        """The records a sample hit by `fault` becomes, each with its delivery time."""
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
            return [emitted(Topic.TELEMETRY, d.key, orjson.dumps(fields), t_ms, True, t_ms)]
        self.injected.record(fault, d.device_id, d.seq)
        if fault == "clock_skew":
            fields["ts"] = format_ts_ms(ts_ms)
        if fault == "malformed":
            value = malformed(fields, rng.randrange(4))
        else:
            value = orjson.dumps(fields)
        event = emitted(Topic.TELEMETRY, d.key, value, ts_ms, fault != "malformed", deliver_ms)
        if fault != "duplicate":
            return [event]
        return [event, emitted(Topic.TELEMETRY, d.key, value, ts_ms, True, again_ms)]
