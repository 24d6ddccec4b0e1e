"""Settings of the compliance alarm scheduler (env prefix ``ETS_SCHEDULER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.surveillance import SurveillanceSettings
from scheduler.errors import SchedulerConfigError

HOUR = 3600

#: Default database file, relative to the chain settings' state directory.
DEFAULT_DATABASE = Path("scheduler") / "alarms.db"


def _split(value: Any) -> Any:
    """A comma-separated environment value as a list (JSON lists and Python lists pass through)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [x.strip().strip("\"'") for x in text[1:-1].split(",") if x.strip()]
        return [x.strip() for x in text.split(",") if x.strip()]
    return value


class SchedulerSettings(BaseSettings):
    """What the scheduler watches, how often, and where its alarms go.

    Attributes:
        database_url: SQLAlchemy URL of the alarm store (default: SQLite file
            ``<state dir>/scheduler/alarms.db``); a secret, since it may carry a password.
        interval_seconds: seconds between two scans.
        ack_hours: default acknowledgement window of a notice, in hours, used when the regulator
            issues notices without giving an acknowledgement deadline.
        reminder_leads_hours: reminders before the submission deadline, in hours
            (comma-separated in the environment: ``168,24``).
        max_block_range: most blocks asked for in one ``eth_getLogs`` request.
        max_attempts: delivery attempts per alarm and channel before giving up.
        webhook_url: HTTP(S) endpoint alarms are POSTed to as JSON (none: no webhook).
        webhook_secret: HMAC-SHA256 key of the ``X-ETS-Signature`` header (required with a URL).
        webhook_timeout: seconds to wait for the webhook.
        sms_enabled: build the SMS channel; only a stub transport exists (it sends nothing).
        sms_recipients: phone numbers of the SMS channel (comma-separated in the environment).
        purge_interval_seconds: seconds between two purges of the API's expired nonces, sessions
            and intents in the read model (``ETS_DATABASE_URL``); 0 turns the purge off.
        intent_retention_days: days a relayed transaction intent is kept after its expiry.
        surveillance: run the market surveillance after each close (``scheduler.surveillance``).
        surveillance_margin_minutes: minutes after the close the surveillance runs.
        surveillance_ramp_bps, surveillance_ramp_minutes, surveillance_concentration_bps,
        surveillance_concentration_min_trades: the scans' thresholds (unset:
            :class:`domain.surveillance.SurveillanceSettings`' defaults).
        field_relay: relay the sites' field alarms (``scheduler.field``) into the store.
        field_stores: the gateways' field stores (comma-separated; default: the local
            gateway's ``<state dir>/oracle/field.db`` when it exists).
        field_interval_seconds: seconds between two relays.
    """

    model_config = SettingsConfigDict(env_prefix="ETS_SCHEDULER_", extra="ignore")

    database_url: SecretStr | None = None
    interval_seconds: float = Field(default=60.0, gt=0)
    ack_hours: float = Field(default=72.0, gt=0)
    reminder_leads_hours: Annotated[list[float], NoDecode] = [168.0, 24.0]
    max_block_range: int = Field(default=5_000, ge=1)
    max_attempts: int = Field(default=20, ge=1)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout: float = Field(default=10.0, gt=0)
    sms_enabled: bool = False
    sms_recipients: Annotated[list[str], NoDecode] = []
    purge_interval_seconds: float = Field(default=3600.0, ge=0)
    intent_retention_days: float = Field(default=30.0, ge=0)
    surveillance: bool = True
    surveillance_margin_minutes: int = Field(default=5, ge=0, le=600)
    surveillance_ramp_bps: int | None = None
    surveillance_ramp_minutes: int | None = None
    surveillance_concentration_bps: int | None = None
    surveillance_concentration_min_trades: int | None = None
    field_relay: bool = True
    field_stores: Annotated[list[Path], NoDecode] = []
    field_interval_seconds: float = Field(default=30.0, gt=0)

    @field_validator("reminder_leads_hours", "sms_recipients", "field_stores", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("reminder_leads_hours")
    @classmethod
    def _positive_leads(cls, value: list[float]) -> list[float]:
        if any(lead <= 0 for lead in value):
            raise ValueError("reminder leads must be positive hours")
        return sorted(set(value), reverse=True)

    @classmethod
    def load(cls, **overrides: Any) -> SchedulerSettings:
        """Settings from the environment (``overrides`` win), checked.

        Raises:
            SchedulerConfigError: invalid values (messages never include secret values).
        """
        try:
            settings = cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"ETS_SCHEDULER_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors()
            )
            raise SchedulerConfigError(problems) from None
        return settings.check()

    def check(self) -> SchedulerSettings:
        """Refuse settings that would deliver insecurely or ask for a channel that is off.

        Raises:
            SchedulerConfigError: a webhook URL that is not http(s) or has no secret.
            SmsDisabledError: SMS recipients without ``ETS_SCHEDULER_SMS_ENABLED=1``, or SMS on
                without recipients.
        """
        from scheduler.errors import SmsDisabledError

        if self.webhook_url is not None:
            parts = urlsplit(self.webhook_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SchedulerConfigError("ETS_SCHEDULER_WEBHOOK_URL must be an http(s) URL")
            if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
                raise SchedulerConfigError(
                    "ETS_SCHEDULER_WEBHOOK_URL needs ETS_SCHEDULER_WEBHOOK_SECRET (HMAC key of the signature)"
                )
        if self.sms_recipients and not self.sms_enabled:
            raise SmsDisabledError(
                "SMS recipients are set but SMS is off: set ETS_SCHEDULER_SMS_ENABLED=1 "
                "(stub transport only: messages are logged, not sent)"
            )
        if self.sms_enabled and not self.sms_recipients:
            raise SmsDisabledError("ETS_SCHEDULER_SMS_ENABLED=1 needs ETS_SCHEDULER_SMS_RECIPIENTS")
        return self

    @property
    def ack_seconds(self) -> int:
        """The default acknowledgement window in seconds."""
        return int(self.ack_hours * HOUR)

    @property
    def reminder_leads(self) -> tuple[int, ...]:
        """Reminder lead times in seconds, longest first."""
        return tuple(int(h * HOUR) for h in self.reminder_leads_hours)

    def surveillance_settings(self) -> SurveillanceSettings:
        """The surveillance scans' thresholds: the ones set, the domain's defaults for the rest.

        Raises:
            SurveillanceInputError: a threshold out of range.
        """
        prefix = "surveillance_"
        chosen = {
            name: getattr(self, prefix + name)
            for name in ("ramp_bps", "ramp_minutes", "concentration_bps", "concentration_min_trades")
            if getattr(self, prefix + name) is not None
        }
        return SurveillanceSettings(**chosen)

    def database(self, state_dir: Path) -> str:
        """The alarm store's SQLAlchemy URL (the default SQLite file lives under ``state_dir``)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{state_dir / DEFAULT_DATABASE}"
