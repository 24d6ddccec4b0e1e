"""Card-swipe total-amount controller: monthly quota loads, discharge totals, alarms and valve.

The Taizhou pilot's "one enterprise, one permit, one card" model:

* The regulator gives each enterprise an **annual quota** per pollutant and year
  (:class:`AnnualQuota`), split into 12 monthly amounts: evenly (:func:`even_split`), by the
  quarters the enterprise asked for (:func:`quarterly_split`), by any weights
  (:func:`weighted_split`) or month by month (:func:`explicit_split`). Amounts are whole
  grams, held as :class:`~decimal.Decimal` kilograms with three decimals; a split always sums
  to the annual quota exactly.
* Swiping the enterprise's **IC card** (a card id bound to an enterprise) loads the current
  month's amounts into the controller (:meth:`QuotaController.swipe`). A second swipe in the
  same month loads nothing. A regulator **top-up** (:meth:`QuotaController.top_up`) adds to
  the current month.
* **Unused quota does not carry over.** A month's balance is that month's load plus its
  top-ups; the first frame, swipe or top-up dated in a later month closes the month and
  starts the next one with nothing loaded. A month must be loaded before discharging:
  wastewater discharged while nothing is loaded closes the valve at once.
* **Discharge** is integrated from the controller's frames (:func:`discharge_kg`).
* **Graded alarms** at configurable fractions of the loaded quota (default 80 %, 90 %,
  100 %) go to a :class:`Notifier` exactly once per threshold, pollutant and month, lowest
  first. They are measured against what is loaded, so none is raised while nothing is.
* At 100 % of a **wastewater** pollutant (codes ``w...``) the controller commands the
  :class:`Valve` closed and logs it. Only a new load (the next month's swipe or a top-up)
  reopens it, and only when every wastewater pollutant is then below its loaded quota.
* **Time** comes only from the frames' DataTime and the times passed to swipes and top-ups,
  never from the wall clock, so a replay of the same inputs gives the same decisions.
* :meth:`QuotaController.snapshot` / :class:`QuotaState` ``to_dict``/``from_dict`` persist
  the controller's state (JSON-safe) for a gateway restart.

Not thread-safe: feed one controller from one thread (the transports' handler thread).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from fractions import Fraction
from itertools import pairwise
from typing import Any, Final, Protocol, runtime_checkable

from domain.errors import EtsError
from oracle.errors import (
    DischargeError,
    ForeignCardError,
    QuotaConfigError,
    QuotaNotAllocatedError,
    QuotaSplitError,
    QuotaStateError,
    QuotaTimeError,
    UnknownCardError,
)
from oracle.hj212 import CN_DAY_DATA, CN_HOUR_DATA, CN_MINUTE_DATA, POLLUTANTS, Frame

__all__ = [
    "DEFAULT_THRESHOLDS",
    "STANDARD_INTERVALS",
    "AnnualQuota",
    "ListNotifier",
    "LoggingNotifier",
    "LoggingValve",
    "Notifier",
    "PollutantBalance",
    "QuotaAlarm",
    "QuotaBalance",
    "QuotaController",
    "QuotaState",
    "Valve",
    "discharge_kg",
    "even_split",
    "explicit_split",
    "quarterly_split",
    "weighted_split",
]

logger = logging.getLogger(__name__)

MONTHS: Final = 12
#: One gram: the resolution of quotas, in kilograms.
GRAM: Final = Decimal("0.001")
#: Default alarm thresholds, as fractions of the month's loaded quota.
DEFAULT_THRESHOLDS: Final = (Decimal("0.80"), Decimal("0.90"), Decimal("1.00"))
#: Period each aggregate frame covers, by command code (hour and day data).
STANDARD_INTERVALS: Final[Mapping[str, timedelta]] = {
    CN_HOUR_DATA: timedelta(hours=1),
    CN_DAY_DATA: timedelta(days=1),
}
# Exact arithmetic whatever the caller's decimal context: 60 digits hold any product of
# frame values (at most ~20 digits each) and a year of sums without rounding.
_CTX: Final = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_ZERO: Final = Decimal(0)
# mg/L x m³ = g, and g -> kg; mg/m³ x m³ = mg, and mg -> kg.
_WATER_TO_KG: Final = -3
_GAS_TO_KG: Final = -6
_WATER_FLOW: Final = "w00000"  # L/s, total m³
_GAS_FLOW: Final = "a00000"  # m³/s, total m³


# --- amounts and splits ---------------------------------------------------------------------


def _decimal(value: Decimal | int | str, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise QuotaSplitError(f"{what} must be a Decimal, int or str, not {type(value).__name__}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise QuotaSplitError(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise QuotaSplitError(f"{what} {value!r} is not finite")
    return number


def _grams(value: Decimal | int | str, what: str) -> int:
    """Kilograms to whole grams; refuses negative amounts and fractions of a gram."""
    kg = _decimal(value, what)
    grams = _CTX.multiply(kg, Decimal(1000))
    if kg < 0 or grams != grams.to_integral_value():
        raise QuotaSplitError(f"{what} {value} kg is negative or not a whole number of grams")
    return int(grams)


def _kg(grams: int) -> Decimal:
    return Decimal(grams).scaleb(-3, _CTX)


def _apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainder, ties to the earliest)."""
    weight_sum = sum(weights, Fraction(0))
    exact = [total * w / weight_sum for w in weights]
    parts = [math.floor(share) for share in exact]
    short = total - sum(parts)
    ranked = sorted(range(len(weights)), key=lambda i: (parts[i] - exact[i], i))
    for i in ranked[:short]:
        parts[i] += 1
    return parts


def _weights(weights: Sequence[Decimal | int | str], count: int, what: str) -> list[Fraction]:
    if len(weights) != count:
        raise QuotaSplitError(f"{what} needs {count} weights, got {len(weights)}")
    fractions = [Fraction(_decimal(w, f"{what} weight")) for w in weights]
    if any(w < 0 for w in fractions) or not any(fractions):
        raise QuotaSplitError(f"{what} weights must be non-negative and not all zero")
    return fractions


def weighted_split(
    annual_kg: Decimal | int | str, weights: Sequence[Decimal | int | str]
) -> tuple[Decimal, ...]:
    """Split an annual quota over the 12 months in proportion to ``weights``.

    Whole grams go to each month by the largest-remainder method (the leftover grams to the
    months with the largest fractional shares, earlier months first on ties), so the months
    sum to the annual quota exactly and each is within one gram of its exact share.

    Args:
        annual_kg: the annual quota in kg, a whole number of grams.
        weights: 12 non-negative weights, not all zero (e.g. days per month, production plan).

    Returns:
        12 monthly amounts in kg, January first.

    Raises:
        QuotaSplitError: a negative or sub-gram quota, not 12 weights, negative or all-zero
            weights, or a float (floats drift; use Decimal or str).
    """
    grams = _grams(annual_kg, "annual quota")
    return tuple(_kg(g) for g in _apportion(grams, _weights(weights, MONTHS, "monthly split")))


def even_split(annual_kg: Decimal | int | str) -> tuple[Decimal, ...]:
    """Split an annual quota evenly over the 12 months (leftover grams to the first months).

    Raises:
        QuotaSplitError: a negative or sub-gram quota.
    """
    return weighted_split(annual_kg, [1] * MONTHS)


def quarterly_split(
    annual_kg: Decimal | int | str, quarters: Sequence[Decimal | int | str]
) -> tuple[Decimal, ...]:
    """Split an annual quota by the quarters the enterprise asked for, then evenly per quarter.

    Args:
        annual_kg: the annual quota in kg, a whole number of grams.
        quarters: 4 non-negative weights (percentages, or the kg asked for each quarter:
            amounts summing to the annual quota are reproduced exactly).

    Returns:
        12 monthly amounts in kg, January first.

    Raises:
        QuotaSplitError: a negative or sub-gram quota, not 4 weights, negative or all-zero
            weights.
    """
    grams = _grams(annual_kg, "annual quota")
    months: list[int] = []
    for quarter in _apportion(grams, _weights(quarters, 4, "quarterly split")):
        months += _apportion(quarter, [Fraction(1)] * 3)
    return tuple(_kg(g) for g in months)


def explicit_split(
    annual_kg: Decimal | int | str, months: Sequence[Decimal | int | str]
) -> tuple[Decimal, ...]:
    """Check an explicit month-by-month split against the annual quota.

    Raises:
        QuotaSplitError: not 12 amounts, a negative or sub-gram amount, or a sum that is not
            the annual quota exactly.
    """
    grams = _grams(annual_kg, "annual quota")
    if len(months) != MONTHS:
        raise QuotaSplitError(f"an explicit split needs {MONTHS} monthly amounts, got {len(months)}")
    parts = [_grams(m, f"month {i} amount") for i, m in enumerate(months, 1)]
    if sum(parts) != grams:
        raise QuotaSplitError(f"monthly amounts sum to {_kg(sum(parts))} kg, not the annual {_kg(grams)} kg")
    return tuple(_kg(g) for g in parts)


@dataclass(frozen=True)
class AnnualQuota:
    """The regulator's quota for one pollutant and year, with its monthly split.

    Build with :meth:`even`, :meth:`quarterly` or :meth:`explicit`; the constructor checks
    that the 12 monthly amounts are whole grams summing to ``annual_kg`` exactly.

    Attributes:
        pollutant: HJ 212 factor code (``w01018``).
        year: calendar year of the quota (months follow the frames' local DataTime).
        annual_kg: the annual quota in kg.
        monthly_kg: 12 monthly amounts in kg, January first.
    """

    pollutant: str
    year: int
    annual_kg: Decimal
    monthly_kg: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        if not self.pollutant:
            raise QuotaSplitError("a quota needs a pollutant code")
        if not 1 <= self.year <= 9999:
            raise QuotaSplitError(f"year {self.year} is out of range")
        explicit_split(self.annual_kg, self.monthly_kg)

    @classmethod
    def even(cls, pollutant: str, year: int, annual_kg: Decimal | int | str) -> AnnualQuota:
        """A quota split evenly over the months (see :func:`even_split`)."""
        return cls(pollutant, year, _kg(_grams(annual_kg, "annual quota")), even_split(annual_kg))

    @classmethod
    def quarterly(
        cls,
        pollutant: str,
        year: int,
        annual_kg: Decimal | int | str,
        quarters: Sequence[Decimal | int | str],
    ) -> AnnualQuota:
        """A quota split by quarter weights (see :func:`quarterly_split`)."""
        total = _kg(_grams(annual_kg, "annual quota"))
        return cls(pollutant, year, total, quarterly_split(annual_kg, quarters))

    @classmethod
    def explicit(
        cls,
        pollutant: str,
        year: int,
        annual_kg: Decimal | int | str,
        months: Sequence[Decimal | int | str],
    ) -> AnnualQuota:
        """A quota with explicit monthly amounts (see :func:`explicit_split`)."""
        total = _kg(_grams(annual_kg, "annual quota"))
        return cls(pollutant, year, total, explicit_split(annual_kg, months))

    def month(self, month: int) -> Decimal:
        """The amount of ``month`` (1 = January) in kg."""
        return self.monthly_kg[month - 1]


# --- discharge ------------------------------------------------------------------------------


def _seconds(interval: timedelta) -> Decimal:
    return Decimal(interval // timedelta(microseconds=1)).scaleb(-6, _CTX)


def _volume_m3(frame: Frame, flow_code: str, interval: timedelta | None, to_m3: Decimal) -> Decimal | None:
    """Volume discharged in the frame's period: ``-Cou`` in m³, else rate x interval."""
    items = frame.values.get(flow_code)
    if not items:
        return None
    if "Cou" in items:
        volume = frame.value(flow_code, "Cou")
    else:
        suffix = "Avg" if "Avg" in items else "Rtd" if "Rtd" in items else None
        if suffix is None or interval is None:
            return None
        volume = _CTX.multiply(_CTX.multiply(frame.value(flow_code, suffix), _seconds(interval)), to_m3)
    return max(volume, _ZERO)


def discharge_kg(frame: Frame, *, interval: timedelta | None = None) -> dict[str, Decimal]:
    """Mass of each pollutant a frame says was discharged in its period, in kg.

    For each factor of :data:`~oracle.hj212.POLLUTANTS` whose total is in kg (COD, NH3-N,
    SO2, NOx, PM ...; not flows, pH or temperatures):

    1. its ``-Cou`` value, when sent: the period's total, already in kg;
    2. else concentration (``-Avg``, else ``-Rtd``) x the period's flow volume:

       * wastewater (``w...``): mg/L x m³ = g, / 1000 -> kg; the volume is ``w00000-Cou``
         (m³), else ``w00000-Avg``/``-Rtd`` (L/s) x interval (s) / 1000;
       * flue gas (``a...``): mg/m³ x m³ = mg, / 10⁶ -> kg; the volume is ``a00000-Cou``
         (m³), else ``a00000-Avg``/``-Rtd`` (m³/s) x interval (s).

    Negative values (instrument faults) count as zero discharge. Data flags are not looked
    at: a fault-flagged reading still measured something leaving the plant. Factors outside
    the table, or with no concentration, are left out. The arithmetic is exact.

    Args:
        frame: a data frame (minute, hour, day or real-time data).
        interval: the period the frame covers; defaults to :data:`STANDARD_INTERVALS` for hour
            and day data. Minute and real-time periods depend on the device's settings
            (``MinInterval``, ``RtdInterval``) and must be given when rates are integrated.

    Returns:
        kg by factor code, in frame order.

    Raises:
        DischargeError: a factor has a concentration but no ``-Cou`` and no flow volume
            (no flow reading, or a flow rate and no interval).
    """
    if interval is None:
        interval = STANDARD_INTERVALS.get(frame.cn)
    volumes: dict[str, Decimal | None] = {}
    out: dict[str, Decimal] = {}
    for code, items in frame.values.items():
        pollutant = POLLUTANTS.get(code)
        if pollutant is None or pollutant.total_unit != "kg":
            continue
        if "Cou" in items:
            kg = frame.value(code, "Cou")
        else:
            suffix = "Avg" if "Avg" in items else "Rtd" if "Rtd" in items else None
            if suffix is None:
                continue
            water = code.startswith("w")
            flow = _WATER_FLOW if water else _GAS_FLOW
            if flow not in volumes:
                volumes[flow] = _volume_m3(frame, flow, interval, GRAM if water else Decimal(1))
            volume = volumes[flow]
            if volume is None:
                raise DischargeError(
                    f"{code}: no {code}-Cou and no {flow} volume"
                    + ("" if interval is not None or flow not in frame.values else " (no interval given)")
                )
            mass = _CTX.multiply(frame.value(code, suffix), volume)
            kg = mass.scaleb(_WATER_TO_KG if water else _GAS_TO_KG, _CTX)
        if kg < 0:
            logger.warning(
                "negative discharge counted as zero",
                extra={"device": frame.mn, "pollutant": code, "datatime": frame.datatime},
            )
            kg = _ZERO
        out[code] = kg
    return out


# --- alarms and the valve -------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaAlarm:
    """A pollutant's discharge reached a threshold of its monthly quota.

    Attributes:
        enterprise: the enterprise id.
        pollutant: HJ 212 factor code.
        year: the quota month's year.
        month: the quota month (1 = January).
        threshold: the fraction reached (``Decimal("0.80")``).
        used_kg: discharge of the month so far.
        loaded_kg: quota loaded for the month (card load plus top-ups).
        at: DataTime of the reading or event that crossed the threshold.
    """

    enterprise: str
    pollutant: str
    year: int
    month: int
    threshold: Decimal
    used_kg: Decimal
    loaded_kg: Decimal
    at: datetime


class CardQuotas(Protocol):
    """Where the swipe takes a month's quota when the IC cards are on chain: what the enterprise
    committed to the device's card for the month (``chain.cards.ChainCardQuotas``)."""

    def committed_kg(self, mn: str, pollutant: str, year: int, month: int) -> Decimal | None:
        """Kilograms committed to the card of device ``mn`` for ``pollutant`` (HJ 212 factor
        code) in ``year``-``month``; ``None`` when the device has no card on chain or the
        pollutant is no allowance (the site file's monthly quota applies then)."""
        ...

    def month_closed(self, mn: str, pollutant: str, year: int, month: int, used_kg: Decimal) -> None:
        """Record the month's metered use of device ``mn`` on its card (the month-end
        settlement: used held for surrender, the rest of the committed allowances returned);
        nothing when the device has no card or nothing was committed."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Receives quota alarms (SMS gateway, dashboard, regulator's platform ...)."""

    def notify(self, alarm: QuotaAlarm) -> None:
        """Deliver one alarm; exceptions are logged by the controller, not retried."""


class LoggingNotifier:
    """Writes each alarm to the log (warning; error at 100 % and above)."""

    def notify(self, alarm: QuotaAlarm) -> None:
        """Log ``alarm``."""
        level = logging.ERROR if alarm.threshold >= 1 else logging.WARNING
        logger.log(
            level,
            "quota alarm: %s reached %s%% of its %04d-%02d quota (%s of %s kg)",
            alarm.pollutant,
            format((alarm.threshold * 100).normalize(), "f"),
            alarm.year,
            alarm.month,
            alarm.used_kg,
            alarm.loaded_kg,
            extra={"enterprise": alarm.enterprise, "pollutant": alarm.pollutant},
        )


class ListNotifier:
    """Collects alarms in :attr:`alarms` (for tests and simulators)."""

    def __init__(self) -> None:
        self.alarms: list[QuotaAlarm] = []

    def notify(self, alarm: QuotaAlarm) -> None:
        """Append ``alarm``."""
        self.alarms.append(alarm)


@runtime_checkable
class Valve(Protocol):
    """The wastewater outlet valve the controller drives (relay, PLC, simulator)."""

    def close(self, reason: str) -> None:
        """Close the outlet; raise if the command could not be issued."""

    def open(self, reason: str) -> None:
        """Open the outlet; raise if the command could not be issued."""


class LoggingValve:
    """A valve without hardware: logs commands and records them (simulators and tests).

    Attributes:
        is_open: the last state commanded.
        commands: ``("close" | "open", reason)`` in order.
    """

    def __init__(self, *, is_open: bool = True) -> None:
        self.is_open = is_open
        self.commands: list[tuple[str, str]] = []

    def close(self, reason: str) -> None:
        """Record and log a close command."""
        self.is_open = False
        self.commands.append(("close", reason))
        logger.warning("valve closed: %s", reason)

    def open(self, reason: str) -> None:
        """Record and log an open command."""
        self.is_open = True
        self.commands.append(("open", reason))
        logger.info("valve opened: %s", reason)


# --- state ----------------------------------------------------------------------------------


@dataclass
class PollutantBalance:
    """One pollutant's balance in the current month.

    Attributes:
        loaded_kg: quota loaded this month (card load plus top-ups).
        used_kg: discharge counted this month.
        alarms: thresholds already raised this month, ascending.
    """

    loaded_kg: Decimal = _ZERO
    used_kg: Decimal = _ZERO
    alarms: list[Decimal] = field(default_factory=list)


@dataclass
class QuotaState:
    """Everything a controller must keep across restarts (see :meth:`to_dict`).

    Attributes:
        enterprise: the enterprise id the state belongs to.
        year: the current month's year, ``None`` before the first dated input.
        month: the current month (1 = January), ``None`` before the first dated input.
        swiped: whether the card was swiped (the month's quota loaded) this month.
        valve_open: the valve state last commanded.
        last_time: latest DataTime or event time seen.
        balances: per pollutant with a quota this year.
        late_frames: frames ignored because they were dated in an earlier, closed month.
    """

    enterprise: str
    year: int | None = None
    month: int | None = None
    swiped: bool = False
    valve_open: bool = True
    last_time: datetime | None = None
    balances: dict[str, PollutantBalance] = field(default_factory=dict)
    late_frames: int = 0

    def copy(self) -> QuotaState:
        """A deep copy."""
        return QuotaState.from_dict(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """This state as JSON-safe data (decimals and times as strings)."""
        return {
            "version": 1,
            "enterprise": self.enterprise,
            "year": self.year,
            "month": self.month,
            "swiped": self.swiped,
            "valve_open": self.valve_open,
            "last_time": None if self.last_time is None else self.last_time.isoformat(),
            "late_frames": self.late_frames,
            "balances": {
                code: {
                    "loaded_kg": str(b.loaded_kg),
                    "used_kg": str(b.used_kg),
                    "alarms": [str(t) for t in b.alarms],
                }
                for code, b in self.balances.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaState:
        """Load a state written by :meth:`to_dict`.

        Raises:
            QuotaStateError: unknown version, missing keys or values of the wrong kind.
        """
        try:
            if data["version"] != 1:
                raise QuotaStateError(f"unknown quota state version {data['version']!r}")
            year, month = data["year"], data["month"]
            if (year is None) != (month is None) or (month is not None and not 1 <= int(month) <= 12):
                raise QuotaStateError(f"bad month {year!r}-{month!r}")
            last = data["last_time"]
            balances = {
                str(code): PollutantBalance(
                    _state_decimal(b["loaded_kg"]),
                    _state_decimal(b["used_kg"]),
                    [_state_decimal(t) for t in b["alarms"]],
                )
                for code, b in dict(data["balances"]).items()
            }
            enterprise = data["enterprise"]
            if not isinstance(enterprise, str) or not enterprise:
                raise QuotaStateError("quota state names no enterprise")
            return cls(
                enterprise=enterprise,
                year=None if year is None else int(year),
                month=None if month is None else int(month),
                swiped=_state_bool(data["swiped"]),
                valve_open=_state_bool(data["valve_open"]),
                last_time=None if last is None else datetime.fromisoformat(last),
                balances=balances,
                late_frames=int(data["late_frames"]),
            )
        except QuotaStateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as error:
            raise QuotaStateError(f"malformed quota state: {type(error).__name__}: {error}") from None


def _state_decimal(value: object) -> Decimal:
    if not isinstance(value, str):
        raise QuotaStateError(f"amount {value!r} is not a decimal string")
    number = Decimal(value)
    if not number.is_finite():
        raise QuotaStateError(f"amount {value!r} is not finite")
    return number


def _state_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise QuotaStateError(f"{value!r} is not a boolean")
    return value


@dataclass(frozen=True)
class QuotaBalance:
    """A read-only view of one pollutant's month (see :meth:`QuotaController.balance`).

    Attributes:
        pollutant: HJ 212 factor code.
        loaded_kg: quota loaded this month.
        used_kg: discharge counted this month.
        remaining_kg: ``loaded_kg - used_kg`` (negative once over quota).
        fraction: ``used_kg / loaded_kg``, ``None`` while nothing is loaded.
    """

    pollutant: str
    loaded_kg: Decimal
    used_kg: Decimal
    remaining_kg: Decimal
    fraction: Decimal | None


# --- the controller -------------------------------------------------------------------------


def _is_wastewater(code: str) -> bool:
    return code.startswith("w")


class QuotaController:
    """The card-swipe total-amount controller of one enterprise (see the module docstring).

    Args:
        enterprise: the enterprise id the controller is installed at.
        quotas: the enterprise's annual quotas (any years, one per pollutant and year).
        cards: IC card id to the enterprise id it is bound to (all cards the site knows).
        notifier: receives alarms; a :class:`LoggingNotifier` when ``None``.
        valve: the wastewater valve; a :class:`LoggingValve` when ``None``.
        thresholds: alarm fractions of the loaded quota, strictly increasing, all > 0.
        counted_cns: command codes whose frames are counted (minute data by default; count
            one cadence only, or the same discharge is counted twice).
        interval: period of a counted frame when rates must be integrated (see
            :func:`discharge_kg`).
        valve_pollutants: which pollutants drive the valve; wastewater (``w...``) by default.
        state: a state to resume from (:meth:`snapshot`, :meth:`QuotaState.from_dict`); the
            valve is not commanded on resume, call :meth:`resync_valve` for that.
        mn: the device (HJ 212 MN) whose card is swiped, for ``card_quotas``.
        card_quotas: the cards on chain: a swipe loads what is committed to the device's card
            for the month, falling back to the site file's quota where the device has no card.

    Raises:
        QuotaConfigError: duplicate quotas, bad thresholds, or a state of another enterprise.
    """

    def __init__(
        self,
        enterprise: str,
        quotas: Iterable[AnnualQuota],
        cards: Mapping[str, str],
        *,
        notifier: Notifier | None = None,
        valve: Valve | None = None,
        thresholds: Sequence[Decimal | str | int] = DEFAULT_THRESHOLDS,
        counted_cns: Iterable[str] = (CN_MINUTE_DATA,),
        interval: timedelta | None = None,
        valve_pollutants: Callable[[str], bool] = _is_wastewater,
        state: QuotaState | None = None,
        mn: str | None = None,
        card_quotas: CardQuotas | None = None,
    ) -> None:
        if not enterprise:
            raise QuotaConfigError("a controller needs an enterprise id")
        if card_quotas is not None and not mn:
            raise QuotaConfigError("cards on chain need the device's MN code")
        self.enterprise = enterprise
        self._mn = mn
        self._card_quotas = card_quotas
        self._quotas: dict[int, dict[str, AnnualQuota]] = {}
        for quota in quotas:
            by_code = self._quotas.setdefault(quota.year, {})
            if quota.pollutant in by_code:
                raise QuotaConfigError(f"two quotas for {quota.pollutant} in {quota.year}")
            by_code[quota.pollutant] = quota
        self._cards = dict(cards)
        self._notifier: Notifier = notifier if notifier is not None else LoggingNotifier()
        self._valve: Valve = valve if valve is not None else LoggingValve()
        self._thresholds = self._check_thresholds(thresholds)
        self._counted = frozenset(counted_cns)
        self._interval = interval
        self._valve_pollutant = valve_pollutants
        if state is not None and state.enterprise != enterprise:
            raise QuotaConfigError("the saved state belongs to another enterprise")
        self._state = state.copy() if state is not None else QuotaState(enterprise)

    @staticmethod
    def _check_thresholds(thresholds: Sequence[Decimal | str | int]) -> tuple[Decimal, ...]:
        try:
            values = tuple(_decimal(t, "threshold") for t in thresholds)
        except QuotaSplitError as error:
            raise QuotaConfigError(str(error)) from None
        if not values or values[0] <= 0 or any(a >= b for a, b in pairwise(values)):
            raise QuotaConfigError("thresholds must be positive and strictly increasing")
        return values

    # --- views ---

    @property
    def month(self) -> tuple[int, int] | None:
        """The current (year, month), ``None`` before the first dated input."""
        s = self._state
        return None if s.year is None or s.month is None else (s.year, s.month)

    @property
    def valve_open(self) -> bool:
        """The valve state last commanded."""
        return self._state.valve_open

    @property
    def swiped(self) -> bool:
        """Whether this month's quota was loaded by a card swipe."""
        return self._state.swiped

    def balance(self, pollutant: str) -> QuotaBalance:
        """The current month's balance of ``pollutant``.

        Raises:
            QuotaNotAllocatedError: the pollutant has no quota in the current year.
        """
        b = self._state.balances.get(pollutant)
        if b is None:
            raise QuotaNotAllocatedError(f"no {pollutant} quota in the current month")
        fraction = None if b.loaded_kg == 0 else _CTX.divide(b.used_kg, b.loaded_kg)
        return QuotaBalance(
            pollutant, b.loaded_kg, b.used_kg, _CTX.subtract(b.loaded_kg, b.used_kg), fraction
        )

    def snapshot(self) -> QuotaState:
        """A copy of the state, to persist with :meth:`QuotaState.to_dict`."""
        return self._state.copy()

    # --- inputs ---

    def swipe(self, card_id: str, *, at: datetime) -> bool:
        """Swipe an IC card: load the month of ``at``'s quota, once per month.

        A load may reopen the valve (see the module docstring).

        Args:
            card_id: the card's id as read by the card reader.
            at: when the card was swiped (the controller's clock, in frame DataTime terms).

        Returns:
            ``True`` when the month's quota was loaded, ``False`` when it was loaded before.

        Raises:
            UnknownCardError: the card is bound to no enterprise.
            ForeignCardError: the card belongs to another enterprise.
            QuotaTimeError: ``at`` is in a month before the current one.
            QuotaNotAllocatedError: the regulator gave no quota for ``at``'s year.
        """
        owner = self._cards.get(card_id)
        if owner is None:
            logger.warning("unknown card refused", extra={"enterprise": self.enterprise, "card": card_id})
            raise UnknownCardError(f"card {card_id!r} is not bound to any enterprise")
        if owner != self.enterprise:
            logger.warning("foreign card refused", extra={"enterprise": self.enterprise, "card": card_id})
            raise ForeignCardError(f"card {card_id!r} is bound to another enterprise")
        self._enter_month(at, "swipe")
        s = self._state
        assert s.year is not None and s.month is not None
        if s.swiped:
            logger.info(
                "card swiped again; %04d-%02d quota already loaded",
                s.year,
                s.month,
                extra={"enterprise": self.enterprise, "card": card_id},
            )
            return False
        quotas = self._quotas.get(s.year)
        if not quotas:
            raise QuotaNotAllocatedError(f"no quota allocated to {self.enterprise} for {s.year}")
        loads = {code: self._month_load(quota, s.year, s.month) for code, quota in quotas.items()}
        for code, amount in loads.items():
            b = s.balances.setdefault(code, PollutantBalance())
            b.loaded_kg = _CTX.add(b.loaded_kg, amount)
        s.swiped = True
        logger.info(
            "card swipe loaded the %04d-%02d quota",
            s.year,
            s.month,
            extra={
                "enterprise": self.enterprise,
                "card": card_id,
                "loaded": {code: str(amount) for code, amount in loads.items()},
            },
        )
        self._after_load(at, f"{s.year:04d}-{s.month:02d} quota loaded by card {card_id}")
        return True

    def _month_load(self, quota: AnnualQuota, year: int, month: int) -> Decimal:
        """The month's load of ``quota``'s pollutant: committed on the card when on chain, else
        the site file's monthly quota."""
        if self._card_quotas is not None and self._mn is not None:
            committed = self._card_quotas.committed_kg(self._mn, quota.pollutant, year, month)
            if committed is not None:
                return committed
        return quota.month(month)

    def top_up(
        self, pollutant: str, amount_kg: Decimal | int | str, *, at: datetime, reference: str = ""
    ) -> None:
        """Add a regulator's extra allocation to the current month (it may reopen the valve).

        Args:
            pollutant: HJ 212 factor code with a quota this year.
            amount_kg: the extra amount, a positive whole number of grams.
            at: when the top-up was granted.
            reference: the regulator's reference (decision number), for the log.

        Raises:
            QuotaSplitError: the amount is not a positive whole number of grams.
            QuotaTimeError: ``at`` is in a month before the current one.
            QuotaNotAllocatedError: the pollutant has no quota this year.
        """
        grams = _grams(amount_kg, "top-up")
        if grams == 0:
            raise QuotaSplitError("a top-up must be positive")
        self._enter_month(at, "top-up")
        s = self._state
        b = s.balances.get(pollutant)
        if b is None:
            raise QuotaNotAllocatedError(f"no {pollutant} quota for {self.enterprise} in {s.year}")
        b.loaded_kg = _CTX.add(b.loaded_kg, _kg(grams))
        logger.info(
            "regulator top-up of %s kg %s",
            _kg(grams),
            pollutant,
            extra={"enterprise": self.enterprise, "pollutant": pollutant, "reference": reference},
        )
        self._after_load(at, f"top-up of {_kg(grams)} kg {pollutant} ({reference or 'no reference'})")

    def observe(self, frame: Frame) -> list[QuotaAlarm]:
        """Count a frame's discharge (see :func:`discharge_kg`); alarm and close as needed.

        Frames of other command codes than ``counted_cns`` are ignored; frames dated in an
        earlier month than the current one are ignored and counted in ``late_frames``.

        Returns:
            The alarms this frame raised, lowest threshold first.

        Raises:
            QuotaTimeError: a counted frame has no DataTime.
            DischargeError: the discharge cannot be computed (see :func:`discharge_kg`).
        """
        if frame.cn not in self._counted:
            return []
        when = frame.datatime
        if when is None:
            raise QuotaTimeError(f"frame CN={frame.cn} from {frame.mn} has no DataTime")
        if not self._enter_month(when, "frame", strict=False):
            self._state.late_frames += 1
            logger.warning(
                "frame from a closed month ignored",
                extra={"enterprise": self.enterprise, "device": frame.mn, "datatime": when},
            )
            return []
        return self.record(discharge_kg(frame, interval=self._interval), at=when)

    def record(self, amounts: Mapping[str, Decimal], *, at: datetime) -> list[QuotaAlarm]:
        """Count discharge amounts (kg by factor code) of the current month.

        Pollutants without a quota this year are not tracked. ``at`` must be in the current
        month (as after :meth:`observe` moved to it).

        Returns:
            The alarms raised, lowest threshold first.

        Raises:
            QuotaTimeError: ``at`` is not in the current month.
        """
        if self.month != (at.year, at.month):
            raise QuotaTimeError(f"{at:%Y-%m} is not the current month")
        balances = self._state.balances
        for code, kg in amounts.items():
            b = balances.get(code)
            if b is not None and kg > 0:
                b.used_kg = _CTX.add(b.used_kg, kg)
        return self._evaluate(at)

    def restore(self, state: QuotaState) -> None:
        """Replace the controller's state (a saved one after a restart, or one taken before a
        change that could not be made durable). The valve is not commanded: see
        :meth:`resync_valve`.

        Raises:
            QuotaConfigError: the state belongs to another enterprise.
        """
        if state.enterprise != self.enterprise:
            raise QuotaConfigError("the saved state belongs to another enterprise")
        self._state = state.copy()

    def resync_valve(self) -> None:
        """Resend the command matching the recorded valve state (after a restart)."""
        reason = "resynchronised after restart"
        if self._state.valve_open:
            self._valve.open(reason)
        else:
            self._valve.close(reason)

    # --- internals ---

    def _enter_month(self, at: datetime, what: str, *, strict: bool = True) -> bool:
        """Move to ``at``'s month; whether ``at`` is in the current month now."""
        s = self._state
        key = (at.year, at.month)
        current = self.month
        if current is not None and key < current:
            if strict:
                raise QuotaTimeError(f"{what} at {at:%Y-%m-%d %H:%M} is before the current month {current}")
            return False
        if current is None or key > current:
            if current is not None:
                self._log_month_end()
                self._settle_cards()
            s.year, s.month = key
            s.swiped = False
            s.balances = {code: PollutantBalance() for code in self._quotas.get(at.year, {})}
            logger.info(
                "quota month %04d-%02d started; nothing loaded until the card is swiped",
                at.year,
                at.month,
                extra={"enterprise": self.enterprise},
            )
        if s.last_time is None or at > s.last_time:
            s.last_time = at
        return True

    def _settle_cards(self) -> None:
        """Month end with cards on chain: each pollutant's metered use recorded on the card; a
        refusal or an unreachable chain is logged (the month can be settled again by hand:
        ``ets cards settle``), never stops the frames."""
        s = self._state
        if self._card_quotas is None or self._mn is None or s.year is None or s.month is None:
            return
        for code, b in s.balances.items():
            try:
                self._card_quotas.month_closed(self._mn, code, s.year, s.month, b.used_kg)
            except EtsError as error:
                logger.warning(
                    "card month %04d-%02d of %s not settled: %s",
                    s.year,
                    s.month,
                    code,
                    error,
                    extra={"enterprise": self.enterprise, "pollutant": code},
                )

    def _log_month_end(self) -> None:
        s = self._state
        for code, b in s.balances.items():
            logger.info(
                "quota month %04d-%02d closed for %s: used %s of %s kg; the rest does not carry over",
                s.year,
                s.month,
                code,
                b.used_kg,
                b.loaded_kg,
                extra={"enterprise": self.enterprise, "pollutant": code},
            )

    def _evaluate(self, at: datetime) -> list[QuotaAlarm]:
        s = self._state
        assert s.year is not None and s.month is not None
        raised: list[QuotaAlarm] = []
        exhausted: list[str] = []
        for code, b in s.balances.items():
            if b.used_kg <= 0:
                continue
            for threshold in self._thresholds if b.loaded_kg > 0 else ():
                if threshold in b.alarms:
                    continue
                if b.used_kg < _CTX.multiply(threshold, b.loaded_kg):
                    break
                b.alarms.append(threshold)
                raised.append(
                    QuotaAlarm(self.enterprise, code, s.year, s.month, threshold, b.used_kg, b.loaded_kg, at)
                )
            if b.used_kg >= b.loaded_kg and self._valve_pollutant(code):
                exhausted.append(code)
        for alarm in raised:
            try:
                self._notifier.notify(alarm)
            except Exception:
                logger.exception(
                    "alarm notification failed",
                    extra={"enterprise": self.enterprise, "pollutant": alarm.pollutant},
                )
        if exhausted and s.valve_open:
            details = ", ".join(
                f"{code} {s.balances[code].used_kg} of {s.balances[code].loaded_kg} kg" for code in exhausted
            )
            self._command(False, f"{s.year:04d}-{s.month:02d} quota exhausted: {details}")
        return raised

    def _after_load(self, at: datetime, reason: str) -> None:
        self._evaluate(at)
        s = self._state
        if s.valve_open:
            return
        still = [
            code
            for code, b in s.balances.items()
            if self._valve_pollutant(code) and b.used_kg > 0 and b.used_kg >= b.loaded_kg
        ]
        if still:
            logger.warning(
                "valve stays closed after the load: %s still at or over quota",
                ", ".join(still),
                extra={"enterprise": self.enterprise},
            )
            return
        self._command(True, reason)

    def _command(self, open_: bool, reason: str) -> None:
        action = "open" if open_ else "close"
        logger.warning(
            "valve-%s command issued: %s",
            action,
            reason,
            extra={"enterprise": self.enterprise, "valve": action},
        )
        try:
            if open_:
                self._valve.open(reason)
            else:
                self._valve.close(reason)
        except Exception:
            # The state keeps the old position, so the command is issued again next time.
            logger.exception("valve-%s command failed", action, extra={"enterprise": self.enterprise})
            return
        self._state.valve_open = open_
