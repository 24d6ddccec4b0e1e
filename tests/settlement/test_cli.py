"""``ets settle`` end to end on the settlement market: the issue's spelling settles, signs and
anchors a day, ``verify`` checks the files against the chain, bad input exits 1 with the error's
name, and the bank statement generator writes a parseable file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ets.cli import main as cli
from settlement.bank import parse_statement
from settlement.calendar import day_code
from tests.settlement.conftest import CALENDAR, E0, Market

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def ets(market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    (bank_dir / f"bank-{day_code(market.day1)}.csv").write_bytes(market.bank1.read_bytes())
    env = {
        "ETS_RPC_URL": market.c.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "ETS_STATE_DIR": str(tmp_path),
        "ETS_DEMO": "1",
        "ETS_MANIFEST": str(market.c.manifest_path),
        "ETS_DATABASE_URL": market.engine.url.render_as_string(),
        "ETS_SETTLE_REPORTS_DIR": str(tmp_path / "reports"),
        "ETS_SETTLE_BANK_DIR": str(bank_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    snapshot = market.c.snapshot()

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run
    market.c.revert(snapshot)


def test_settle_day_publishes_and_verifies_when_run_as_exchange(
    ets: Run, market: Market, tmp_path: Path
) -> None:
    code, out = ets("settle", "--day", market.day1.isoformat(), "--as", "exchange", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["balanced"], summary["anchored"], summary["movements"]) == (True, "published", 6)
    assert market.reports.verify(day_code(market.day1), bytes.fromhex(summary["report_hash"][2:]))
    code, out = ets("settle", "verify", "--day", market.day1.isoformat())
    assert code == 0, out
    assert json.loads(out)["signer"] == market.c.exchange.address
    pdf = tmp_path / "reports" / market.day1.isoformat() / f"settlement-{day_code(market.day1)}.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% altered")
    code, out = ets("settle", "verify", "--day", market.day1.isoformat())
    assert code == 1 and json.loads(out)["altered_files"] == [pdf.name]


def test_settle_run_exits_1_with_error_name_when_day_still_open(ets: Run, market: Market) -> None:
    day2 = CALENDAR.next_trading_day(market.day1)
    code, out = ets("settle", "run", "--day", day2.isoformat(), "--as", "exchange")
    assert code == 1 and "DayNotClosedError" in out and "still open" in out


def test_settle_exits_1_when_day_malformed_or_not_trading(ets: Run) -> None:
    code, out = ets("settle", "--day", "2027-06-31")
    assert code == 1 and "CalendarError" in out
    code, out = ets("settle", "--day", "2027-07-03", "--as", "exchange")
    assert code == 1 and "not a trading day" in " ".join(out.split())


def test_settle_bank_generate_writes_parseable_statement(ets: Run, market: Market, tmp_path: Path) -> None:
    path = tmp_path / "gen.csv"
    code, out = ets(
        "settle",
        "bank",
        "generate",
        "--day",
        "2027-06-30",
        "--out",
        str(path),
        "--count",
        "4",
        "--account",
        E0.address,
    )
    assert code == 0, out
    lines = parse_statement(path)
    assert [m.account for m in lines] == [E0.address] * 4


def test_settle_correct_proposes_governed_correction_and_keeps_history_when_bundle_changed(
    ets: Run, market: Market, tmp_path: Path
) -> None:
    """Issue 17 item 16: a published day changes only through governance, every revision kept."""
    day = market.day1.isoformat()
    code, out = ets("settle", "--day", day, "--as", "exchange", "--json")
    assert code == 0, out
    published = bytes.fromhex(json.loads(out)["report_hash"][2:])
    code, out = ets("settle", "correct", "--day", day, "--as", "exchange")
    assert code == 1 and "ReportCorrectionError" in out and "already anchored" in " ".join(out.split())
    # the corrected bundle: one file re-issued, its digest in a new manifest
    directory = tmp_path / "reports" / day
    pdf = directory / f"settlement-{day_code(market.day1)}.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"\n% corrected")
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"][pdf.name] = hashlib.sha256(pdf.read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    corrected = hashlib.sha256((directory / "manifest.json").read_bytes()).digest()

    code, out = ets("settle", "correct", "--day", day, "--as", "exchange")
    assert code == 0, out
    proposal = json.loads(out)
    assert (proposal["anchored_hash"], proposal["report_hash"], proposal["revision"]) == (
        "0x" + published.hex(),
        "0x" + corrected.hex(),
        1,
    )
    assert market.reports.verify(day_code(market.day1), published)  # nothing changes before execution
    assert ets("governance", "approve", str(proposal["proposal"]), "--as", "industry-body")[0] == 0
    code, out = ets("governance", "execute", str(proposal["proposal"]), "--as", "industry-body")
    assert code == 0, out
    code, out = ets("settle", "verify", "--day", day)
    assert code == 0, out
    assert (json.loads(out)["valid"], json.loads(out)["revision"]) == (True, 1)
    history = market.reports.revisions(day_code(market.day1))
    assert [r.report_hash for r in history] == [published, corrected]
