"""domain.review: the substitution methods compute their values, refuse what they cannot compute,
and the decision rules match the ledger's (a substitution names a method, accept/reject none)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import ReviewInputError
from domain.review import Action, Method, check_decision, month_of, substitute_value


def test_substitute_value_previous_hour_is_mean_of_valid_values() -> None:
    got = substitute_value(Method.PREVIOUS_HOUR, previous_hour=[Decimal("1.5"), Decimal("2.5"), Decimal("5")])
    assert got == Decimal(3)


def test_substitute_value_permitted_max_linear_and_manual() -> None:
    assert substitute_value("permmax", permitted_max=Decimal("50")) == Decimal(50)
    assert substitute_value("linear", estimate=Decimal("7.25")) == Decimal("7.25")
    assert substitute_value("manual", stated=Decimal("4")) == Decimal(4)


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("prevhour", "no valid reading"),
        ("permmax", "no permitted maximum"),
        ("linear", "no recorded estimate"),
        ("manual", "reviewer's value"),
        ("guess", "unknown substitution method"),
    ],
)
def test_substitute_value_refuses_missing_input_by_name(method: str, message: str) -> None:
    with pytest.raises(ReviewInputError, match=message):
        substitute_value(method)


def test_check_decision_rules() -> None:
    assert check_decision(3, "prevhour", 10) is Action.SUBSTITUTE
    assert check_decision(1, "", 0) is Action.ACCEPT
    with pytest.raises(ReviewInputError, match="must name its method"):
        check_decision(Action.SUBSTITUTE, "", 5)
    with pytest.raises(ReviewInputError, match="takes no method"):
        check_decision(Action.REJECT, "prevhour", 0)
    with pytest.raises(ReviewInputError, match="unknown review action"):
        check_decision(7, "", 0)


def test_month_of() -> None:
    assert month_of(202701) == "2027-01"
    with pytest.raises(ReviewInputError):
        month_of(202713)
