"""The device signer: one device's key, numbering its readings and signing them a frame at a time.

coincurve signs the frame digest (~50,000 signatures a second a core); the key never appears in
``repr``, logs or pickles.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

from coincurve import PrivateKey

from oracle.errors import DeviceKeyError, ReadingValueError
from oracle.signing.eip712 import ReadingDomain, frame_digest, struct_encoding
from oracle.signing.hashing import fast_keccak as _keccak
from oracle.signing.hashing import public_key_address
from oracle.signing.proof import SignedFrame
from oracle.signing.reading import (
    UINT64,
    Reading,
    ReadingFields,
    address_word,
    check_int,
    scale_decimal,
    unix_seconds,
)

__all__ = ["DeviceSigner"]

logger = logging.getLogger(__name__)


def _private_key(key: PrivateKey | bytes | str) -> PrivateKey:
    if isinstance(key, PrivateKey):
        return key
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.removeprefix("0x"))
        except ValueError:
            raise DeviceKeyError("a device key must be 32 bytes or 64 hex digits") from None
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        raise DeviceKeyError("a device key must be 32 bytes or 64 hex digits")
    try:
        return PrivateKey(bytes(key))
    except ValueError:
        raise DeviceKeyError("a device key must be a secp256k1 scalar in [1, n)") from None


class DeviceSigner:
    """Signs one device's readings with its key, a frame at a time, numbering them with a
    monotonic sequence.

    The sequence counter starts at ``next_sequence`` so a gateway resumes after a restart
    from the last sequence its queue holds (plus one). Each signed frame takes the next
    numbers, whether or not the caller keeps the result: a gap is harmless, a reuse is not.
    Thread-safe. The key never appears in ``repr`` and the signer cannot be pickled.

    Args:
        private_key: the device key: a ``coincurve.PrivateKey``, 32 bytes or 64 hex digits.
        domain: the EIP-712 domain (chain id, EmissionsLedger address).
        next_sequence: the sequence number of the next reading signed.

    Raises:
        DeviceKeyError: the key is not a valid secp256k1 private key.
        ReadingValueError: ``next_sequence`` is not a uint64.
    """

    __slots__ = ("_address_word", "_key", "_lock", "_next", "_prefix", "address", "domain")

    def __init__(
        self, private_key: PrivateKey | bytes | str, domain: ReadingDomain, *, next_sequence: int = 1
    ) -> None:
        self._key = _private_key(private_key)
        self.address: str = public_key_address(self._key.public_key)
        self.domain = domain
        self._prefix = domain.prefix
        self._address_word = address_word(self.address)
        self._next = check_int("next sequence", next_sequence, 0, UINT64)
        self._lock = threading.Lock()
        logger.debug("device signer ready", extra={"device": self.address, "sequence": self._next})

    @classmethod
    def from_keystore(
        cls, path: str | Path, password: str, domain: ReadingDomain, *, next_sequence: int = 1
    ) -> DeviceSigner:
        """Load the device key from an encrypted (V3, eth-account format) keystore file.

        Decryption goes through :func:`chain.accounts.load_keystore` (``chain`` is the one
        package that talks to eth-account).

        Raises:
            DeviceKeyError: the file is missing or malformed, or the password is wrong.
        """
        # Imported here: only keystore loading needs chain's eth-account (slow to import).
        from chain.accounts import load_keystore
        from chain.errors import ConfigError

        try:
            account = load_keystore(Path(path), password)
        except ConfigError as error:
            raise DeviceKeyError(str(error)) from None
        return cls(bytes(account.key), domain, next_sequence=next_sequence)

    @property
    def next_sequence(self) -> int:
        """The sequence number the next signed reading will take."""
        return self._next

    def __repr__(self) -> str:
        return f"DeviceSigner(address={self.address!r}, next_sequence={self._next})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a DeviceSigner holds a private key and cannot be pickled")

    def _take_sequences(self, count: int) -> int:
        with self._lock:
            first = self._next
            if first + count > UINT64:
                raise ReadingValueError(f"device {self.address} has exhausted its uint64 sequence")
            self._next = first + count
        return first

    def sign_frame(self, items: Iterable[ReadingFields | tuple[int, str, int, int, str, str]]) -> SignedFrame:
        """Sign readings of this device as one frame, numbering them with the next sequences.

        Args:
            items: the readings' fields, in frame order.

        Returns:
            The signed frame (one 65-byte signature, ``v`` in {27, 28}, over the frame digest).

        Raises:
            ReadingValueError: no items, or a field does not fit its type (nothing is signed
                and no sequence is used up then).
        """
        address = self.address
        try:
            readings = [Reading(address, 0, *item) for item in items]
        except TypeError as error:  # an item of the wrong shape
            raise ReadingValueError(
                f"a frame item is (time, pollutant, value, decimals, unit[, flag]): {error}"
            ) from error
        if not readings:
            raise ReadingValueError("a signed frame holds at least one reading")
        first = self._take_sequences(len(readings))
        device_word, prefix = self._address_word, self._prefix
        hashes: list[bytes] = []
        for i, reading in enumerate(readings):
            object.__setattr__(reading, "sequence", first + i)
            hashes.append(_keccak(struct_encoding(reading, device_word)))
        digest = frame_digest(self.domain, hashes)
        raw = self._key.sign_recoverable(digest, hasher=None)
        # coincurve gives r ‖ s ‖ recid (0/1); Ethereum and OpenZeppelin want v = 27 + recid.
        return SignedFrame(
            tuple(readings),
            raw[:64] + bytes((raw[64] + 27,)),
            tuple(hashes),
            tuple([_keccak(prefix + h) for h in hashes]),
            digest,
        )

    def sign(
        self,
        *,
        time: int | datetime,
        pollutant: str,
        value: int,
        decimals: int,
        unit: str,
        flag: str = "N",
    ) -> SignedFrame:
        """Sign one reading as a frame of its own, taking the next sequence number.

        Args:
            time: unix seconds or a timezone-aware datetime.
            pollutant: HJ 212 factor code.
            value: the scaled value (``12.345`` → ``12345`` with ``decimals=3``).
            decimals: decimal places of ``value``.
            unit: unit text (``"mg/L"``).
            flag: HJ 212 data flag letter.

        Raises:
            ReadingValueError: a field does not fit its type (no sequence is used up then).
        """
        return self.sign_frame([ReadingFields(unix_seconds(time), pollutant, value, decimals, unit, flag)])

    def sign_text(
        self,
        *,
        time: int | datetime,
        pollutant: str,
        value_text: str | Decimal,
        unit: str,
        flag: str = "N",
    ) -> SignedFrame:
        """Like :meth:`sign`, with the value given as decimal text (``"12.345"``).

        Raises:
            ReadingValueError: bad text or a field out of range.
        """
        value, decimals = scale_decimal(value_text)
        return self.sign(time=time, pollutant=pollutant, value=value, decimals=decimals, unit=unit, flag=flag)
