"""Working-condition events a simulated controller plays: facility status, instrument status,
parameter uploads and an over-standard hour (what the field alarms of :mod:`oracle.field` watch).

A :class:`FieldScript` is set on a :class:`~oracle.simulator.controller.VirtualController`
(its ``field`` attribute). Times are minutes after the controller's first minute frame:

* ``parameters_at``: field-machine information uploads (CN=3020, ``PolId`` the script's
  factor) of the instrument's parameters (``i13004`` range, ``i13008`` slope): the first is the
  baseline, each later one changes the slope (``1.00`` → ``1.20`` → ...), a tamper alarm each;
* ``facility_stop``: the treatment facility's running status (CN=2021 ``SB1-RS``) turns to
  stopped (``0``) at the first minute and back to running (``1``) at the second, while the
  outlet keeps discharging;
* ``maintenance``: the instrument's work status (CN=3020 ``i12001-Info``) says maintenance
  (``1``) from the first minute and normal (``0``) from the second;
* ``over_standard``: the factor's concentration is multiplied by ``over_factor`` in the minutes
  of that clock hour (the hour starting at that offset).

Each upload is dated a few seconds into its minute, so its frame key differs from the minute's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from oracle.errors import SimulatorConfigError
from oracle.facility import CN_FACILITY_STATUS, CN_FIELD_INFO

__all__ = ["CN_FACILITY_STATUS", "CN_FIELD_INFO", "FieldScript", "Upload", "upload_time"]

#: (command, seconds into the minute, values by factor code and suffix, bare CP items).
Upload = tuple[str, int, dict[str, dict[str, str]], dict[str, str]]


@dataclass
class FieldScript:
    """The events one controller plays (see the module docstring)."""

    pollutant: str
    parameters_at: tuple[int, ...] = (0,)
    facility_stop: tuple[int, int] | None = None
    maintenance: tuple[int, int] | None = None
    over_standard: int | None = None
    over_factor: float = 2.0
    _start: datetime | None = field(default=None, repr=False)
    _slope: int = field(default=100, repr=False)

    def __post_init__(self) -> None:
        for name, span in (("facility_stop", self.facility_stop), ("maintenance", self.maintenance)):
            if span is not None and not 0 <= span[0] < span[1]:
                raise SimulatorConfigError(f"{name} must end after it starts, got {span}")
        if self.over_factor <= 0:
            raise SimulatorConfigError("over_factor must be positive")

    def minute(self, when: datetime) -> int:
        """Minutes of ``when`` after the first minute frame (which starts the script's clock)."""
        if self._start is None:
            self._start = when
        return int((when - self._start).total_seconds() // 60)

    def uploads(self, when: datetime) -> list[Upload]:
        """The uploads due at the minute ``when``."""
        m = self.minute(when)
        out: list[Upload] = []
        if self.facility_stop is not None and m in self.facility_stop:
            status = "0" if m == self.facility_stop[0] else "1"
            out.append((CN_FACILITY_STATUS, 5, {"SB1": {"RS": status}}, {}))
        if self.maintenance is not None and m in self.maintenance:
            status = "1" if m == self.maintenance[0] else "0"
            out.append((CN_FIELD_INFO, 15, {"i12001": {"Info": status}}, {"PolId": self.pollutant}))
        if m in self.parameters_at:
            if m != self.parameters_at[0]:
                self._slope += 20
            slope = f"{self._slope / 100:.2f}"
            values = {"i13004": {"Info": "500"}, "i13008": {"Info": slope}}
            out.append((CN_FIELD_INFO, 25, values, {"PolId": self.pollutant}))
        return out

    def factor(self, when: datetime, code: str) -> float:
        """The multiplier of factor ``code``'s concentration at the minute ``when``."""
        if self.over_standard is None or code != self.pollutant or self._start is None:
            return 1.0
        hour = self._start + timedelta(minutes=self.over_standard)
        return self.over_factor if hour <= when < hour + timedelta(hours=1) else 1.0


def upload_time(when: datetime, seconds: int) -> datetime:
    """DataTime of an upload ``seconds`` into the minute ``when``."""
    return when + timedelta(seconds=seconds)
