"""Where the read model lives: ``ETS_DATABASE_URL``, else a SQLite file in the state directory."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.config import ChainSettings


def read_model_url(configured: str | None, state_dir: Path) -> str:
    """The read model's SQLAlchemy URL: ``configured``, else ``sqlite:///<state_dir>/readmodel.db``."""
    return configured or f"sqlite:///{state_dir / 'readmodel.db'}"


class ReadModelSettings(BaseSettings):
    """The read model's location for the services beside the API (scheduler jobs).

    Attributes:
        database_url: SQLAlchemy URL (default: SQLite file in the state dir);
            ``postgresql+psycopg://user@host/db`` for deployments.
    """

    model_config = SettingsConfigDict(env_prefix="ETS_", extra="ignore")

    database_url: str | None = None

    def url(self, chain: ChainSettings) -> str:
        """The read model's URL with ``chain``'s state directory as the default's home."""
        return read_model_url(self.database_url, chain.state_dir)
