"""Field alarms relayed from the sites' gateways into the alarm store and the read model, then delivered.

Each oracle gateway keeps its site's alarms (quota, over-standard, facility stopped,
instrument maintenance, parameter tampering) in its field store's outbox
(:class:`oracle.field.FieldStore`). :meth:`FieldAlarmRelay.run`, every scan:

1. takes each source's alarms not yet relayed, oldest first;
2. raises each in the :class:`~scheduler.alarms.AlarmStore` (kind, enterprise, year of the
   alarm's time in China Standard Time, the pollutant's token code or 0, the field alarm's key;
   the whole alarm as ``data``) with a pending delivery per channel: a raise of an alarm that
   exists is a no-op, so a relay that crashed after storing and before marking is harmless;
3. stores it in the read model's ``field_alarms`` (by uid, once) and copies the source's review
   marks into ``field_review_marks`` (the end of a closed window included);
4. marks the source's alarms relayed;
5. delivers what is pending on every channel (``deliver``: the compliance alarms' delivery,
   with its retries), so a webhook that failed gets the alarm again at the next scan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from domain.production import HJ212_ALLOWANCE
from domain.tokens import POLLUTANTS
from oracle.alarm import FieldAlarm
from oracle.field import FieldStore
from readmodel.alarms import store_alarm, store_review_mark
from scheduler.alarms import Alarm, AlarmDraft, AlarmKind, AlarmStore

logger = logging.getLogger(__name__)

__all__ = ["FieldAlarmRelay", "RelayReport", "field_draft"]

#: The sites' DataTime zone, which a field alarm's year is counted in.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_KEY_LENGTH = 64


def field_draft(alarm: FieldAlarm) -> AlarmDraft:
    """The alarm store's draft of a field alarm."""
    symbol = HJ212_ALLOWANCE.get(alarm.pollutant)
    key = alarm.key
    if len(key) > _KEY_LENGTH:  # a long device code: keep the key's end (factor, time) unique
        key = key[-_KEY_LENGTH:]
    return AlarmDraft(
        kind=AlarmKind(str(alarm.kind)),
        enterprise=alarm.enterprise,
        year=datetime.fromtimestamp(alarm.at, CHINA_STANDARD_TIME).year,
        pollutant=POLLUTANTS.get(symbol, 0) if symbol is not None else 0,
        key=key,
        due_at=alarm.at,
        message=alarm.message,
        data=alarm.to_dict(),
    )


@dataclass(frozen=True)
class RelayReport:
    """What one relay run did: alarms taken from the sources, raised anew, deliveries tried."""

    now: int
    taken: int
    raised: tuple[Alarm, ...]
    deliveries: tuple[Any, ...] = ()


class FieldAlarmRelay:
    """Relays the sites' field alarms (see the module docstring).

    Args:
        store: the scheduler's alarm store.
        channels: notifier names each new alarm gets a pending delivery on.
        sources: the gateways' field stores.
        engine: the read model (``None``: the store only).
        deliver: tries the store's pending deliveries at a time (``ComplianceAlarms.deliver``).
        clock: "now" in unix seconds.
    """

    def __init__(
        self,
        store: AlarmStore,
        channels: Sequence[str],
        sources: Sequence[FieldStore],
        *,
        engine: Engine | None = None,
        deliver: Callable[[int], Iterable[Any]] | None = None,
        clock: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.store = store
        self.channels = tuple(channels)
        self.sources = tuple(sources)
        self.engine = engine
        self.deliver = deliver
        self.clock = clock

    def run(self, now: int | None = None) -> RelayReport:
        """Relay every source's pending alarms and review marks, then deliver (see the module docstring)."""
        at = self.clock() if now is None else now
        taken = 0
        raised: list[Alarm] = []
        for source in self.sources:
            pending = source.alarms(pending_only=True)
            taken += len(pending)
            for _, alarm in pending:
                new = self.store.raise_alarm(field_draft(alarm), self.channels, at)
                if new is not None:
                    raised.append(new)
            if self.engine is not None:
                with Session(self.engine) as db, db.begin():
                    for _, alarm in pending:
                        store_alarm(db, alarm=alarm.to_dict(), now=at)
                    for mark in source.marks():
                        store_review_mark(
                            db,
                            alarm_uid=mark.alarm,
                            mn=mark.mn,
                            pollutant=mark.pollutant,
                            begin=mark.begin,
                            end=mark.end,
                            reason=mark.reason,
                        )
            source.mark_relayed([i for i, _ in pending], at)
        deliveries = tuple(self.deliver(at)) if self.deliver is not None else ()
        if taken:
            logger.info("field alarms relayed: %d taken, %d new", taken, len(raised))
        return RelayReport(at, taken, tuple(raised), deliveries)
