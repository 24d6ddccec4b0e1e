"""Parameter tampering: instrument parameters (CN=3020 ``i13xxx-Info``) compared to a persisted baseline.

HJ 212-2017's field-machine information upload (CN=3020) carries an instrument's parameters
as information items ``i13xxx-Info`` (measuring range, measuring interval, digestion
temperature and time, slope, intercept, detection limit ...), with ``PolId`` naming the factor
the instrument measures. A changed slope or range changes every later reading, so:

* the first value of each (device, ``PolId``, item) becomes its **baseline**;
* a later upload with another value (numbers compared as numbers: ``1.50`` equals ``1.5``)
  raises one ``parameter_tampering`` alarm (old and new value, keyed by device, factor, item
  and the upload's time) and becomes the new baseline, so one change is alarmed once;
* the baseline is kept in the gateway's field store (:class:`~oracle.field.FieldStore`): the
  watch hands each change out (:meth:`ParameterWatch.take_changes`) to be written with the
  frame's alarms, so it **survives a gateway restart**: a change made while the gateway was
  down is alarmed at the first upload after it.

This is the one place of the rule: quality control (:mod:`oracle.qc`) passes parameter uploads
by, and only watches the set of factors a device reports.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NamedTuple, Protocol

from oracle.alarm import FieldAlarm, FieldAlarmKind, Severity
from oracle.hj212 import Frame

__all__ = ["PARAMETER_PREFIX", "BaselineChange", "BaselineStore", "ParameterWatch", "same_value"]

#: Information codes of instrument parameters.
PARAMETER_PREFIX = "i13"


class BaselineStore(Protocol):
    """Where the baseline is kept (:class:`oracle.field.FieldStore`)."""

    def baseline(self, mn: str) -> dict[tuple[str, str], str]: ...


class BaselineChange(NamedTuple):
    """A parameter's new baseline value, to be written to the store."""

    mn: str
    pollutant: str
    item: str
    value: str
    at: int


def same_value(old: str, new: str) -> bool:
    """Whether two parameter values are the same (numbers compared by value)."""
    if old == new:
        return True
    try:
        return Decimal(old) == Decimal(new)
    except InvalidOperation:
        return False


class ParameterWatch:
    """Compares each parameter upload with the persisted baseline (see the module docstring)."""

    def __init__(self, store: BaselineStore, *, prefix: str = PARAMETER_PREFIX) -> None:
        self._store = store
        self._prefix = prefix
        self._cache: dict[str, dict[tuple[str, str], str]] = {}
        self._changes: list[BaselineChange] = []

    def baseline(self, mn: str) -> dict[tuple[str, str], str]:
        """The device's baseline: (PolId or ``""``, item) → value."""
        held = self._cache.get(mn)
        if held is None:
            held = self._cache[mn] = self._store.baseline(mn)
        return dict(held)

    def snapshot(self, mn: str) -> dict[tuple[str, str], str] | None:
        """The device's baseline as held now (``None``: not read from the store yet)."""
        held = self._cache.get(mn)
        return None if held is None else dict(held)

    def restore(self, mn: str, baseline: dict[tuple[str, str], str] | None) -> None:
        """Put back a device's :meth:`baseline` (``None``: read it from the store again)."""
        if baseline is None:
            self._cache.pop(mn, None)
        else:
            self._cache[mn] = dict(baseline)

    def take_changes(self) -> list[BaselineChange]:
        """Baseline values changed since the last call, in order (for the store)."""
        out, self._changes = self._changes, []
        return out

    def observe(self, frame: Frame, enterprise: str, at: int) -> list[FieldAlarm]:
        """Compare one frame's parameters with the baseline; alarms for the changed ones."""
        items = [
            (key.partition("-")[0], text)
            for key, text in frame.readings.items()
            if key.endswith("-Info") and key.startswith(self._prefix)
        ]
        if not items:
            return []
        pollutant = frame.extras.get("PolId", "")
        held = self._cache.get(frame.mn)
        if held is None:
            held = self._cache[frame.mn] = self._store.baseline(frame.mn)
        alarms = []
        for item, text in items:
            old = held.get((pollutant, item))
            if old is not None and same_value(old, text):
                continue
            self._changes.append(BaselineChange(frame.mn, pollutant, item, text, at))
            held[(pollutant, item)] = text
            if old is None:
                continue
            alarms.append(
                FieldAlarm(
                    FieldAlarmKind.PARAMETER_TAMPERING,
                    Severity.CRITICAL,
                    enterprise,
                    frame.mn,
                    pollutant,
                    at,
                    f"{frame.mn}:{pollutant or '-'}:{item}:{at}",
                    f"{frame.mn} instrument parameter {item} of {pollutant or '(device)'} changed"
                    f" from {old} to {text}",
                    {"item": item, "old": old, "new": text, "cn": frame.cn},
                )
            )
        return alarms
