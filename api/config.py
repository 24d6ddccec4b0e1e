"""Settings of the API process and its indexer (env prefix ``ETS_``); the only reader of the
environment on the API side."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.errors import ApiConfigError
from chain.config import ChainSettings


class ApiSettings(BaseSettings):
    """Where the read model lives, how the indexer follows the chain, how sign-in works.

    Attributes:
        database_url: SQLAlchemy URL of the read model (default: SQLite file in the state dir);
            ``postgresql+psycopg://user@host/db`` for deployments.
        api_host: address uvicorn binds.
        api_port: port uvicorn binds.
        api_domain: the authority (host[:port]) SIWE messages must name; default host:port.
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
        indexer_confirmations: blocks an event must be buried under before it is indexed.
        indexer_page_blocks: blocks fetched per ``eth_getLogs``.
        indexer_poll_seconds: pause between polls once caught up.
        indexer_oracle_queues: oracle queue files whose anchored readings are imported (comma list).
    """

    model_config = SettingsConfigDict(env_prefix="ETS_", extra="ignore")

    database_url: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_domain: str | None = None
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
    indexer_confirmations: int = 0
    indexer_page_blocks: int = 2_000
    indexer_poll_seconds: float = 1.0
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
        return settings

    def database(self, chain: ChainSettings) -> str:
        """The read model's URL: ``database_url`` or ``sqlite:///<state_dir>/readmodel.db``."""
        return self.database_url or f"sqlite:///{chain.state_dir / 'readmodel.db'}"

    @property
    def domain(self) -> str:
        return self.api_domain or f"{self.api_host}:{self.api_port}"

    @property
    def oracle_queues(self) -> list[Path]:
        return [Path(p.strip()) for p in self.indexer_oracle_queues.split(",") if p.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.api_cors_origins.split(",") if o.strip()]
