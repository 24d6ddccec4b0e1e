"""The reading: one pollutant value at one time from one device, and the checks of its fields.

Each field must fit its EIP-712 type (see :mod:`oracle.signing`): the device address (EIP-55),
``uint64`` sequence and time, ``bytes8`` pollutant and unit, ``int256`` value with ``uint8``
decimals, ``bytes1`` HJ 212 flag. The ABI words of the fields are made here too, so a field is
checked once, where it is encoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final, NamedTuple, NoReturn

from oracle.errors import ReadingValueError
from oracle.signing.hashing import checksum_of

__all__ = [
    "DATA_FLAGS",
    "INT256",
    "UINT64",
    "UINT256",
    "Reading",
    "ReadingFields",
    "address_word",
    "check_int",
    "checksum_address",
    "flag_word",
    "pollutant_word",
    "scale_decimal",
    "unit_word",
    "unix_seconds",
]

#: HJ 212-2017 data flag letters (§6.6.4): normal, stopped, maintenance, set value, fault,
#: calibration, over range, communication error.
DATA_FLAGS: Final = frozenset("NFMSDCTB")
#: Exclusive upper bound of ``uint64`` fields (sequence, time).
UINT64: Final = 1 << 64
#: Bound of ``int256`` values: they lie in ``[-INT256, INT256)``.
INT256: Final = 1 << 255
#: Exclusive upper bound of ``uint256`` fields (chain id).
UINT256: Final = 1 << 256

_ADDRESS: Final = re.compile(r"0[xX]([0-9a-fA-F]{40})")
_DECIMAL_TEXT: Final = re.compile(r"\s*([+-]?)(\d*)(?:\.(\d*))?\s*")
_WORD_PAD: Final = bytes(12)


def _fail(message: str) -> NoReturn:
    raise ReadingValueError(message)


@lru_cache(maxsize=4096)
def checksum_address(address: str) -> str:
    """EIP-55 form of a ``0x`` address; a mixed-case address must carry a valid checksum."""
    if not isinstance(address, str):
        _fail(f"address must be a 0x-prefixed hex string, not {type(address).__name__}")
    match = _ADDRESS.fullmatch(address)
    if match is None:
        _fail(f"{address[:60]!r} is not a 0x-prefixed 20-byte hex address")
    digits = match.group(1)
    checksummed = checksum_of(bytes.fromhex(digits))
    if digits != digits.lower() and digits != digits.upper() and checksummed[2:] != digits:
        _fail(f"{address} has a bad EIP-55 checksum (expected {checksummed})")
    return checksummed


@lru_cache(maxsize=4096)
def address_word(address: str) -> bytes:
    """ABI word of a checksummed address (12 zero bytes, then its 20 bytes)."""
    return _WORD_PAD + bytes.fromhex(address[2:])


@lru_cache(maxsize=4096)
def _bytes_word(text: str, what: str, size: int, min_len: int) -> bytes:
    """ABI word of ``text`` as ``bytes<size>``: ASCII, left-aligned, zero-padded."""
    if not isinstance(text, str):
        _fail(f"{what} must be a str, not {type(text).__name__}")
    if not text.isascii() or not text.isprintable():
        _fail(f"{what} {text[:40]!r} must be printable ASCII")
    if not min_len <= len(text) <= size:
        _fail(f"{what} {text[:40]!r} must be {min_len} to {size} ASCII characters")
    return text.encode("ascii").ljust(32, b"\x00")


def pollutant_word(pollutant: str) -> bytes:
    """ABI word of a pollutant code as ``bytes8``."""
    return _bytes_word(pollutant, "pollutant", 8, 1)


def unit_word(unit: str) -> bytes:
    """ABI word of a unit as ``bytes8``."""
    return _bytes_word(unit, "unit", 8, 0)


@lru_cache(maxsize=16)
def flag_word(flag: str) -> bytes:
    """ABI word of an HJ 212 data flag letter as ``bytes1``."""
    if flag not in DATA_FLAGS:
        _fail(f"flag {flag!r} is not an HJ 212 data flag ({''.join(sorted(DATA_FLAGS))})")
    return flag.encode("ascii").ljust(32, b"\x00")


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an ``int`` in ``[low, high)``; raises ReadingValueError otherwise."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(f"{name} must be an int, not {type(value).__name__}")
        value = int(value)
    if not low <= value < high:
        _fail(f"{name} {value} is out of range [{low}, {high})")
    return value


def scale_decimal(value_text: str | Decimal) -> tuple[int, int]:
    """Scale a decimal reading to ``(value, decimals)``, keeping its own precision.

    ``"12.345"`` → ``(12345, 3)``, ``"12.30"`` → ``(1230, 2)``, ``"-0.5"`` → ``(-5, 1)``,
    ``"7"`` → ``(7, 0)``. Exponents (``"1e3"``, or a ``Decimal`` with a positive exponent) are
    expanded to ``decimals = 0``.

    Raises:
        ReadingValueError: not a finite decimal number, more than 255 decimals, or a value
            outside int256.
    """
    if isinstance(value_text, Decimal):
        if not value_text.is_finite():
            _fail(f"{value_text} is not a finite number")
        sign, digits, exponent = value_text.as_tuple()
        assert isinstance(exponent, int)  # finite
        magnitude = int("".join(map(str, digits)) or "0")
        if exponent > 0:
            magnitude *= 10**exponent
        value, decimals = (-magnitude if sign else magnitude), max(0, -exponent)
    elif isinstance(value_text, str):
        match = _DECIMAL_TEXT.fullmatch(value_text)
        if match is None or not (match.group(2) or match.group(3)):
            try:
                parsed = Decimal(value_text.strip())
            except InvalidOperation:
                _fail(f"{value_text[:40]!r} is not a decimal number")
            return scale_decimal(parsed)
        sign_text, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
        magnitude = int(whole + fraction or "0")
        value, decimals = (-magnitude if sign_text == "-" else magnitude), len(fraction)
    else:
        _fail(f"value text must be a str or Decimal, not {type(value_text).__name__}")
    if decimals > 255:
        _fail(f"{decimals} decimals do not fit uint8")
    if not -INT256 <= value < INT256:
        _fail("scaled value does not fit int256")
    return value, decimals


def unix_seconds(time: int | datetime) -> int:
    """Unix seconds of a reading time (an int as is, a timezone-aware datetime converted)."""
    if isinstance(time, datetime):
        if time.tzinfo is None or time.utcoffset() is None:
            _fail("a reading time must be timezone-aware (HJ 212 DataTime is local time: attach its zone)")
        return int(time.timestamp())
    return time


@dataclass(frozen=True, slots=True)
class Reading:
    """One pollutant value at one time from one device: the fields of the EIP-712 struct.

    Attributes:
        device: the device's address (normalised to its EIP-55 checksum form).
        sequence: the device's monotonic reading counter (uint64).
        time: unix seconds, UTC (uint64).
        pollutant: HJ 212 factor code, 1-8 ASCII characters (``"w01018"``).
        value: the reading scaled by ``10**decimals`` (int256).
        decimals: number of decimal places of ``value`` (uint8).
        unit: unit, 0-8 ASCII characters (``"mg/L"``).
        flag: HJ 212 data flag letter (``"N"`` normal, ``"D"`` fault, ...).

    Raises:
        ReadingValueError: a field does not fit its EIP-712 type.
    """

    device: str
    sequence: int
    time: int
    pollutant: str
    value: int
    decimals: int
    unit: str
    flag: str

    def __post_init__(self) -> None:
        device = checksum_address(self.device)
        if device != self.device:
            object.__setattr__(self, "device", device)
        check_int("sequence", self.sequence, 0, UINT64)
        check_int("time", self.time, 0, UINT64)
        check_int("value", self.value, -INT256, INT256)
        check_int("decimals", self.decimals, 0, 256)
        pollutant_word(self.pollutant)
        unit_word(self.unit)
        flag_word(self.flag)

    @classmethod
    def from_text(
        cls,
        value_text: str | Decimal,
        *,
        device: str,
        sequence: int,
        time: int | datetime,
        pollutant: str,
        unit: str,
        flag: str = "N",
    ) -> Reading:
        """A reading whose value and decimals come from decimal text (see :func:`scale_decimal`).

        Raises:
            ReadingValueError: bad text or a field out of range.
        """
        value, decimals = scale_decimal(value_text)
        return cls(device, sequence, unix_seconds(time), pollutant, value, decimals, unit, flag)

    @property
    def amount(self) -> Decimal:
        """The reading as an exact decimal (``value * 10**-decimals``)."""
        return Decimal(f"{self.value}E-{self.decimals}")  # exact: no context rounding

    def to_json(self) -> dict[str, Any]:
        """JSON-safe fields (``value`` as a decimal string: int256 exceeds JSON's safe integers)."""
        return {
            "device": self.device,
            "sequence": self.sequence,
            "time": self.time,
            "pollutant": self.pollutant,
            "value": str(self.value),
            "decimals": self.decimals,
            "unit": self.unit,
            "flag": self.flag,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reading:
        """Inverse of :meth:`to_json`.

        Raises:
            ReadingValueError: a field is missing or does not fit.
        """
        try:
            return cls(
                device=data["device"],
                sequence=int(data["sequence"]),
                time=int(data["time"]),
                pollutant=data["pollutant"],
                value=int(data["value"]),
                decimals=int(data["decimals"]),
                unit=data["unit"],
                flag=data["flag"],
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, ReadingValueError):
                raise
            raise ReadingValueError(f"bad reading JSON: {error!r}") from None


class ReadingFields(NamedTuple):
    """A reading before the signer numbers it: what :meth:`DeviceSigner.sign_frame` takes.

    Attributes:
        time: unix seconds (UTC).
        pollutant: HJ 212 factor code.
        value: the scaled value (``12.345`` → ``12345`` with ``decimals=3``).
        decimals: decimal places of ``value``.
        unit: unit text (``"mg/L"``).
        flag: HJ 212 data flag letter.
    """

    time: int
    pollutant: str
    value: int
    decimals: int
    unit: str
    flag: str = "N"
