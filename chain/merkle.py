"""OpenZeppelin-compatible Merkle trees (reading batches, eligibility lists), equal to the JS library.

Mirrors ``@openzeppelin/merkle-tree`` (``StandardMerkleTree``, dump format ``standard-v1``) so
that roots anchored on-chain verify with OpenZeppelin's ``MerkleProof`` and trees can be
exchanged with JavaScript tools:

* leaf = ``keccak256(keccak256(abi.encode(leafEncoding, value)))`` (double hash, so a leaf can
  never be mistaken for an inner node);
* inner node = ``keccak256`` of its two children in ascending order (commutative, as
  ``MerkleProof.processProof`` expects);
* the tree is an array, root at 0, children of ``i`` at ``2i+1``/``2i+2``; leaves fill the
  end of the array in reverse, sorted by hash first (``sortLeaves``, on by default).

Values may be given as Python values (``int``, ``bytes``) or in the JSON form the JS library
dumps (decimal strings for integers, ``0x`` hex strings for bytes and addresses).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Final

from eth_abi import encode as abi_encode
from eth_abi.exceptions import ABITypeError, EncodingError, ParseError
from eth_abi.grammar import ABIType, BasicType, TupleType
from eth_abi.grammar import parse as parse_abi_type
from eth_hash.auto import keccak

from chain.errors import (
    MerkleEmptyTreeError,
    MerkleIndexError,
    MerkleLeafEncodingError,
    MerkleLeafNotFoundError,
    MerkleProofFormatError,
    MerkleTreeFormatError,
)

__all__ = [
    "FORMAT",
    "MultiProof",
    "StandardMerkleTree",
    "process_multi_proof",
    "process_proof",
    "standard_leaf_hash",
    "standard_node_hash",
]

#: The dump format this module reads and writes (the JS library's).
FORMAT: Final = "standard-v1"

_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")
_HEX_DIGITS: Final = re.compile(r"[0-9a-fA-F]+")
BytesLike = bytes | str


# --- hashing --------------------------------------------------------------------------------


_KECCAK_EMPTY: Final = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def _select_keccak() -> Callable[[bytes], bytes]:
    """eth-hash's keccak256, or safe-pysha3's C keccak (~10x faster) when it is installed."""
    try:
        keccak_256 = importlib.import_module("sha3").keccak_256
    except (ImportError, AttributeError):
        return keccak

    def pysha3_keccak(data: bytes) -> bytes:
        return bytes(keccak_256(data).digest())

    return pysha3_keccak if pysha3_keccak(b"") == _KECCAK_EMPTY else keccak


_keccak: Final = _select_keccak()


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """Inner node hash: keccak256 of the two 32-byte children, smaller first."""
    return _keccak(a + b if a <= b else b + a)


class _LeafCodec:
    """ABI leaf encoding of one ``leafEncoding``: value normalisation and ``abi.encode``."""

    __slots__ = ("_direct", "_types", "types")

    def __init__(self, types: Sequence[str]) -> None:
        if isinstance(types, str) or not all(isinstance(t, str) for t in types):
            raise MerkleLeafEncodingError("leaf encoding must be a list of ABI type strings")
        self.types: tuple[str, ...] = tuple(types)
        try:
            self._types = tuple(parse_abi_type(t) for t in self.types)
            for parsed in self._types:
                parsed.validate()
        except (ParseError, ABITypeError) as error:
            raise MerkleLeafEncodingError(f"bad ABI type in leaf encoding: {error}") from None
        # Leaves made of static basic types, string and bytes (the usual ones) are encoded
        # here, several times faster than eth_abi; the tests check both agree. Arrays, tuples
        # and fixed-point types go through eth_abi.
        direct = [_word_encoder(t) for t in self._types]
        encoders = [e for e in direct if e is not None]
        self._direct = encoders if len(encoders) == len(direct) else None

    def normalize(self, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise MerkleLeafEncodingError("a leaf value must be a list or tuple")
        if len(value) != len(self._types):
            raise MerkleLeafEncodingError(
                f"leaf has {len(value)} fields, encoding {list(self.types)} has {len(self.types)}"
            )
        return [_normalize(t, v) for t, v in zip(self._types, value, strict=True)]

    def encode(self, value: Any) -> bytes:
        fields = self.normalize(value)
        try:
            if self._direct is None:
                return abi_encode(self.types, fields)
            heads, tails = [], []
            offset = 32 * len(fields)
            for encoder, field in zip(self._direct, fields, strict=True):
                if encoder is _DYNAMIC:
                    data = field.encode() if isinstance(field, str) else field
                    tail = len(data).to_bytes(32, "big") + data + bytes(-len(data) % 32)
                    heads.append(offset.to_bytes(32, "big"))
                    tails.append(tail)
                    offset += len(tail)
                else:
                    heads.append(encoder(field))
            return b"".join(heads + tails)
        except (EncodingError, TypeError, ValueError, OverflowError) as error:
            raise MerkleLeafEncodingError(f"leaf does not fit {list(self.types)}: {error}") from None

    def leaf_hash(self, value: Any) -> bytes:
        return _keccak(_keccak(self.encode(value)))


@lru_cache(maxsize=64)
def _codec(leaf_encoding: tuple[str, ...]) -> _LeafCodec:
    return _LeafCodec(leaf_encoding)


def _codec_for(leaf_encoding: Sequence[str]) -> _LeafCodec:
    if isinstance(leaf_encoding, str) or not all(isinstance(t, str) for t in leaf_encoding):
        raise MerkleLeafEncodingError("leaf encoding must be a list of ABI type strings")
    return _codec(tuple(leaf_encoding))


def standard_leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    """Leaf hash of ``value``: ``keccak256(keccak256(abi.encode(leaf_encoding, value)))``.

    Raises:
        MerkleLeafEncodingError: the value does not fit the encoding.
    """
    return _codec_for(leaf_encoding).leaf_hash(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise MerkleLeafEncodingError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    text = value.strip()
    try:
        if text[:2] in ("0x", "0X") and _HEX_DIGITS.fullmatch(text[2:]):
            return int(text, 16)
        if text.isascii() and text.lstrip("+-").isdigit():
            return int(text, 10)
    except ValueError:
        pass
    raise MerkleLeafEncodingError(f"{value!r} is not an integer")


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and value[:2] in ("0x", "0X") and _HEX.fullmatch(value[2:]):
        return bytes.fromhex(value[2:])
    raise MerkleLeafEncodingError(f"{value!r} is not bytes or 0x-prefixed hex")


def _type_name(abi_type: ABIType) -> str:
    return str(abi_type.to_type_str())  # type: ignore[no-untyped-call]


def _normalize(abi_type: ABIType, value: Any) -> Any:
    """Turn a JSON-form or Python value into what ``eth_abi.encode`` takes for ``abi_type``."""
    if abi_type.arrlist:
        if not isinstance(value, (list, tuple)):
            raise MerkleLeafEncodingError(f"{_type_name(abi_type)} needs a list")
        element = abi_type.item_type
        return [_normalize(element, v) for v in value]
    if isinstance(abi_type, TupleType):
        if not isinstance(value, (list, tuple)) or len(value) != len(abi_type.components):
            raise MerkleLeafEncodingError(f"{_type_name(abi_type)} needs a matching list")
        return tuple(_normalize(t, v) for t, v in zip(abi_type.components, value, strict=True))
    if not isinstance(abi_type, BasicType):  # pragma: no cover - grammar has no other kind
        raise MerkleLeafEncodingError(f"unsupported ABI type {_type_name(abi_type)}")
    base = abi_type.base
    if base in ("uint", "int"):
        return _to_int(value)
    if base == "address":
        raw = _to_bytes(value)
        if len(raw) != 20:
            raise MerkleLeafEncodingError(f"{value!r} is not a 20-byte address")
        return raw
    if base == "bytes":
        return _to_bytes(value)
    if base == "bool":
        if not isinstance(value, bool):
            raise MerkleLeafEncodingError(f"{value!r} is not a bool")
        return value
    if base == "string":
        if not isinstance(value, str):
            raise MerkleLeafEncodingError(f"{value!r} is not a string")
        return value
    return value  # fixed/ufixed: left to eth_abi


def _dynamic(value: Any) -> bytes:  # pragma: no cover - a marker, never called
    raise NotImplementedError


_DYNAMIC: Final = _dynamic


def _word_encoder(abi_type: ABIType) -> Callable[[Any], bytes] | None:
    """Head encoder of a basic type: a 32-byte word, :data:`_DYNAMIC` for string and bytes."""
    if not isinstance(abi_type, BasicType) or abi_type.arrlist:
        return None
    base, sub = abi_type.base, abi_type.sub
    if base == "string" or (base == "bytes" and sub is None):
        return _DYNAMIC
    if base == "uint":
        high = 1 << (sub if isinstance(sub, int) else 256)

        def uint_word(v: int) -> bytes:
            if not 0 <= v < high:
                raise ValueError(f"{v} is out of range for {_type_name(abi_type)}")
            return v.to_bytes(32, "big")

        return uint_word
    if base == "int":
        half = 1 << ((sub if isinstance(sub, int) else 256) - 1)

        def int_word(v: int) -> bytes:
            if not -half <= v < half:
                raise ValueError(f"{v} is out of range for {_type_name(abi_type)}")
            return v.to_bytes(32, "big", signed=True)

        return int_word
    if base == "address":
        return lambda v: bytes(12) + v
    if base == "bool":
        return lambda v: bytes(31) + (b"\x01" if v else b"\x00")
    if base == "bytes" and isinstance(sub, int):
        size = sub

        def bytes_word(v: bytes) -> bytes:
            if len(v) > size:
                raise ValueError(f"{len(v)} bytes do not fit bytes{size}")
            return v.ljust(32, b"\x00")

        return bytes_word
    return None


def _node(value: BytesLike, what: str = "proof node") -> bytes:
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        if not _HEX.fullmatch(text):
            raise MerkleProofFormatError(f"{what} {value[:70]!r} is not hex")
        raw = bytes.fromhex(text)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
    else:
        raise MerkleProofFormatError(f"{what} must be bytes or a hex string")
    if len(raw) != 32:
        raise MerkleProofFormatError(f"{what} is {len(raw)} bytes, not 32")
    return raw


def _hex(node: bytes) -> str:
    return "0x" + node.hex()


# --- proofs ---------------------------------------------------------------------------------


def process_proof(leaf: BytesLike, proof: Sequence[BytesLike]) -> str:
    """Root reached from a leaf hash and its proof (OpenZeppelin ``MerkleProof.processProof``).

    Raises:
        MerkleProofFormatError: the leaf or a proof node is not 32 bytes.
    """
    node = _node(leaf, "leaf hash")
    for sibling in proof:
        node = standard_node_hash(node, _node(sibling))
    return _hex(node)


@dataclass(frozen=True, slots=True)
class MultiProof:
    """A proof of several leaves at once (OpenZeppelin ``MerkleProof.multiProofVerify``).

    Attributes:
        leaves: the proven leaves, as values (or leaf hashes for :func:`process_multi_proof`),
            in the order the on-chain verifier consumes them.
        proof: sibling hashes, ``0x`` hex.
        proof_flags: for each hashing step, ``True`` to take the next leaf or computed node,
            ``False`` to take the next proof hash.
    """

    leaves: list[Any]
    proof: list[str]
    proof_flags: list[bool]

    def to_json(self) -> dict[str, Any]:
        """The JS library's shape: ``{"leaves", "proof", "proofFlags"}``."""
        return {"leaves": self.leaves, "proof": self.proof, "proofFlags": self.proof_flags}


def process_multi_proof(
    leaves: Sequence[BytesLike], proof: Sequence[BytesLike], proof_flags: Sequence[bool]
) -> str:
    """Root reached from leaf hashes and a multiproof (``MerkleProof.processMultiProof``).

    Raises:
        MerkleProofFormatError: a node is not 32 bytes, or the counts do not fit together.
    """
    stack = [_node(leaf, "leaf hash") for leaf in leaves]
    siblings = [_node(node) for node in proof]
    if len(siblings) < sum(1 for flag in proof_flags if not flag):
        raise MerkleProofFormatError("invalid multiproof format")
    if len(stack) + len(siblings) != len(proof_flags) + 1:
        raise MerkleProofFormatError("provided leaves and multiproof are not compatible")
    position = sibling = 0
    for flag in proof_flags:
        if position + (2 if flag else 1) > len(stack):
            raise MerkleProofFormatError("multiproof consumes more nodes than it has")
        a = stack[position]
        if flag:
            b = stack[position + 1]
            position += 2
        else:
            b = siblings[sibling]
            position += 1
            sibling += 1
        stack.append(standard_node_hash(a, b))
    if len(stack) - position + len(siblings) - sibling != 1:
        raise MerkleProofFormatError("multiproof does not reduce to one root")
    return _hex(stack[-1] if position < len(stack) else siblings[sibling])


# --- the tree -------------------------------------------------------------------------------


def _parent(i: int) -> int:
    return (i - 1) // 2


def _sibling(i: int) -> int:
    return i + 1 if i % 2 else i - 1


class StandardMerkleTree:
    """OpenZeppelin-compatible standard Merkle tree over ABI-encoded values.

    Build with :meth:`of` or :meth:`load`; the constructor is internal.
    """

    __slots__ = ("_codec", "_lookup", "_tree", "_tree_index", "_values")

    def __init__(
        self,
        tree: list[bytes],
        values: list[Sequence[Any]],
        tree_index: list[int],
        codec: _LeafCodec,
    ) -> None:
        self._tree = tree
        self._values = values
        self._tree_index = tree_index
        self._codec = codec
        # Like the JS library: the last of equal values wins.
        self._lookup = {tree[t]: i for i, t in enumerate(tree_index)}

    # construction -------------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[Any]],
        leaf_encoding: Sequence[str],
        *,
        sort_leaves: bool = True,
    ) -> StandardMerkleTree:
        """Build a tree over ``values``, each ABI-encoded as ``leaf_encoding``.

        Args:
            values: the leaves' values, e.g. ``[["0x1111...", 5000], ...]``.
            leaf_encoding: ABI types of a value's fields, e.g. ``["address", "uint256"]``.
            sort_leaves: sort leaves by hash (the JS default; needed for multiproofs).

        Returns:
            The tree.

        Raises:
            MerkleEmptyTreeError: ``values`` is empty.
            MerkleLeafEncodingError: a value does not fit ``leaf_encoding``.
        """
        codec = _codec_for(leaf_encoding)
        values = list(values)
        if not values:
            raise MerkleEmptyTreeError("expected a non-zero number of leaves")
        hashes = [codec.leaf_hash(value) for value in values]
        count = len(values)
        order = sorted(range(count), key=hashes.__getitem__) if sort_leaves else range(count)
        size = 2 * count - 1
        tree: list[bytes] = [b""] * size
        tree_index = [0] * count
        for leaf_index, value_index in enumerate(order):
            position = size - 1 - leaf_index
            tree[position] = hashes[value_index]
            tree_index[value_index] = position
        for i in range(size - 1 - count, -1, -1):
            a, b = tree[2 * i + 1], tree[2 * i + 2]
            tree[i] = _keccak(a + b if a <= b else b + a)
        return cls(tree, values, tree_index, codec)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Load a tree dumped by :meth:`dump` or by the JS library's ``dump()``.

        Raises:
            MerkleTreeFormatError: unknown format, malformed nodes or values, a value not at
                its leaf, or an inner node that is not the hash of its children.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            shown = data.get("format") if isinstance(data, Mapping) else None
            raise MerkleTreeFormatError(f"unknown format {shown!r}, expected {FORMAT!r}")
        encoding, raw_tree, raw_values = data.get("leafEncoding"), data.get("tree"), data.get("values")
        if not isinstance(encoding, list):
            raise MerkleTreeFormatError("expected leaf encoding")
        if not isinstance(raw_tree, list) or not raw_tree or not isinstance(raw_values, list):
            raise MerkleTreeFormatError("expected a non-empty tree and a list of values")
        try:
            codec = _codec_for(encoding)
            tree = [_node(node, "tree node") for node in raw_tree]
        except (MerkleLeafEncodingError, MerkleProofFormatError) as error:
            raise MerkleTreeFormatError(str(error)) from None
        values, tree_index = [], []
        for entry in raw_values:
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise MerkleTreeFormatError("each value must be {value, treeIndex}")
            index = entry.get("treeIndex")
            if isinstance(index, bool) or not isinstance(index, int):
                raise MerkleTreeFormatError("treeIndex must be an integer")
            if not 0 <= index < len(tree) or 2 * index + 1 < len(tree):
                raise MerkleTreeFormatError(f"treeIndex {index} is not a leaf of the tree")
            values.append(entry["value"])
            tree_index.append(index)
        tree_obj = cls(tree, values, tree_index, codec)
        try:
            tree_obj.validate()
        except (MerkleIndexError, MerkleLeafEncodingError) as error:
            raise MerkleTreeFormatError(str(error)) from None
        return tree_obj

    def validate(self) -> None:
        """Check every value hashes to its leaf and every inner node to its children.

        Raises:
            MerkleTreeFormatError: the tree is inconsistent.
            MerkleLeafEncodingError: a value does not fit the leaf encoding.
        """
        tree = self._tree
        for value_index in range(len(self._values)):
            self._check_value_at(value_index)
        size = len(tree)
        for i, node in enumerate(tree):
            left, right = 2 * i + 1, 2 * i + 2
            if right >= size:
                if left < size:
                    raise MerkleTreeFormatError(f"node {i} has one child")
            elif node != standard_node_hash(tree[left], tree[right]):
                raise MerkleTreeFormatError(f"node {i} is not the hash of its children")

    def _check_value_at(self, value_index: int) -> int:
        if isinstance(value_index, bool) or not 0 <= value_index < len(self._values):
            raise MerkleIndexError(f"value index {value_index} out of bounds")
        position = self._tree_index[value_index]
        if not 0 <= position < len(self._tree) or 2 * position + 1 < len(self._tree):
            raise MerkleTreeFormatError(f"value {value_index} is not at a leaf")
        if self._tree[position] != self._codec.leaf_hash(self._values[value_index]):
            raise MerkleTreeFormatError(f"tree does not contain value {value_index} at its leaf")
        return position

    # reading ------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The root, ``0x`` hex (what gets anchored on-chain)."""
        return _hex(self._tree[0])

    @property
    def leaf_encoding(self) -> tuple[str, ...]:
        """ABI types of a value's fields."""
        return self._codec.types

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> Sequence[Any]:
        """The value at ``index`` (insertion order).

        Raises:
            MerkleIndexError: ``index`` is out of bounds.
        """
        if not 0 <= index < len(self._values):
            raise MerkleIndexError(f"value index {index} out of bounds")
        return self._values[index]

    def entries(self) -> Iterator[tuple[int, Sequence[Any]]]:
        """``(index, value)`` pairs in insertion order."""
        return iter(enumerate(self._values))

    def leaf_hash(self, value: Sequence[Any]) -> str:
        """Leaf hash of ``value`` under this tree's encoding, ``0x`` hex.

        Raises:
            MerkleLeafEncodingError: the value does not fit the encoding.
        """
        return _hex(self._codec.leaf_hash(value))

    def leaf_lookup(self, value: Sequence[Any]) -> int:
        """Index of ``value`` among the tree's values.

        Raises:
            MerkleLeafNotFoundError: the value is not a leaf.
            MerkleLeafEncodingError: the value does not fit the encoding.
        """
        index = self._lookup.get(self._codec.leaf_hash(value))
        if index is None:
            raise MerkleLeafNotFoundError("leaf is not in tree")
        return index

    def _value_index(self, leaf: int | Sequence[Any]) -> int:
        if isinstance(leaf, bool):
            raise MerkleLeafEncodingError("a leaf is an index or a list of field values")
        if isinstance(leaf, int):
            return leaf
        return self.leaf_lookup(leaf)

    def get_proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """Proof of one value, for ``MerkleProof.verify(proof, root, leafHash)``.

        Args:
            leaf: the value's index, or the value itself.

        Returns:
            Sibling hashes from the leaf up, ``0x`` hex.

        Raises:
            MerkleIndexError: the index is out of bounds.
            MerkleLeafNotFoundError: the value is not a leaf.
        """
        position = self._check_value_at(self._value_index(leaf))
        proof = []
        while position > 0:
            proof.append(self._tree[_sibling(position)])
            position = _parent(position)
        return [_hex(node) for node in proof]

    def get_multi_proof(self, leaves: Sequence[int | Sequence[Any]]) -> MultiProof:
        """Proof of several values at once, for ``MerkleProof.multiProofVerify``.

        Raises:
            MerkleIndexError: an index is out of bounds, or the same leaf is given twice.
            MerkleLeafNotFoundError: a value is not a leaf.
        """
        indices = sorted((self._check_value_at(self._value_index(leaf)) for leaf in leaves), reverse=True)
        if any(a == b for a, b in pairwise(indices)):
            raise MerkleIndexError("cannot prove duplicated index")
        stack = list(indices)
        proof: list[bytes] = []
        flags: list[bool] = []
        head = 0
        while head < len(stack) and stack[head] > 0:
            j = stack[head]
            head += 1
            s, p = _sibling(j), _parent(j)
            if head < len(stack) and stack[head] == s:
                flags.append(True)
                head += 1
            else:
                flags.append(False)
                proof.append(self._tree[s])
            stack.append(p)
        if not indices:
            proof.append(self._tree[0])
        leaf_values = [self._values[self._lookup[self._tree[i]]] for i in indices]
        return MultiProof(leaf_values, [_hex(node) for node in proof], flags)

    def verify(self, leaf: int | Sequence[Any], proof: Sequence[BytesLike]) -> bool:
        """Whether ``proof`` proves ``leaf`` (an index or a value) against this root.

        Raises:
            MerkleIndexError: the index is out of bounds.
            MerkleProofFormatError: a proof node is not 32 bytes.
            MerkleLeafEncodingError: the value does not fit the encoding.
        """
        leaf_hash = self._leaf_hash_of(leaf)
        return process_proof(leaf_hash, proof) == self.root

    def verify_multi_proof(self, multiproof: MultiProof) -> bool:
        """Whether ``multiproof`` (leaves as indices or values) proves them against this root.

        Raises:
            MerkleProofFormatError: the multiproof is malformed.
        """
        hashes = [self._leaf_hash_of(leaf) for leaf in multiproof.leaves]
        return process_multi_proof(hashes, multiproof.proof, multiproof.proof_flags) == self.root

    def _leaf_hash_of(self, leaf: int | Sequence[Any]) -> bytes:
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            if not 0 <= leaf < len(self._values):
                raise MerkleIndexError(f"value index {leaf} out of bounds")
            leaf = self._values[leaf]
        return self._codec.leaf_hash(leaf)

    @staticmethod
    def verify_proof(
        root: BytesLike,
        leaf_encoding: Sequence[str],
        leaf: Sequence[Any],
        proof: Sequence[BytesLike],
    ) -> bool:
        """Static check of a value's proof against a root (the JS static ``verify``).

        Raises:
            MerkleProofFormatError: the root or a proof node is not 32 bytes.
            MerkleLeafEncodingError: the value does not fit the encoding.
        """
        expected = _hex(_node(root, "root"))
        return process_proof(standard_leaf_hash(leaf_encoding, leaf), proof) == expected

    @staticmethod
    def verify_multi_proof_against(
        root: BytesLike, leaf_encoding: Sequence[str], multiproof: MultiProof
    ) -> bool:
        """Static check of a multiproof of values against a root (JS ``verifyMultiProof``).

        Raises:
            MerkleProofFormatError: the multiproof is malformed.
            MerkleLeafEncodingError: a value does not fit the encoding.
        """
        codec = _codec_for(leaf_encoding)
        hashes = [codec.leaf_hash(leaf) for leaf in multiproof.leaves]
        computed = process_multi_proof(hashes, multiproof.proof, multiproof.proof_flags)
        return computed == _hex(_node(root, "root"))

    # output -------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The tree in the JS library's JSON shape (``format: standard-v1``).

        Integers are written as decimal strings and bytes as ``0x`` hex, as JS users write
        them, so the result survives ``json.dumps`` and loads in JavaScript.
        """
        return {
            "format": FORMAT,
            "leafEncoding": list(self._codec.types),
            "tree": [_hex(node) for node in self._tree],
            "values": [
                {"value": _jsonable(value), "treeIndex": index}
                for value, index in zip(self._values, self._tree_index, strict=True)
            ],
        }

    def render(self) -> str:
        """ASCII drawing of the tree, as the JS library's ``render()``."""
        lines = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        while stack:
            i, path = stack.pop()
            prefix = "".join(["   ", "│  "][p] for p in path[:-1])
            prefix += "".join(["└─ ", "├─ "][p] for p in path[-1:])
            lines.append(f"{prefix}{i}) {_hex(self._tree[i])}")
            if 2 * i + 2 < len(self._tree):
                stack.append((2 * i + 2, [*path, 0]))
                stack.append((2 * i + 1, [*path, 1]))
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _hex(bytes(value))
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)
