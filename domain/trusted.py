"""Trusted counterparties: when an enterprise's addition to its trusted list takes effect, and how
much a direct transfer may send to an account that is not trusted (the rule
``contracts/src/accounts/TrustedCounterparties.sol`` and ``AllowanceToken._update`` apply; tested
equal to them)."""

from __future__ import annotations

#: Seconds an addition waits by default (the EU Union Registry waits 4 business days).
DEFAULT_DELAY_SECONDS = 4 * 86_400
#: The longest delay governance may set (the contract's ``MAX_DELAY``).
MAX_DELAY_SECONDS = 90 * 86_400
#: Largest amount (tonnes, one transfer's ids together) to an untrusted account by default.
DEFAULT_LIMIT = 1_000


def active_from(added_at: int, delay: int) -> int:
    """When an addition made at ``added_at`` (unix s) takes effect."""
    return added_at + delay


def is_trusted(active_since: int, now: int) -> bool:
    """Whether a list entry in effect from ``active_since`` (0: not listed) is in effect at ``now``."""
    return active_since != 0 and active_since <= now


def transfer_allowed(amount: int, *, active_since: int, now: int, limit: int) -> bool:
    """Whether a direct transfer of ``amount`` may go to a counterparty whose entry on the sender's
    list is in effect from ``active_since`` (0: not listed): always when trusted, else up to ``limit``."""
    return is_trusted(active_since, now) or amount <= limit
