"""What proves a reading was signed and anchored: signed frames and readings with their witnesses,
signer recovery and verification (OpenZeppelin ``ECDSA.recover``'s rules), Merkle leaves of batches.

To show one reading was signed, its :class:`FrameWitness` gives the struct hashes of its
frame's readings, its index among them and the frame signature: anyone can hash the reading,
find it at its index, rebuild the frame digest and recover the device.

Batches of signed readings are committed with :mod:`chain.merkle`'s standard tree, one leaf
per reading with leaf encoding ``["bytes32"]`` and value the reading's own EIP-712 digest
(``Reading`` as primary type), so the contract checks
``keccak256(bytes.concat(keccak256(abi.encode(digest))))`` with ``MerkleProof``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from coincurve import PublicKey

from chain.errors import MerkleEmptyTreeError, MerkleLeafEncodingError
from chain.merkle import StandardMerkleTree
from oracle.errors import ReadingDigestMismatchError, ReadingSignatureError, ReadingValueError
from oracle.signing.eip712 import ReadingDomain, frame_digest, reading_hash
from oracle.signing.hashing import fast_keccak as _keccak
from oracle.signing.hashing import public_key_address
from oracle.signing.reading import Reading, checksum_address

__all__ = [
    "LEAF_ENCODING",
    "FrameWitness",
    "SignedFrame",
    "SignedReading",
    "batch_root",
    "batch_tree",
    "leaf",
    "leaf_hash",
    "recover_frame_signer",
    "recover_signer",
    "verify",
    "verify_frame",
]

#: Leaf encoding of reading batches in :class:`chain.merkle.StandardMerkleTree`.
LEAF_ENCODING: Final = ("bytes32",)

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SECP256K1_HALF_N: Final = _SECP256K1_N // 2


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
        prefix = domain.prefix
        digests = tuple(_keccak(prefix + h) for h in hashes)
        return cls(readings, bytes(signature), hashes, digests, frame_digest(domain, hashes))

    def __post_init__(self) -> None:
        readings = self.readings
        if not readings:
            raise ReadingValueError("a signed frame holds at least one reading")
        _signature_shape(self.signature, f"frame of device {readings[0].device}")
        first = readings[0]
        for i, r in enumerate(readings):
            if r.device != first.device or r.sequence != first.sequence + i:
                raise ReadingValueError(
                    f"frame of device {first.device} from sequence {first.sequence}: reading {i} is"
                    f" device {r.device} sequence {r.sequence} (one device, consecutive sequences)"
                )
        if not len(self.hashes) == len(self.digests) == len(readings):
            raise ReadingValueError(
                f"{len(readings)} readings, {len(self.hashes)} hashes, {len(self.digests)} digests"
            )
        if any(len(h) != 32 for h in self.hashes) or any(len(d) != 32 for d in self.digests):
            raise ReadingValueError(f"frame of device {first.device}: hashes and digests are 32 bytes each")
        if len(self.digest) != 32:
            raise ReadingValueError(f"frame of device {first.device}: the frame digest is 32 bytes")

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
    return public_key_address(public_key)


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
    expected = checksum_address(expected_device)
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
    if _keccak(domain.prefix + hashed) != signed_reading.digest:
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
    expected = checksum_address(expected_device)
    if signed_reading.reading.device != expected:
        raise ReadingSignatureError(f"{_where(signed_reading)}: reading names another device than {expected}")
    signer = recover_signer(domain, signed_reading)
    if signer != expected:
        raise ReadingSignatureError(f"{_where(signed_reading)}: signed by {signer}, not by the device")


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
