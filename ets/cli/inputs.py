"""What the compliance and attestation commands parse and connect to: token ids, amounts,
deadlines, 32-byte hex values, and the deployment's compliance and ledger clients."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chain import abi
from ets.cli.context import context

if TYPE_CHECKING:
    from chain.compliance import ComplianceClient
    from chain.ledger import LedgerClient

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


# ---------------------------------------------------------------------- clients and parsing


def compliance_client() -> ComplianceClient:
    from chain.compliance import ComplianceClient

    return context().holding(ComplianceClient)


def ledger_client() -> LedgerClient:
    from chain.ledger import LedgerClient

    return context().contract(LedgerClient)


def input_error(message: str) -> Exception:
    from domain.errors import ComplianceInputError

    return ComplianceInputError(message)


def hex32(text: str, what: str) -> bytes:
    from domain.errors import ComplianceInputError

    return abi.hex32(text.strip(), what, ComplianceInputError)


def keccak_file(path: Path, what: str) -> bytes:
    from chain.attestations import document_hash

    try:
        return document_hash(path.read_bytes())
    except OSError as exc:
        raise input_error(f"{what} {path}: {exc.strerror}") from None


def parse_token(text: str) -> int:
    """A token id given as an integer (``16842747`` / ``0x1010...``) or as ``[allowance:]CO2:2027``
    / ``offset:CO2:2027``.

    Raises:
        ComplianceInputError: neither form, or an unknown pollutant or vintage.
    """
    from domain.errors import InvalidInputError
    from domain.tokens import Kind, decode_id, encode_id

    value = text.strip()
    try:
        if re.fullmatch(r"\d+|0x[0-9a-fA-F]+", value):
            token_id = int(value, 0)
            decode_id(token_id)
            return token_id
        parts = value.split(":")
        kind = Kind.ALLOWANCE
        if len(parts) == 3 and parts[0].lower() in ("allowance", "offset"):
            kind = Kind.OFFSET if parts[0].lower() == "offset" else Kind.ALLOWANCE
            parts = parts[1:]
        if len(parts) != 2 or not parts[1].isdigit():
            raise input_error(f"token {text!r} is not an id, POLLUTANT:VINTAGE or offset:POLLUTANT:VINTAGE")
        return encode_id(kind, parts[0], int(parts[1]))
    except InvalidInputError as exc:
        raise input_error(f"token {text!r}: {exc}") from None


def token_amounts(values: list[str], what: str) -> tuple[tuple[int, int], ...]:
    rows = []
    for value in values:
        token, sep, amount = value.rpartition("=")
        if not sep or not amount.strip().isdigit():
            raise input_error(f"{what} {value!r} is not TOKEN=AMOUNT (e.g. CO2:2027=1500)")
        rows.append((parse_token(token), int(amount)))
    return tuple(rows)


def parse_deadline(text: str) -> int:
    """A deadline as unix seconds: an integer, an ISO date (its last second, UTC) or an ISO
    date-time (UTC unless it gives an offset).

    Raises:
        ComplianceInputError: none of these.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            moment = datetime.combine(date.fromisoformat(value), time(23, 59, 59), UTC)
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise input_error(f"deadline {text!r} is not unix seconds, YYYY-MM-DD or an ISO date-time") from None
    return int(moment.timestamp())
