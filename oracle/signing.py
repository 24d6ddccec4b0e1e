"""Device signatures over readings: EIP-712 digests computed by hand, coincurve signing and recovery.

A reading is one pollutant value at one time from one device. It is signed as the EIP-712
typed struct

    Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,
            uint8 decimals,bytes8 unit,bytes1 flag)

under the domain ``EIP712Domain(string name,string version,uint256 chainId,address
verifyingContract)`` with name ``"ETS EmissionsLedger"`` and version ``"1"``, so that the
EmissionsLedger contract (OpenZeppelin ``EIP712`` + ``ECDSA``) recomputes the same digest and
recovers the device address. The digest is computed here by direct byte packing (the type hash
and domain separator are precomputed; one keccak for the struct hash, one for the digest),
which is an order of magnitude faster than eth-account's generic encoder; the tests check
both agree.

Field encodings:

* ``time`` is unix seconds (UTC);
* ``pollutant`` is the HJ 212 factor code (``"w01018"``, ``"a21026"``) in ASCII, left-aligned
  and zero-padded into ``bytes8``; ``unit`` likewise (``"mg/L"``, ``"kg"``, ``"m3"``);
* ``value`` is the decimal reading scaled by ``10**decimals``, keeping the text's own precision
  (``"12.345"`` → ``value=12345, decimals=3``; ``"-0.50"`` → ``-50, 2``);
* ``flag`` is the HJ 212 data flag letter (``N F M S D C T B``) as ``bytes1``.

Batches of signed readings are committed with :mod:`oracle.merkle`'s standard tree, one leaf
per reading with leaf encoding ``["bytes32"]`` and value the reading's EIP-712 digest, so the
contract checks ``keccak256(bytes.concat(keccak256(abi.encode(digest))))`` with ``MerkleProof``.
"""

from __future__ import annotations

import ctypes
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
from typing import Any, Final, NoReturn

from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak as _eth_hash_keccak
from eth_utils import to_checksum_address

from oracle.errors import (
    DeviceKeyError,
    MerkleEmptyTreeError,
    MerkleLeafEncodingError,
    ReadingDigestMismatchError,
    ReadingReplayError,
    ReadingSignatureError,
    ReadingValueError,
)
from oracle.merkle import StandardMerkleTree

__all__ = [
    "DATA_FLAGS",
    "DOMAIN_NAME",
    "DOMAIN_TYPE",
    "DOMAIN_TYPEHASH",
    "DOMAIN_VERSION",
    "KECCAK_BACKEND",
    "LEAF_ENCODING",
    "READING_TYPE",
    "READING_TYPEHASH",
    "DeviceSigner",
    "Reading",
    "ReadingDomain",
    "SequenceGap",
    "SequenceTracker",
    "SignedReading",
    "batch_root",
    "batch_tree",
    "keccak",
    "leaf",
    "leaf_hash",
    "reading_digest",
    "reading_typed_data",
    "recover_signer",
    "scale_decimal",
    "verify",
]

logger = logging.getLogger(__name__)

# --- keccak ---------------------------------------------------------------------------------

_KECCAK_EMPTY: Final = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
_KECCAK_ABC: Final = bytes.fromhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")


def _pysha3_keccak() -> Callable[[bytes], bytes] | None:
    """safe-pysha3's C keccak (fastest, ~0.5 µs a hash) when it is installed."""
    try:
        keccak_256 = importlib.import_module("sha3").keccak_256
    except (ImportError, AttributeError):
        return None

    def pysha3_keccak(data: bytes) -> bytes:
        return bytes(keccak_256(data).digest())

    return pysha3_keccak


def _pycryptodome_keccak() -> Callable[[bytes], bytes] | None:
    """pycryptodome's C keccak called directly through ctypes (~3 µs a hash, vs ~8 µs through
    ``Crypto.Hash.keccak.new`` or ``eth_hash``, whose Python wrappers dominate the cost).

    One keccak state per thread (ctypes releases the GIL during calls, so a shared state would
    race); the library is opened through its own ``CDLL`` handle so pycryptodome's function
    objects are left untouched.
    """
    try:
        spec = importlib.util.find_spec("Crypto.Hash._keccak")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
        init, destroy = lib.keccak_init, lib.keccak_destroy
        absorb, digest, reset = lib.keccak_absorb, lib.keccak_digest, lib.keccak_reset
    except (OSError, AttributeError):
        return None
    init.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_ubyte]
    destroy.argtypes = [ctypes.c_void_p]
    reset.argtypes = [ctypes.c_void_p]
    absorb.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    digest.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_ubyte]
    for function in (init, destroy, reset, absorb, digest):
        function.restype = ctypes.c_int

    class _State:
        __slots__ = ("handle", "out")

        def __init__(self) -> None:
            self.handle = ctypes.c_void_p()
            # capacity 64 bytes (keccak-256), 24 rounds
            if init(ctypes.byref(self.handle), 64, 24) != 0:
                raise MemoryError("keccak_init failed")
            self.out = ctypes.create_string_buffer(32)

        def __del__(self) -> None:
            if self.handle:
                destroy(self.handle)

    local = threading.local()

    def raw_keccak(data: bytes) -> bytes:
        try:
            state: _State = local.state
        except AttributeError:
            state = local.state = _State()
        handle, out = state.handle, state.out
        # 0x01 is keccak's (pre-SHA-3) padding byte.
        if reset(handle) or absorb(handle, data, len(data)) or digest(handle, out, 32, 1):
            raise RuntimeError("keccak failed")
        return out.raw

    return raw_keccak


def _select_keccak() -> tuple[str, Callable[[bytes], bytes]]:
    """The fastest keccak-256 available that passes known answers, else eth-hash's."""
    for name, make in (("pysha3", _pysha3_keccak), ("pycryptodome-ctypes", _pycryptodome_keccak)):
        try:
            candidate = make()
            if candidate is not None and candidate(b"") == _KECCAK_EMPTY and candidate(b"abc") == _KECCAK_ABC:
                return name, candidate
        except (OSError, RuntimeError, MemoryError, TypeError):  # pragma: no cover - broken build
            continue
    return "eth-hash", _eth_hash_keccak  # pragma: no cover - fallback


_BACKEND: Final = _select_keccak()
#: Which keccak implementation this module uses (``pysha3``, ``pycryptodome-ctypes``, ``eth-hash``).
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
READING_TYPEHASH: Final = _keccak(READING_TYPE.encode())
DOMAIN_TYPEHASH: Final = _keccak(DOMAIN_TYPE.encode())
#: EIP-712 domain name and version of the EmissionsLedger contract.
DOMAIN_NAME: Final = "ETS EmissionsLedger"
DOMAIN_VERSION: Final = "1"
#: HJ 212-2017 data flag letters (§6.6.4): normal, stopped, maintenance, set value, fault,
#: calibration, over range, communication error.
DATA_FLAGS: Final = frozenset("NFMSDCTB")
#: Leaf encoding of reading batches in :class:`oracle.merkle.StandardMerkleTree`.
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


def _struct_encoding(reading: Reading) -> bytes:
    """``abi.encode(READING_TYPEHASH, fields...)``: nine 32-byte words."""
    return b"".join(
        (
            READING_TYPEHASH,
            _address_word(reading.device),
            reading.sequence.to_bytes(32, "big"),
            reading.time.to_bytes(32, "big"),
            _pollutant_word(reading.pollutant),
            reading.value.to_bytes(32, "big", signed=True),
            reading.decimals.to_bytes(32, "big"),
            _unit_word(reading.unit),
            _flag_word(reading.flag),
        )
    )


def reading_digest(domain: ReadingDomain, reading: Reading) -> bytes:
    """EIP-712 digest of a reading: ``keccak256("\\x19\\x01" ‖ domainSeparator ‖ structHash)``.

    Equal to OpenZeppelin's ``_hashTypedDataV4(keccak256(abi.encode(READING_TYPEHASH, ...)))``
    and to eth-account's ``encode_typed_data`` digest.
    """
    return _keccak(domain._prefix + _keccak(_struct_encoding(reading)))


def reading_typed_data(domain: ReadingDomain, reading: Reading) -> dict[str, Any]:
    """The reading as an EIP-712 ``eth_signTypedData_v4`` message (for wallets and JS tools)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Reading": [
                {"name": "device", "type": "address"},
                {"name": "sequence", "type": "uint64"},
                {"name": "time", "type": "uint64"},
                {"name": "pollutant", "type": "bytes8"},
                {"name": "value", "type": "int256"},
                {"name": "decimals", "type": "uint8"},
                {"name": "unit", "type": "bytes8"},
                {"name": "flag", "type": "bytes1"},
            ],
        },
        "primaryType": "Reading",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        "message": {
            "device": reading.device,
            "sequence": reading.sequence,
            "time": reading.time,
            "pollutant": "0x" + _pollutant_word(reading.pollutant)[:8].hex(),
            "value": reading.value,
            "decimals": reading.decimals,
            "unit": "0x" + _unit_word(reading.unit)[:8].hex(),
            "flag": "0x" + _flag_word(reading.flag)[:1].hex(),
        },
    }


@dataclass(frozen=True, slots=True)
class SignedReading:
    """A reading with its EIP-712 digest and the device's 65-byte signature.

    Attributes:
        reading: the signed fields.
        signature: ``r ‖ s ‖ v`` with ``v`` in {27, 28} (what OpenZeppelin ``ECDSA.recover``
            takes); never logged.
        digest: the reading's EIP-712 digest under the signer's domain (the Merkle leaf value).

    Raises:
        ReadingSignatureError: the signature is not 65 bytes or the digest not 32.
    """

    reading: Reading
    signature: bytes = field(repr=False)
    digest: bytes

    def __post_init__(self) -> None:
        if len(self.signature) != 65 or len(self.digest) != 32:
            raise ReadingSignatureError(
                f"device {self.reading.device} sequence {self.reading.sequence}: a signature is 65 bytes"
                f" and a digest 32 (got {len(self.signature)} and {len(self.digest)})"
            )

    @property
    def device(self) -> str:
        """The signing device's address."""
        return self.reading.device

    @property
    def sequence(self) -> int:
        """The device's sequence number of this reading."""
        return self.reading.sequence

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form: the reading's fields plus ``0x`` hex signature and digest."""
        return {
            **self.reading.to_json(),
            "signature": "0x" + self.signature.hex(),
            "digest": "0x" + self.digest.hex(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedReading:
        """Inverse of :meth:`to_json` (the digest is not checked here: use :func:`verify`).

        Raises:
            ReadingValueError: a reading field is missing or does not fit.
            ReadingSignatureError: the signature or digest is missing or malformed.
        """
        try:
            signature = bytes.fromhex(str(data["signature"]).removeprefix("0x"))
            digest = bytes.fromhex(str(data["digest"]).removeprefix("0x"))
        except (KeyError, ValueError) as error:
            raise ReadingSignatureError(f"bad signature or digest in JSON: {error!r}") from None
        return cls(Reading.from_json(data), signature, digest)


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
    """Signs one device's readings with its key, numbering them with a monotonic sequence.

    The sequence counter starts at ``next_sequence`` so a gateway resumes after a restart
    from the last sequence its queue holds (plus one). Each :meth:`sign` call takes the next
    number, whether or not the caller keeps the result: a gap is harmless, a reuse is not.
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
        """The sequence number the next :meth:`sign` will use."""
        return self._next

    def __repr__(self) -> str:
        return f"DeviceSigner(address={self.address!r}, next_sequence={self._next})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a DeviceSigner holds a private key and cannot be pickled")

    def _take_sequence(self) -> int:
        with self._lock:
            sequence = self._next
            if sequence >= _UINT64:
                _fail(f"device {self.address} has exhausted its uint64 sequence")
            self._next = sequence + 1
        return sequence

    def sign(
        self,
        *,
        time: int | datetime,
        pollutant: str,
        value: int,
        decimals: int,
        unit: str,
        flag: str = "N",
    ) -> SignedReading:
        """Sign one reading of this device, taking the next sequence number.

        Args:
            time: unix seconds or a timezone-aware datetime.
            pollutant: HJ 212 factor code.
            value: the scaled value (``12.345`` → ``12345`` with ``decimals=3``).
            decimals: decimal places of ``value``.
            unit: unit text (``"mg/L"``).
            flag: HJ 212 data flag letter.

        Returns:
            The signed reading (digest and 65-byte signature with ``v`` in {27, 28}).

        Raises:
            ReadingValueError: a field does not fit its type (no sequence is used up then).
        """
        reading = Reading(self.address, 0, _unix_seconds(time), pollutant, value, decimals, unit, flag)
        object.__setattr__(reading, "sequence", self._take_sequence())
        return self._sign(reading)

    def sign_text(
        self,
        *,
        time: int | datetime,
        pollutant: str,
        value_text: str | Decimal,
        unit: str,
        flag: str = "N",
    ) -> SignedReading:
        """Like :meth:`sign`, with the value given as decimal text (``"12.345"``).

        Raises:
            ReadingValueError: bad text or a field out of range.
        """
        value, decimals = scale_decimal(value_text)
        return self.sign(time=time, pollutant=pollutant, value=value, decimals=decimals, unit=unit, flag=flag)

    def _sign(self, reading: Reading) -> SignedReading:
        struct = b"".join(
            (
                READING_TYPEHASH,
                self._address_word,
                reading.sequence.to_bytes(32, "big"),
                reading.time.to_bytes(32, "big"),
                _pollutant_word(reading.pollutant),
                reading.value.to_bytes(32, "big", signed=True),
                reading.decimals.to_bytes(32, "big"),
                _unit_word(reading.unit),
                _flag_word(reading.flag),
            )
        )
        digest = _keccak(self._prefix + _keccak(struct))
        signature = self._key.sign_recoverable(digest, hasher=None)
        # coincurve gives r ‖ s ‖ recid (0/1); Ethereum and OpenZeppelin want v = 27 + recid.
        return SignedReading(reading, signature[:64] + bytes((signature[64] + 27,)), digest)


# --- recovery and verification --------------------------------------------------------------


def _where(signed: SignedReading) -> str:
    return f"device {signed.reading.device} sequence {signed.reading.sequence}"


def recover_signer(domain: ReadingDomain, signed_reading: SignedReading) -> str:
    """Address that signed the reading, recovered as OpenZeppelin ``ECDSA.recover`` does.

    The digest is recomputed from the reading's fields under ``domain``; like OpenZeppelin,
    ``v`` must be 27 or 28 and ``s`` in the lower half of the curve order.

    Returns:
        The signer's checksummed address.

    Raises:
        ReadingDigestMismatchError: the stored digest is not the fields' digest under ``domain``.
        ReadingSignatureError: the signature is malformed or does not recover.
    """
    digest = reading_digest(domain, signed_reading.reading)
    if digest != signed_reading.digest:
        raise ReadingDigestMismatchError(
            f"{_where(signed_reading)}: stored digest is not the reading's digest under this domain"
        )
    signature = signed_reading.signature
    v = signature[64]
    if v not in (27, 28):
        raise ReadingSignatureError(f"{_where(signed_reading)}: signature v={v} is not 27 or 28")
    s = int.from_bytes(signature[32:64], "big")
    if s > _SECP256K1_HALF_N:
        raise ReadingSignatureError(f"{_where(signed_reading)}: signature s is in the upper half (malleable)")
    try:
        public_key = PublicKey.from_signature_and_message(
            signature[:64] + bytes((v - 27,)), digest, hasher=None
        )
    except ValueError:
        raise ReadingSignatureError(f"{_where(signed_reading)}: signature does not recover a key") from None
    return _public_key_address(public_key)


def verify(domain: ReadingDomain, signed_reading: SignedReading, expected_device: str) -> None:
    """Check that ``expected_device`` signed the reading, and that the reading names it.

    Raises:
        ReadingValueError: ``expected_device`` is not an address.
        ReadingDigestMismatchError: the stored digest is not the fields' digest under ``domain``.
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
