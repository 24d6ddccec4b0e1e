"""Coercions of Python values to the contracts' ABI types, shared by every contract client: 32-byte
words from bytes or hex, and the zero word. (Integer widths and their check are domain rules:
:mod:`domain.units`.)"""

from __future__ import annotations

from hexbytes import HexBytes

from domain.errors import InvalidInputError

#: The zero ``bytes32`` (no id, no root, no hash).
ZERO_ID = bytes(32)


def bytes32(value: bytes | str, what: str, error: type[Exception] = InvalidInputError) -> bytes:
    """``value`` (bytes or 0x-hex) as exactly 32 bytes, else raise ``error`` saying so."""
    try:
        raw = bytes(HexBytes(value))
    except (TypeError, ValueError):
        raise error(f"{what} {str(value)[:70]!r} is not hex") from None
    if len(raw) != 32:
        raise error(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def hex32(text: str, what: str, error: type[Exception] = InvalidInputError) -> bytes:
    """A strictly ``0x``-prefixed 32-byte hex string as bytes, else raise ``error`` saying so."""
    try:
        raw = bytes.fromhex(text[2:]) if text.startswith("0x") else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise error(f"{what}: {text[:80]!r} is not 32 bytes of 0x-hex")
    return raw
