"""Device signatures over readings: EIP-712 digests computed by hand, coincurve signing and recovery.

A reading is one pollutant value at one time from one device: the EIP-712 struct

    Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,
            uint8 decimals,bytes8 unit,bytes1 flag)

A device signs **one signature per frame**: the readings one HJ 212 data frame gives (about
fourteen in a minute frame of eight factors) are signed together as the EIP-712 struct

    Frame(Reading[] readings)

whose ``readings`` member EIP-712 encodes as ``keccak256(hashStruct(r0) ‖ hashStruct(r1) ‖
...)``. Every reading is covered by its device's signature, at a fourteenth of the cost of
signing each one. A frame's readings are one device's, with consecutive sequence numbers.

Both are hashed under the domain ``EIP712Domain(string name,string version,uint256 chainId,
address verifyingContract)`` with name ``"ETS EmissionsLedger"`` and version ``"1"``, so that
the EmissionsLedger contract (OpenZeppelin ``EIP712`` + ``ECDSA``) recomputes the same digests
and recovers the device address. Digests are computed here by direct byte packing (type hashes
and domain separator precomputed), an order of magnitude faster than eth-account's generic
encoder; the tests check both agree.

To show one reading was signed, its :class:`FrameWitness` gives the struct hashes of its
frame's readings, its index among them and the frame signature: anyone can hash the reading,
find it at its index, rebuild the frame digest and recover the device.

Field encodings:

* ``time`` is unix seconds (UTC);
* ``pollutant`` is the HJ 212 factor code (``"w01018"``, ``"a21026"``) in ASCII, left-aligned
  and zero-padded into ``bytes8``; ``unit`` likewise (``"mg/L"``, ``"kg"``, ``"m3"``);
* ``value`` is the decimal reading scaled by ``10**decimals``, keeping the text's own precision
  (``"12.345"`` → ``value=12345, decimals=3``; ``"-0.50"`` → ``-50, 2``);
* ``flag`` is the HJ 212 data flag letter (``N F M S D C T B``) as ``bytes1``.

Batches of signed readings are committed with :mod:`chain.merkle`'s standard tree, one leaf
per reading with leaf encoding ``["bytes32"]`` and value the reading's own EIP-712 digest
(``Reading`` as primary type), so the contract checks
``keccak256(bytes.concat(keccak256(abi.encode(digest))))`` with ``MerkleProof``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, NamedTuple, NoReturn

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak as _eth_hash_keccak
from eth_utils import to_checksum_address

from chain.errors import MerkleEmptyTreeError, MerkleLeafEncodingError
from chain.merkle import StandardMerkleTree
from oracle.errors import (
    DeviceKeyError,
    ReadingDigestMismatchError,
    ReadingReplayError,
    ReadingSignatureError,
    ReadingValueError,
)

__all__ = [
    "DATA_FLAGS",
    "DOMAIN_NAME",
    "DOMAIN_TYPE",
    "DOMAIN_TYPEHASH",
    "DOMAIN_VERSION",
    "FRAME_TYPE",
    "FRAME_TYPEHASH",
    "KECCAK_BACKEND",
    "LEAF_ENCODING",
    "READING_TYPE",
    "READING_TYPEHASH",
    "DeviceSigner",
    "FrameWitness",
    "Reading",
    "ReadingDomain",
    "ReadingFields",
    "SequenceGap",
    "SequenceTracker",
    "SignedFrame",
    "SignedReading",
    "batch_root",
    "batch_tree",
    "frame_digest",
    "frame_typed_data",
    "keccak",
    "leaf",
    "leaf_hash",
    "reading_digest",
    "reading_hash",
    "reading_typed_data",
    "recover_frame_signer",
    "recover_signer",
    "scale_decimal",
    "verify",
    "verify_frame",
]

logger = logging.getLogger(__name__)

# --- keccak ---------------------------------------------------------------------------------

_KECCAK_EMPTY: Final = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
_KECCAK_ABC: Final = bytes.fromhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")


def _pysha3_keccak() -> Callable[[bytes], bytes] | None:
    """safe-pysha3's C keccak (~1 µs a hash, against ~8 µs through ``eth_hash``'s wrappers)."""
    try:
        keccak_256 = importlib.import_module("sha3").keccak_256
    except (ImportError, AttributeError):  # pragma: no cover - a declared dependency
        return None

    def pysha3_keccak(data: bytes) -> bytes:
        digest: bytes = keccak_256(data).digest()
        return digest

    return pysha3_keccak


def _select_keccak() -> tuple[str, Callable[[bytes], bytes]]:
    """safe-pysha3's keccak-256 when it passes known answers, else eth-hash's."""
    candidate = _pysha3_keccak()
    if candidate is not None and candidate(b"") == _KECCAK_EMPTY and candidate(b"abc") == _KECCAK_ABC:
        return "pysha3", candidate
    return "eth-hash", _eth_hash_keccak  # pragma: no cover - fallback


_BACKEND: Final = _select_keccak()
#: Which keccak implementation this module uses (``pysha3`` or ``eth-hash``).
KECCAK_BACKEND: Final = _BACKEND[0]
_keccak: Final = _BACKEND[1]


def keccak(data: bytes) -> bytes:
    """keccak-256 of ``data`` with the fastest available backend (see :data:`KECCAK_BACKEND`)."""
    return _keccak(bytes(data))


# --- types ----------------------------------------------------------------------------------

#: The EIP-712 type of a reading (field order and types are part of the on-chain contract).
READING_TYPE: Final = (
    "Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,"
    "uint8 decimals,bytes8 unit,bytes1 flag)"
)
#: The EIP-712 domain type (the fields OpenZeppelin ``EIP712`` uses).
DOMAIN_TYPE: Final = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
#: The EIP-712 type a device signs: a frame's readings (referenced types follow, per EIP-712).
FRAME_TYPE: Final = "Frame(Reading[] readings)" + READING_TYPE
READING_TYPEHASH: Final = _keccak(READING_TYPE.encode())
FRAME_TYPEHASH: Final = _keccak(FRAME_TYPE.encode())
DOMAIN_TYPEHASH: Final = _keccak(DOMAIN_TYPE.encode())
#: EIP-712 domain name and version of the EmissionsLedger contract.
DOMAIN_NAME: Final = "ETS EmissionsLedger"
DOMAIN_VERSION: Final = "1"
#: HJ 212-2017 data flag letters (§6.6.4): normal, stopped, maintenance, set value, fault,
#: calibration, over range, communication error.
DATA_FLAGS: Final = frozenset("NFMSDCTB")
#: Leaf encoding of reading batches in :class:`chain.merkle.StandardMerkleTree`.
LEAF_ENCODING: Final = ("bytes32",)

_UINT64: Final = 1 << 64
_INT256: Final = 1 << 255
_UINT256: Final = 1 << 256
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP256K1_HALF_N: Final = _SECP256K1_N // 2
_ADDRESS: Final = re.compile(r"0[xX]([0-9a-fA-F]{40})")
_DECIMAL_TEXT: Final = re.compile(r"\s*([+-]?)(\d*)(?:\.(\d*))?\s*")
_WORD_PAD: Final = bytes(12)


def _fail(message: str) -> NoReturn:
    raise ReadingValueError(message)


@lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    """EIP-55 form of a ``0x`` address; a mixed-case address must carry a valid checksum."""
    if not isinstance(address, str):
        _fail(f"address must be a 0x-prefixed hex string, not {type(address).__name__}")
    match = _ADDRESS.fullmatch(address)
    if match is None:
        _fail(f"{address[:60]!r} is not a 0x-prefixed 20-byte hex address")
    digits = match.group(1)
    checksummed = str(to_checksum_address("0x" + digits.lower()))
    if digits != digits.lower() and digits != digits.upper() and checksummed[2:] != digits:
        _fail(f"{address} has a bad EIP-55 checksum (expected {checksummed})")
    return checksummed


@lru_cache(maxsize=4096)
def _address_word(address: str) -> bytes:
    """ABI word of a checksummed address (12 zero bytes, then its 20 bytes)."""
    return _WORD_PAD + bytes.fromhex(address[2:])


@lru_cache(maxsize=4096)
def _checksum_of(raw: bytes) -> str:
    return str(to_checksum_address(raw))


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


def _pollutant_word(pollutant: str) -> bytes:
    return _bytes_word(pollutant, "pollutant", 8, 1)


def _unit_word(unit: str) -> bytes:
    return _bytes_word(unit, "unit", 8, 0)


@lru_cache(maxsize=16)
def _flag_word(flag: str) -> bytes:
    if flag not in DATA_FLAGS:
        _fail(f"flag {flag!r} is not an HJ 212 data flag ({''.join(sorted(DATA_FLAGS))})")
    return flag.encode("ascii").ljust(32, b"\x00")


def _check_int(name: str, value: object, low: int, high: int) -> int:
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
    if not -_INT256 <= value < _INT256:
        _fail("scaled value does not fit int256")
    return value, decimals


def _unix_seconds(time: int | datetime) -> int:
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
        device = _checksum(self.device)
        if device != self.device:
            object.__setattr__(self, "device", device)
        _check_int("sequence", self.sequence, 0, _UINT64)
        _check_int("time", self.time, 0, _UINT64)
        _check_int("value", self.value, -_INT256, _INT256)
        _check_int("decimals", self.decimals, 0, 256)
        _pollutant_word(self.pollutant)
        _unit_word(self.unit)
        _flag_word(self.flag)

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
        return cls(device, sequence, _unix_seconds(time), pollutant, value, decimals, unit, flag)

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


@dataclass(frozen=True, slots=True)
class ReadingDomain:
    """EIP-712 domain of the EmissionsLedger contract readings are signed for.

    Attributes:
        chain_id: the chain's id (uint256).
        verifying_contract: the EmissionsLedger address (normalised to EIP-55).
        separator: the domain separator (computed).

    Raises:
        ReadingValueError: bad chain id or address.
    """

    chain_id: int
    verifying_contract: str
    separator: bytes = field(init=False, repr=False, compare=False)
    _prefix: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_int("chain id", self.chain_id, 0, _UINT256)
        contract = _checksum(self.verifying_contract)
        object.__setattr__(self, "verifying_contract", contract)
        separator = _keccak(
            DOMAIN_TYPEHASH
            + _keccak(DOMAIN_NAME.encode())
            + _keccak(DOMAIN_VERSION.encode())
            + self.chain_id.to_bytes(32, "big")
            + _address_word(contract)
        )
        object.__setattr__(self, "separator", separator)
        object.__setattr__(self, "_prefix", b"\x19\x01" + separator)


def _struct_encoding(reading: Reading, address_word: bytes | None = None) -> bytes:
    """``abi.encode(READING_TYPEHASH, fields...)``: nine 32-byte words."""
    return b"".join(
        (
            READING_TYPEHASH,
            _address_word(reading.device) if address_word is None else address_word,
            reading.sequence.to_bytes(32, "big"),
            reading.time.to_bytes(32, "big"),
            _pollutant_word(reading.pollutant),
            reading.value.to_bytes(32, "big", signed=True),
            reading.decimals.to_bytes(32, "big"),
            _unit_word(reading.unit),
            _flag_word(reading.flag),
        )
    )


def reading_hash(reading: Reading) -> bytes:
    """EIP-712 ``hashStruct`` of a reading: ``keccak256(abi.encode(READING_TYPEHASH, fields...))``.

    What a frame's ``Reading[] readings`` member is encoded from (one hash per reading).
    """
    return _keccak(_struct_encoding(reading))


def reading_digest(domain: ReadingDomain, reading: Reading) -> bytes:
    """EIP-712 digest of a reading: ``keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct)``.

    The reading's value in a batch's Merkle tree. Equal to OpenZeppelin's
    ``_hashTypedDataV4(keccak256(abi.encode(READING_TYPEHASH, ...)))`` and to eth-account's
    ``encode_typed_data`` digest of the reading as a primary type.
    """
    return _keccak(domain._prefix + reading_hash(reading))


def frame_digest(domain: ReadingDomain, hashes: Sequence[bytes]) -> bytes:
    """EIP-712 digest of a frame given its readings' ``hashStruct`` values, in frame order.

    ``keccak256("\\x19\\x01" ‖ domainSeparator ‖ keccak256(FRAME_TYPEHASH ‖ keccak256(h0 ‖ h1 ‖ ...)))``:
    EIP-712 encodes an array of structs as the keccak of its members' struct hashes.
    """
    return _keccak(domain._prefix + _keccak(FRAME_TYPEHASH + _keccak(b"".join(hashes))))


_DOMAIN_FIELDS: Final = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_READING_FIELDS: Final = [
    {"name": "device", "type": "address"},
    {"name": "sequence", "type": "uint64"},
    {"name": "time", "type": "uint64"},
    {"name": "pollutant", "type": "bytes8"},
    {"name": "value", "type": "int256"},
    {"name": "decimals", "type": "uint8"},
    {"name": "unit", "type": "bytes8"},
    {"name": "flag", "type": "bytes1"},
]


def _typed_domain(domain: ReadingDomain) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": domain.chain_id,
        "verifyingContract": domain.verifying_contract,
    }


def _typed_message(reading: Reading) -> dict[str, Any]:
    return {
        "device": reading.device,
        "sequence": reading.sequence,
        "time": reading.time,
        "pollutant": "0x" + _pollutant_word(reading.pollutant)[:8].hex(),
        "value": reading.value,
        "decimals": reading.decimals,
        "unit": "0x" + _unit_word(reading.unit)[:8].hex(),
        "flag": "0x" + _flag_word(reading.flag)[:1].hex(),
    }


def reading_typed_data(domain: ReadingDomain, reading: Reading) -> dict[str, Any]:
    """The reading as an EIP-712 ``eth_signTypedData_v4`` message (its digest is the leaf value)."""
    return {
        "types": {"EIP712Domain": _DOMAIN_FIELDS, "Reading": _READING_FIELDS},
        "primaryType": "Reading",
        "domain": _typed_domain(domain),
        "message": _typed_message(reading),
    }


def frame_typed_data(domain: ReadingDomain, readings: Sequence[Reading]) -> dict[str, Any]:
    """A frame as the EIP-712 ``eth_signTypedData_v4`` message its device signs (for wallets and
    JS tools: a controller that signs on its own signs exactly this)."""
    return {
        "types": {
            "EIP712Domain": _DOMAIN_FIELDS,
            "Frame": [{"name": "readings", "type": "Reading[]"}],
            "Reading": _READING_FIELDS,
        },
        "primaryType": "Frame",
        "domain": _typed_domain(domain),
        "message": {"readings": [_typed_message(r) for r in readings]},
    }


def _signature_shape(signature: bytes, where: str) -> None:
    if not isinstance(signature, bytes) or len(signature) != 65:
        size = len(signature) if isinstance(signature, (bytes, bytearray)) else type(signature).__name__
        raise ReadingSignatureError(f"{where}: a signature is 65 bytes (got {size})")


@dataclass(frozen=True, slots=True)
class FrameWitness:
    """What shows that a reading was signed: its frame's reading hashes, its place, the signature.

    On-chain, ``EmissionsLedger.verifyReading`` takes exactly this (as its ``SignedFrame``).

    Attributes:
        hashes: ``hashStruct`` of every reading of the frame, in frame order.
        index: the reading's position in the frame.
        signature: the device's 65-byte ``r ‖ s ‖ v`` signature of the frame digest; never logged.
    """

    hashes: tuple[bytes, ...]
    index: int
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _signature_shape(self.signature, "frame witness")
        if not 0 <= self.index < len(self.hashes) or any(len(h) != 32 for h in self.hashes):
            raise ReadingSignatureError(
                f"frame witness: index {self.index} of {len(self.hashes)} hashes, each 32 bytes"
            )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (``0x`` hex)."""
        return {
            "hashes": ["0x" + h.hex() for h in self.hashes],
            "index": self.index,
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrameWitness:
        """Inverse of :meth:`to_json`.

        Raises:
            ReadingSignatureError: a field is missing or malformed.
        """
        try:
            hashes = tuple(bytes.fromhex(str(h).removeprefix("0x")) for h in data["hashes"])
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            index = data["index"]
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"index must be an int, not {type(index).__name__}")
        except (KeyError, TypeError, ValueError) as error:
            raise ReadingSignatureError(f"bad frame witness JSON: {error!r}") from None
        return cls(hashes, index, signature)


@dataclass(frozen=True, slots=True)
class SignedReading:
    """One reading of a signed frame, with what proves it: its digest and its frame's witness.

    Attributes:
        reading: the reading's fields.
        digest: its EIP-712 digest under the signer's domain (the Merkle leaf value).
        witness: the frame it was signed in (reading hashes, position, signature).
    """

    reading: Reading
    digest: bytes
    witness: FrameWitness

    def __post_init__(self) -> None:
        if len(self.digest) != 32:
            raise ReadingSignatureError(f"{_where(self)}: a digest is 32 bytes (got {len(self.digest)})")

    @property
    def device(self) -> str:
        """The signing device's address."""
        return self.reading.device

    @property
    def sequence(self) -> int:
        """The device's sequence number of this reading."""
        return self.reading.sequence

    @property
    def signature(self) -> bytes:
        """The device's signature of the reading's frame."""
        return self.witness.signature


@dataclass(frozen=True, slots=True)
class SignedFrame:
    """Readings of one device signed together: one EIP-712 ``Frame`` signature covers them all.

    The readings are one device's, with consecutive ascending sequence numbers (the signer
    numbers a frame's readings in one go), so a frame is named by its device and first
    sequence.

    Attributes:
        readings: the signed readings, in frame order.
        signature: the device's 65-byte ``r ‖ s ‖ v`` signature (``v`` in {27, 28}) of the frame
            digest; never logged.
        hashes: each reading's ``hashStruct`` (computed).
        digests: each reading's EIP-712 digest, its Merkle leaf value (computed).
        digest: the frame's EIP-712 digest, what was signed (computed).

    Raises:
        ReadingValueError: no readings, readings of several devices, or sequences that are
            not consecutive.
        ReadingSignatureError: the signature is not 65 bytes.
    """

    readings: tuple[Reading, ...]
    signature: bytes = field(repr=False)
    hashes: tuple[bytes, ...] = field(repr=False, compare=False)
    digests: tuple[bytes, ...] = field(repr=False, compare=False)
    digest: bytes

    @classmethod
    def of(cls, domain: ReadingDomain, readings: Sequence[Reading], signature: bytes) -> SignedFrame:
        """A frame from its readings and signature, computing hashes and digests under ``domain``.

        The signature is not checked here: use :func:`verify_frame`.

        Raises:
            ReadingValueError: see the class.
            ReadingSignatureError: the signature is not 65 bytes.
        """
        readings = tuple(readings)
        hashes = tuple(reading_hash(r) for r in readings)
        prefix = domain._prefix
        digests = tuple(_keccak(prefix + h) for h in hashes)
        return cls(readings, bytes(signature), hashes, digests, frame_digest(domain, hashes))

    def __post_init__(self) -> None:
        readings = self.readings
        if not readings:
            _fail("a signed frame holds at least one reading")
        _signature_shape(self.signature, f"frame of device {readings[0].device}")
        first = readings[0]
        for i, r in enumerate(readings):
            if r.device != first.device or r.sequence != first.sequence + i:
                _fail(
                    f"frame of device {first.device} from sequence {first.sequence}: reading {i} is"
                    f" device {r.device} sequence {r.sequence} (one device, consecutive sequences)"
                )
        if not len(self.hashes) == len(self.digests) == len(readings):
            _fail(f"{len(readings)} readings, {len(self.hashes)} hashes, {len(self.digests)} digests")
        if any(len(h) != 32 for h in self.hashes) or any(len(d) != 32 for d in self.digests):
            _fail(f"frame of device {first.device}: hashes and digests are 32 bytes each")
        if len(self.digest) != 32:
            _fail(f"frame of device {first.device}: the frame digest is 32 bytes")

    @property
    def device(self) -> str:
        """The signing device's address."""
        return self.readings[0].device

    @property
    def first_sequence(self) -> int:
        """The sequence of the frame's first reading."""
        return self.readings[0].sequence

    @property
    def last_sequence(self) -> int:
        """The sequence of the frame's last reading."""
        return self.readings[-1].sequence

    def __len__(self) -> int:
        return len(self.readings)

    def witness(self, index: int) -> FrameWitness:
        """The witness of the reading at ``index`` (for ``verifyReading`` on-chain)."""
        return FrameWitness(self.hashes, index, self.signature)

    def signed_readings(self) -> list[SignedReading]:
        """Each reading with its digest and witness."""
        return [
            SignedReading(r, d, FrameWitness(self.hashes, i, self.signature))
            for i, (r, d) in enumerate(zip(self.readings, self.digests, strict=True))
        ]

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form: the readings' fields and the ``0x`` hex signature."""
        return {"readings": [r.to_json() for r in self.readings], "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, domain: ReadingDomain, data: Mapping[str, Any]) -> SignedFrame:
        """Inverse of :meth:`to_json`, hashing under ``domain`` (the signature is not checked
        here: use :func:`verify_frame`).

        Raises:
            ReadingValueError: a reading field is missing or does not fit, or the readings do
                not form a frame.
            ReadingSignatureError: the signature is missing or malformed.
        """
        try:
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            raw_readings = list(data["readings"])
        except (KeyError, TypeError, ValueError) as error:
            raise ReadingSignatureError(f"bad signed frame JSON: {error!r}") from None
        return cls.of(domain, [Reading.from_json(r) for r in raw_readings], signature)


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


# --- signing --------------------------------------------------------------------------------


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


def _public_key_address(public_key: PublicKey) -> str:
    return _checksum_of(_keccak(public_key.format(compressed=False)[1:])[12:])


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
        self.address: str = _public_key_address(self._key.public_key)
        self.domain = domain
        self._prefix = domain._prefix
        self._address_word = _address_word(self.address)
        self._next = _check_int("next sequence", next_sequence, 0, _UINT64)
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
            if first + count > _UINT64:
                _fail(f"device {self.address} has exhausted its uint64 sequence")
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
            _fail(f"a frame item is (time, pollutant, value, decimals, unit[, flag]): {error}")
        if not readings:
            _fail("a signed frame holds at least one reading")
        first = self._take_sequences(len(readings))
        address_word, prefix = self._address_word, self._prefix
        hashes: list[bytes] = []
        for i, reading in enumerate(readings):
            object.__setattr__(reading, "sequence", first + i)
            hashes.append(_keccak(_struct_encoding(reading, address_word)))
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
        return self.sign_frame([ReadingFields(_unix_seconds(time), pollutant, value, decimals, unit, flag)])

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


# --- recovery and verification --------------------------------------------------------------


def _recover(digest: bytes, signature: bytes, where: str) -> str:
    """The address that signed ``digest``, with OpenZeppelin ``ECDSA.recover``'s rules: ``v``
    must be 27 or 28 and ``s`` in the lower half of the curve order."""
    _signature_shape(signature, where)
    v = signature[64]
    if v not in (27, 28):
        raise ReadingSignatureError(f"{where}: signature v={v} is not 27 or 28")
    if int.from_bytes(signature[32:64], "big") > _SECP256K1_HALF_N:
        raise ReadingSignatureError(f"{where}: signature s is in the upper half (malleable)")
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError:
        raise ReadingSignatureError(f"{where}: signature does not recover a key") from None
    return _public_key_address(public_key)


def _frame_where(frame: SignedFrame) -> str:
    return f"frame of device {frame.device} sequences {frame.first_sequence}-{frame.last_sequence}"


def recover_frame_signer(domain: ReadingDomain, frame: SignedFrame) -> str:
    """Address that signed the frame, recovered as OpenZeppelin ``ECDSA.recover`` does.

    The hashes and digests are recomputed from the readings' fields under ``domain``.

    Raises:
        ReadingDigestMismatchError: the frame's stored hashes or digests are not its readings'
            under ``domain``.
        ReadingSignatureError: the signature is malformed or does not recover.
    """
    fresh = SignedFrame.of(domain, frame.readings, frame.signature)
    if (fresh.hashes, fresh.digests, fresh.digest) != (frame.hashes, frame.digests, frame.digest):
        raise ReadingDigestMismatchError(
            f"{_frame_where(frame)}: stored digests are not the readings' digests under this domain"
        )
    return _recover(fresh.digest, frame.signature, _frame_where(frame))


def verify_frame(domain: ReadingDomain, frame: SignedFrame, expected_device: str) -> None:
    """Check that ``expected_device`` signed the frame, and that its readings name it.

    Raises:
        ReadingValueError: ``expected_device`` is not an address.
        ReadingDigestMismatchError: stored digests are not the readings' under ``domain``.
        ReadingSignatureError: the signature is malformed, or another key signed, or the
            readings name another device.
    """
    expected = _checksum(expected_device)
    if frame.device != expected:
        raise ReadingSignatureError(f"{_frame_where(frame)}: readings name another device than {expected}")
    signer = recover_frame_signer(domain, frame)
    if signer != expected:
        raise ReadingSignatureError(f"{_frame_where(frame)}: signed by {signer}, not by the device")


def _where(signed: SignedReading) -> str:
    return f"device {signed.reading.device} sequence {signed.reading.sequence}"


def recover_signer(domain: ReadingDomain, signed_reading: SignedReading) -> str:
    """Address that signed the reading's frame, checked as ``EmissionsLedger.verifyReading`` does.

    The reading's hash must be at its index among the witness's hashes, and its stored digest
    the digest of its fields under ``domain``.

    Returns:
        The signer's checksummed address.

    Raises:
        ReadingDigestMismatchError: the digest or the witness does not match the reading.
        ReadingSignatureError: the signature is malformed or does not recover.
    """
    reading, witness = signed_reading.reading, signed_reading.witness
    hashed = reading_hash(reading)
    if witness.hashes[witness.index] != hashed:
        raise ReadingDigestMismatchError(
            f"{_where(signed_reading)}: not the reading at its place in the frame"
        )
    if _keccak(domain._prefix + hashed) != signed_reading.digest:
        raise ReadingDigestMismatchError(
            f"{_where(signed_reading)}: stored digest is not the reading's digest under this domain"
        )
    return _recover(frame_digest(domain, witness.hashes), witness.signature, _where(signed_reading))


def verify(domain: ReadingDomain, signed_reading: SignedReading, expected_device: str) -> None:
    """Check that ``expected_device`` signed the reading's frame, and that the reading names it.

    Raises:
        ReadingValueError: ``expected_device`` is not an address.
        ReadingDigestMismatchError: the digest or the witness does not match the reading.
        ReadingSignatureError: the signature is malformed, or another key signed, or the
            reading names another device.
    """
    expected = _checksum(expected_device)
    if signed_reading.reading.device != expected:
        raise ReadingSignatureError(f"{_where(signed_reading)}: reading names another device than {expected}")
    signer = recover_signer(domain, signed_reading)
    if signer != expected:
        raise ReadingSignatureError(f"{_where(signed_reading)}: signed by {signer}, not by the device")


# --- replay and gap detection ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """A jump in a device's sequence: ``received`` came where ``expected`` was due.

    Attributes:
        device: the device's address.
        expected: the sequence number that was due (last seen + 1).
        received: the sequence number that arrived.
    """

    device: str
    expected: int
    received: int

    @property
    def missing(self) -> int:
        """How many sequence numbers were skipped."""
        return self.received - self.expected


class SequenceTracker:
    """Per-device replay guard: sequences must increase; jumps are reported, not refused.

    One tracker follows any number of devices, each on its own. Not thread-safe: feed it
    from the one task that receives readings.

    Args:
        last_seen: last accepted sequence per device (e.g. from the queue after a restart).
        max_gaps: how many recent gaps :attr:`gaps` keeps.
    """

    def __init__(self, last_seen: Mapping[str, int] | None = None, *, max_gaps: int = 1000) -> None:
        self._last: dict[str, int] = {_checksum(d): s for d, s in (last_seen or {}).items()}
        #: Recent gaps, oldest first (bounded by ``max_gaps``).
        self.gaps: deque[SequenceGap] = deque(maxlen=max_gaps)

    def last_seen(self, device: str) -> int | None:
        """The last sequence accepted from ``device``, ``None`` if none yet."""
        return self._last.get(_checksum(device))

    def accept(self, device: str, sequence: int) -> SequenceGap | None:
        """Record ``sequence`` from ``device``.

        Returns:
            The gap if ``sequence`` skips numbers after the last one seen, else ``None``
            (also for a device's first reading, where nothing was due yet).

        Raises:
            ReadingReplayError: ``sequence`` is at or below the last one accepted.
        """
        device = _checksum(device)
        last = self._last.get(device)
        if last is not None:
            if sequence <= last:
                raise ReadingReplayError(f"device {device} sequence {sequence} replayed (last seen {last})")
            if sequence != last + 1:
                gap = SequenceGap(device, last + 1, sequence)
                self.gaps.append(gap)
                self._last[device] = sequence
                logger.warning(
                    "sequence gap: %d readings missing",
                    gap.missing,
                    extra={"device": device, "expected": gap.expected, "sequence": sequence},
                )
                return gap
        self._last[device] = sequence
        return None

    def accept_reading(self, signed_reading: SignedReading) -> SequenceGap | None:
        """:meth:`accept` with the device and sequence of a signed reading.

        Raises:
            ReadingReplayError: the reading's sequence is at or below the last one accepted.
        """
        return self.accept(signed_reading.reading.device, signed_reading.reading.sequence)


# --- Merkle leaves --------------------------------------------------------------------------


def leaf(signed_reading: SignedReading) -> list[bytes]:
    """The reading's value in a batch tree (leaf encoding :data:`LEAF_ENCODING`): its digest."""
    return [signed_reading.digest]


def leaf_hash(digest: bytes) -> bytes:
    """Standard-tree leaf hash of a reading digest: ``keccak256(keccak256(abi.encode(digest)))``."""
    return _keccak(_keccak(digest))


def batch_tree(signed_readings: Iterable[SignedReading]) -> StandardMerkleTree:
    """OpenZeppelin-compatible standard Merkle tree over readings (one leaf per digest).

    Raises:
        MerkleEmptyTreeError: no readings.
    """
    return StandardMerkleTree.of([leaf(s) for s in signed_readings], LEAF_ENCODING)


def batch_root(digests: Sequence[bytes]) -> bytes:
    """Root of the standard tree over reading digests, without building a tree object.

    The same root as ``batch_tree(...).root`` (the tests check it), computed with this
    module's fast keccak: the queue cuts batches with it, since :class:`StandardMerkleTree`
    normalises and hashes every leaf through the generic ABI path (~5x slower).

    Raises:
        MerkleEmptyTreeError: no digests.
        MerkleLeafEncodingError: a digest is not 32 bytes.
    """
    if not digests:
        raise MerkleEmptyTreeError("expected a non-zero number of leaves")
    if any(len(d) != 32 for d in digests):
        raise MerkleLeafEncodingError("a reading digest is 32 bytes (bytes32 leaf)")
    k = _keccak
    hashes = sorted(k(k(bytes(d))) for d in digests)
    count = len(hashes)
    size = 2 * count - 1
    # Array layout of @openzeppelin/merkle-tree: sorted leaves fill the end in reverse.
    tree: list[bytes] = [b""] * (size - count) + hashes[::-1]
    for i in range(size - count - 1, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = k(a + b if a <= b else b + a)
    return tree[0]
