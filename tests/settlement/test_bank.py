"""Bank statement files: the format round-trips, the generator is deterministic, and every
malformed line is reported with its line number."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chain.allowance import bank_reference
from settlement.bank import HEADER, bank_ref_hash, generate_statement, parse_statement, write_statement
from settlement.errors import BankFileError

DAY = date(2027, 6, 30)
ACCOUNTS = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"]


def test_generated_statement_round_trips_when_written_and_parsed(tmp_path: Path) -> None:
    lines = generate_statement(DAY, ACCOUNTS, 25, seed=3, withdrawal_share=0.3)
    assert lines == generate_statement(DAY, ACCOUNTS, 25, seed=3, withdrawal_share=0.3)
    assert {m.direction for m in lines} == {"deposit", "withdrawal"}
    assert parse_statement(write_statement(tmp_path / "bank.csv", lines), DAY) == lines


def test_bank_ref_hash_equals_chain_bank_reference() -> None:
    assert bank_ref_hash(" ICBC-20270630-000001 ") == "0x" + bank_reference("ICBC-20270630-000001").hex()


def test_parse_refused_with_every_line_number_when_lines_malformed(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text(
        ",".join(HEADER) + "\n"
        f"2027-06-30,R1,{ACCOUNTS[0]},D,100,CNY\n"
        f"2027-06-31,R2,{ACCOUNTS[0]},D,100,CNY\n"
        "2027-06-30,R3,0x1234,D,100,CNY\n"
        f"2027-06-30,R4,{ACCOUNTS[1]},X,0,USD\n"
        f"2027-06-30,R1,{ACCOUNTS[1]},W,5,CNY\n"
        "\n"
        "2027-06-30,R6\n"
        f"2027-06-29,R7,{ACCOUNTS[1]},W,5,CNY\n"
    )
    with pytest.raises(BankFileError) as info:
        parse_statement(path, DAY)
    by_line: dict[int, list[str]] = {}
    for p in info.value.problems:
        by_line.setdefault(p.line, []).append(p.message)
    assert sorted(by_line) == [3, 4, 5, 6, 8, 9]
    assert "value_date '2027-06-31'" in by_line[3][0]
    assert "0x1234" in by_line[4][0]
    assert len(by_line[5]) == 3  # direction, amount and currency
    assert "repeats line 2" in by_line[6][0]
    assert "expected 6 fields" in by_line[8][0]
    assert "not the statement's day" in by_line[9][0]
    assert str(info.value).startswith(f"bank statement {path}: line 3:")


def test_parse_refused_when_header_wrong_or_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "bank.csv"
    path.write_text("date,ref,account,dir,amount,currency\n")
    with pytest.raises(BankFileError, match="line 1: header must be value_date,bank_ref"):
        parse_statement(path)
    path.write_text("")
    with pytest.raises(BankFileError, match="line 1: header"):
        parse_statement(path)
    with pytest.raises(BankFileError, match="line 0: file not found"):
        parse_statement(tmp_path / "none.csv")
