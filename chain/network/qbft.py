"""QBFT header extraData: the RLP codec Besu's ``QbftExtraDataCodec`` uses, for genesis files.

Layout (Besu ``consensus/qbft/.../QbftExtraDataCodec.java``, ``encode``)::

    RLP([vanity (32 bytes), [validator (20 bytes), ...], vote, round, [seal, ...]])

- ``vote`` is an empty list when there is none (genesis), else ``[recipient, 0xff | empty]``
  (``0xff`` adds, the empty string drops);
- ``round`` is written with ``writeIntScalar``: a minimal big-endian scalar, so round 0 is the
  empty string ``0x80``;
- ``seals`` are the committers' 65-byte signatures; none in genesis.

IBFT 2.0 (``IBFT_EXTRA_DATA``) differs: its missing vote is the empty *string* ``0x80`` and its
round is a fixed 4-byte integer (``0x8400000000``). It is not implemented here.

Test vector: ``besu/src/test/java/org/hyperledger/besu/cli/subcommands/rlp/RLPSubCommandTest.java``
(``canEncodeToQbftExtraData``) encodes be068f72…35a4, 5ff6f4b6…c193 (in that order) to
``0xf84fa0 00…00 ea94be06…94 5ff6…c193 c0 80 c0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth_utils import is_hex_address, to_checksum_address

from chain.network.errors import ExtraDataError

VANITY_LENGTH = 32
ADD_VOTE = b"\xff"
DROP_VOTE = b""
SEAL_LENGTH = 65


@dataclass(frozen=True)
class Vote:
    """A validator vote carried by a block: add (``True``) or drop (``False``) ``recipient``."""

    recipient: str
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    """Decoded QBFT extraData.

    Attributes:
        vanity: 32 bytes, free for the proposer (zero in genesis).
        validators: checksummed addresses, in encoded order.
        vote: the vote cast by the block, if any.
        round: the consensus round the block was produced in.
        seals: committed seals (65-byte signatures).
    """

    validators: tuple[str, ...]
    vanity: bytes = bytes(VANITY_LENGTH)
    vote: Vote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = field(default_factory=tuple)


def _address_bytes(address: str) -> bytes:
    if not isinstance(address, str) or not is_hex_address(address):
        raise ExtraDataError(f"validator {address!r} is not a 20-byte hex address")
    return bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))


def sort_validators(addresses: Sequence[str]) -> list[str]:
    """Validators in ascending byte order (Besu orders the set so; later blocks require it).

    Raises:
        ExtraDataError: an address is malformed or given twice.
    """
    raw = [_address_bytes(a) for a in addresses]
    if len(set(raw)) != len(raw):
        raise ExtraDataError("a validator is listed twice")
    return [to_checksum_address(r) for r in sorted(raw)]


def encode(data: QbftExtraData) -> bytes:
    """RLP-encode ``data`` as Besu's ``QbftExtraDataCodec`` does (validators in the given order).

    Raises:
        ExtraDataError: a malformed address, vanity or seal, or a negative round.
    """
    if len(data.vanity) != VANITY_LENGTH:
        raise ExtraDataError(f"vanity must be {VANITY_LENGTH} bytes, got {len(data.vanity)}")
    if not 0 <= data.round < 2**32:
        raise ExtraDataError(f"round {data.round} is not a 32-bit unsigned integer")
    if any(len(s) != SEAL_LENGTH for s in data.seals):
        raise ExtraDataError(f"seals must be {SEAL_LENGTH}-byte signatures")
    validators = [_address_bytes(v) for v in data.validators]
    vote: list[bytes] = []
    if data.vote is not None:
        vote = [_address_bytes(data.vote.recipient), ADD_VOTE if data.vote.add else DROP_VOTE]
    # writeIntScalar: minimal big-endian bytes; 0 is the empty string.
    round_bytes = data.round.to_bytes(4, "big").lstrip(b"\x00")
    return bytes(rlp.encode([data.vanity, validators, vote, round_bytes, list(data.seals)]))


def genesis_extra_data(validators: Sequence[str]) -> str:
    """The 0x-hex genesis extraData for ``validators`` in the order given (what
    ``besu rlp encode --type=QBFT_EXTRA_DATA`` prints): zero vanity, no vote, round 0, no seals.

    Raises:
        ExtraDataError: no validator, a malformed or repeated address.
    """
    if not validators:
        raise ExtraDataError("a QBFT network needs at least one validator")
    raw = [_address_bytes(v) for v in validators]
    if len(set(raw)) != len(raw):
        raise ExtraDataError("a validator is listed twice")
    return "0x" + encode(QbftExtraData(validators=tuple(validators))).hex()


def decode(extra_data: str | bytes) -> QbftExtraData:
    """Decode QBFT extraData (0x-hex or bytes).

    Raises:
        ExtraDataError: not the QBFT layout (e.g. IBFT 2.0 extraData, or not RLP).
    """
    if isinstance(extra_data, str):
        text = extra_data.removeprefix("0x").removeprefix("0X")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ExtraDataError("extraData is not hex") from None
    else:
        raw = bytes(extra_data)
    try:
        items: Any = rlp.decode(raw)
    except rlp.exceptions.DecodingError as exc:
        raise ExtraDataError(f"extraData is not RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != 5:
        raise ExtraDataError("extraData is not a 5-item RLP list (vanity, validators, vote, round, seals)")
    vanity, validators, vote, round_, seals = items
    if not isinstance(vanity, bytes) or len(vanity) != VANITY_LENGTH:
        raise ExtraDataError("vanity is not 32 bytes")
    if not isinstance(validators, list) or any(not isinstance(v, bytes) or len(v) != 20 for v in validators):
        raise ExtraDataError("validators are not a list of 20-byte addresses")
    if not isinstance(vote, list):
        raise ExtraDataError("vote is not a list (IBFT 2.0 extraData? it encodes no vote as 0x80)")
    decoded_vote: Vote | None = None
    if vote:
        if len(vote) != 2 or not isinstance(vote[0], bytes) or len(vote[0]) != 20:
            raise ExtraDataError("vote is not [recipient, type]")
        if vote[1] not in (ADD_VOTE, DROP_VOTE):
            raise ExtraDataError("vote type is neither add (0xff) nor drop (empty)")
        decoded_vote = Vote(to_checksum_address(vote[0]), vote[1] == ADD_VOTE)
    if not isinstance(round_, bytes) or len(round_) > 4 or round_[:1] == b"\x00":
        raise ExtraDataError("round is not a minimal 32-bit scalar")
    if not isinstance(seals, list) or any(not isinstance(s, bytes) for s in seals):
        raise ExtraDataError("seals are not a list of byte strings")
    return QbftExtraData(
        validators=tuple(to_checksum_address(v) for v in validators),
        vanity=vanity,
        vote=decoded_vote,
        round=int.from_bytes(round_, "big"),
        seals=tuple(seals),
    )
