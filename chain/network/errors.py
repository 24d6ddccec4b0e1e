"""Exceptions raised while generating or operating the Besu QBFT consortium network."""

from __future__ import annotations

from chain.errors import ChainError


class NetworkError(ChainError):
    """Base class of errors raised by the consortium-network tooling (``chain.network``)."""


class ExtraDataError(NetworkError, ValueError):
    """Raised when QBFT extraData cannot be encoded (bad validator address) or decoded (not QBFT RLP)."""


class NetworkConfigError(NetworkError, ValueError):
    """Raised when network parameters are invalid (validator count, chain id, periods, accounts, paths)."""


class KeyFileError(NetworkError, ValueError):
    """Raised when a node key or keystore file is missing, malformed or cannot be decrypted."""


class AllowlistSyncError(NetworkError, RuntimeError):
    """Raised when a node refuses an allowlist update (a perm_* error) or cannot be reached."""
