"""Bank statement files: the CSV format, a parser that reports every bad line by number, and a
generator of statements for tests and demos.

Format (UTF-8, comma-separated, one header line, one bank movement per line)::

    value_date,bank_ref,account,direction,amount_fen,currency
    2027-06-30,ICBC-20270630-000001,0x70997970C51812dc3A010C7d01b50e0d17dc79C8,D,1250000,CNY

- ``value_date``: the trading day the movement settles in (``YYYY-MM-DD``).
- ``bank_ref``: the bank's transaction reference, unique in the file; on-chain it is carried as
  ``keccak256(bank_ref)`` (:func:`bank_ref_hash`, the same as ``chain.allowance.bank_reference``).
- ``account``: the participant's chain address (0x + 40 hex digits).
- ``direction``: ``D`` deposit (cash issued on-chain) or ``W`` withdrawal (cash burned).
- ``amount_fen``: positive integer, fen.
- ``currency``: ``CNY``.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from chain.allowance import bank_reference_digest
from settlement.errors import BankFileError, BankLineError

HEADER = ("value_date", "bank_ref", "account", "direction", "amount_fen", "currency")
DIRECTIONS = {"D": "deposit", "W": "withdrawal"}
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
MAX_AMOUNT = 2**63 - 1


@dataclass(frozen=True)
class BankMovement:
    """One line of a bank statement.

    Attributes:
        line: its line number in the file (header = 1).
        value_date: the trading day it settles in.
        bank_ref: the bank's reference text.
        account: chain address as written (compared case-insensitively).
        direction: ``"deposit"`` or ``"withdrawal"``.
        amount: fen.
    """

    line: int
    value_date: date
    bank_ref: str
    account: str
    direction: str
    amount: int

    @property
    def ref_hash(self) -> str:
        """The on-chain bank reference (0x-hex keccak256 of the text)."""
        return bank_ref_hash(self.bank_ref)


def bank_ref_hash(text: str) -> str:
    """``keccak256`` of a bank reference's text, 0x-hex: what SettlementToken stores."""
    return "0x" + bank_reference_digest(text).hex()


def parse_statement(path: Path, day: date | None = None) -> list[BankMovement]:
    """Read and check a bank statement; every problem is collected before raising.

    Args:
        path: the CSV file.
        day: when given, every line's ``value_date`` must be this day.

    Raises:
        BankFileError: the file is missing or unreadable, or lines are malformed (each listed
            with its line number).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BankFileError(str(path), [BankLineError(0, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BankFileError(str(path), [BankLineError(0, f"unreadable: {exc}")]) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(c.strip() for c in rows[0]) != HEADER:
        found = ",".join(rows[0]) if rows else "an empty file"
        raise BankFileError(str(path), [BankLineError(1, f"header must be {','.join(HEADER)}, got {found}")])
    problems: list[BankLineError] = []
    movements: list[BankMovement] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        movement, errors = _parse_row(number, row, day)
        problems += [BankLineError(number, e) for e in errors]
        if movement is None:
            continue
        first = seen.get(movement.bank_ref)
        if first is not None:
            problems.append(BankLineError(number, f"bank_ref {movement.bank_ref!r} repeats line {first}"))
            continue
        seen[movement.bank_ref] = number
        movements.append(movement)
    if problems:
        raise BankFileError(str(path), problems)
    return movements


def _parse_row(number: int, row: Sequence[str], day: date | None) -> tuple[BankMovement | None, list[str]]:
    if len(row) != len(HEADER):
        return None, [f"expected {len(HEADER)} fields, got {len(row)}"]
    value_date, ref, account, direction, amount, currency = (c.strip() for c in row)
    errors: list[str] = []
    parsed_date: date | None = None
    try:
        parsed_date = date.fromisoformat(value_date)
    except ValueError:
        errors.append(f"value_date {value_date!r} is not YYYY-MM-DD")
    if parsed_date is not None and day is not None and parsed_date != day:
        errors.append(f"value_date {parsed_date} is not the statement's day {day}")
    if not ref:
        errors.append("bank_ref is empty")
    if not _ADDRESS.match(account):
        errors.append(f"account {account!r} is not a 0x address of 40 hex digits")
    if direction not in DIRECTIONS:
        errors.append(f"direction {direction!r} is not D or W")
    value = 0
    if not amount.isdigit() or not 0 < int(amount) <= MAX_AMOUNT:
        errors.append(f"amount_fen {amount!r} is not a positive whole number of fen")
    else:
        value = int(amount)
    if currency != "CNY":
        errors.append(f"currency {currency!r} is not CNY")
    if errors or parsed_date is None:
        return None, errors
    return BankMovement(number, parsed_date, ref, account, DIRECTIONS[direction], value), []


def format_statement(movements: Sequence[BankMovement]) -> str:
    """The CSV text of ``movements`` (header first, ``\\n`` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    code = {v: k for k, v in DIRECTIONS.items()}
    for m in movements:
        writer.writerow([m.value_date.isoformat(), m.bank_ref, m.account, code[m.direction], m.amount, "CNY"])
    return out.getvalue()


def write_statement(path: Path, movements: Sequence[BankMovement]) -> Path:
    """Write ``movements`` as a bank statement file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_statement(movements), encoding="utf-8")
    return path


def generate_statement(
    day: date,
    accounts: Sequence[str],
    count: int,
    *,
    seed: int = 0,
    withdrawal_share: float = 0.0,
    bank: str = "ICBC",
    min_fen: int = 10_000,
    max_fen: int = 50_000_000,
) -> list[BankMovement]:
    """A deterministic synthetic statement: ``count`` movements of random ``accounts``.

    Args:
        day: value date of every line.
        accounts: chain addresses to draw from.
        count: lines.
        seed: random seed (same seed, same statement).
        withdrawal_share: fraction of lines that are withdrawals.
        bank: prefix of the references (``ICBC-20270630-000001``).
        min_fen: smallest amount.
        max_fen: largest amount.
    """
    if not accounts and count:
        raise ValueError("no accounts to draw from")
    rng = random.Random(f"{seed}:{day.isoformat()}")
    out = []
    for n in range(count):
        direction = "withdrawal" if rng.random() < withdrawal_share else "deposit"
        out.append(
            BankMovement(
                line=n + 2,
                value_date=day,
                bank_ref=f"{bank}-{day:%Y%m%d}-{n + 1:06d}",
                account=rng.choice(list(accounts)),
                direction=direction,
                amount=rng.randint(min_fen, max_fen),
            )
        )
    return out
