"""Exceptions raised by the settlement package."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import EtsError


class SettlementError(EtsError):
    """Base class of every error a settlement run raises on purpose."""


class CalendarError(SettlementError, ValueError):
    """Raised when the calendar is misconfigured (bad holidays file, bad close time) or a date is
    not a trading day."""


class DayNotClosedError(SettlementError, RuntimeError):
    """Raised when a settlement is asked for a trading day whose close the chain has not passed."""


@dataclass(frozen=True)
class BankLineError:
    """One refused line of a bank statement file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class BankFileError(SettlementError, ValueError):
    """Raised when the bank statement file is missing or malformed; lists every bad line.

    Attributes:
        path: the file.
        problems: the refused lines (line numbers are 1-based, the header is line 1).
    """

    def __init__(self, path: str, problems: list[BankLineError]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"bank statement {path}: {shown}{more}")


class IndexGapError(SettlementError, RuntimeError):
    """Raised when the read model has not indexed every block of the day (behind the day's last
    block, or blocks whose events are missing)."""


class ReconciliationError(SettlementError):
    """Raised when the books do not balance; ``differences`` lists every one."""

    def __init__(self, message: str, differences: list[object]) -> None:
        self.differences = differences
        super().__init__(message)


class ReportExistsError(SettlementError, FileExistsError):
    """Raised when a day's report directory holds a different report than the one just computed."""


class ReportCorrectionError(SettlementError, ValueError):
    """Raised when a correction of an anchored day cannot be proposed: the day has no anchored
    report, the bundle's files differ from its manifest, or the bundle is the one already anchored."""


class ReportNotAnchoredError(SettlementError, RuntimeError):
    """Raised when a day's written report has no hash anchored on SettlementReports."""


class ReportAlteredError(SettlementError, ValueError):
    """Raised when a day's report files differ from its manifest, or its manifest from the anchored hash.

    Attributes:
        altered: the files found altered or missing (``manifest.json`` when the manifest itself).
    """

    def __init__(self, message: str, altered: list[str]) -> None:
        self.altered = altered
        super().__init__(message)


class MarketDayOpenError(SettlementError, RuntimeError):
    """Raised when the market's close is asked for a day whose 15:00 close the chain has not passed."""


class MarketCloseRefusedError(SettlementError, PermissionError):
    """Raised when the Market would refuse the signer's reference price post (no active EXCHANGE role)."""


class BulletinNotSettledError(SettlementError, LookupError):
    """Raised when the bulletin of a day is asked for and the day has no settled report with one."""


class StatementNotSettledError(SettlementError, LookupError):
    """Raised when an account statement is asked for a day (or a month) with no settled report."""
