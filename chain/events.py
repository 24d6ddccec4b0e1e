"""Every event of a deployed suite, fetched in block ranges and decoded to JSON-able values.

The indexer's source: one ``eth_getLogs`` per range over all of the suite's addresses, one
JSON-RPC batch for the blocks' timestamps, and a decoder precomputed per (address, topic) so a
log costs one ``eth_abi.decode`` (web3's ``process_log`` costs several times as much).

Values are normalised for a read model: addresses checksummed, ``bytesN``/``bytes`` as 0x-hex,
structs as dicts by component name, indexed dynamic values (their topic is a hash) as 0x-hex.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address

from chain.errors import ChainError
from chain.tx import ChainClient

logger = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _canonical(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@functools.lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    """EIP-55 form of a 0x-hex address (memoised: a chain's events name the same accounts
    over and over, and eth_utils' checksum costs ~50 us)."""
    return to_checksum_address(address)


def _word_decoder(kind: str) -> Callable[[bytes], Any] | None:
    """A decoder of one 32-byte ABI word of static type ``kind``, or None when not static."""
    if "[" in kind or "(" in kind:
        return None
    if kind == "address":
        return lambda word: checksum("0x" + word[12:].hex())
    if kind == "bool":
        return lambda word: word[31] == 1
    if kind.startswith("uint"):
        return lambda word: int.from_bytes(word, "big")
    if kind.startswith("int"):
        return lambda word: int.from_bytes(word, "big", signed=True)
    if kind.startswith("bytes") and kind != "bytes":
        size = int(kind[5:])
        return lambda word: "0x" + word[:size].hex()
    return None


def _data_decoder(types: Sequence[str], norms: Sequence[Any]) -> Callable[[bytes], list[Any]]:
    """Decoder of an event's non-indexed data: word slicing when every type is a static word
    (most events: transfers, anchors' scalars), ``eth_abi`` otherwise."""
    words = [_word_decoder(t) for t in types]
    if all(w is not None for w in words):
        fast = [w for w in words if w is not None]

        def sliced(data: bytes) -> list[Any]:
            if len(data) < 32 * len(fast):
                raise ChainError(f"event data of {len(data)} bytes is short for {len(fast)} words")
            return [fn(data[32 * i : 32 * i + 32]) for i, fn in enumerate(fast)]

        return sliced

    def general(data: bytes) -> list[Any]:
        return [norm(v) for norm, v in zip(norms, abi_decode(list(types), data), strict=True)]

    return general


def _normalizer(param: Mapping[str, Any]) -> Any:
    """A function turning a decoded ABI value of ``param``'s type into a JSON-able value."""
    kind = str(param["type"])
    if kind.endswith("]"):
        inner = dict(param, type=kind[: kind.rindex("[")])
        item = _normalizer(inner)
        return lambda values: [item(v) for v in values]
    if kind == "tuple":
        parts = [(c["name"] or f"arg{i}", _normalizer(c)) for i, c in enumerate(param["components"])]
        return lambda values: {name: fn(v) for (name, fn), v in zip(parts, values, strict=True)}
    if kind == "address":
        return checksum
    if kind.startswith("bytes"):
        return lambda value: "0x" + bytes(value).hex()
    return lambda value: value


def _is_dynamic(param: Mapping[str, Any]) -> bool:
    kind = str(param["type"])
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("tuple")


@dataclass(frozen=True)
class _EventSpec:
    contract: str
    name: str
    signature: str
    indexed: tuple[tuple[str, bool, Callable[[bytes], Any]], ...]  # (name, hashed, word decoder)
    data_names: tuple[str, ...]
    data: Callable[[bytes], list[Any]] | None
    address_args: tuple[str, ...]


@dataclass(frozen=True)
class DecodedEvent:
    """One contract event as the read model stores it.

    Attributes:
        block_number: block it was mined in.
        log_index: position of the log in the block.
        tx_hash: transaction that emitted it (0x-hex).
        block_time: block timestamp (unix seconds).
        contract: manifest name of the emitting contract (``"AllowanceToken"``).
        address: its address (checksummed).
        name: event name (``"TransferSingle"``).
        args: decoded arguments by name, JSON-able.
        parties: non-zero account addresses among the arguments, in argument order.
    """

    block_number: int
    log_index: int
    tx_hash: str
    block_time: int
    contract: str
    address: str
    name: str
    args: dict[str, Any]
    parties: tuple[str, ...]


@dataclass(frozen=True)
class EventPage:
    """The events of blocks ``from_block``..``to_block`` and the hash of ``to_block``."""

    from_block: int
    to_block: int
    to_block_hash: str
    events: list[DecodedEvent]


class EventSource:
    """Fetches and decodes the events of a suite's contracts.

    Args:
        chain: the chain gateway (its artifacts give the ABIs).
        contracts: manifest name → address of every contract to follow.
        skip_parties: argument names that are not parties to an event (``operator`` of an
            ERC-1155 transfer is whoever moved it, not an owner).
    """

    def __init__(
        self,
        chain: ChainClient,
        contracts: Mapping[str, str],
        *,
        skip_parties: Iterable[str] = ("operator",),
    ) -> None:
        self.chain = chain
        self.addresses = {to_checksum_address(a): n for n, a in contracts.items()}
        skip = set(skip_parties)
        self._specs: dict[tuple[str, str], _EventSpec] = {}
        for address, name in self.addresses.items():
            for entry in chain.artifacts[name].abi:
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                spec = self._spec(name, entry, skip)
                topic = "0x" + event_abi_to_log_topic(entry).hex()  # type: ignore[arg-type]
                self._specs[(address.lower(), topic)] = spec

    @staticmethod
    def _spec(contract: str, entry: Mapping[str, Any], skip: set[str]) -> _EventSpec:
        inputs = list(entry["inputs"])
        named = [(p["name"] or f"arg{i}", p) for i, p in enumerate(inputs)]
        indexed = []
        for n, p in named:
            if p.get("indexed"):
                hashed = _is_dynamic(p)
                word = _word_decoder(_canonical(p))
                indexed.append(
                    (n, hashed, (lambda raw: "0x" + raw.hex()) if hashed or word is None else word)
                )
        data = [(n, p) for n, p in named if not p.get("indexed")]
        signature = f"{entry['name']}({','.join(_canonical(p) for p in inputs)})"
        addresses = tuple(n for n, p in named if p["type"] == "address" and n not in skip)
        decoder = (
            _data_decoder([_canonical(p) for _, p in data], [_normalizer(p) for _, p in data])
            if data
            else None
        )
        names = tuple(n for n, _ in data)
        return _EventSpec(contract, entry["name"], signature, tuple(indexed), names, decoder, addresses)

    def event_names(self) -> list[tuple[str, str]]:
        """(contract, event) pairs this source decodes, sorted."""
        return sorted({(s.contract, s.name) for s in self._specs.values()})

    # ------------------------------------------------------------------ fetching

    def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        return self.chain.rpc(method, params)

    def head(self) -> int:
        """The latest block number."""
        return int(self._rpc("eth_blockNumber", []), 16)

    def block_hash(self, number: int) -> str | None:
        """Hash of block ``number``, or None when the chain has no such block."""
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def _blocks(self, numbers: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Headers of ``numbers`` in one JSON-RPC batch (hash and timestamp)."""
        blocks = self.chain.rpc_batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        out: dict[int, dict[str, Any]] = {}
        for number, block in zip(numbers, blocks, strict=True):
            if block is None:
                raise ChainError(f"block {number} is not on the chain (reset or reorganised?)")
            out[number] = block
        return out

    def fetch(self, from_block: int, to_block: int) -> EventPage:
        """Decoded events of blocks ``from_block``..``to_block`` (inclusive), in chain order.

        Raises:
            ChainUnavailableError: the node does not answer.
            ChainError: the node refused the query or lost a block.
        """
        logs = self._rpc(
            "eth_getLogs",
            [{"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": list(self.addresses)}],
        )
        numbers = sorted({int(log["blockNumber"], 16) for log in logs} | {to_block})
        blocks = self._blocks(numbers)
        times = {n: int(b["timestamp"], 16) for n, b in blocks.items()}
        events = [e for e in (self.decode(log, times) for log in logs) if e is not None]
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return EventPage(from_block, to_block, str(blocks[to_block]["hash"]), events)

    def decode(self, log: Mapping[str, Any], times: Mapping[int, int]) -> DecodedEvent | None:
        """One raw log (JSON-RPC shape) decoded, or None when it is not a known event."""
        topics = log["topics"]
        if not topics:
            return None
        spec = self._specs.get((str(log["address"]).lower(), str(topics[0]).lower()))
        if spec is None:
            return None
        args: dict[str, Any] = {}
        for (name, _hashed, word), topic in zip(spec.indexed, topics[1:], strict=True):
            args[name] = word(bytes.fromhex(topic[2:]))
        if spec.data is not None:
            values = spec.data(bytes.fromhex(str(log["data"])[2:]))
            args.update(zip(spec.data_names, values, strict=True))
        parties = tuple(
            dict.fromkeys(args[n] for n in spec.address_args if args.get(n) not in (None, ZERO_ADDRESS))
        )
        block_number = int(log["blockNumber"], 16)
        return DecodedEvent(
            block_number=block_number,
            log_index=int(log["logIndex"], 16),
            tx_hash=str(log["transactionHash"]),
            block_time=times[block_number],
            contract=spec.contract,
            address=checksum(str(log["address"]).lower()),
            name=spec.name,
            args=args,
            parties=parties,
        )
