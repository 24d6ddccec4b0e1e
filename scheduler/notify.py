"""Alarm delivery channels: log, signed webhook, and SMS (stub transport only)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pydantic import SecretStr

from scheduler.alarms import Alarm
from scheduler.config import SchedulerSettings
from scheduler.errors import NotifierError, SchedulerConfigError, SmsDisabledError

logger = logging.getLogger(__name__)

__all__ = [
    "ALARM_HEADER",
    "SIGNATURE_HEADER",
    "LogNotifier",
    "Notifier",
    "SmsNotifier",
    "SmsTransport",
    "StubSmsTransport",
    "WebhookNotifier",
    "build_notifiers",
    "sign_body",
    "verify_signature",
]

#: Header carrying ``sha256=<hex HMAC-SHA256 of the body under the webhook secret>``.
SIGNATURE_HEADER = "X-ETS-Signature"
#: Header carrying the alarm's uid, so a receiver can drop a re-delivery.
ALARM_HEADER = "X-ETS-Alarm"


@runtime_checkable
class Notifier(Protocol):
    """A delivery channel; ``name`` identifies it in the store's delivery records."""

    @property
    def name(self) -> str: ...

    def deliver(self, alarm: Alarm) -> None:
        """Deliver one alarm.

        Raises:
            NotifierError: it was not delivered (it is tried again at the next scan).
        """
        ...


class LogNotifier:
    """Writes each alarm as a WARNING record with the fields ``enterprise``, ``year``, ``kind``."""

    name = "log"

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logging.getLogger("scheduler.alarm")

    def deliver(self, alarm: Alarm) -> None:
        self._log.warning(
            "alarm %s: %s",
            alarm.kind,
            alarm.message,
            extra={"enterprise": alarm.enterprise, "year": alarm.year, "kind": str(alarm.kind),
                   "alarm": alarm.uid},
        )  # fmt: skip


def sign_body(secret: SecretStr | bytes, body: bytes) -> str:
    """The signature header value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    key = secret if isinstance(secret, bytes) else secret.get_secret_value().encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: SecretStr | bytes, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(sign_body(secret, body), header)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as the failure it is: following it would turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class WebhookNotifier:
    """POSTs each alarm's :meth:`~scheduler.alarms.Alarm.payload` as JSON, signed with HMAC-SHA256.

    Headers: ``Content-Type: application/json``, :data:`SIGNATURE_HEADER` (``sha256=<hex>``
    over the exact body bytes) and :data:`ALARM_HEADER` (the alarm's uid: delivery is at least
    once, so a receiver should drop a uid it has seen). Any answer outside 2xx is a failure
    (redirects are not followed).
    """

    name = "webhook"

    def __init__(self, url: str, secret: SecretStr, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SchedulerConfigError("webhook URL must be an http(s) URL")
        self._url = url
        self._secret = secret
        self._timeout = timeout
        # for messages and logs: no query string or credentials, which may carry tokens
        self.where = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.where!r})"

    def deliver(self, alarm: Alarm) -> None:
        body = json.dumps(alarm.payload(), sort_keys=True, separators=(",", ":")).encode()
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "ets-scheduler",
                SIGNATURE_HEADER: sign_body(self._secret, body),
                ALARM_HEADER: alarm.uid,
            },
        )
        try:
            with _opener.open(request, timeout=self._timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            raise NotifierError(f"webhook {self.where} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotifierError(f"webhook {self.where} unreachable: {reason}") from None
        if not 200 <= status < 300:
            raise NotifierError(f"webhook {self.where} answered HTTP {status}")
        logger.info("alarm delivered to webhook", extra={"enterprise": alarm.enterprise, "year": alarm.year,
                                                         "kind": str(alarm.kind)})  # fmt: skip


class SmsTransport(Protocol):
    """An SMS gateway: sends one text to one number, raising :class:`NotifierError` on failure."""

    def send(self, to: str, text: str) -> None: ...


def _mask(number: str) -> str:
    return "*" * max(len(number) - 4, 0) + number[-4:]


class StubSmsTransport:
    """STUB: sends nothing. Records each message in :attr:`sent` and logs it (number masked).

    The only SMS transport there is; a real gateway implements :class:`SmsTransport`.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, to: str, text: str) -> None:
        with self._lock:
            self.sent.append((to, text))
        logger.info("stub SMS to %s (not sent): %s", _mask(to), text)


class SmsNotifier:
    """Sends each alarm's message to every recipient over an :class:`SmsTransport`."""

    name = "sms"

    def __init__(self, transport: SmsTransport, recipients: Sequence[str]) -> None:
        if not recipients:
            raise SchedulerConfigError("the SMS channel needs at least one recipient")
        self.transport = transport
        self.recipients = tuple(recipients)

    def deliver(self, alarm: Alarm) -> None:
        text = f"[ETS] {alarm.message}"
        for to in self.recipients:
            self.transport.send(to, text)


def build_notifiers(settings: SchedulerSettings, *, sms: bool | None = None) -> list[Notifier]:
    """The channels ``settings`` configure: log always, webhook with a URL, SMS only when enabled.

    Args:
        settings: scheduler settings (checked here again).
        sms: ``True`` to require the SMS channel, ``False`` to leave it out; ``None``: as set.

    Raises:
        SmsDisabledError: SMS asked for (``sms=True`` or recipients set) without
            ``ETS_SCHEDULER_SMS_ENABLED=1``.
        SchedulerConfigError: other invalid settings.
    """
    settings.check()
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.webhook_url is not None and settings.webhook_secret is not None:
        notifiers.append(
            WebhookNotifier(settings.webhook_url, settings.webhook_secret, timeout=settings.webhook_timeout)
        )
    if sms and not settings.sms_enabled:
        raise SmsDisabledError("SMS asked for but ETS_SCHEDULER_SMS_ENABLED is not set (stub transport only)")
    if settings.sms_enabled and sms is not False:
        logger.warning("SMS channel uses the stub transport: messages are logged, not sent")
        notifiers.append(SmsNotifier(StubSmsTransport(), settings.sms_recipients))
    return notifiers
