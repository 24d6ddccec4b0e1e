"""The compliance settlement rule: the offset cap, what an enterprise surrenders, its outcome
(A covered, B shortfall, C no verified emissions) and the penalty — as ComplianceManager applies it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.units import BPS, UINT32_MAX, UINT128_MAX, Fen, Tonnes, check_uint

#: Letter of each outcome code as the regulator writes it: A covered, B shortfall, C no verified emissions.
OUTCOME_LETTERS: dict[int, str] = {1: "A", 2: "B", 3: "C"}


class Outcome(enum.IntEnum):
    """Outcome code of an obligation: A covered, B shortfall, C no verified emissions."""

    NONE = 0
    COVERED = 1
    SHORTFALL = 2
    NO_VERIFIED_EMISSIONS = 3

    @property
    def code(self) -> str:
        return OUTCOME_LETTERS.get(int(self), "-")


@dataclass(frozen=True)
class YearConfig:
    """Rules of a compliance year.

    Attributes:
        offset_cap_bps: offsets may cover at most this share of verified emissions (0..10,000).
        fine_per_tonne: fine per tonne of shortfall, settlement cash minor units (fen).
        make_good_bps: make-good units per tonne of shortfall in bps (10,000 = one for one).
        no_report_fine: flat fine for outcome C (no verified emissions by the deadline).
    """

    offset_cap_bps: int
    fine_per_tonne: int = 0
    make_good_bps: int = 0
    no_report_fine: int = 0
    configured: bool = True

    def as_tuple(self) -> tuple[int, int, int, int, bool]:
        """The rules as the contract's ``YearConfig`` struct (each value checked for its width)."""
        return (
            check_uint(self.offset_cap_bps, "offset cap (bps)", BPS),
            check_uint(self.make_good_bps, "make-good ratio (bps)", UINT32_MAX),
            check_uint(self.fine_per_tonne, "fine per tonne", UINT128_MAX),
            check_uint(self.no_report_fine, "no-report fine", UINT128_MAX),
            True,
        )

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> YearConfig:
        """The rules from the contract's ``YearConfig`` struct."""
        return cls(int(t[0]), int(t[2]), int(t[1]), int(t[3]), bool(t[4]))


def offset_cap(verified: int, offsets_eligible: int, offset_cap_bps: int, already: int = 0) -> Tonnes:
    """Offsets an obligation may still surrender: ``min(floor(V × bps / 10,000), eligible) − already``."""
    cap = min(verified * offset_cap_bps // BPS, offsets_eligible)
    return Tonnes(max(cap - already, 0))


def surrender_plan(
    verified: int | None, allowances_held: int, offsets_held: int, offset_cap_bps: int
) -> tuple[Tonnes, Tonnes]:
    """What an enterprise surrenders under the settlement rule: ``(offsets, allowances)``.

    Offsets first, up to ``floor(V × offset_cap_bps / 10,000)``; allowances cover the rest;
    nothing beyond V (any surplus stays banked). Nothing without verified emissions.
    """
    if verified is None:
        return Tonnes(0), Tonnes(0)
    offsets = offset_cap(verified, offsets_held, offset_cap_bps)
    allowances = Tonnes(min(allowances_held, verified - offsets))
    return offsets, allowances


def shortfall_of(verified: int | None, surrendered: int) -> Tonnes:
    """Tonnes of verified emissions not covered by what was surrendered (0 without verified emissions)."""
    return Tonnes(0 if verified is None else verified - surrendered)


def outcome_of(verified: int | None, shortfall: int) -> Outcome:
    """C without verified emissions, else A when nothing is short, B otherwise."""
    if verified is None:
        return Outcome.NO_VERIFIED_EMISSIONS
    return Outcome.COVERED if shortfall == 0 else Outcome.SHORTFALL


def penalty(config: YearConfig, outcome: Outcome, shortfall: int) -> tuple[Fen, Tonnes]:
    """(fine, make-good units) of an outcome under a year's rules, as the contract records them."""
    if outcome is Outcome.SHORTFALL:
        return Fen(shortfall * config.fine_per_tonne), Tonnes(shortfall * config.make_good_bps // BPS)
    if outcome is Outcome.NO_VERIFIED_EMISSIONS:
        return Fen(config.no_report_fine), Tonnes(0)
    return Fen(0), Tonnes(0)
