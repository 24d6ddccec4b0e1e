"""Exceptions raised by the read model (the API answers them with 503)."""

from __future__ import annotations

from domain.errors import EtsError


class ReadModelError(EtsError):
    """Raised when the read model is missing, not migrated, or belongs to another deployment."""
