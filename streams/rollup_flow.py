"""The roll-up flow: the roll-up feed in (births and device windows from every worker's
device flow), line to province OEE and digitization windows out.

The feed has one partition, so one worker adds up every device window. The newest window
of each device is kept as a member in a changelogged table; old ones are forgotten once
no roll-up can change any more.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import faust
import orjson

from iiot.contract import decode, encode
from iiot.messages import DeviceBirth
from iiot.oee import from_ms
from iiot.settings import Settings
from streams.batch import Batch, Outbox
from streams.feed import FED_CLOCKS, add_member, member_start
from streams.rollup_state import RollupState

FORGET_EVERY = 1_000  # members seen between two looks for windows to forget

log = logging.getLogger("iiot.streams")


class RollupFlow:
    def __init__(
        self,
        settings: Settings,
        *,
        member_table: faust.Table[str, bytes],
        oee_topic: str,
        digitization_topic: str,
        counters: defaultdict[str, int],
    ) -> None:
        self.settings, self.counters = settings, counters
        self.member_table = member_table
        self.oee_topic, self.digitization_topic = oee_topic, digitization_topic
        self.rollup = RollupState(
            settings.oee_window_s * 1000,
            settings.digitization_window_s * 1000,
            settings.digitization_weights,
        )
        self.forgot_at = 0  # members seen when old windows were last forgotten
        self.late_warned = 0  # late members warned of

    def take(self, batch: Batch, event: faust.EventT[Any]) -> None:
        """One feed record: a birth, device windows (the newest of each is kept), or the
        partitions' clocks."""
        if event.key == b"birth":
            birth = decode(DeviceBirth, event.value)
            batch.put(self.member_table, 0, f"birth:{birth.device_id}", event.value)
            self.rollup.on_birth(birth)
            return
        if event.key == FED_CLOCKS:
            for partition, ms in orjson.loads(event.value):
                if self.rollup.on_clock(partition, ms):
                    batch.members[f"clock:{partition}"] = ms
            return
        for key, member in orjson.loads(event.value):
            if add_member(self.rollup, member):  # else an older revision, come late
                batch.members[f"window:{key}"] = member  # the newest only
            self.counters["members"] += 1

    def write(self, batch: Batch) -> Outbox:
        """The batch's members, and the forgetting of old ones now and then."""
        for key, member in batch.members.items():
            batch.put(self.member_table, 0, key, orjson.dumps(member))
        if self.counters["members"] - self.forgot_at >= FORGET_EVERY:
            self.forgot_at = self.counters["members"]
            grace_ms = self.settings.grace_s * 1000
            # The emit timer's windows (not yet final) may follow their batch's clock by a
            # batch or so: far less than the digitization window kept besides the grace.
            horizon_ms = self.rollup.settled_ms() - 2 * grace_ms - self.rollup.digitization_ms
            self.forget(batch, horizon_ms)
        late = self.rollup.late_members
        if late > self.late_warned:
            log.warning(
                "%d device windows came after their roll-ups were forgotten (windows before "
                "%s): those roll-ups lack their other devices",
                late - self.late_warned, from_ms(self.rollup.forgotten_ms).isoformat(),
            )  # fmt: skip
            self.counters["late_members"] += late - self.late_warned
            self.late_warned = late
        return batch.out

    def forget(self, batch: Batch, horizon_ms: int) -> None:
        self.rollup.forget_before(horizon_ms)
        table = self.member_table
        for key in [k for k in table if k.startswith("window:")]:
            if member_start(table[key]) + self.rollup.digitization_ms < horizon_ms:
                batch.drop(table, 0, key)

    def recovered(self) -> None:
        """The roll-ups again from the restored members: births first."""
        for key, value in self.member_table.items():
            if key.startswith("birth:"):
                self.rollup.on_birth(decode(DeviceBirth, value))
            elif key.startswith("clock:"):
                self.rollup.on_clock(int(key.removeprefix("clock:")), orjson.loads(value))
        late = self.rollup.late_members  # the table keeps members longer than the windows
        for key, value in self.member_table.items():
            if key.startswith("window:"):
                add_member(self.rollup, orjson.loads(value))
        self.rollup.late_members = late

    def emit(self) -> Outbox:
        """The roll-up and digitization windows changed since the last emit."""
        oee, digitization = self.rollup.take_dirty()
        out: Outbox = [(self.oee_topic, w.key.encode(), encode(w), None) for w in oee]
        out += [(self.digitization_topic, w.key.encode(), encode(w), None) for w in digitization]
        self.counters["rollups_emitted"] += len(oee)
        self.counters["digitization_emitted"] += len(digitization)
        return out
