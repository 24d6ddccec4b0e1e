"""Contract calls by name for wallet users: a catalogue of every state-changing function, JSON
arguments checked and encoded, unsigned transactions built, and signed raw transactions decoded
and matched against the call they were built for before they are relayed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes

from chain.errors import CallInputError, DeploymentError, RawTransactionError
from chain.tx import ChainClient

#: Order of the secp256k1 group: signature values r and s lie in 1..n-1, s in the lower half.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_TYPED_TRANSACTION_TYPES = (1, 2)  # EIP-2930, EIP-1559

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_DECIMAL = re.compile(r"-?[0-9]+")
_ARRAY = re.compile(r"(.*)\[([0-9]*)\]")
_INTEGER = re.compile(r"(u?)int([0-9]+)")
_FIXED_BYTES = re.compile(r"bytes([0-9]+)")


@dataclass(frozen=True)
class ParamSpec:
    """One function parameter: its name (``argN`` when unnamed), its ABI type as the ABI JSON
    spells it (``uint256[]``, ``tuple``, ``tuple[]``) and, for tuples, its components."""

    name: str
    type: str
    components: tuple[ParamSpec, ...] = ()

    @property
    def canonical(self) -> str:
        """The type as it appears in signatures, tuples expanded: ``(string,uint32)[]``."""
        if self.type.startswith("tuple"):
            inner = ",".join(c.canonical for c in self.components)
            return f"({inner}){self.type[len('tuple') :]}"
        return self.type


@dataclass(frozen=True)
class ActionSpec:
    """A state-changing contract function a wallet user may call."""

    contract: str
    function: str
    signature: str
    selector: str
    inputs: tuple[ParamSpec, ...]
    payable: bool
    notice: str


@dataclass(frozen=True)
class EncodedCall:
    """A call checked and ABI-encoded: where it goes, its calldata and its normalized arguments
    (JSON-able: integers as ``int``, bytes as 0x-hex, addresses checksummed, tuples as dicts)."""

    contract: str
    function: str
    signature: str
    to: str
    data: bytes
    value: int
    args: dict[str, Any]


@dataclass(frozen=True)
class RawTransaction:
    """A signed raw transaction, decoded; ``to`` is ``None`` for a contract creation and
    ``chain_id`` is ``None`` for a legacy transaction without replay protection."""

    hash: str
    sender: str
    to: str | None
    data: bytes
    value: int
    chain_id: int | None
    nonce: int
    gas: int
    type: int


# ---------------------------------------------------------------------- ABI JSON -> specs


def _param(entry: Mapping[str, Any], index: int) -> ParamSpec:
    components = tuple(_param(c, i) for i, c in enumerate(entry.get("components") or ()))
    return ParamSpec(str(entry.get("name") or f"arg{index}"), str(entry["type"]), components)


def _action(contract: str, entry: Mapping[str, Any], userdoc: Mapping[str, Any]) -> ActionSpec:
    inputs = tuple(_param(p, i) for i, p in enumerate(entry.get("inputs") or ()))
    signature = f"{entry['name']}({','.join(p.canonical for p in inputs)})"
    method_doc = (userdoc.get("methods") or {}).get(signature) or {}
    return ActionSpec(
        contract=contract,
        function=str(entry["name"]),
        signature=signature,
        selector="0x" + function_signature_to_4byte_selector(signature).hex(),
        inputs=inputs,
        payable=entry.get("stateMutability") == "payable",
        notice=str(method_doc.get("notice", "")) if isinstance(method_doc, Mapping) else "",
    )


# ---------------------------------------------------------------------- JSON -> ABI values


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _a(kind: str) -> str:
    """``kind`` with its indefinite article: ``a uint256``, ``an int32``."""
    return f"an {kind}" if kind[0] in "aeio" else f"a {kind}"


def _element(spec: ParamSpec) -> tuple[ParamSpec, int | None] | None:
    """Element spec and fixed length (``None``: dynamic) of an array type, else ``None``."""
    match = _ARRAY.fullmatch(spec.type)
    if match is None:
        return None
    length = int(match.group(2)) if match.group(2) else None
    return ParamSpec(spec.name, match.group(1), spec.components), length


def _hex_bytes(value: Any, path: str, kind: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or _HEX.fullmatch(value) is None:
        raise CallInputError(f"{path}: {_shown(value)} is not {_a(kind)} (give 0x-hex)")
    return bytes.fromhex(value[2:])


def _to_abi(spec: ParamSpec, value: Any, path: str) -> tuple[Any, Any]:
    """(value for eth_abi, normalized JSON value) of ``value`` as ``spec.type``.

    Raises:
        CallInputError: the value does not fit; the message starts with ``path``.
    """
    array = _element(spec)
    if array is not None:
        element, length = array
        if not isinstance(value, (list, tuple)):
            raise CallInputError(f"{path}: {_shown(value)} is not a list ({spec.canonical})")
        if length is not None and len(value) != length:
            raise CallInputError(f"{path}: expected {length} items ({spec.canonical}), got {len(value)}")
        pairs = [_to_abi(element, item, f"{path}[{i}]") for i, item in enumerate(value)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    kind = spec.type
    if kind == "tuple":
        items = _by_name(spec.components, value, path)
        pairs = [_to_abi(c, v, f"{path}.{c.name}") for c, v in zip(spec.components, items, strict=True)]
        return tuple(p[0] for p in pairs), {c.name: p[1] for c, p in zip(spec.components, pairs, strict=True)}
    if kind == "address":
        if not isinstance(value, str) or _ADDRESS.fullmatch(value) is None:
            raise CallInputError(f"{path}: {_shown(value)} is not an address (0x and 40 hex digits)")
        checksummed = to_checksum_address(value)
        if value[2:] != value[2:].lower() and value != checksummed:
            raise CallInputError(
                f"{path}: {value} has a bad checksum (EIP-55); give it in lowercase or as {checksummed}"
            )
        return checksummed, checksummed
    if kind == "bool":
        if not isinstance(value, bool):
            raise CallInputError(f"{path}: {_shown(value)} is not a bool (true or false)")
        return value, value
    if kind == "string":
        if not isinstance(value, str):
            raise CallInputError(f"{path}: {_shown(value)} is not a string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CallInputError(f"{path}: string is not valid Unicode text") from None
        return value, value
    if kind == "bytes":
        data = _hex_bytes(value, path, "bytes")
        return data, "0x" + data.hex()
    fixed = _FIXED_BYTES.fullmatch(kind)
    if fixed is not None:
        data = _hex_bytes(value, path, kind)
        if len(data) != int(fixed.group(1)):
            raise CallInputError(
                f"{path}: {_shown(value)} is not {_a(kind)} ({len(data)} bytes, not {fixed.group(1)})"
            )
        return data, "0x" + data.hex()
    integer = _INTEGER.fullmatch(kind)
    if integer is not None:
        bits = int(integer.group(2))
        low, high = (0, 2**bits - 1) if integer.group(1) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _DECIMAL.fullmatch(value) is not None:
            number = int(value)
        else:
            raise CallInputError(
                f"{path}: {_shown(value)} is not {_a(kind)} (give an integer or a decimal string)"
            )
        if not low <= number <= high:
            raise CallInputError(f"{path}: {_shown(value)} is not {_a(kind)} (out of range {low}..{high})")
        return number, number
    raise CallInputError(f"{path}: ABI type {spec.canonical} is not supported")


def _by_name(params: Sequence[ParamSpec], value: Any, path: str) -> list[Any]:
    """Values of ``params`` in order, from a dict by name (all of them, no others) or a list."""
    names = [p.name for p in params]
    if isinstance(value, Mapping):
        unknown = [str(k) for k in value if k not in names]
        if unknown:
            raise CallInputError(
                f"{path}: unknown {', '.join(unknown)} (expected {', '.join(names) or 'none'})"
            )
        missing = [n for n in names if n not in value]
        if missing:
            raise CallInputError(f"{path}: missing {', '.join(missing)}")
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(params):
            raise CallInputError(
                f"{path}: expected {len(params)} values ({', '.join(names)}), got {len(value)}"
            )
        return list(value)
    raise CallInputError(f"{path}: {_shown(value)} is neither an object by name nor a list")


def _normalized(spec: ParamSpec, value: Any) -> Any:
    """JSON-able form of a value decoded by eth_abi."""
    array = _element(spec)
    if array is not None:
        return [_normalized(array[0], item) for item in value]
    if spec.type == "tuple":
        return {c.name: _normalized(c, v) for c, v in zip(spec.components, value, strict=True)}
    if spec.type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


# ---------------------------------------------------------------------- the catalogue


class CallCatalog:
    """Every state-changing function of the deployed contracts, callable by name with JSON
    arguments: encode, build the unsigned transaction a wallet signs, and decode calldata back.

    Args:
        chain: the chain (its artifacts give each contract's ABI and NatSpec).
        contracts: contract address by manifest name.

    Raises:
        DeploymentError: a contract has no artifact.
    """

    def __init__(self, chain: ChainClient, contracts: Mapping[str, str]) -> None:
        self._chain = chain
        self._addresses: dict[str, str] = {}
        self._actions: dict[str, list[ActionSpec]] = {}
        self._views: dict[str, set[str]] = {}
        self._by_selector: dict[tuple[str, bytes], ActionSpec] = {}
        for name, address in contracts.items():
            artifact = chain.artifacts.get(name)
            if artifact is None:
                raise DeploymentError(f"no compiled artifact for deployed contract {name}")
            checksummed = to_checksum_address(address)
            self._addresses[name] = checksummed
            specs = [
                _action(name, entry, artifact.userdoc)
                for entry in artifact.abi
                if entry.get("type") == "function"
                and entry.get("stateMutability") in ("nonpayable", "payable")
            ]
            self._actions[name] = sorted(specs, key=lambda s: (s.function, s.signature))
            views = [
                _action(name, entry, {})
                for entry in artifact.abi
                if entry.get("type") == "function" and entry.get("stateMutability") in ("view", "pure")
            ]
            self._views[name] = {v.function for v in views} | {v.signature for v in views}
            for spec in specs:
                self._by_selector[(checksummed.lower(), bytes.fromhex(spec.selector[2:]))] = spec

    def actions(self) -> list[ActionSpec]:
        """Every action, sorted by contract then function (overloads by signature)."""
        return [spec for name in sorted(self._actions) for spec in self._actions[name]]

    def action(self, contract: str, function: str) -> ActionSpec:
        """The action ``contract.function``; ``function`` is a name or a full signature.

        Raises:
            CallInputError: unknown contract or function, or an overloaded name.
        """
        specs = self._actions.get(contract)
        if specs is None:
            raise CallInputError(f"unknown contract {contract!r} (known: {', '.join(sorted(self._actions))})")
        wanted = function.replace(" ", "")
        key = "signature" if "(" in wanted else "function"
        found = [s for s in specs if getattr(s, key) == wanted]
        if not found:
            if wanted in self._views[contract]:
                raise CallInputError(f"{contract}.{function} is a view, not a state-changing action")
            raise CallInputError(f"{contract} has no function {function!r}")
        if len(found) > 1:
            signatures = ", ".join(s.signature for s in found)
            raise CallInputError(f"{contract}.{function} is overloaded; name one of: {signatures}")
        return found[0]

    def encode(
        self,
        contract: str,
        function: str,
        args: Mapping[str, Any] | Sequence[Any],
        *,
        value: int = 0,
    ) -> EncodedCall:
        """Check ``args`` (JSON: a dict by parameter name or a list in order) against the ABI
        and encode the call.

        Raises:
            CallInputError: unknown action, or an argument that does not fit its type (the
                message names it, e.g. ``AllowanceToken.allocate: args.amounts[3]: ...``).
        """
        spec = self.action(contract, function)
        where = f"{contract}.{spec.function}"
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**256:
            raise CallInputError(f"{where}: value {_shown(value)} is not a uint256")
        if value and not spec.payable:
            raise CallInputError(f"{where}: the function is not payable, value must be 0")
        if isinstance(args, (str, bytes)):
            raise CallInputError(f"{where}: args: {_shown(args)} is neither an object by name nor a list")
        try:
            items = _by_name(spec.inputs, args, "args")
            pairs = [_to_abi(p, v, f"args.{p.name}") for p, v in zip(spec.inputs, items, strict=True)]
        except CallInputError as exc:
            raise CallInputError(f"{where}: {exc}") from None
        body = abi_encode([p.canonical for p in spec.inputs], [p[0] for p in pairs])
        return EncodedCall(
            contract=contract,
            function=spec.function,
            signature=spec.signature,
            to=self._addresses[contract],
            data=bytes.fromhex(spec.selector[2:]) + body,
            value=value,
            args={p.name: pair[1] for p, pair in zip(spec.inputs, pairs, strict=True)},
        )

    def build(self, call: EncodedCall, sender: str) -> dict[str, Any]:
        """The unsigned transaction (JSON-able) a wallet signs for ``call`` from ``sender``: gas
        estimated, next nonce, the chain's fee fields.

        Raises:
            CallInputError: ``sender`` is not an address.
            ContractRevertError: the call would revert (decoded custom error).
        """
        try:
            sender, _ = _to_abi(ParamSpec("sender", "address"), sender, "sender")
        except CallInputError as exc:
            raise CallInputError(f"{call.contract}.{call.function}: {exc}") from None
        gas = self._chain.estimate_gas(sender, call.to, call.data, value=call.value)
        fees = {key: int(fee) for key, fee in self._chain.fee_fields().items()}  # type: ignore[call-overload]
        return {
            "from": sender,
            "to": call.to,
            "data": "0x" + call.data.hex(),
            "value": call.value,
            "gas": gas,
            "nonce": self._chain.next_nonce(sender),
            "chainId": self._chain.chain_id,
            **fees,
        }

    def describe(self, to: str, data: bytes) -> tuple[ActionSpec, dict[str, Any]]:
        """The action and normalized arguments that calldata ``data`` sent to ``to`` encodes.

        Raises:
            CallInputError: not a catalogued action, or the arguments do not decode canonically.
        """
        spec = self._by_selector.get((str(to).lower(), bytes(data[:4])))
        if spec is None:
            raise CallInputError(f"0x{bytes(data[:4]).hex()} at {to} is not a known action")
        types = [p.canonical for p in spec.inputs]
        try:
            values = abi_decode(types, bytes(data[4:]))
        except Exception as exc:  # eth_abi raises several unrelated types on malformed data
            raise CallInputError(
                f"{spec.contract}.{spec.signature}: arguments do not decode: {exc}"
            ) from None
        if abi_encode(types, values) != bytes(data[4:]):
            raise CallInputError(f"{spec.contract}.{spec.signature}: arguments are not canonically encoded")
        return spec, {p.name: _normalized(p, v) for p, v in zip(spec.inputs, values, strict=True)}


# ---------------------------------------------------------------------- signed raw transactions


def _raw_bytes(raw: bytes | str) -> bytes:
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw)
    if isinstance(raw, str) and _HEX.fullmatch(raw.strip()) is not None:
        return bytes.fromhex(raw.strip()[2:])
    raise RawTransactionError("raw transaction is not 0x-hex")


def _rlp_int(item: Any, field: str) -> int:
    if not isinstance(item, bytes) or item[:1] == b"\x00" or len(item) > 32:
        raise RawTransactionError(f"raw transaction field {field} is not a canonical integer")
    return int.from_bytes(item, "big")


def decode_raw_transaction(raw: bytes | str) -> RawTransaction:
    """Decode a signed transaction (legacy with or without EIP-155, EIP-2930, EIP-1559) and
    recover its sender from the signature.

    Raises:
        RawTransactionError: not a signed transaction of these kinds.
    """
    data = _raw_bytes(raw)
    if not data:
        raise RawTransactionError("raw transaction is empty")
    try:
        if data[0] <= 0x7F:
            if data[0] not in _TYPED_TRANSACTION_TYPES:
                raise RawTransactionError(f"transaction type {data[0]} is not supported")
            fields = TypedTransaction.from_bytes(HexBytes(data)).as_dict()
            kind, chain_id = data[0], int(fields["chainId"])
            nonce, gas, value = int(fields["nonce"]), int(fields["gas"]), int(fields["value"])
            to, payload = bytes(fields["to"]), bytes(fields["data"])
            r, s = int(fields["r"]), int(fields["s"])
        else:
            items = rlp.decode(data)
            if not isinstance(items, list) or len(items) != 9:
                raise RawTransactionError("raw transaction is not a signed legacy transaction")
            nonce, _, gas = (_rlp_int(items[i], f) for i, f in enumerate(("nonce", "gasPrice", "gas")))
            to, value, payload = items[3], _rlp_int(items[4], "value"), items[5]
            v, r, s = (_rlp_int(items[i], f) for i, f in ((6, "v"), (7, "r"), (8, "s")))
            if not isinstance(to, bytes) or not isinstance(payload, bytes):
                raise RawTransactionError("raw transaction fields to and data must be byte strings")
            if v in (27, 28):
                chain_id = None
            elif v >= 35:
                chain_id = (v - 35) // 2
            else:
                raise RawTransactionError(f"raw transaction has an invalid signature v={v}")
            kind = 0
        if len(to) not in (0, 20):
            raise RawTransactionError(f"raw transaction target is {len(to)} bytes, not an address")
        if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
            raise RawTransactionError("raw transaction is unsigned or its signature is invalid")
        sender = Account.recover_transaction(data)
    except RawTransactionError:
        raise
    except Exception as exc:  # rlp, eth_account and eth_keys raise many unrelated types
        raise RawTransactionError(f"raw transaction does not decode: {exc}") from None
    return RawTransaction(
        hash="0x" + keccak(data).hex(),
        sender=to_checksum_address(sender),
        to=to_checksum_address(to) if to else None,
        data=payload,
        value=value,
        chain_id=chain_id,
        nonce=nonce,
        gas=gas,
        type=kind,
    )


def check_same_call(raw: RawTransaction, expected: EncodedCall, *, sender: str, chain_id: int) -> None:
    """Check that a signed transaction is exactly ``expected``, signed by ``sender`` for chain
    ``chain_id``, before it is relayed. Nonce, gas and fees are the signer's business.

    Raises:
        RawTransactionError: the first field that differs (sender, chain id, to, data, value);
            a contract creation is refused.
    """
    if raw.sender.lower() != sender.lower():
        raise RawTransactionError(f"sender: signed by {raw.sender}, expected {to_checksum_address(sender)}")
    if raw.chain_id != chain_id:
        shown = "none (not replay-protected)" if raw.chain_id is None else str(raw.chain_id)
        raise RawTransactionError(f"chain id: {shown}, expected {chain_id}")
    if raw.to is None:
        raise RawTransactionError(f"to: the transaction creates a contract, expected a call to {expected.to}")
    if raw.to.lower() != expected.to.lower():
        raise RawTransactionError(f"to: {raw.to}, expected {expected.contract} at {expected.to}")
    if raw.data != expected.data:
        raise RawTransactionError(
            f"data: does not encode {expected.contract}.{expected.signature} with the arguments built"
            + _what_data_encodes(raw.data, expected)
        )
    if raw.value != expected.value:
        raise RawTransactionError(f"value: {raw.value}, expected {expected.value}")


def _what_data_encodes(data: bytes, expected: EncodedCall) -> str:
    """What ``data`` encodes instead, when that can be told without the catalogue: the other
    selector, or the arguments of the expected function that differ."""
    selector = bytes(data[:4])
    if selector != function_signature_to_4byte_selector(expected.signature):
        return f" (it calls selector 0x{selector.hex()})"
    types = _split_types(expected.signature[expected.signature.index("(") :])
    try:
        values = abi_decode(types, bytes(data[4:]))
    except Exception:  # eth_abi raises several unrelated types on malformed data
        return " (its arguments do not decode)"
    differing = [
        f"{name}={_shown(got)} instead of {_shown(want)}"
        for (name, want), got in zip(expected.args.items(), map(_plain, values), strict=True)
        if got != _plain(want)
    ]
    return (
        f" (it has {', '.join(differing)})" if differing else " (its arguments are not canonically encoded)"
    )


def _split_types(tuple_type: str) -> list[str]:
    """Top-level types of ``(a,(b,c)[],d)``."""
    inner, depth, start = tuple_type[1:-1], 0, 0
    parts: list[str] = []
    for i, char in enumerate(inner):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    if inner:
        parts.append(inner[start:])
    return parts


def _plain(value: Any) -> Any:
    """A decoded or normalized value as plain JSON lists and scalars, for comparing the two."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and _HEX.fullmatch(value):
        return value.lower()
    if isinstance(value, Mapping):
        return [_plain(v) for v in value.values()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
