"""Delivery of the alarm store's pending alarms on each channel, with retries across runs.

One algorithm for every alarm source (compliance, surveillance, field alarms): each channel
takes its pending alarms oldest first; a delivered one is recorded and never sent again; a
failure is recorded with its error and the channel is left alone until the next run (its
other alarms wait, so a dead webhook is not hammered), until ``max_attempts`` tries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.alarms import Alarm, AlarmStore
from scheduler.notify import Notifier

logger = logging.getLogger(__name__)

__all__ = ["DeliveryResult", "deliver_pending"]


@dataclass(frozen=True)
class DeliveryResult:
    """One delivery attempt of a scan."""

    alarm: Alarm
    channel: str
    delivered: bool
    attempts: int
    error: str | None = None


def deliver_pending(
    store: AlarmStore, notifiers: Sequence[Notifier], now: int, *, max_attempts: int
) -> list[DeliveryResult]:
    """Try every pending delivery; a channel that fails is left for the next run.

    Args:
        store: the alarm store.
        notifiers: the channels.
        now: the time recorded with each attempt.
        max_attempts: attempts per alarm and channel before giving up.
    """
    results: list[DeliveryResult] = []
    for notifier in notifiers:
        for alarm in store.pending(notifier.name, max_attempts=max_attempts):
            error: str | None = None
            try:
                notifier.deliver(alarm)
            except Exception as exc:  # a channel's failure, or its bug, must not stop the others
                error = f"{type(exc).__name__}: {exc}"
            delivery = store.record_delivery(alarm.id, notifier.name, now, error)
            results.append(DeliveryResult(alarm, notifier.name, error is None, delivery.attempts, error))
            if error is None:
                continue
            fields = {
                "enterprise": alarm.enterprise,
                "year": alarm.year,
                "pollutant": alarm.pollutant,
                "kind": str(alarm.kind),
            }
            if delivery.attempts >= max_attempts:
                logger.error(
                    "giving up delivery on %s after %d attempts: %s",
                    notifier.name,
                    delivery.attempts,
                    error,
                    extra=fields,
                )
            else:
                logger.warning(
                    "delivery on %s failed, retried next scan: %s", notifier.name, error, extra=fields
                )
            break  # the channel is failing: leave its other alarms for the next scan
    return results
