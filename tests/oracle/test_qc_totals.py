"""The queue's batch totals split by quality: for any stream of readings with random QC statuses,
flags and gaps, the valid total is the sum of the valid measured values, valid + excluded is every
measured value, and gap estimates are summed apart, never into a measured total."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.review import Exclusion, exclusion_of
from oracle.queue import Estimate, EstimateTotal, ExcludedTotal, PollutantTotal, Queue
from oracle.signing.reading import ReadingFields
from tests.utils.readings import BASE_TIME, signer

_STATUSES = ("measured", "outlier", "invalid")
_FLAGS = ("N", "D", "M", "C")

reading = st.tuples(
    st.sampled_from(("w01018", "w21003")),
    st.integers(-(10**9), 10**12),
    st.integers(0, 4),
    st.sampled_from(_STATUSES),
    st.sampled_from(_FLAGS),
)


def test_exclusion_of_orders_invalid_outlier_fault() -> None:
    assert exclusion_of("measured", "N") is None
    assert exclusion_of("UNCHECKED", "N") is None
    assert exclusion_of("measured", "D") is Exclusion.FAULT
    assert exclusion_of("outlier", "D") is Exclusion.OUTLIER
    assert exclusion_of("invalid", "D") is Exclusion.INVALID


@settings(max_examples=40, deadline=None)
@given(
    frames=st.lists(st.lists(reading, min_size=1, max_size=5), min_size=1, max_size=6),
    gaps=st.lists(st.booleans(), min_size=6, max_size=6),
    estimates=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 3)), max_size=4),
)
def test_batch_valid_plus_excluded_equals_all_and_estimates_apart(
    frames: list[list[tuple[str, int, int, str, str]]],
    gaps: list[bool],
    estimates: list[tuple[int, int]],
) -> None:
    device = signer(741)
    queue = Queue()
    time = BASE_TIME
    statuses: list[str] = []
    rows: list[tuple[str, int, int, str, str]] = []
    signed = []
    for frame, gap in zip(frames, gaps, strict=False):
        time += 120 if gap else 60  # a skipped minute: a gap the estimates stand for
        signed.append(
            device.sign_frame([ReadingFields(time, p, v, d, "mg/L", flag) for p, v, d, _, flag in frame])
        )
        statuses += [status for _, _, _, status, _ in frame]
        rows += frame
    queue.append(signed, qc=statuses)
    queue.append(
        (),
        estimates=[
            Estimate(device.address, BASE_TIME, "w01018", "mg/L", v, d, "linear") for v, d in estimates
        ],
    )
    [batch] = queue.cut_batches(1000, 0)

    def amount(value: int, decimals: int) -> Decimal:
        return Decimal(value).scaleb(-decimals)

    for total in batch.totals:
        mine = [r for r in rows if r[0] == total.pollutant]
        valid = [r for r in mine if exclusion_of(r[3], r[4]) is None]
        assert amount(total.value, total.decimals) == sum(
            (amount(v, d) for _, v, d, _, _ in valid), Decimal(0)
        )
        assert total.count == len(valid)
        excluded = [e for e in batch.excluded if e.pollutant == total.pollutant]
        assert all(e.decimals == total.decimals for e in excluded)
        assert total.value + sum(e.value for e in excluded) == sum(
            v * 10 ** (total.decimals - d) for _, v, d, _, _ in mine
        )
        assert total.count + sum(e.count for e in excluded) == len(mine)
        for e in excluded:
            assert e.count == sum(1 for r in mine if exclusion_of(r[3], r[4]) == e.reason)
    assert batch.count == len(rows)
    if estimates:
        [estimate] = batch.estimates
        assert (estimate.method, estimate.count) == ("linear", len(estimates))
        assert amount(estimate.value, estimate.decimals) == sum(
            (amount(v, d) for v, d in estimates), Decimal(0)
        )
    else:
        assert batch.estimates == ()
    # the estimates are the batch's own: a second cut finds none left
    assert queue.cut_batches(1000, 0) == []


def test_batch_totals_json_form_pinned_byte_for_byte() -> None:
    """The stored totals (and so the anchored totals hash's preimage) keep their JSON form."""
    batch_totals = (
        PollutantTotal("w01018", "kg", 10**30 + 7, 3, 12),
        ExcludedTotal("w01018", "kg", int(Exclusion.OUTLIER), -25, 3, 2),
        EstimateTotal("w01018", "kg", "linear", 1500, 2, 4),
    )
    texts = [json.dumps(t.to_json(), separators=(",", ":")) for t in batch_totals]
    assert texts == [
        '{"pollutant":"w01018","unit":"kg","value":"1000000000000000000000000000007","decimals":3,"count":12}',
        '{"pollutant":"w01018","unit":"kg","reason":2,"value":"-25","decimals":3,"count":2}',
        '{"pollutant":"w01018","unit":"kg","method":"linear","value":"1500","decimals":2,"count":4}',
    ]
    for total, text in zip(batch_totals, texts, strict=True):
        assert type(total).from_json(json.loads(text)) == total
    assert batch_totals[0].amount == Decimal("1000000000000000000000000000.007")
    as_text = {**batch_totals[1].to_json(), "reason": "2", "count": "2"}
    assert ExcludedTotal.from_json(as_text) == batch_totals[1]
