"""The client counts Kafka records, not samples: the samples it still holds are estimated
from the samples per record it was given (rounded up), exact for single-sample records."""

from __future__ import annotations

from producers.delivery import _share


def test_single_samples_are_exact() -> None:
    assert _share(in_client=7, samples=100, records=100) == 7


def test_batch_records_round_up() -> None:
    # 10 records carrying 25 samples: 3 still held carry 7.5 on average, counted as 8.
    assert _share(in_client=3, samples=25, records=10) == 8


def test_an_empty_client_holds_nothing() -> None:
    assert _share(in_client=0, samples=25, records=10) == 0
    assert _share(in_client=3, samples=0, records=0) == 0


def test_never_more_than_can_be_held() -> None:
    # Failed records no longer count: the estimate stays within the samples not settled.
    assert _share(in_client=10, samples=1_000, records=10, most=400) == 400
