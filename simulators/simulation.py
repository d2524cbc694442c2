"""A simulation run: the province's devices stepped in simulated time, faults injected, and
every record to publish yielded in delivery order.

Devices wait in a heap by their next sample time; samples that a fault delays (out of order,
late, a duplicate sent again) wait in a second heap by delivery time and are yielded when the
simulated clock reaches it. No wall clock is read: `pace()` adds real time if wanted.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace

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
from simulators.wire import encode_fields, malformed, sample_fields


@dataclass(frozen=True, slots=True)
class Emitted:
    """One Kafka record to publish."""

    topic: Topic  # logical name, without IIOT_TOPIC_PREFIX
    key: bytes  # device_id, UTF-8
    value: bytes  # JSON, or the raw bytes of an injected malformed payload
    timestamp_ms: int  # event time (of a malformed one: when it was due)
    valid: bool  # False only for injected malformed payloads: they test the dead letters
    due_ms: int | None = None  # simulated time of delivery; None = timestamp_ms


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
        self.machine = Machine(
            spec.params,
            calendars[spec.shifts],
            spec.products,
            self.interval_ms,
            stream(seed, "machine", self.device_id),
        )
        self.process = ProcessModel(
            spec.kind, spec.kind.sample_interval_s, stream(seed, "process", self.device_id)
        )
        self.fault_rng = stream(seed, "faults", self.device_id)
        self.offline = 0  # sample intervals left offline (an injected gap)
        self.seq = 0


class Simulation:
    """A deterministic province run; `run()` may be called more than once (same output)."""

    def __init__(self, options: SimulationOptions) -> None:
        self.options = options
        self.devices = build_province(options.devices, options.seed)
        self.injected = FaultReport()

    def births(self) -> list[DeviceBirth]:
        return [spec.birth for spec in self.devices]

    def run(self) -> Iterator[Emitted]:
        """Births first, then samples in delivery order, as fast as they can be computed."""
        opts = self.options
        start_ms, end_ms = opts.start_ms, opts.end_ms
        self.injected = report = FaultReport()
        for birth in self.births():
            yield Emitted(
                Topic.REGISTRY, birth.device_id.encode(), encode(birth), start_ms, True, start_ms
            )
        calendars = {n: ShiftCalendar(n) for n in (2, 3)}
        devices = [_Device(spec, opts.seed, calendars) for spec in self.devices]
        due = [(start_ms + d.spec.phase_ms, i) for i, d in enumerate(devices)]
        heapq.heapify(due)
        delayed: list[tuple[int, int, Emitted]] = []
        plan = FaultPlan(opts.faults)
        telemetry = Topic.TELEMETRY
        tie = 0
        while due:
            t_ms, i = due[0]
            if end_ms is not None and t_ms >= end_ms:
                break
            while delayed and delayed[0][0] <= t_ms:
                yield heapq.heappop(delayed)[2]
            d = devices[i]
            heapq.heapreplace(due, (t_ms + d.interval_ms, i))
            m = d.machine
            state = m.step(t_ms)
            metrics = d.process.values(state, m.wear(), m.run_since_repair_s / 3_600)
            if plan.on and self._offline(d, plan, report):
                continue
            d.seq += 1
            report.samples += 1
            if not plan.on:
                fields = sample_fields(
                    d.device_id,
                    t_ms,
                    d.seq,
                    state,
                    m.count_total,
                    m.count_good,
                    m.product.ideal_cycle_s,
                    m.product.name,
                    metrics,
                )
                yield Emitted(telemetry, d.key, encode_fields(fields), t_ms, True, t_ms)
                continue
            for deliver_ms, event in self._faulted(d, t_ms, state, metrics, plan, report):
                if deliver_ms <= t_ms:
                    yield event
                elif end_ms is None or deliver_ms < end_ms:
                    tie += 1
                    heapq.heappush(delayed, (deliver_ms, tie, event))
        while delayed:
            yield heapq.heappop(delayed)[2]

    @staticmethod
    def _offline(d: _Device, plan: FaultPlan, report: FaultReport) -> bool:
        """Is the device offline at this sample (an injected gap)? The machine runs on."""
        if d.offline == 0:
            d.offline = plan.gap_intervals(d.fault_rng)
            if d.offline == 0:
                return False
            report.record("gap", d.device_id, d.seq + 1)
        d.offline -= 1
        report.missing_samples += 1
        return True

    def _faulted(
        self,
        d: _Device,
        t_ms: int,
        state: str,
        metrics: dict[str, float],
        plan: FaultPlan,
        report: FaultReport,
    ) -> list[tuple[int, Emitted]]:
        """The records one sample becomes under the fault plan, each with its delivery time."""
        m, rng, opts = d.machine, d.fault_rng, self.options
        if plan.resets(rng):
            m.reset_counters()
            report.record("counter_reset", d.device_id, d.seq)
        fault = plan.per_sample(rng)
        ts_ms = deliver_ms = again_ms = t_ms
        if fault == "clock_skew":  # a device clock running ahead, beyond the future tolerance
            ts_ms = t_ms + (opts.future_tolerance_s + rng.randint(60, 1_800)) * 1000
        elif fault == "out_of_order":  # after the device's next sample, well within the grace
            deliver_ms = t_ms + int(d.interval_ms * (1.5 + rng.random()))
        elif fault == "late":  # beyond the grace, in event time
            deliver_ms = t_ms + (opts.grace_s + rng.randint(30, 180)) * 1000
        elif fault == "duplicate":  # a retry of a sample already sent, shortly after
            again_ms = t_ms + int(d.interval_ms * 2 * rng.random())
        end_ms = opts.end_ms
        if end_ms is not None and max(deliver_ms, again_ms) >= end_ms:
            fault, ts_ms, deliver_ms = None, t_ms, t_ms  # could not arrive within the run
        fields = sample_fields(
            d.device_id,
            ts_ms,
            d.seq,
            state,
            m.count_total,
            m.count_good,
            m.product.ideal_cycle_s,
            m.product.name,
            metrics,
        )
        if fault == "malformed":
            value, valid = malformed(fields, rng.randrange(4)), False
        else:
            value, valid = encode_fields(fields), True
        event = Emitted(Topic.TELEMETRY, d.key, value, ts_ms, valid, deliver_ms)
        if fault is None:
            return [(deliver_ms, event)]
        report.record(fault, d.device_id, d.seq)
        if fault != "duplicate":
            return [(deliver_ms, event)]
        return [(deliver_ms, event), (again_ms, replace(event, due_ms=again_ms))]
