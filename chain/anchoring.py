"""The EmissionsLedger's anchoring half: batches of device-signed readings (ids, packed totals,
the anchor header), reading and frame encodings, ``BatchAnchored`` events, the anchoring client
(idempotent anchoring, batch headers, reading verification) and the gateway's anchor port.

The ledger stores one word per batch: the anchoring block and a hash of the batch's header
(:class:`AnchoredBatch`), whose ``totals_hash`` is the keccak of the packed totals
(:func:`pack_totals`). The header's fields and the packed totals are in the ``BatchAnchored``
event, so a reader rebuilds the header from the event and its block (:func:`read_batch`) and
the contract checks it (``checkBatch``, ``verifyReading``): the verifier supplies the preimage.

The client takes plain values: :class:`BatchAnchor` for a batch (:func:`batch_anchor_of` builds
one from any object with the attributes of ``oracle.queue.Batch``), any object with the
attributes of ``oracle.signing.reading.Reading`` for a reading (:class:`ReadingLike`) and of
``oracle.signing.proof.FrameWitness`` for the frame signature that covers it (:class:`FrameWitnessLike`),
so ``oracle`` never needs web3 and ``chain`` never imports ``oracle``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NewType, Protocol

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, keccak, to_checksum_address
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field
from web3.exceptions import TransactionNotFound
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.abi import bytes32, hex32
from chain.client import ContractClient
from chain.errors import ChainUnavailableError, ContractRevertError
from chain.jsonfile import load_model
from chain.registry import checked_address
from domain.errors import ComplianceInputError, InvalidInputError
from domain.units import UINT32_MAX, UINT64_MAX, UINT256_MAX, check_uint

logger = logging.getLogger(__name__)

#: An anchored batch's id (:func:`batch_id_of`): 32 bytes.
BatchId = NewType("BatchId", bytes)

#: EIP-712 domain name and version of the EmissionsLedger (readings and attestations alike).
DOMAIN_NAME = "ETS EmissionsLedger"


DOMAIN_VERSION = "1"


#: Sizes in the packed totals (``IEmissionsLedger.packTotals``): the three uint16 counts, then
#: one valid total, one excluded total, one estimate.
TOTALS_HEAD = 6
VALID_SIZE = 33
EXCLUDED_SIZE = 38
ESTIMATE_SIZE = 45
_INT128 = 1 << 127
_UINT16_MAX = (1 << 16) - 1


def bytes8_of(text: str, what: str = "text") -> bytes:
    """``text`` as ``bytes8``: ASCII, left-aligned, zero-padded (``"w01018"`` → ``b"w01018\\0\\0"``).

    Raises:
        InvalidInputError: not ASCII or longer than 8 characters.
    """
    if not isinstance(text, str) or not text.isascii() or len(text) > 8:
        raise InvalidInputError(f"{what} {text!r} is not up to 8 ASCII characters")
    return text.encode("ascii").ljust(8, b"\x00")


def text_of(raw: bytes) -> str:
    """Inverse of :func:`bytes8_of` (trailing zero bytes dropped)."""
    return bytes(raw).rstrip(b"\x00").decode("ascii", errors="replace")


def batch_id_of(device: str, first_sequence: int, last_sequence: int, root: bytes) -> BatchId:
    """``keccak256(abi.encode(address device, uint64 first, uint64 last, bytes32 root))``."""
    return BatchId(
        bytes(
            keccak(
                abi_encode(
                    ["address", "uint64", "uint64", "bytes32"],
                    [checked_address(device, "device"), first_sequence, last_sequence, root],
                )
            )
        )
    )


@dataclass(frozen=True)
class BatchTotal:
    """A batch's sum of one pollutant in one unit, as anchored.

    Attributes:
        pollutant: HJ 212 factor code (up to 8 ASCII characters).
        unit: unit (up to 8 ASCII characters).
        total: exact sum scaled by ``10**decimals`` (int256).
        decimals: decimal places of ``total`` (uint8).
    """

    pollutant: str
    unit: str
    total: int
    decimals: int

    def as_tuple(self) -> tuple[bytes, bytes, int, int]:
        return (
            bytes8_of(self.pollutant, "pollutant"),
            bytes8_of(self.unit, "unit"),
            _int128(self.total),
            self.decimals,
        )

    def packed(self) -> bytes:
        """``pollutant ‖ unit ‖ int128 total ‖ uint8 decimals`` (33 bytes)."""
        p, u, total, decimals = self.as_tuple()
        return p + u + total.to_bytes(16, "big", signed=True) + _uint8(decimals)


@dataclass(frozen=True)
class BatchExcludedTotal:
    """A batch's sum of the readings of one pollutant and unit excluded for one reason.

    Attributes:
        pollutant: HJ 212 factor code.
        unit: unit.
        reason: 1 invalid, 2 outlier, 3 fault (``domain.review.Exclusion``).
        total: exact sum scaled by ``10**decimals`` (int256).
        decimals: decimal places of ``total``.
        count: readings summed (uint32).
    """

    pollutant: str
    unit: str
    reason: int
    total: int
    decimals: int
    count: int

    def as_tuple(self) -> tuple[bytes, bytes, int, int, int, int]:
        return (
            bytes8_of(self.pollutant, "pollutant"),
            bytes8_of(self.unit, "unit"),
            self.reason,
            _int128(self.total),
            self.decimals,
            check_uint(self.count, "count", UINT32_MAX),
        )

    def packed(self) -> bytes:
        """``pollutant ‖ unit ‖ uint8 reason ‖ int128 total ‖ uint8 decimals ‖ uint32 count``."""
        p, u, reason, total, decimals, count = self.as_tuple()
        return (
            p
            + u
            + _uint8(reason)
            + total.to_bytes(16, "big", signed=True)
            + _uint8(decimals)
            + count.to_bytes(4)
        )


@dataclass(frozen=True)
class BatchEstimateTotal:
    """A batch's sum of the unsigned gap estimates of one pollutant and unit by one method.

    Attributes:
        pollutant: HJ 212 factor code.
        unit: unit.
        method: estimation method (up to 8 ASCII characters, e.g. ``linear``).
        total: exact sum scaled by ``10**decimals`` (int256).
        decimals: decimal places of ``total``.
        count: estimates summed (uint32).
    """

    pollutant: str
    unit: str
    method: str
    total: int
    decimals: int
    count: int

    def as_tuple(self) -> tuple[bytes, bytes, bytes, int, int, int]:
        return (
            bytes8_of(self.pollutant, "pollutant"),
            bytes8_of(self.unit, "unit"),
            bytes8_of(self.method, "method"),
            _int128(self.total),
            self.decimals,
            check_uint(self.count, "count", UINT32_MAX),
        )

    def packed(self) -> bytes:
        """``pollutant ‖ unit ‖ method ‖ int128 total ‖ uint8 decimals ‖ uint32 count``."""
        p, u, method, total, decimals, count = self.as_tuple()
        return p + u + method + total.to_bytes(16, "big", signed=True) + _uint8(decimals) + count.to_bytes(4)


def _int128(value: int) -> int:
    if not -_INT128 <= value < _INT128:
        raise InvalidInputError(f"total {value} does not fit int128")
    return value


def _uint8(value: int) -> bytes:
    return check_uint(value, "uint8", 255).to_bytes(1)


Totals = tuple[tuple[BatchTotal, ...], tuple[BatchExcludedTotal, ...], tuple[BatchEstimateTotal, ...]]


def pack_totals(
    totals: Sequence[BatchTotal],
    excluded: Sequence[BatchExcludedTotal] = (),
    estimates: Sequence[BatchEstimateTotal] = (),
) -> bytes:
    """The three totals lists packed as the ledger takes and emits them (``packTotals``): three
    big-endian uint16 counts, then each item's fields packed in order.

    Raises:
        InvalidInputError: more than 65,535 items in a list, or a field does not fit.
    """
    parts = [
        check_uint(len(items), "totals count", _UINT16_MAX).to_bytes(2)
        for items in (totals, excluded, estimates)
    ]
    parts += [t.packed() for t in totals]
    parts += [t.packed() for t in excluded]
    parts += [t.packed() for t in estimates]
    return b"".join(parts)


def unpack_totals(packed: bytes) -> Totals:
    """Inverse of :func:`pack_totals`.

    Raises:
        InvalidInputError: the length does not fit the counts.
    """
    raw = bytes(packed)
    if len(raw) < TOTALS_HEAD:
        raise InvalidInputError(f"packed totals of {len(raw)} bytes lack their counts")
    n_valid, n_excluded, n_estimates = (int.from_bytes(raw[i : i + 2]) for i in (0, 2, 4))
    expected = TOTALS_HEAD + n_valid * VALID_SIZE + n_excluded * EXCLUDED_SIZE + n_estimates * ESTIMATE_SIZE
    if len(raw) != expected:
        raise InvalidInputError(f"packed totals of {len(raw)} bytes, {expected} expected for their counts")

    def amount(chunk: bytes) -> int:
        return int.from_bytes(chunk, "big", signed=True)

    at = TOTALS_HEAD
    valid = []
    for _ in range(n_valid):
        c = raw[at : at + VALID_SIZE]
        valid.append(BatchTotal(text_of(c[0:8]), text_of(c[8:16]), amount(c[16:32]), c[32]))
        at += VALID_SIZE
    excluded = []
    for _ in range(n_excluded):
        c = raw[at : at + EXCLUDED_SIZE]
        excluded.append(
            BatchExcludedTotal(
                text_of(c[0:8]), text_of(c[8:16]), c[16], amount(c[17:33]), c[33], int.from_bytes(c[34:38])
            )
        )
        at += EXCLUDED_SIZE
    estimates = []
    for _ in range(n_estimates):
        c = raw[at : at + ESTIMATE_SIZE]
        estimates.append(
            BatchEstimateTotal(
                text_of(c[0:8]),
                text_of(c[8:16]),
                text_of(c[16:24]),
                amount(c[24:40]),
                c[40],
                int.from_bytes(c[41:45]),
            )
        )
        at += ESTIMATE_SIZE
    return tuple(valid), tuple(excluded), tuple(estimates)


def hash_totals(
    totals: Sequence[BatchTotal],
    excluded: Sequence[BatchExcludedTotal] = (),
    estimates: Sequence[BatchEstimateTotal] = (),
) -> bytes:
    """``keccak256(packed totals)``: the ``totalsHash`` of a batch's header."""
    return bytes(keccak(pack_totals(totals, excluded, estimates)))


@dataclass(frozen=True)
class BatchAnchor:
    """A batch as submitted to ``anchorBatch``.

    Attributes:
        batch_id: ``keccak256(abi.encode(device, first_sequence, last_sequence, root))``.
        device: the device's address.
        first_sequence: lowest reading sequence.
        last_sequence: highest reading sequence.
        period_start: earliest reading time (unix seconds).
        period_end: latest reading time (unix seconds).
        count: number of readings.
        root: Merkle root over the readings' digests.
        totals: per (pollutant, unit) sums of the valid readings, sorted by (pollutant, unit).
        excluded: sums of the excluded readings, sorted by (pollutant, unit, reason).
        estimates: sums of the gap estimates, sorted by (pollutant, unit, method).
    """

    batch_id: bytes
    device: str
    first_sequence: int
    last_sequence: int
    period_start: int
    period_end: int
    count: int
    root: bytes
    totals: tuple[BatchTotal, ...]
    excluded: tuple[BatchExcludedTotal, ...] = ()
    estimates: tuple[BatchEstimateTotal, ...] = ()

    def as_tuple(self) -> tuple[Any, ...]:
        """The ``Batch`` struct's ABI tuple.

        Raises:
            InvalidInputError: a field does not fit its Solidity type.
        """
        return (
            bytes32(self.batch_id, "batch id"),
            checked_address(self.device, "device"),
            check_uint(self.first_sequence, "first sequence", UINT64_MAX),
            check_uint(self.last_sequence, "last sequence", UINT64_MAX),
            check_uint(self.period_start, "period start", UINT64_MAX),
            check_uint(self.period_end, "period end", UINT64_MAX),
            check_uint(self.count, "count", UINT32_MAX),
            bytes32(self.root, "root"),
            self.packed_totals(),
        )

    def packed_totals(self) -> bytes:
        """The batch's three totals lists packed (:func:`pack_totals`)."""
        return pack_totals(self.totals, self.excluded, self.estimates)


def _amount(item: Any) -> int:
    return int(item.total if hasattr(item, "total") else item.value)


def _total_of(item: Any) -> BatchTotal:
    return BatchTotal(str(item.pollutant), str(item.unit), _amount(item), int(item.decimals))


def batch_anchor_of(batch: Any) -> BatchAnchor:
    """The :class:`BatchAnchor` of any object with the attributes of ``oracle.queue.Batch``.

    The totals' items need ``pollutant``, ``unit``, ``decimals`` and ``value`` (or ``total``);
    they are sorted by (pollutant, unit) bytes, the order the contract requires. The optional
    ``excluded`` (with ``reason`` and ``count``) and ``estimates`` (with ``method`` and
    ``count``) are taken alike.
    """
    totals = sorted(
        (_total_of(t) for t in batch.totals),
        key=lambda t: (bytes8_of(t.pollutant, "pollutant"), bytes8_of(t.unit, "unit")),
    )
    excluded = sorted(
        (
            BatchExcludedTotal(
                str(t.pollutant), str(t.unit), int(t.reason), _amount(t), int(t.decimals), int(t.count)
            )
            for t in getattr(batch, "excluded", ())
        ),
        key=lambda t: (bytes8_of(t.pollutant, "pollutant"), bytes8_of(t.unit, "unit"), t.reason),
    )
    estimates = sorted(
        (
            BatchEstimateTotal(
                str(t.pollutant), str(t.unit), str(t.method), _amount(t), int(t.decimals), int(t.count)
            )
            for t in getattr(batch, "estimates", ())
        ),
        key=lambda t: (
            bytes8_of(t.pollutant, "pollutant"),
            bytes8_of(t.unit, "unit"),
            bytes8_of(t.method, "method"),
        ),
    )
    return BatchAnchor(
        batch_id=bytes(batch.batch_id),
        device=str(batch.device),
        first_sequence=int(batch.first_sequence),
        last_sequence=int(batch.last_sequence),
        period_start=int(batch.period_start),
        period_end=int(batch.period_end),
        count=int(batch.count),
        root=bytes(batch.root),
        totals=tuple(totals),
        excluded=tuple(excluded),
        estimates=tuple(estimates),
    )


class ReadingLike(Protocol):
    """The fields of a signed reading (``oracle.signing.reading.Reading`` has them)."""

    @property
    def device(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def time(self) -> int: ...
    @property
    def pollutant(self) -> str: ...
    @property
    def value(self) -> int: ...
    @property
    def decimals(self) -> int: ...
    @property
    def unit(self) -> str: ...
    @property
    def flag(self) -> str: ...


def reading_tuple(reading: ReadingLike) -> tuple[Any, ...]:
    """The ``Reading`` struct's ABI tuple.

    Raises:
        InvalidInputError: a text field is not ASCII of the right length.
    """
    flag = reading.flag
    if not isinstance(flag, str) or len(flag) != 1 or not flag.isascii():
        raise InvalidInputError(f"flag {flag!r} is not one ASCII letter")
    if not is_address(reading.device):
        raise InvalidInputError(f"device {reading.device!r} is not an address")
    return (
        to_checksum_address(reading.device),
        reading.sequence,
        reading.time,
        bytes8_of(reading.pollutant, "pollutant"),
        reading.value,
        reading.decimals,
        bytes8_of(reading.unit, "unit"),
        flag.encode("ascii"),
    )


class FrameWitnessLike(Protocol):
    """The frame signature of a reading (``oracle.signing.proof.FrameWitness`` has it): the struct
    hashes of the frame's readings in frame order, the reading's index among them, and the
    device's 65-byte signature over the frame digest."""

    @property
    def hashes(self) -> Sequence[bytes]: ...
    @property
    def index(self) -> int: ...
    @property
    def signature(self) -> bytes: ...


def frame_tuple(witness: FrameWitnessLike) -> tuple[list[bytes], int, bytes]:
    """The ``SignedFrame`` struct's ABI tuple ``(readings, index, signature)``.

    The index and signature are passed as they are (the contract answers false for a bad one),
    so tests can ask about malformed witnesses.

    Raises:
        InvalidInputError: a hash is not 32 bytes, or the index is not a uint256.
    """
    return (
        [bytes32(h, "reading hash") for h in witness.hashes],
        check_uint(witness.index, "frame index", UINT256_MAX),
        bytes(witness.signature),
    )


@dataclass(frozen=True)
class AnchoredBatch:
    """An anchored batch's header (``IEmissionsLedger.AnchoredBatch``, the preimage of its stored
    word), rebuilt from its ``BatchAnchored`` event and block, with the event's totals."""

    batch_id: bytes
    root: bytes
    device: str
    first_sequence: int
    count: int
    enterprise: str
    last_sequence: int
    period_start: int
    period_end: int
    anchored_at: int
    anchored_block: int
    totals_hash: bytes
    totals: tuple[BatchTotal, ...] = ()
    excluded: tuple[BatchExcludedTotal, ...] = ()
    estimates: tuple[BatchEstimateTotal, ...] = ()

    def as_tuple(self) -> tuple[Any, ...]:
        """The ``AnchoredBatch`` struct's ABI tuple (what ``verifyReading`` and ``checkBatch`` take)."""
        return (
            bytes32(self.root, "root"),
            checked_address(self.device, "device"),
            self.first_sequence,
            self.count,
            checked_address(self.enterprise, "enterprise"),
            self.last_sequence,
            self.period_start,
            self.period_end,
            self.anchored_at,
            self.anchored_block,
            bytes32(self.totals_hash, "totals hash"),
        )

    def packed_totals(self) -> bytes:
        """The packed totals the header commits to."""
        return pack_totals(self.totals, self.excluded, self.estimates)


#: The header passed for a batch that is not anchored (``verifyReading`` answers false for it).
ZERO_HEADER: tuple[Any, ...] = (bytes(32), "0x" + "00" * 20, 0, 0, "0x" + "00" * 20, 0, 0, 0, 0, 0, bytes(32))


def read_batch(client: ContractClient, batch_id: bytes | str, block: int | None = None) -> AnchoredBatch:
    """An anchored batch's header and totals, rebuilt from its ``BatchAnchored`` event (found in
    the block its stored word names) and that block's timestamp, and checked by the ledger's
    ``checkBatch`` (so a node's forged event is refused by name).

    Args:
        client: any client of the EmissionsLedger.
        batch_id: the batch.
        block: its anchoring block when known (``anchoredBlock``), else read from the ledger.

    Raises:
        ContractRevertError: ``LedgerBatchUnknown`` (not anchored), ``LedgerBatchHeaderMismatch``
            or ``LedgerTotalsMismatch`` (the event does not match the stored word).
        ChainUnavailableError: the node does not (yet) hold the anchoring block (a node restarted
            from a state snapshot).
    """
    key = bytes32(batch_id, "batch id")
    functions = client.contract.functions
    if block is None:
        block = int(client.chain.call(functions.anchoredBlock(key)))
    if block == 0:
        client.chain.call(functions.checkBatch(key, ZERO_HEADER, b""))  # raises LedgerBatchUnknown
        raise InvalidInputError(f"batch 0x{key.hex()} is not anchored")
    if block > int(client.chain.w3.eth.block_number):
        raise ChainUnavailableError(f"the node does not hold block {block} of batch 0x{key.hex()} yet")
    logs = client.contract.events.BatchAnchored().get_logs(
        from_block=block, to_block=block, argument_filters={"batchId": key}
    )
    if not logs:
        raise ChainUnavailableError(f"the node holds no BatchAnchored event of batch 0x{key.hex()}")
    event = _event(logs[0])
    anchored_at = int(client.chain.w3.eth.get_block(block)["timestamp"])
    record = AnchoredBatch(
        batch_id=key,
        root=event.root,
        device=event.device,
        first_sequence=event.first_sequence,
        count=event.count,
        enterprise=event.enterprise,
        last_sequence=event.last_sequence,
        period_start=event.period_start,
        period_end=event.period_end,
        anchored_at=anchored_at,
        anchored_block=block,
        totals_hash=hash_totals(event.totals, event.excluded, event.estimates),
        totals=event.totals,
        excluded=event.excluded,
        estimates=event.estimates,
    )
    client.chain.call(functions.checkBatch(key, record.as_tuple(), record.packed_totals()))
    return record


def header_tuple(client: ContractClient, batch_id: bytes | str) -> tuple[Any, ...]:
    """The header tuple to pass with ``batch_id`` to ``verifyReading``/``verifyCitedReading``:
    the anchored batch's (:func:`read_batch`), or :data:`ZERO_HEADER` for a batch that is not
    anchored (the contract then answers false)."""
    key = bytes32(batch_id, "batch id")
    block = int(client.chain.call(client.contract.functions.anchoredBlock(key)))
    return ZERO_HEADER if block == 0 else read_batch(client, key, block).as_tuple()


@dataclass(frozen=True)
class AnchorResult:
    """What :meth:`LedgerClient.anchor` did.

    Attributes:
        record: the batch as stored on-chain.
        created: True if this call anchored it; False if it was already anchored (a re-send).
        tx_hash: the anchoring transaction of this call (None on a re-send).
        gas_used: gas of this call's transaction (None on a re-send).
    """

    record: AnchoredBatch
    created: bool
    tx_hash: str | None
    gas_used: int | None


@dataclass(frozen=True)
class BatchAnchoredEvent:
    """A ``BatchAnchored`` event (what the indexer reads)."""

    batch_id: bytes
    device: str
    enterprise: str
    first_sequence: int
    last_sequence: int
    previous_sequence: int
    period_start: int
    period_end: int
    count: int
    root: bytes
    totals: tuple[BatchTotal, ...]
    block: int
    log_index: int
    tx_hash: str
    excluded: tuple[BatchExcludedTotal, ...] = ()
    estimates: tuple[BatchEstimateTotal, ...] = ()

    @property
    def gap(self) -> int:
        """Sequence numbers skipped between the device's previous batch and this one."""
        return self.first_sequence - self.previous_sequence - 1


class AnchoringClient(ContractClient):
    """The anchoring functions of one deployed EmissionsLedger (:class:`chain.ledger.LedgerClient`
    has them with the attestation functions)."""

    CONTRACT = "EmissionsLedger"

    def anchor(self, oracle: LocalAccount, batch: BatchAnchor | Any) -> AnchorResult:
        """Anchor a batch with the gateway's service key; a re-send of an anchored batch is a no-op.

        Args:
            oracle: an account with ORACLE_ROLE.
            batch: a :class:`BatchAnchor`, or an object :func:`batch_anchor_of` accepts.

        Returns:
            The stored record, and whether this call anchored it.

        Raises:
            ContractRevertError: refused (``UnauthorizedRole``, ``LedgerDeviceNotBound``,
                ``LedgerOracleNotForDevice``, ``LedgerSequenceReplayed``,
                ``LedgerSequenceSpanTooLarge`` ...).
            InvalidInputError: a field does not fit its Solidity type.
        """
        anchor = batch if isinstance(batch, BatchAnchor) else batch_anchor_of(batch)
        args = anchor.as_tuple()
        batch_id = args[0]
        if self.is_anchored(batch_id):
            logger.info("batch already anchored", extra={"batch_id": "0x" + batch_id.hex()})
            return AnchorResult(self.batch(batch_id), False, None, None)
        try:
            receipt = self.chain.transact(self.contract.functions.anchorBatch(args), oracle)
        except ContractRevertError as error:
            # A copy sent before a crash may be mined between the check and this send.
            if error.error == "LedgerBatchAlreadyAnchored":
                return AnchorResult(self.batch(batch_id), False, None, None)
            raise
        tx_hash = HexBytes(receipt["transactionHash"]).to_0x_hex()
        logger.info(
            "batch anchored",
            extra={
                "batch_id": "0x" + batch_id.hex(),
                "device": anchor.device,
                "tx_hash": tx_hash,
                "block": receipt["blockNumber"],
            },
        )
        return AnchorResult(self.batch(batch_id), True, tx_hash, int(receipt["gasUsed"]))

    def anchor_gas(self, oracle: str, batch: BatchAnchor | Any) -> int:
        """Estimated gas of anchoring ``batch`` from ``oracle`` now (for benchmarks).

        Raises:
            ContractRevertError: the anchoring would be refused.
        """
        anchor = batch if isinstance(batch, BatchAnchor) else batch_anchor_of(batch)
        fn = self.contract.functions.anchorBatch(anchor.as_tuple())
        return int(self.chain.build(fn, oracle)["gas"])

    def is_anchored(self, batch_id: bytes | str) -> bool:
        return bool(self.chain.call(self.contract.functions.isAnchored(bytes32(batch_id, "batch id"))))

    def batch(self, batch_id: bytes | str) -> AnchoredBatch:
        """An anchored batch's header and totals, checked against its stored word (:func:`read_batch`).

        Raises:
            ContractRevertError: ``LedgerBatchUnknown``; ``LedgerBatchHeaderMismatch`` or
                ``LedgerTotalsMismatch`` when the node's event does not match the stored word.
            ChainUnavailableError: the node does not hold the anchoring block yet.
        """
        return read_batch(self, batch_id)

    def anchored_block(self, batch_id: bytes | str) -> int:
        """The block the batch was anchored in (from its stored word), 0 if it is not anchored."""
        return int(self.chain.call(self.contract.functions.anchoredBlock(bytes32(batch_id, "batch id"))))

    def check_batch(self, batch_id: bytes | str, header: AnchoredBatch, packed_totals: bytes) -> None:
        """Have the ledger check a header and packed totals against the batch's stored word.

        Raises:
            ContractRevertError: ``LedgerBatchUnknown``, ``LedgerBatchHeaderMismatch``,
                ``LedgerTotalsMismatch``.
        """
        key = bytes32(batch_id, "batch id")
        self.chain.call(self.contract.functions.checkBatch(key, header.as_tuple(), bytes(packed_totals)))

    def last_anchored_sequence(self, device: str) -> int:
        return int(
            self.chain.call(self.contract.functions.lastAnchoredSequence(checked_address(device, "device")))
        )

    def reading_digest(self, reading: ReadingLike) -> bytes:
        """The contract's EIP-712 digest of a reading (``Reading`` as primary type: the leaf value)."""
        return bytes(self.chain.call(self.contract.functions.readingDigest(reading_tuple(reading))))

    def reading_hash(self, reading: ReadingLike) -> bytes:
        """The contract's EIP-712 ``hashStruct`` of a reading (a frame's ``readings`` member)."""
        return bytes(self.chain.call(self.contract.functions.hashReading(reading_tuple(reading))))

    def frame_digest(self, hashes: Iterable[bytes | str]) -> bytes:
        """The contract's EIP-712 digest of a ``Frame`` of readings with these struct hashes, in
        frame order: what the device signs.

        Raises:
            InvalidInputError: a hash is not 32 bytes.
        """
        args = [bytes32(h, "reading hash") for h in hashes]
        return bytes(self.chain.call(self.contract.functions.frameDigest(args)))

    def pack_totals(
        self,
        totals: Sequence[BatchTotal],
        excluded: Sequence[BatchExcludedTotal] = (),
        estimates: Sequence[BatchEstimateTotal] = (),
    ) -> bytes:
        """The contract's reference packing of the totals lists (see :func:`pack_totals`)."""
        fn = self.contract.functions.packTotals(
            [t.as_tuple() for t in totals],
            [t.as_tuple() for t in excluded],
            [t.as_tuple() for t in estimates],
        )
        return bytes(self.chain.call(fn))

    def verify_reading(
        self,
        batch_id: bytes | str,
        reading: ReadingLike,
        witness: FrameWitnessLike,
        proof: Iterable[bytes | str],
        header: AnchoredBatch | None = None,
    ) -> bool:
        """Ask the contract whether the reading, signed by its device in a frame, is in the
        anchored batch.

        Args:
            batch_id: the batch.
            reading: the reading's fields (e.g. ``SignedReading.reading``).
            witness: its frame signature (e.g. ``SignedReading.witness``): the frame's reading
                hashes, the reading's index among them, the device's signature of the frame.
            proof: the reading's Merkle proof (bytes or 0x-hex nodes).
            header: the batch's header (e.g. from the read model); read from its event when None.

        Raises:
            InvalidInputError: a field does not fit its Solidity type.
            ContractRevertError: ``LedgerBatchHeaderMismatch``: the header is not the batch's.
        """
        fn = self.contract.functions.verifyReading(
            bytes32(batch_id, "batch id"),
            header_tuple(self, batch_id) if header is None else header.as_tuple(),
            reading_tuple(reading),
            frame_tuple(witness),
            [bytes32(node, "proof node") for node in proof],
        )
        return bool(self.chain.call(fn))

    def max_sequence_span(self) -> int:
        """``MAX_SEQUENCE_SPAN``: most sequences a batch may reach past its device's last anchored one."""
        return int(self.chain.call(self.contract.functions.MAX_SEQUENCE_SPAN()))

    def anchored_events(
        self,
        *,
        device: str | None = None,
        enterprise: str | None = None,
        from_block: int | None = None,
        to_block: int | str = "latest",
    ) -> list[BatchAnchoredEvent]:
        """``BatchAnchored`` events in chain order, optionally of one device and/or enterprise
        (indexed topics: the node filters)."""
        filters = {} if device is None else {"device": checked_address(device, "device")}
        if enterprise is not None:
            filters["enterprise"] = checked_address(enterprise, "enterprise")
        logs = self.contract.events.BatchAnchored().get_logs(
            from_block=self.from_block if from_block is None else from_block,
            to_block=to_block,
            argument_filters=filters,
        )
        return [_event(log) for log in logs]

    def receipt_events(self, receipt: TxReceipt) -> list[BatchAnchoredEvent]:
        """``BatchAnchored`` events of one transaction receipt."""
        return [
            _event(log)
            for log in self.contract.events.BatchAnchored().process_receipt(receipt, errors=DISCARD)
        ]

    def anchoring_logs(self, record: AnchoredBatch) -> list[Any]:
        """The ``BatchAnchored`` logs of an anchored batch, from the block its record names.

        Empty when that block is beyond the node's head: a node restarted from a state snapshot
        can hold the batch's storage but not (yet) the block that wrote it, and asking for a
        block past the head is an RPC error rather than an empty answer.
        """
        return self.anchoring_logs_at(record.batch_id, record.anchored_block)

    def anchoring_logs_at(self, batch_id: bytes | str, block: int) -> list[Any]:
        """The ``BatchAnchored`` logs of ``batch_id`` in ``block`` (:meth:`anchored_block`); empty
        when that block is beyond the node's head (see :meth:`anchoring_logs`)."""
        if block > int(self.chain.w3.eth.block_number):
            return []
        return list(
            self.contract.events.BatchAnchored().get_logs(
                from_block=block, to_block=block, argument_filters={"batchId": bytes32(batch_id, "batch id")}
            )
        )

    def totals(self, batch_id: bytes | str) -> tuple[BatchTotal, ...]:
        """The valid totals of an anchored batch, from its event, checked against the stored word.

        Raises:
            ContractRevertError: ``LedgerBatchUnknown``, ``LedgerTotalsMismatch`` ...
        """
        return self.quality_totals(batch_id)[0]

    def quality_totals(self, batch_id: bytes | str) -> Totals:
        """The valid totals, excluded totals and gap estimates of an anchored batch, from its
        ``BatchAnchored`` event, checked by the ledger against the batch's stored word.

        Raises:
            ContractRevertError: ``LedgerBatchUnknown``, ``LedgerBatchHeaderMismatch``,
                ``LedgerTotalsMismatch``.
        """
        record = self.batch(batch_id)
        return record.totals, record.excluded, record.estimates


# ---------------------------------------------------------------------- reading proof files


class ReadingProofFile(BaseModel):
    """A reading proof file (JSON): a reading with what proves it is in an anchored batch: its
    fields, its frame signature (the frame's reading hashes, its index, the device's signature)
    and its Merkle proof."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    class ReadingFields(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

        device: str
        sequence: int = Field(ge=0)
        time: int = Field(ge=0)
        pollutant: str
        value: int
        decimals: int = Field(ge=0, le=255)
        unit: str
        flag: str

    class Witness(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

        hashes: list[str]
        index: int = Field(ge=0)
        signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$")

    reading: ReadingFields
    witness: Witness
    proof: list[str]

    @classmethod
    def load(cls, path: Path) -> ReadingProofFile:
        """Read a reading proof file.

        Raises:
            ComplianceInputError: unreadable or not valid.
        """
        return load_model(path, cls, ComplianceInputError, "reading proof")

    def witness_fields(self) -> tuple[tuple[bytes, ...], int, bytes]:
        """The frame witness: the frame's reading hashes, the reading's index, the device's signature.

        Raises:
            ComplianceInputError: a hash is not 32 bytes of 0x-hex.
        """
        w = self.witness
        hashes = tuple(hex32(h.strip(), "frame hash", ComplianceInputError) for h in w.hashes)
        return hashes, w.index, bytes.fromhex(w.signature[2:])

    def proof_nodes(self) -> list[bytes]:
        """The Merkle proof of the reading in its batch.

        Raises:
            ComplianceInputError: a node is not 32 bytes of 0x-hex.
        """
        return [hex32(p.strip(), "proof node", ComplianceInputError) for p in self.proof]


@dataclass(frozen=True)
class AnchorReceipt:
    """Where an anchoring transaction ended: its hash, block, and whether it succeeded."""

    tx_hash: bytes
    block: int
    ok: bool


class LedgerAnchorPort:
    """The oracle gateway's way to the EmissionsLedger (:class:`oracle.anchor.AnchorPort`).

    Sends ``anchorBatch`` transactions signed with the gateway's service key without waiting,
    reads receipts, and finds a batch's anchoring on-chain. Every call turns a node that does
    not answer into :class:`ChainUnavailableError`, so the anchoring loop can wait and retry.

    Args:
        ledger: the EmissionsLedger client.
        oracle: the gateway's service account (ORACLE_ROLE).
    """

    def __init__(self, ledger: AnchoringClient, oracle: LocalAccount) -> None:
        self.ledger = ledger
        self.oracle = oracle

    def _guard(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except OSError as error:  # requests' connection errors and timeouts are OSErrors
            self.ledger.chain.reset_nonces()
            raise ChainUnavailableError(f"the chain node does not answer: {type(error).__name__}") from None

    def submit(self, batch: Any) -> bytes:
        """Send the batch's anchoring transaction; returns its hash without waiting.

        Raises:
            ContractRevertError: the ledger would refuse it (gas estimation reverted).
            ChainUnavailableError: the node does not answer.
        """
        anchor = batch if isinstance(batch, BatchAnchor) else batch_anchor_of(batch)
        chain = self.ledger.chain

        fn = self.ledger.contract.functions.anchorBatch(anchor.as_tuple())

        def send() -> str:
            tx = chain.build(fn, self.oracle.address)
            return chain.send_raw(chain.sign(tx, self.oracle))

        tx_hash: str = self._guard(send)
        logger.info("anchoring sent", extra={"batch_id": "0x" + anchor.batch_id.hex(), "tx_hash": tx_hash})
        return bytes(HexBytes(tx_hash))

    def receipt(self, tx_hash: bytes) -> AnchorReceipt | None:
        """The transaction's receipt, ``None`` while it is not mined (or unknown to the node).

        Raises:
            ChainUnavailableError: the node does not answer.
        """

        def get() -> AnchorReceipt | None:
            try:
                r = self.ledger.chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None
            return AnchorReceipt(bytes(tx_hash), int(r["blockNumber"]), int(r["status"]) == 1)

        result: AnchorReceipt | None = self._guard(get)
        return result

    def wait(self, tx_hash: bytes, timeout: float) -> AnchorReceipt | None:
        """Wait up to ``timeout`` seconds for the receipt; ``None`` if it did not come.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = self.receipt(tx_hash)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def find(self, batch_id: bytes) -> AnchorReceipt | None:
        """The successful anchoring of ``batch_id`` on-chain, ``None`` if it is not anchored.

        Raises:
            ChainUnavailableError: the node does not answer.
        """

        def get() -> AnchorReceipt | None:
            block = self.ledger.anchored_block(batch_id)
            if block == 0:
                return None
            logs = self.ledger.anchoring_logs_at(batch_id, block)
            tx = bytes(HexBytes(logs[0]["transactionHash"])) if logs else bytes(32)
            return AnchorReceipt(tx, block, True)

        result: AnchorReceipt | None = self._guard(get)
        return result

    def head(self) -> int:
        """The node's latest block number.

        Raises:
            ChainUnavailableError: the node does not answer.
        """
        block: int = self._guard(lambda: int(self.ledger.chain.w3.eth.block_number))
        return block


def _event(log: Any) -> BatchAnchoredEvent:
    a = log["args"]
    totals, excluded, estimates = unpack_totals(bytes(a["totals"]))
    return BatchAnchoredEvent(
        batch_id=bytes(a["batchId"]),
        device=to_checksum_address(a["device"]),
        enterprise=to_checksum_address(a["enterprise"]),
        first_sequence=int(a["firstSequence"]),
        last_sequence=int(a["lastSequence"]),
        previous_sequence=int(a["previousSequence"]),
        period_start=int(a["periodStart"]),
        period_end=int(a["periodEnd"]),
        count=int(a["count"]),
        root=bytes(a["root"]),
        totals=totals,
        block=int(log["blockNumber"]),
        log_index=int(log["logIndex"]),
        tx_hash=HexBytes(log["transactionHash"]).to_0x_hex(),
        excluded=excluded,
        estimates=estimates,
    )


__all__ = [
    "ZERO_HEADER",
    "AnchorReceipt",
    "AnchorResult",
    "AnchoredBatch",
    "AnchoringClient",
    "BatchAnchor",
    "BatchAnchoredEvent",
    "BatchEstimateTotal",
    "BatchExcludedTotal",
    "BatchId",
    "BatchTotal",
    "FrameWitnessLike",
    "LedgerAnchorPort",
    "ReadingLike",
    "ReadingProofFile",
    "Totals",
    "batch_anchor_of",
    "batch_id_of",
    "bytes8_of",
    "frame_tuple",
    "hash_totals",
    "header_tuple",
    "pack_totals",
    "read_batch",
    "reading_tuple",
    "text_of",
    "unpack_totals",
]
