"""Over 10,000 bad records between the good samples (tests/faults/campaign.py says which
records are bad): nothing stops, the good samples give the fault-free windows, each bad
record is one dead-letter row with its reason."""

from __future__ import annotations

import pytest

from iiot.settings import Settings
from tests.faults.campaign import BAD_RECORDS, Injector, campaign, ghost_keys
from tests.faults.harness import Matrix, execute, judge, settings_for
from tests.faults.outcome import Snapshot
from tests.faults.pipeline import Run

# A run takes minutes, the first one also the baseline's.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

FROM_S, OVER_S = 5, 100  # spread over most of the 120 s of publishing


def test_bad_input_campaign(baseline: Snapshot, shared: Settings, matrix: Matrix) -> None:
    fleet = sorted({device_id for device_id, _, _ in baseline.telemetry})
    records = campaign(fleet)
    settings = settings_for("badinput", shared)
    injector = Injector(settings)

    def scenario(run: Run) -> None:
        injector.wait_for_good_samples()
        run.note("good samples in every partition: the campaign begins")
        per_second = len(records) // OVER_S + 1
        for k in range(OVER_S):
            run.wait_until(FROM_S + k)
            injector.send(records[k * per_second : (k + 1) * per_second])
        left = injector.close()
        run.note(f"campaign: {len(injector.bad)} bad and {len(injector.valid)} valid records "
                 f"delivered, {injector.failed + left} not")  # fmt: skip

    run, snap = execute("badinput", settings, scenario)
    assert injector.failed == 0 and len(injector.bad) >= BAD_RECORDS >= 10_000
    judge("bad_input_campaign", run, snap, baseline, matrix,
          bad=injector.bad, tolerated=injector.valid, extra_ok=ghost_keys())  # fmt: skip
