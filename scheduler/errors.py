"""Exceptions raised by the scheduler package (compliance alarms, their store and notifiers)."""

from __future__ import annotations

from domain.errors import EtsError


class SchedulerError(EtsError):
    """Base class of errors raised by the scheduler: settings, alarm store, notifiers."""


class SchedulerConfigError(SchedulerError, ValueError):
    """Raised when scheduler settings are invalid (messages never include secret values)."""


class SmsDisabledError(SchedulerConfigError):
    """Raised when SMS delivery is asked for without ``ETS_SCHEDULER_SMS_ENABLED=1``."""


class AlarmStoreError(SchedulerError, RuntimeError):
    """Raised when the alarm database cannot be opened, read or written."""


class NotifierError(SchedulerError, ConnectionError):
    """Raised when a notifier fails to deliver an alarm (refused, non-2xx, timeout); retried later."""
