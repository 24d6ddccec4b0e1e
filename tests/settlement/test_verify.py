"""Reading a report directory against its manifest: altered, missing and unsafe files, and a
manifest the run did not write; the day's verification against an anchored hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from settlement.calendar import day_code
from settlement.verify import MANIFEST, read_report, verify_day

DAY = date(2027, 6, 30)


def _bundle(directory: Path, files: dict[str, bytes]) -> bytes:
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    manifest = {"files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    data = json.dumps(manifest).encode()
    (directory / MANIFEST).write_bytes(data)
    return hashlib.sha256(data).digest()


def test_read_report_lists_altered_and_missing_files_when_they_changed(tmp_path: Path) -> None:
    directory = tmp_path / DAY.isoformat()
    report_hash = _bundle(directory, {"a.csv": b"1", "b.csv": b"2", "c.pdf": b"3"})
    assert read_report(directory) == (report_hash, [])
    (directory / "b.csv").write_bytes(b"22")
    (directory / "c.pdf").unlink()
    assert read_report(directory) == (report_hash, ["b.csv", "c.pdf"])


def test_read_report_flags_the_manifest_when_not_one_the_run_wrote(tmp_path: Path) -> None:
    directory = tmp_path / "day"
    directory.mkdir()
    for content in (b"not json", b"[]", b'{"files": 3}'):
        (directory / MANIFEST).write_bytes(content)
        assert read_report(directory) == (hashlib.sha256(content).digest(), [MANIFEST])
    unsafe = json.dumps({"files": {"../outside.csv": "00", "ok.csv": "00"}}).encode()
    (directory / MANIFEST).write_bytes(unsafe)
    assert read_report(directory) == (hashlib.sha256(unsafe).digest(), [MANIFEST, "../outside.csv"])


@dataclass(frozen=True)
class Published:
    report_hash: bytes


class Reports:
    def __init__(self, anchored: dict[int, bytes]) -> None:
        self.anchored = anchored

    def report(self, trading_day: int) -> Published | None:
        found = self.anchored.get(trading_day)
        return None if found is None else Published(found)

    def recover_signer(self, report: Published) -> str:
        return "0xsigner"


def test_verify_day_verified_only_when_files_match_and_hash_anchored(tmp_path: Path) -> None:
    report_hash = _bundle(tmp_path / DAY.isoformat(), {"a.csv": b"1"})
    check = verify_day(tmp_path, DAY, Reports({day_code(DAY): report_hash}))
    assert (check.verified, check.signer, check.altered) == (True, "0xsigner", [])
    assert not verify_day(tmp_path, DAY, Reports({day_code(DAY): bytes(32)})).verified
    unanchored = verify_day(tmp_path, DAY, None)
    assert (unanchored.verified, unanchored.published, unanchored.signer) == (False, None, None)
    (tmp_path / DAY.isoformat() / "a.csv").write_bytes(b"2")
    assert not verify_day(tmp_path, DAY, Reports({day_code(DAY): report_hash})).verified
