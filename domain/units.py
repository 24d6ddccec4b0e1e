"""Units and integer ranges: basis points, amounts in fen and tonnes, the widths of the contracts'
unsigned integers and the check that a value fits one."""

from __future__ import annotations

from typing import NewType

from domain.errors import InvalidInputError

#: Basis points in one whole (10,000 bps = 100 %).
BPS = 10_000

UINT8_MAX = 2**8 - 1
UINT16_MAX = 2**16 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
UINT88_MAX = 2**88 - 1
UINT128_MAX = 2**128 - 1
UINT256_MAX = 2**256 - 1

#: Settlement cash in minor units (1 CNY = 100 fen).
Fen = NewType("Fen", int)
#: Allowance and offset units: one unit is one tonne of the pollutant.
Tonnes = NewType("Tonnes", int)


def check_uint(
    value: object, what: str, high: int = UINT256_MAX, error: type[Exception] = InvalidInputError
) -> int:
    """``value`` if it is an int (not a bool) in ``0..high``, else raise ``error`` saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise error(f"{what} must be an integer in 0..{high}, got {value!r}")
    return value
