"""Settings of the API process and its indexer (env prefix ``ETS_``); the only reader of the
environment on the API side."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import ApiConfigError
from chain.auction import DEFAULT_FORFEIT_BPS
from chain.config import ChainSettings
from readmodel.config import read_model_url
from settlement.config import SettlementSettings


class ApiSettings(BaseSettings):
    """Where the read model lives, how the indexer follows the chain, how sign-in works.

    Attributes:
        database_url: SQLAlchemy URL of the read model (default: SQLite file in the state dir);
            ``postgresql+psycopg://user@host/db`` for deployments.
        api_host: address uvicorn binds.
        api_port: port uvicorn binds.
        api_domain: the authority (host[:port]) SIWE messages must name; default host:port, and
            required when ``api_host`` is not a loopback address (``0.0.0.0:8000`` is no domain
            a wallet shows its user).
        api_scheme: the scheme clients reach the API on (``https`` behind a TLS front); a SIWE
            message that writes a scheme before its domain must name this one.
        api_session_minutes: lifetime of a session token.
        api_nonce_minutes: lifetime of an unused SIWE nonce.
        api_role_cache_seconds: how long roles read from the registry are reused.
        api_session_cache_seconds: how long a process reuses a session token it has checked
            (a sign-out through another process takes effect within this time; 0: never reused).
        api_intent_minutes: how long a built transaction waits for its signature.
        api_relay_wait_seconds: how long ``POST /tx/relay`` waits for the receipt before answering
            ``pending`` (a QBFT network with a longer block period wants more).
        api_threads: worker threads per API process that run routes (blocking database and
            chain calls; relays, which wait for receipts, have 32 of their own).
        api_embedded_indexer: run the indexer in the API process.
        api_json_logs: processes built by ``api.main:app_from_env`` log JSON lines to stderr.
        api_cors_origins: origins allowed to call the API from a browser (comma list).
        api_rate_limit_client: requests per client IP address (``limits`` notation, several
            separated by ``;``: ``600/minute;50/second``).
        api_rate_limit_sign_in: ``POST /auth/nonce`` and ``/auth/verify`` per client IP address
            (each nonce is a row in the database).
        api_rate_limit_principal: requests per signed-in account, whatever its address.
        api_rate_limit_storage: where the counters live (``memory://`` per process;
            ``redis://host:6379`` to share them between API processes).
        api_max_body_bytes: largest request body accepted (413 beyond).
        api_stream_per_user: open ``GET /market/stream`` connections per signed-in account in
            this process (429 beyond).
        api_stream_total: open market streams in this process, every account together (429 beyond).
        api_stream_ping_seconds: a ``ping`` event after this long without a ``market`` event.
        api_stream_poll_seconds: how often the streams read the read model's checkpoint when the
            indexer runs in another process (with the embedded indexer they wake on its commits).
        api_stream_max_seconds: a stream ends after this long; the client reconnects with
            ``Last-Event-ID`` and misses nothing (the session itself is checked every ping:
            a signed-out or expired session gets ``signed_out`` and the stream ends).
        api_stream_max_trades: trades one ``market`` event carries at most; a longer range
            (a client resuming from far back) is sent as several events.
        api_shutdown_seconds: how long a stopping server lets open responses (market streams)
            finish before it cancels them (uvicorn's ``timeout_graceful_shutdown``).
        indexer_confirmations: blocks an event must be buried under before it is indexed.
        indexer_page_blocks: blocks fetched per ``eth_getLogs``.
        indexer_poll_seconds: pause between polls once caught up (0.25 s: a fill reaches the
            market streams well within a second of its block).
        indexer_oracle_queues: oracle queue files whose anchored readings are imported (comma list).
        auction_forfeit_bps: share of a guarantee forfeited by a bidder that does not reveal, in
            the auctions the dashboard creates (``ETS_AUCTION_FORFEIT_BPS``; 0 to 10,000).
        reports_dir: where settled days' reports are read (``/market/bulletin``); default the
            settlement job's directory (``ETS_SETTLE_REPORTS_DIR``, else ``settlement`` in the state dir).
    """

    model_config = SettingsConfigDict(env_prefix="ETS_", extra="ignore")

    database_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_domain: str | None = None
    api_scheme: Literal["http", "https"] = "http"
    api_session_minutes: int = 12 * 60
    api_nonce_minutes: int = 10
    api_role_cache_seconds: float = 5.0
    api_session_cache_seconds: float = 2.0
    api_intent_minutes: int = 30
    api_relay_wait_seconds: float = Field(default=30.0, gt=0, le=600)
    api_threads: int = Field(default=4, ge=1, le=256)
    api_embedded_indexer: bool = True
    api_json_logs: bool = False
    api_cors_origins: str = ""
    api_rate_limit_client: str = "600/minute;60/second"
    api_rate_limit_sign_in: str = "30/minute"
    api_rate_limit_principal: str = "1200/minute;100/second"
    api_rate_limit_storage: str = "memory://"
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    api_stream_per_user: int = Field(default=4, ge=1, le=1000)
    api_stream_total: int = Field(default=1000, ge=1, le=100_000)
    api_stream_ping_seconds: float = Field(default=15.0, gt=0, le=300)
    api_stream_poll_seconds: float = Field(default=0.25, gt=0, le=60)
    api_stream_max_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    api_stream_max_trades: int = Field(default=500, ge=1, le=10_000)
    api_shutdown_seconds: int = Field(default=3, ge=0, le=600)
    indexer_confirmations: int = 0
    indexer_page_blocks: int = 2_000
    indexer_poll_seconds: float = 0.25
    auction_forfeit_bps: int = Field(default=DEFAULT_FORFEIT_BPS, ge=0, le=10_000)
    reports_dir: Path | None = None
    indexer_oracle_queues: str = ""

    @classmethod
    def load(cls) -> ApiSettings:
        """Settings from the environment, checked.

        Raises:
            ApiConfigError: invalid values.
        """
        try:
            settings = cls()
        except ValidationError as exc:
            problems = "; ".join(
                f"ETS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
            )
            raise ApiConfigError(problems) from None
        if settings.indexer_confirmations < 0 or settings.indexer_page_blocks < 1:
            raise ApiConfigError("ETS_INDEXER_CONFIRMATIONS must be >= 0 and ETS_INDEXER_PAGE_BLOCKS >= 1")
        return settings.check()

    def check(self) -> ApiSettings:
        """Refuse settings the API must not serve with.

        Raises:
            ApiConfigError: a non-loopback ``api_host`` without an explicit ``api_domain``; a
                rate limit that is not ``limits`` notation.
        """
        if self.api_domain is None and not is_loopback(self.api_host):
            raise ApiConfigError(
                f"ETS_API_HOST={self.api_host} is not a loopback address: set ETS_API_DOMAIN to the public "
                "host[:port] clients reach the API at (SIWE messages must name it; "
                f"{self.api_host}:{self.api_port} is no domain a wallet can show its user)"
            )
        for name in ("api_rate_limit_client", "api_rate_limit_sign_in", "api_rate_limit_principal"):
            value = getattr(self, name)
            try:
                parse_many(value)
            except ValueError:
                raise ApiConfigError(
                    f"ETS_{name.upper()}={value!r} is not a rate limit such as '600/minute' or "
                    "'600/minute;50/second'"
                ) from None
        return self

    def reports(self) -> Path:
        """Where settled days' reports are: ``reports_dir``, else where the settlement job writes."""
        return self.reports_dir or SettlementSettings.load().reports_dir

    def database(self, chain: ChainSettings) -> str:
        """The read model's URL: ``database_url`` or ``sqlite:///<state_dir>/readmodel.db``."""
        return read_model_url(self.database_url, chain.state_dir)

    @property
    def domain(self) -> str:
        return self.api_domain or f"{self.api_host}:{self.api_port}"

    @property
    def origin(self) -> str:
        """``scheme://domain``: the URI sign-in messages name."""
        return f"{self.api_scheme}://{self.domain}"

    @property
    def oracle_queues(self) -> list[Path]:
        return [Path(p.strip()) for p in self.indexer_oracle_queues.split(",") if p.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.api_cors_origins.split(",") if o.strip()]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
