"""Field alarm records: what a site's rules raise (kinds, grades, keys) and the review marks they set.

The rules live in :mod:`oracle.standards`, :mod:`oracle.facility`, :mod:`oracle.tamper` and
:mod:`oracle.quota`; :mod:`oracle.field` stores their alarms durably until the scheduler relays
them. A :class:`FieldAlarm`'s ``uid`` (kind and key) is its identity everywhere: the outbox, the
scheduler's alarm store, the read model and the webhook's idempotency header.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any

from oracle.quota import QuotaAlarm

__all__ = ["FieldAlarm", "FieldAlarmKind", "ReviewMark", "Severity", "quota_alarm"]


class FieldAlarmKind(enum.StrEnum):
    """What a field alarm is about (the scheduler's alarm kinds of the same names)."""

    QUOTA = "quota"
    OVER_STANDARD = "over_standard"
    FACILITY_STOPPED = "facility_stopped"
    INSTRUMENT_MAINTENANCE = "instrument_maintenance"
    PARAMETER_TAMPERING = "parameter_tampering"


class Severity(enum.IntEnum):
    """Grade of an alarm: the regulator's map colours markers by the highest open one."""

    NOTICE = 1
    WARNING = 2
    CRITICAL = 3


@dataclass(frozen=True)
class FieldAlarm:
    """One alarm of a site.

    Attributes:
        kind: what it is about.
        severity: its grade.
        enterprise: the enterprise the device is bound to (checksummed address).
        mn: the device (outlet) code.
        pollutant: the HJ 212 factor code it concerns (``""``: the whole outlet).
        at: unix seconds of the frame (or hour) that raised it.
        key: tells apart alarms of one kind (device, factor, time ...; at most 64 characters).
        message: human-readable text.
        data: structured details (limits, values, old and new parameters ...), JSON-ready.
    """

    kind: FieldAlarmKind
    severity: Severity
    enterprise: str
    mn: str
    pollutant: str
    at: int
    key: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        """Identity across stores: ``kind:key``."""
        return f"{self.kind}:{self.key}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``kind`` and ``severity`` as their names/values)."""
        return {
            "uid": self.uid,
            "kind": str(self.kind),
            "severity": int(self.severity),
            "enterprise": self.enterprise,
            "mn": self.mn,
            "pollutant": self.pollutant,
            "at": self.at,
            "key": self.key,
            "message": self.message,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldAlarm:
        """Inverse of :meth:`to_dict`."""
        return cls(
            FieldAlarmKind(data["kind"]),
            Severity(int(data["severity"])),
            str(data["enterprise"]),
            str(data["mn"]),
            str(data["pollutant"]),
            int(data["at"]),
            str(data["key"]),
            str(data["message"]),
            dict(data.get("data") or {}),
        )


@dataclass(frozen=True)
class ReviewMark:
    """A window of a device's readings to review: ``[begin, end]`` unix seconds (``end`` None: open).

    ``pollutant`` ``""`` marks every factor of the device. ``alarm`` is the uid of the alarm
    that made the readings doubtful.
    """

    alarm: str
    mn: str
    pollutant: str
    begin: int
    end: int | None
    reason: str


def quota_alarm(alarm: QuotaAlarm, mn: str, zone: timezone) -> FieldAlarm:
    """A card-swipe quota alarm as a field alarm (80 % notice, 90 % warning, 100 % critical)."""
    percent = int(alarm.threshold * 100)
    severity = Severity.CRITICAL if percent >= 100 else Severity.WARNING if percent >= 90 else Severity.NOTICE
    at = (
        int(alarm.at.replace(tzinfo=zone).timestamp())
        if alarm.at.tzinfo is None
        else int(alarm.at.timestamp())
    )
    return FieldAlarm(
        FieldAlarmKind.QUOTA,
        severity,
        alarm.enterprise,
        mn,
        alarm.pollutant,
        at,
        f"{mn}:{alarm.pollutant}:{alarm.year:04d}{alarm.month:02d}:{percent}",
        f"{mn} {alarm.pollutant} reached {percent} % of its {alarm.year:04d}-{alarm.month:02d} quota"
        f" ({alarm.used_kg} of {alarm.loaded_kg} kg)",
        {
            "threshold_percent": percent,
            "used_kg": str(alarm.used_kg),
            "loaded_kg": str(alarm.loaded_kg),
            "year": alarm.year,
            "month": alarm.month,
        },
    )
