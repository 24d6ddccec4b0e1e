"""Working-condition rules: facility stopped while discharging, an instrument too long in maintenance.

HJ 212-2017 reports working conditions beside the measurements:

* a **treatment facility's running status** as the item ``SBn-RS`` (facility ``n``) in the
  facility status upload (CN=2021) or beside the data of a data frame; the site settings
  name the values that mean *stopped* (default ``0``: off; ``1`` is running);
* an **instrument's work status** as the information item ``i12001-Info`` of a field-machine
  information upload (CN=3020, with ``PolId`` naming the factor the instrument measures); the
  values that mean *maintenance* are configurable (default ``1``).

Rules (:class:`FacilityMonitor`), applied to the frames of one gateway in DataTime order:

1. **Facility stopped while discharging**: a facility's last status is *stopped* and the
   outlet's flow (``w00000``/``a00000``: ``Rtd``, ``Avg`` or ``Cou``) in the same or a later
   frame is above zero. One alarm per stop (keyed by device, facility and the stop's start),
   and a review mark on every factor of the device from the stop's start until the facility
   runs again (the readings of that window do not describe a treated discharge).
2. **Instrument maintenance too long**: an instrument's status has said *maintenance* since
   ``t`` and a frame of the device is dated after ``t + max_maintenance``. One alarm per
   maintenance (keyed by device, factor and its start) and a review mark on that factor from
   ``t`` until the status leaves maintenance.

State (what each facility and instrument last reported, the outlet's last flow, which stops
and maintenances were alarmed) is per device: :meth:`FacilityMonitor.state` and
:meth:`FacilityMonitor.restore` carry it across a gateway restart (:class:`oracle.field.FieldWatch`
persists it with each frame), so a facility stopped or an instrument in maintenance before a
restart is still known after it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from oracle.alarm import FieldAlarm, FieldAlarmKind, ReviewMark, Severity
from oracle.errors import FieldConfigError
from oracle.hj212 import Frame

__all__ = [
    "CN_FACILITY_STATUS",
    "CN_FIELD_INFO",
    "INSTRUMENT_STATUS",
    "FacilityMonitor",
    "FacilityRules",
]

#: HJ 212-2017 command of the treatment facilities' running-status upload (``SBn-RS``).
CN_FACILITY_STATUS = "2021"
#: HJ 212-2017 command of the field-machine information upload (``i1xxxx-Info`` items).
CN_FIELD_INFO = "3020"
#: Information code of an instrument's work status.
INSTRUMENT_STATUS = "i12001"
_FACILITY_ITEM = re.compile(r"^SB(\d{1,3})$")
_FLOW_CODES = ("w00000", "a00000")
_REASON_FACILITY = "facility_stopped"
_REASON_MAINTENANCE = "instrument_maintenance"


@dataclass(frozen=True)
class FacilityRules:
    """Settings of the working-condition rules.

    Attributes:
        stopped: ``SBn-RS`` values that mean the facility is stopped.
        maintenance: ``i12001-Info`` values that mean the instrument is in maintenance.
        max_maintenance: how long an instrument may stay in maintenance before it is alarmed.
    """

    stopped: frozenset[str] = frozenset({"0"})
    maintenance: frozenset[str] = frozenset({"1"})
    max_maintenance: timedelta = timedelta(hours=4)

    def __post_init__(self) -> None:
        if self.max_maintenance <= timedelta(0):
            raise FieldConfigError("max_maintenance must be positive")


@dataclass
class _Device:
    flow: Decimal | None = None
    stopped_since: dict[str, int] = field(default_factory=dict)  # facility -> stop start
    alarmed_stops: set[tuple[str, int]] = field(default_factory=set)
    maintenance_since: dict[str, int] = field(default_factory=dict)  # PolId -> start
    alarmed_maintenance: set[tuple[str, int]] = field(default_factory=set)


class FacilityMonitor:
    """Applies :class:`FacilityRules` to a gateway's frames (see the module docstring)."""

    def __init__(self, rules: FacilityRules) -> None:
        self.rules = rules
        self._devices: dict[str, _Device] = {}
        self._marks: list[ReviewMark] = []
        self._closed: list[tuple[str, str, str, int]] = []

    def state(self, mn: str) -> dict[str, Any]:
        """The device's working-condition state, JSON-ready."""
        device = self._devices.get(mn)
        if device is None:
            return {}
        return {
            "flow": None if device.flow is None else str(device.flow),
            "stopped_since": dict(sorted(device.stopped_since.items())),
            "alarmed_stops": sorted([f, s] for f, s in device.alarmed_stops),
            "maintenance_since": dict(sorted(device.maintenance_since.items())),
            "alarmed_maintenance": sorted([p, s] for p, s in device.alarmed_maintenance),
        }

    def restore(self, mn: str, state: Mapping[str, Any]) -> None:
        """Put back a device's :meth:`state` (replacing what the monitor holds of it)."""
        if not state:
            self._devices.pop(mn, None)
            return
        flow = state.get("flow")
        self._devices[mn] = _Device(
            None if flow is None else Decimal(flow),
            {str(f): int(s) for f, s in state.get("stopped_since", {}).items()},
            {(str(f), int(s)) for f, s in state.get("alarmed_stops", [])},
            {str(p): int(s) for p, s in state.get("maintenance_since", {}).items()},
            {(str(p), int(s)) for p, s in state.get("alarmed_maintenance", [])},
        )

    def take_marks(self) -> list[ReviewMark]:
        """Review marks opened since the last call."""
        out, self._marks = self._marks, []
        return out

    def take_closed(self) -> list[tuple[str, str, str, int]]:
        """(device, factor, reason, end) of review marks closed since the last call."""
        out, self._closed = self._closed, []
        return out

    def observe(self, frame: Frame, enterprise: str, at: int) -> list[FieldAlarm]:
        """Feed one frame dated ``at`` (unix seconds); the alarms it raises."""
        device = self._devices.setdefault(frame.mn, _Device())
        values = frame.values
        for code in _FLOW_CODES:
            items = values.get(code)
            if items is not None:
                flow = _number(items.get("Rtd") or items.get("Avg") or items.get("Cou"))
                if flow is not None:
                    device.flow = flow
        for code, items in values.items():
            match = _FACILITY_ITEM.match(code)
            status = items.get("RS")
            if match is None or status is None:
                continue
            if status in self.rules.stopped:
                device.stopped_since.setdefault(code, at)
            elif code in device.stopped_since:
                since = device.stopped_since.pop(code)
                device.alarmed_stops.discard((code, since))
                self._closed.append((frame.mn, "", _REASON_FACILITY, at))
        status = values.get(INSTRUMENT_STATUS, {}).get("Info")
        if status is not None:
            pollutant = frame.extras.get("PolId", "")
            if status in self.rules.maintenance:
                device.maintenance_since.setdefault(pollutant, at)
            elif pollutant in device.maintenance_since:
                since = device.maintenance_since.pop(pollutant)
                device.alarmed_maintenance.discard((pollutant, since))
                self._closed.append((frame.mn, pollutant, _REASON_MAINTENANCE, at))
        return [
            *self._stopped(frame.mn, device, enterprise, at),
            *self._maintenance(frame.mn, device, enterprise, at),
        ]

    def _stopped(self, mn: str, device: _Device, enterprise: str, at: int) -> list[FieldAlarm]:
        if device.flow is None or device.flow <= 0:
            return []
        alarms = []
        for facility, since in sorted(device.stopped_since.items()):
            if (facility, since) in device.alarmed_stops:
                continue
            device.alarmed_stops.add((facility, since))
            alarm = FieldAlarm(
                FieldAlarmKind.FACILITY_STOPPED,
                Severity.CRITICAL,
                enterprise,
                mn,
                "",
                at,
                f"{mn}:{facility}:{since}",
                f"{mn} treatment facility {facility} stopped while the outlet discharges"
                f" (flow {device.flow})",
                {"facility": facility, "stopped_since": since, "flow": str(device.flow)},
            )
            alarms.append(alarm)
            self._marks.append(ReviewMark(alarm.uid, mn, "", since, None, _REASON_FACILITY))
        return alarms

    def _maintenance(self, mn: str, device: _Device, enterprise: str, at: int) -> list[FieldAlarm]:
        limit = int(self.rules.max_maintenance.total_seconds())
        alarms = []
        for pollutant, since in sorted(device.maintenance_since.items()):
            if at - since <= limit or (pollutant, since) in device.alarmed_maintenance:
                continue
            device.alarmed_maintenance.add((pollutant, since))
            alarm = FieldAlarm(
                FieldAlarmKind.INSTRUMENT_MAINTENANCE,
                Severity.WARNING,
                enterprise,
                mn,
                pollutant,
                at,
                f"{mn}:{pollutant or '-'}:{since}",
                f"{mn} instrument {pollutant or '(device)'} in maintenance for {-(-(at - since) // 60)} min"
                f" (allowed {limit // 60} min)",
                {"maintenance_since": since, "allowed_seconds": limit, "seconds": at - since},
            )
            alarms.append(alarm)
            self._marks.append(ReviewMark(alarm.uid, mn, pollutant, since, None, _REASON_MAINTENANCE))
        return alarms


def _number(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
