"""Concentration limits per outlet and pollutant, and the over-standard rule on hourly averages.

Limits (:class:`ConcentrationLimit`) come from the enterprise's discharge permit when permits
are wired (:func:`limits_from_permit`: each outlet's device gets the permit's concentration
limit of each pollutant) and otherwise from the site file. The rule, in HJ 212 terms:

* an **hourly** data frame (CN=2061) gives the hour's average directly (``code-Avg``);
* **minute** data (CN=2051) and real-time data (CN=2011) are averaged per device, factor and
  clock hour (``Avg``, else ``Rtd``); an hour is closed when the device's first frame of a
  later hour arrives, and counts only with at least ``min_samples`` values;
* only values the device flagged normal (``Flag=N`` or no flag) enter an average: a
  maintenance, fault or calibration value is no discharge measurement;
* a late frame (re-sent or back-filled) of an hour already closed is not counted again;
* an hourly average strictly above the limit raises one ``over_standard`` alarm, keyed by
  device, factor and hour, so the hourly frame and the minutes of the same hour raise it once.

The open hours and the last hour closed per device and factor are the monitor's state:
:meth:`StandardsMonitor.state` and :meth:`StandardsMonitor.restore` carry one device's across a
gateway restart (:class:`oracle.field.FieldWatch` persists it with each frame), so a restart
in the middle of an hour averages the whole hour.

Together with the card-swipe quota's alarms (:mod:`oracle.quota`) this is the concentration
and total-amount double control: both go to the same alarm store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol

from domain.production import HJ212_ALLOWANCE
from domain.tokens import POLLUTANT_SYMBOLS
from oracle.alarm import FieldAlarm, FieldAlarmKind, Severity
from oracle.errors import FieldConfigError
from oracle.hj212 import CN_HOUR_DATA, CN_MINUTE_DATA, CN_REALTIME_DATA, Frame

__all__ = ["ConcentrationLimit", "StandardsMonitor", "limits_from_permit"]

#: Concentration limits on-chain are whole thousandths of mg/m³ (gas) or mg/L (water).
PERMIT_LIMIT_SCALE = Decimal(1000)
_CODE_OF_SYMBOL = {symbol: code for code, symbol in HJ212_ALLOWANCE.items()}
_NORMAL_FLAGS = frozenset({"N"})


@dataclass(frozen=True)
class ConcentrationLimit:
    """The highest allowed hourly average of one factor at one outlet.

    Attributes:
        mn: the outlet's device code.
        pollutant: the HJ 212 factor code (``a21026``).
        limit: mg/m³ (gas) or mg/L (water).
        source: ``permit`` (with ``permit_id``) or ``site``.
    """

    mn: str
    pollutant: str
    limit: Decimal
    source: Literal["permit", "site"] = "site"
    permit_id: int | None = None

    def __post_init__(self) -> None:
        if self.limit <= 0:
            raise FieldConfigError(f"concentration limit of {self.pollutant} at {self.mn} must be > 0")


class _TermLike(Protocol):
    """A permit term (``chain.permits.Term``)."""

    @property
    def pollutant(self) -> int: ...

    @property
    def concentration_limit(self) -> int: ...


def limits_from_permit(
    permit_id: int, outlets: Iterable[str], terms: Iterable[_TermLike]
) -> list[ConcentrationLimit]:
    """The permit's concentration limits at each of its outlets' devices.

    Args:
        permit_id: the permit.
        outlets: the outlets' device codes (``chain.permits.Outlet.mn``).
        terms: its terms (``chain.permits.Term``: domain pollutant code, limit in thousandths).

    Terms without a limit (0) or of a pollutant with no HJ 212 factor are skipped.
    """
    out = []
    for mn in outlets:
        for term in terms:
            code = _CODE_OF_SYMBOL.get(POLLUTANT_SYMBOLS.get(term.pollutant, ""))
            if code is None or term.concentration_limit <= 0:
                continue
            limit = Decimal(term.concentration_limit) / PERMIT_LIMIT_SCALE
            out.append(ConcentrationLimit(mn, code, limit, "permit", permit_id))
    return out


@dataclass
class _Hour:
    start: datetime
    total: Decimal
    count: int


class StandardsMonitor:
    """Hourly averages per device and factor against the limits (see the module docstring).

    Not thread-safe (the gateway calls it under its lock). The open hours live in memory;
    :meth:`state` / :meth:`restore` carry a device's across a restart.
    """

    def __init__(self, limits: Sequence[ConcentrationLimit], *, min_samples: int = 1) -> None:
        self._limits: dict[tuple[str, str], ConcentrationLimit] = {}
        for limit in limits:
            key = (limit.mn, limit.pollutant)
            held = self._limits.get(key)
            if held is None or (limit.source == "permit" and held.source == "site"):
                self._limits[key] = limit  # the permit's limit wins over the site file's
        self._devices = {mn for mn, _ in self._limits}
        self._codes: dict[str, list[str]] = {}  # device -> its factors with a limit, in order
        for mn, code in sorted(self._limits):
            self._codes.setdefault(mn, []).append(code)
        self.min_samples = min_samples
        self._hours: dict[tuple[str, str], _Hour] = {}
        self._closed: dict[tuple[str, str], datetime] = {}  # the last hour closed, per device and factor

    def state(self, mn: str) -> dict[str, Any]:
        """The device's open hours and last hours closed, JSON-ready (exact decimal text)."""
        hours: dict[str, list[Any]] = {}
        closed: dict[str, str] = {}
        for code in self._codes.get(mn, ()):
            hour = self._hours.get((mn, code))
            if hour is not None:
                hours[code] = [hour.start.isoformat(), str(hour.total), hour.count]
            when = self._closed.get((mn, code))
            if when is not None:
                closed[code] = when.isoformat()
        return {"hours": hours, "closed": closed}

    def restore(self, mn: str, state: Mapping[str, Any]) -> None:
        """Put back a device's :meth:`state` (replacing what the monitor holds of it)."""
        for code in self._codes.get(mn, ()):
            self._hours.pop((mn, code), None)
            self._closed.pop((mn, code), None)
        for code, (start, total, count) in state.get("hours", {}).items():
            if (mn, code) in self._limits:
                self._hours[mn, code] = _Hour(datetime.fromisoformat(start), Decimal(total), int(count))
        for code, when in state.get("closed", {}).items():
            if (mn, code) in self._limits:
                self._closed[mn, code] = datetime.fromisoformat(when)

    @property
    def limits(self) -> list[ConcentrationLimit]:
        """The limits in force (one per device and factor)."""
        return list(self._limits.values())

    def observe(self, frame: Frame, enterprise: str, unix: Callable[[datetime], int]) -> list[FieldAlarm]:
        """Feed one frame; the over-standard alarms of the hours it completes (or carries)."""
        if frame.mn not in self._devices or frame.datatime is None:
            return []
        cn = frame.cn
        if cn not in (CN_HOUR_DATA, CN_MINUTE_DATA, CN_REALTIME_DATA):
            return []
        alarms: list[FieldAlarm] = []
        hour = frame.datatime.replace(minute=0, second=0, microsecond=0)
        for code, items in frame.values.items():
            limit = self._limits.get((frame.mn, code))
            if limit is None:
                continue
            value = _value(items, "Avg" if cn != CN_REALTIME_DATA else "Rtd")
            if cn == CN_HOUR_DATA:
                if value is not None:
                    alarms.extend(self._check(limit, hour, value, 1, enterprise, unix, "hourly data"))
                continue
            key = (frame.mn, code)
            closed = self._closed.get(key)
            if closed is not None and hour <= closed:
                continue  # a late frame (re-sent, back-filled) of an hour already judged
            open_hour = self._hours.get(key)
            if open_hour is not None and open_hour.start < hour:
                del self._hours[key]
                self._closed[key] = open_hour.start
                if open_hour.count >= self.min_samples:
                    average = open_hour.total / open_hour.count
                    alarms.extend(
                        self._check(
                            limit,
                            open_hour.start,
                            average,
                            open_hour.count,
                            enterprise,
                            unix,
                            "minute average",
                        )
                    )
                open_hour = None
            if value is None:
                continue
            if open_hour is None:
                self._hours[key] = _Hour(hour, value, 1)
            elif open_hour.start == hour:
                open_hour.total += value
                open_hour.count += 1
        return alarms

    def _check(
        self,
        limit: ConcentrationLimit,
        hour: datetime,
        average: Decimal,
        samples: int,
        enterprise: str,
        unix: Callable[[datetime], int],
        basis: str,
    ) -> list[FieldAlarm]:
        if average <= limit.limit:
            return []
        shown = average.quantize(Decimal("0.001"))
        ratio = average / limit.limit
        return [
            FieldAlarm(
                FieldAlarmKind.OVER_STANDARD,
                Severity.CRITICAL if ratio >= 2 else Severity.WARNING,
                enterprise,
                limit.mn,
                limit.pollutant,
                unix(hour),
                f"{limit.mn}:{limit.pollutant}:{hour:%Y%m%d%H}",
                f"{limit.mn} {limit.pollutant} hourly average {shown} above its limit {limit.limit}"
                f" ({hour:%Y-%m-%d %H}:00, {basis})",
                {
                    "hour": f"{hour:%Y-%m-%d %H}:00",
                    "average": str(shown),
                    "limit": str(limit.limit),
                    "samples": samples,
                    "basis": basis,
                    "source": limit.source,
                    **({"permit_id": limit.permit_id} if limit.permit_id is not None else {}),
                },
            )
        ]


def _value(items: dict[str, str], suffix: str) -> Decimal | None:
    flag = items.get("Flag")
    if flag is not None and flag not in _NORMAL_FLAGS:
        return None
    text = items.get(suffix)
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
