"""Token ids: the cash id, kinds, pollutants and the ``kind << 24 | pollutant << 16 | vintage``
layout of AllowanceToken ids (as ``AllowanceToken.encodeId``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

from domain.errors import InvalidInputError

#: An AllowanceToken id (``kind << 24 | pollutant << 16 | vintage``), or :data:`CASH_ID`.
TokenId = NewType("TokenId", int)

#: ``token_id`` of settlement cash (SettlementToken) wherever cash and allowances share a column.
CASH_ID = TokenId(0)

MIN_VINTAGE, MAX_VINTAGE = 2000, 2200


class Kind(enum.IntEnum):
    """Token kind, as the contract's ``Kind``."""

    ALLOWANCE = 1
    OFFSET = 2


#: Pollutant codes registered at deployment (governance can add more on-chain).
POLLUTANTS: dict[str, int] = {"CO2": 1, "SO2": 2, "NOx": 3, "COD": 4, "NH3-N": 5, "PM": 6}
#: Symbol of each pollutant code (:data:`POLLUTANTS` inverted).
POLLUTANT_SYMBOLS: dict[int, str] = {code: symbol for symbol, code in POLLUTANTS.items()}
#: Lower-case name of each kind, as token labels show it.
KIND_NAMES: dict[int, str] = {int(kind): kind.name.lower() for kind in Kind}


@dataclass(frozen=True)
class TokenIdParts:
    """A decoded token id: ``kind << 24 | pollutant << 16 | vintage``."""

    kind: Kind
    pollutant: int
    vintage: int

    def __int__(self) -> int:
        return encode_id(self.kind, self.pollutant, self.vintage)

    def label(self) -> str:
        symbol = next((s for s, c in POLLUTANTS.items() if c == self.pollutant), f"P{self.pollutant}")
        prefix = "" if self.kind is Kind.ALLOWANCE else "offset "
        return f"{prefix}{symbol} {self.vintage}"


def pollutant_code(pollutant: str | int) -> int:
    """Code of a pollutant given by symbol (``"CO2"``, case-insensitive) or code.

    Raises:
        InvalidInputError: unknown symbol or code out of 1..255.
    """
    if isinstance(pollutant, int):
        if not 1 <= pollutant <= 255:
            raise InvalidInputError(f"pollutant code {pollutant} must be 1..255")
        return pollutant
    for symbol, code in POLLUTANTS.items():
        if symbol.lower() == pollutant.lower():
            return code
    raise InvalidInputError(f"unknown pollutant {pollutant!r}; known: {', '.join(POLLUTANTS)}")


def encode_id(kind: Kind | int, pollutant: str | int, vintage: int) -> TokenId:
    """Token id of (kind, pollutant, vintage), as ``AllowanceToken.encodeId``.

    Raises:
        InvalidInputError: unknown kind or pollutant, vintage outside 2000..2200.
    """
    try:
        kind = Kind(kind)
    except ValueError:
        raise InvalidInputError(f"unknown token kind {kind}") from None
    if not MIN_VINTAGE <= vintage <= MAX_VINTAGE:
        raise InvalidInputError(f"vintage {vintage} outside {MIN_VINTAGE}..{MAX_VINTAGE}")
    return TokenId((int(kind) << 24) | (pollutant_code(pollutant) << 16) | vintage)


def decode_id(token_id: int) -> TokenIdParts:
    """(kind, pollutant, vintage) of a token id.

    Raises:
        InvalidInputError: not a valid id.
    """
    if token_id < 0 or token_id >> 32:
        raise InvalidInputError(f"token id {token_id} is out of range")
    try:
        kind = Kind((token_id >> 24) & 0xFF)
    except ValueError:
        raise InvalidInputError(f"token id {token_id} has an unknown kind") from None
    return TokenIdParts(kind, (token_id >> 16) & 0xFF, token_id & 0xFFFF)


def check_amount(value: object, what: str = "amount") -> int:
    """A positive whole number of units.

    Raises:
        InvalidInputError: negative, zero, fractional or not a number.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} {value!r} is not a whole number")
    if value <= 0:
        raise InvalidInputError(f"{what} {value} must be positive")
    return value


def token_label(token_id: int) -> str:
    """``"cash"`` for id 0, else ``kind:pollutant:vintage`` (``allowance:CO2:2027``)."""
    if token_id == CASH_ID:
        return "cash"
    kind, pollutant, vintage = token_id >> 24, (token_id >> 16) & 0xFF, token_id & 0xFFFF
    return (
        f"{KIND_NAMES.get(kind, f'kind{kind}')}:{POLLUTANT_SYMBOLS.get(pollutant, f'P{pollutant}')}:{vintage}"
    )
