"""Monitoring data quality and its review: which readings count as valid, why the others are
excluded, the reviewer's actions and the substitution methods that compute a replacement value.

A reading's class (:func:`exclusion_of`) follows quality control's status and the HJ 212 data
flag, first match wins: ``invalid`` (out of the plausible range, an unknown flag), ``outlier``
(far from the rolling median), ``fault`` (a data flag other than ``N``: fault, maintenance,
calibration, stopped ...); else the reading is valid. Gap estimates (quality control's filled
values) are never readings: they are summed apart with their method.

A reviewer (the regulator, or the auditor assigned to the enterprise) decides each doubtful item
once: ``accept`` (it counts as measured), ``reject`` (it stays excluded) or ``substitute`` (a value
computed by a stated :class:`Method` replaces it). The EmissionsLedger checks the same rules
(``LedgerReviewMethodMissing``, ``LedgerReviewMethodUnexpected``, ``LedgerReviewActionUnknown``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Final

from domain.errors import ReviewInputError

__all__ = [
    "NORMAL_FLAG",
    "Action",
    "Exclusion",
    "Method",
    "QualitySums",
    "ReviewRule",
    "check_decision",
    "exclusion_of",
    "month_of",
    "quality_sums",
    "substitute_value",
]

#: The HJ 212 data flag of a normal reading.
NORMAL_FLAG: Final = "N"


class Exclusion(IntEnum):
    """Why a reading is excluded from the valid totals (the ledger's ``ExcludedTotal.reason``)."""

    INVALID = 1
    OUTLIER = 2
    FAULT = 3

    @property
    def label(self) -> str:
        """Lower-case name (``invalid``, ``outlier``, ``fault``)."""
        return self.name.lower()


def exclusion_of(status: str, flag: str) -> Exclusion | None:
    """The exclusion of a reading with quality-control ``status`` (``measured``, ``outlier``,
    ``invalid``, or ``UNCHECKED`` for readings stored without QC) and data ``flag``, or
    ``None`` when it is valid."""
    if status == "invalid":
        return Exclusion.INVALID
    if status == "outlier":
        return Exclusion.OUTLIER
    if flag != NORMAL_FLAG:
        return Exclusion.FAULT
    return None


@dataclass(frozen=True, slots=True)
class QualitySums:
    """Exact sums of one (pollutant, unit) split by quality: ``valid`` and per exclusion.

    Values are scaled by ``10**decimals``; ``counts`` and ``sums`` are keyed by ``None`` (valid)
    and each :class:`Exclusion`.
    """

    decimals: int
    sums: dict[Exclusion | None, int]
    counts: dict[Exclusion | None, int]

    @property
    def all(self) -> int:
        """Valid plus excluded: the sum of every reading."""
        return sum(self.sums.values())


def quality_sums(rows: Iterable[tuple[int, int, Exclusion | None]]) -> QualitySums:
    """Exact sums of ``(value, decimals, exclusion)`` rows of one (pollutant, unit), at the
    largest precision among them (so valid + excluded is exactly the sum of all)."""
    items = list(rows)
    scale = max((d for _, d, _ in items), default=0)
    sums: dict[Exclusion | None, int] = {}
    counts: dict[Exclusion | None, int] = {}
    for value, decimals, why in items:
        sums[why] = sums.get(why, 0) + value * 10 ** (scale - decimals)
        counts[why] = counts.get(why, 0) + 1
    return QualitySums(scale, sums, counts)


class Action(IntEnum):
    """A reviewer's decision (the ledger's ``ReviewDecision.action``)."""

    ACCEPT = 1
    REJECT = 2
    SUBSTITUTE = 3


class Method(StrEnum):
    """How a substituted value is computed (the ledger's ``ReviewDecision.method``, bytes8)."""

    PREVIOUS_HOUR = "prevhour"
    """The mean of the valid readings of the previous hour of the same factor."""
    PERMITTED_MAX = "permmax"
    """The permitted maximum (the permit's or site file's limit): an unexplained outage."""
    LINEAR = "linear"
    """Quality control's linear interpolation between the measured values around a gap."""
    MANUAL = "manual"
    """A value the reviewer states (with a note): e.g. from the plant's own records."""


@dataclass(frozen=True, slots=True)
class ReviewRule:
    """What a method needs (documentation for clients and the CLI)."""

    method: Method
    needs: str


RULES: Final = (
    ReviewRule(Method.PREVIOUS_HOUR, "the valid values of the previous hour"),
    ReviewRule(Method.PERMITTED_MAX, "the permitted maximum"),
    ReviewRule(Method.LINEAR, "the estimate quality control recorded"),
    ReviewRule(Method.MANUAL, "the reviewer's value"),
)


def substitute_value(
    method: Method | str,
    *,
    previous_hour: Sequence[Decimal] = (),
    permitted_max: Decimal | None = None,
    estimate: Decimal | None = None,
    stated: Decimal | None = None,
) -> Decimal:
    """The value ``method`` substitutes.

    Raises:
        ReviewInputError: an unknown method, or the input the method needs is missing
            (no valid reading in the previous hour, no permitted maximum ...).
    """
    try:
        chosen = Method(method)
    except ValueError:
        raise ReviewInputError(f"unknown substitution method {method!r}") from None
    if chosen is Method.PREVIOUS_HOUR:
        if not previous_hour:
            raise ReviewInputError("previous hour has no valid reading to average")
        return sum(previous_hour, Decimal(0)) / len(previous_hour)
    if chosen is Method.PERMITTED_MAX:
        if permitted_max is None:
            raise ReviewInputError("no permitted maximum is known for this factor")
        return permitted_max
    if chosen is Method.LINEAR:
        if estimate is None:
            raise ReviewInputError("no recorded estimate to take")
        return estimate
    if stated is None:
        raise ReviewInputError("a manual substitution needs the reviewer's value")
    return stated


def check_decision(action: Action | int, method: str, value: int) -> Action:
    """The action of a decision with ``method`` and scaled ``value``, checked.

    Raises:
        ReviewInputError: the action is unknown; a substitution names no (known) method; an
            accept or reject carries a method or a value.
    """
    try:
        chosen = Action(action)
    except ValueError:
        raise ReviewInputError(f"unknown review action {action!r}") from None
    if chosen is Action.SUBSTITUTE:
        if not method:
            raise ReviewInputError("a substitution must name its method")
        try:
            Method(method)
        except ValueError:
            raise ReviewInputError(f"unknown substitution method {method!r}") from None
    elif method or value:
        raise ReviewInputError(f"{chosen.name.lower()} takes no method or value")
    return chosen


def month_of(year_month: int) -> str:
    """``YYYYMM`` as ``YYYY-MM``.

    Raises:
        ReviewInputError: not a month.
    """
    year, month = divmod(int(year_month), 100)
    if not 1 <= month <= 12 or not 1970 <= year <= 9999:
        raise ReviewInputError(f"month {year_month!r} is not YYYYMM")
    return f"{year:04d}-{month:02d}"
