"""Root of every exception ETS Chain raises on purpose, and the rule violations under DomainError."""

from __future__ import annotations

from collections.abc import Sequence


class EtsError(Exception):
    """Base class of all ETS Chain errors; catch this to catch any of them."""


class DomainError(EtsError):
    """A rule of the domain was broken by the input (a bad id, code, amount or plan)."""


class InvalidInputError(DomainError, ValueError):
    """Raised when a value is refused before any transaction is built (bad code, bad address)."""


class AllocationInputError(DomainError, ValueError):
    """Raised when allocation inputs are invalid; ``problems`` lists every one, with line numbers.

    Attributes:
        problems: one message per problem, e.g. ``"history.csv line 7: coal_t '-3' is negative"``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid allocation input ({count} problem{'s' * (count != 1)}):\n{lines}")


class AuctionInputError(DomainError, ValueError):
    """Raised when auction inputs are invalid: a bad schedule, scenario, parameter or bid file."""


class ComplianceInputError(DomainError, ValueError):
    """Raised when compliance inputs are invalid: a bad case file, notice list, token or signed file."""
