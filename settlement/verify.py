"""Reading and verifying a settled day's report: its files against the manifest the run wrote,
the manifest's SHA-256 against the hash anchored on SettlementReports, and who signed it. The one
check behind ``ets settle verify`` and ``correct``, the dashboard's report view and the demo."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from settlement.calendar import day_code

#: The report's manifest (``settlement.report.write_report``): its SHA-256 is the anchored hash.
MANIFEST = "manifest.json"


class PublishedLike(Protocol):
    """An anchored report as settlement reads it (``chain.settlement.PublishedReport``)."""

    @property
    def report_hash(self) -> bytes: ...


Published = TypeVar("Published", bound=PublishedLike)


class ReportsView(Protocol[Published]):
    """SettlementReports as verification reads it (``chain.settlement.SettlementReportsClient``)."""

    def report(self, trading_day: int) -> Published | None: ...

    def recover_signer(self, report: Published) -> str: ...


def plain_name(name: str) -> bool:
    """Whether ``name`` is a plain file name (no directory part, not hidden)."""
    return bool(name) and name == Path(name).name and not name.startswith(".") and "\\" not in name


def read_report(directory: Path) -> tuple[bytes, list[str]]:
    """Recompute a report's hash and list the files whose SHA-256 differs from its manifest.

    A manifest that does not list its files by plain names (not one the run wrote, or names
    outside the directory) counts as altered itself, and nothing else is read.

    Returns:
        (SHA-256 of the manifest as it is, names of altered or missing files).

    Raises:
        OSError: the manifest cannot be read (no report in ``directory``).
    """
    data = (directory / MANIFEST).read_bytes()
    report_hash = hashlib.sha256(data).digest()
    try:
        manifest = json.loads(data)
    except ValueError:
        manifest = None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return report_hash, [MANIFEST]
    listed = {str(k): str(v) for k, v in files.items()}
    unsafe = sorted(name for name in listed if not plain_name(name))
    if unsafe:
        return report_hash, [MANIFEST, *unsafe]
    altered = []
    try:
        for name, digest in sorted(listed.items()):
            path = directory / name
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                altered.append(name)
    except OSError:  # a listed name that is not a readable file
        altered = sorted(name for name in listed if not (directory / name).is_file()) or [MANIFEST]
    return report_hash, altered


@dataclass(frozen=True)
class DayVerification(Generic[Published]):
    """A settled day's report checked against its manifest and the hash anchored for the day.

    Attributes:
        day: the trading day.
        report_hash: SHA-256 of the day's manifest as it is now.
        altered: files that differ from the manifest or are missing.
        published: the report anchored for the day (its latest revision), None if none.
        signer: the account that signed the anchored report (recovered off-chain).
    """

    day: date
    report_hash: bytes
    altered: list[str]
    published: Published | None
    signer: str | None

    @property
    def verified(self) -> bool:
        """The files match the manifest and the manifest is the report anchored for the day."""
        published = self.published
        return not self.altered and published is not None and published.report_hash == self.report_hash


def verify_day(
    reports_dir: Path, day: date, reports: ReportsView[Published] | None
) -> DayVerification[Published]:
    """Check ``day``'s report under ``reports_dir`` against the hash anchored on ``reports``
    (None: no SettlementReports contract, nothing anchored).

    Raises:
        OSError: the day has no report under ``reports_dir``.
    """
    report_hash, altered = read_report(reports_dir / day.isoformat())
    published = reports.report(day_code(day)) if reports is not None else None
    signer = reports.recover_signer(published) if reports is not None and published is not None else None
    return DayVerification(day, report_hash, altered, published, signer)
