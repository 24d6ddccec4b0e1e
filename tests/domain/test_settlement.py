"""Settlement's rules (domain.settlement): the exchange fee and the totals per movement type."""

from __future__ import annotations

from dataclasses import dataclass

from domain.settlement import MovementTotal, movement_fee, movement_totals
from domain.tokens import CASH_ID, Kind, encode_id

CO2 = encode_id(Kind.ALLOWANCE, "CO2", 2027)


@dataclass(frozen=True)
class Rate:
    per_tonne: int
    bps: int


def test_movement_fee_is_bps_of_cash_and_per_tonne_of_allowances() -> None:
    assert movement_fee(CASH_ID, 10_001, Rate(per_tonne=7, bps=30)) == 30
    assert movement_fee(CO2, 12, Rate(per_tonne=7, bps=30)) == 84


def test_movement_totals_count_the_larger_side_in_report_order() -> None:
    rows = [
        (CO2, "transfer", 2, 5, 5),
        (CASH_ID, "transfer", 2, 300, 300),
        (CO2, "allocation", 1, 40, 0),
        (CO2, "custom", 1, 0, 3),
        (CASH_ID, "deposit", 0, 0, 0),
    ]
    assert movement_totals(rows) == [
        MovementTotal("allocation", 1, 40, 0),
        MovementTotal("transfer", 4, 5, 300),
        MovementTotal("custom", 1, 3, 0),
    ]
