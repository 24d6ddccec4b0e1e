"""Tests of the OpenZeppelin-compatible standard Merkle tree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak as eth_utils_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import (
    ChainError,
    MerkleEmptyTreeError,
    MerkleIndexError,
    MerkleLeafEncodingError,
    MerkleLeafNotFoundError,
    MerkleProofFormatError,
    MerkleTreeFormatError,
)
from chain.merkle import (
    FORMAT,
    MultiProof,
    StandardMerkleTree,
    _LeafCodec,
    process_multi_proof,
    process_proof,
    standard_leaf_hash,
    standard_node_hash,
)

# --- known answers from the JS library ------------------------------------------------------
# Produced with @openzeppelin/merkle-tree 1.0.8 (npm), installed in a scratch directory and
# run under node 20 with this script (values as JS users write them: strings for integers):
#
#   import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
#   const b = i => '0x' + i.toString(16).padStart(2, '0').repeat(32);
#   const t = StandardMerkleTree.of(VALUES, ENCODING, OPTIONS);
#   console.log(JSON.stringify({ root: t.root, proofs: [0..n-1].map(i => t.getProof(i)),
#     leafHashes: VALUES.map(v => t.leafHash(v)), dump: t.dump(),
#     multi: t.getMultiProof([0, 2, 4]), render: t.render() }));
#
# and, for SEQ_100, values ['0x' + (i + 1) as 40 hex digits, String(i * 1000 + 7)], i < 100.

README_ENCODING = ["address", "uint256"]
README_VALUES = [
    ["0x1111111111111111111111111111111111111111", "5000000000000000000"],
    ["0x2222222222222222222222222222222222222222", "2500000000000000000"],
]
# The root printed in the library's README for these values.
README_ROOT = "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
README_DUMP = {
    "format": "standard-v1",
    "leafEncoding": ["address", "uint256"],
    "tree": [
        "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77",
        "0xeb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283",
        "0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc",
    ],
    "values": [
        {"value": README_VALUES[0], "treeIndex": 1},
        {"value": README_VALUES[1], "treeIndex": 2},
    ],
}
README_PROOFS = [
    ["0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc"],
    ["0xeb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283"],
]


def _b32(i: int) -> str:
    return "0x" + f"{i:02x}" * 32


READING_ENCODING = ["bytes32", "uint64", "string"]
READING_VALUES = [
    [_b32(1), "1", "w01018"],
    [_b32(2), "18446744073709551615", "a21026"],
    [_b32(3), "0", ""],
    [_b32(4), "1700000000", "化学需氧量"],
    [_b32(5), "42", "MN=010000A8900016F000169DC0"],
]
READING_ROOT = "0xfdc3d9cbc000dd0c96287a1ca54c4e4588b242319c869f4fec22f3eac061cf09"
N1 = "0x2ed68c9a4972974811b9899154d67951cc887240716b54f1bbfd96cebf7aee33"
N2 = "0xfc150a2e882c6c459a1c2cfb4a0e319c370c440f88f9d71b86a2db9bfa899d0d"
N3 = "0x5cb37d02b607c5a5fc30cc255839a8efd33a0ef85c16c97c9949305d8bdcead1"
N4 = "0xad040d75124df9e2aecd7f83a8445723e67e1767bef43d0a33fa748a55fd8e39"
N5 = "0xfca491ef578a4dd157205b11a8a97c55d4d945e0773abbd10ab111aaf980973b"
N6 = "0x5e17743a5b0f3464e600ca33861cfd33e3e2c191e4789a1e05258ddcb9966b53"
N7 = "0x8f36fd05303cfea27c6274dcdd0eca4d6fe49e9623410f23292e866abaa6336e"
N8 = "0x216bc8fe9c1de333e60b5970d50fbf3ee23b875ee878b229f4721ccce4b6bfdc"
READING_PROOFS = [[N1, N2, N3], [N4, N5], [N6, N2, N3], [N7, N5], [N8, N3]]
READING_LEAF_HASHES = [N6, N7, N1, N4, N2]
READING_MULTI_0_2_4: dict[str, Any] = {
    "leaves": [READING_VALUES[2], READING_VALUES[0], READING_VALUES[4]],
    "proof": [N3],
    "proofFlags": [True, True, False],
}
READING_MULTI_1_3 = {"leaves": [READING_VALUES[1], READING_VALUES[3]], "proof": [N5]}
READING_MULTI_1_3_FLAGS = [True, False]
READING_RENDER = (
    f"0) {READING_ROOT}\n├─ 1) {N5}\n│  ├─ 3) {N8}\n│  │  ├─ 7) {N6}\n│  │  └─ 8) {N1}\n"
    f"│  └─ 4) {N2}\n└─ 2) {N3}\n   ├─ 5) {N4}\n   └─ 6) {N7}"
)

SINGLE_VALUES = [[_b32(9), "7", "only"]]
SINGLE_ROOT = "0x2190440406790b7cbbbb60fd77e64a1ef4b9302902fb27ad2d5cb14903d9b74b"

UNSORTED_VALUES = [
    ["0x3333333333333333333333333333333333333333", "3"],
    ["0x1111111111111111111111111111111111111111", "1"],
    ["0x2222222222222222222222222222222222222222", "2"],
]
UNSORTED_ROOT = "0xd1f6085250f1d4888c7e71d2ae4447b704cf01e26a30b94fb0eefdaa9786c5fd"
UNSORTED_PROOFS = [
    [
        "0x60648906e1a3f55dd188e992dc24db68c6b6d455fe925705f5e110ed7889ad90",
        "0x4397c1fe255e3a9d3a85daaf9e1d39e0eeb9dc120e931f5af6d0a6f8a3315a4d",
    ],
    [
        "0x1822ae4b563c0815a9cb78809432584aa220f215c2777ddf51cf5bdd1c0ad36f",
        "0x4397c1fe255e3a9d3a85daaf9e1d39e0eeb9dc120e931f5af6d0a6f8a3315a4d",
    ],
    ["0xeb8f31c4410d524d085a8b8322b6cfb6a035a5d308d1fa5bea20d4a586c18752"],
]

DYNAMIC_ENCODING = ["string", "bytes", "uint8[]", "bool", "int256"]
DYNAMIC_VALUES = [
    ["hello", "0xdeadbeef", ["1", "2", "3"], True, "-5"],
    ["", "0x", [], False, str(2**255 - 1)],
    ["xyz", "0x00", ["255"], True, str(-(2**255))],
]
DYNAMIC_ROOT = "0xc45ffc415e8ac01d14073d49f2c9f2dc6560e36373d7bf4227f1b82f6e29772b"
DYNAMIC_PROOFS = [
    [
        "0x46bec05a01bff202a258a1ad9562e66b3b5be11a6751149caf195b06b39be863",
        "0xe63680f1e2c6da4c6bfda8c778ddf6abffda57ce017d5ee80bba870d965f9763",
    ],
    [
        "0x67222d84566b49bf4eb6c21237c00da5a749a5e35123330e1466e70c003d0a16",
        "0xe63680f1e2c6da4c6bfda8c778ddf6abffda57ce017d5ee80bba870d965f9763",
    ],
    ["0x9156079fcbee1aee19fa1ea62308e34abaae2d12c862a31ecf357deb85c9daba"],
]
# getMultiProof([]) of a one-leaf tree of DYNAMIC_VALUES[0]: the root alone.
DYNAMIC_EMPTY_MULTI_PROOF = ["0x67222d84566b49bf4eb6c21237c00da5a749a5e35123330e1466e70c003d0a16"]

SEQ_100_ROOT = "0xa4909e99be790f8239fa23cc95fe9c6f110bb04365959225702ea18b8f38d263"
SEQ_100_PROOF_57 = [
    "0x74a781efb9dc6361214a9fbedf7e67950f93d382923eb0e00188b9b96192fabd",
    "0x470656060abdc4954b6985513341b06dd3777301d5b3d10c9178d95119f823c2",
    "0x518f3a5716b1e67e4d76edb08513c7024f842d48c6678eedbd6d62f57679c364",
    "0xa88bfa0d9683ccf95094311029d615005bdd1d8c2a98e021e065d7e58d4c7787",
    "0x2a9331c83b592ef6a0ee86a0c9575004dec91cee044604e575eb4d8b164a82a9",
    "0xdcec5ff3af7ffc398fcd71f5fa363c026a7ae9e779bfd39be9da2ea4eb5fbcaf",
    "0x9f3ba2e35616c2b28d04b5c1e3d933fcb4e8e2c9ab2a1b1f26b888d435361afa",
]


def _seq_100() -> list[list[str]]:
    return [["0x" + f"{i + 1:040x}", str(i * 1000 + 7)] for i in range(100)]


# --- compatibility with the JS library ------------------------------------------------------


def test_of_gives_readme_root_and_dump_for_readme_values() -> None:
    tree = StandardMerkleTree.of(README_VALUES, README_ENCODING)
    assert tree.root == README_ROOT
    assert tree.dump() == README_DUMP
    assert [tree.get_proof(i) for i in range(2)] == README_PROOFS


def test_of_gives_js_root_for_python_native_values() -> None:
    values = [
        [bytes.fromhex("11" * 20), 5 * 10**18],
        ["0x2222222222222222222222222222222222222222", 25 * 10**17],
    ]
    tree = StandardMerkleTree.of(values, README_ENCODING)
    assert tree.root == README_ROOT
    assert tree.dump()["values"][0]["value"] == README_VALUES[0]


def test_of_gives_js_tree_for_bytes32_uint64_string_values() -> None:
    tree = StandardMerkleTree.of(READING_VALUES, READING_ENCODING)
    assert tree.root == READING_ROOT
    assert [tree.get_proof(i) for i in range(5)] == READING_PROOFS
    assert [tree.leaf_hash(v) for v in READING_VALUES] == READING_LEAF_HASHES
    assert tree.render() == READING_RENDER


def test_get_multi_proof_matches_js_for_reading_values() -> None:
    tree = StandardMerkleTree.of(READING_VALUES, READING_ENCODING)
    assert tree.get_multi_proof([0, 2, 4]).to_json() == READING_MULTI_0_2_4
    multi = tree.get_multi_proof([READING_VALUES[3], 1])
    assert {"leaves": multi.leaves, "proof": multi.proof} == READING_MULTI_1_3
    assert multi.proof_flags == READING_MULTI_1_3_FLAGS
    assert tree.verify_multi_proof(multi)
    assert StandardMerkleTree.verify_multi_proof_against(READING_ROOT, READING_ENCODING, multi)


def test_of_gives_js_root_for_single_leaf() -> None:
    tree = StandardMerkleTree.of(SINGLE_VALUES, READING_ENCODING)
    assert tree.root == SINGLE_ROOT == tree.leaf_hash(SINGLE_VALUES[0])
    assert tree.get_proof(0) == []
    assert tree.verify(0, [])


def test_of_gives_js_root_for_unsorted_leaves() -> None:
    tree = StandardMerkleTree.of(UNSORTED_VALUES, README_ENCODING, sort_leaves=False)
    assert tree.root == UNSORTED_ROOT
    assert [tree.get_proof(i) for i in range(3)] == UNSORTED_PROOFS
    assert StandardMerkleTree.of(UNSORTED_VALUES, README_ENCODING).root != UNSORTED_ROOT


def test_of_gives_js_root_for_dynamic_and_array_types() -> None:
    tree = StandardMerkleTree.of(DYNAMIC_VALUES, DYNAMIC_ENCODING)
    assert tree.root == DYNAMIC_ROOT
    assert [tree.get_proof(i) for i in range(3)] == DYNAMIC_PROOFS
    one = StandardMerkleTree.of(DYNAMIC_VALUES[:1], DYNAMIC_ENCODING)
    empty = one.get_multi_proof([])
    assert (empty.leaves, empty.proof, empty.proof_flags) == ([], DYNAMIC_EMPTY_MULTI_PROOF, [])
    assert one.verify_multi_proof(empty)


def test_of_gives_js_root_for_hundred_leaves() -> None:
    tree = StandardMerkleTree.of(_seq_100(), README_ENCODING)
    assert tree.root == SEQ_100_ROOT
    assert tree.get_proof(57) == SEQ_100_PROOF_57


def test_load_accepts_js_dump_and_round_trips_through_json() -> None:
    tree = StandardMerkleTree.load(json.loads(json.dumps(README_DUMP)))
    assert tree.root == README_ROOT
    assert tree.get_proof(README_VALUES[1]) == README_PROOFS[1]
    again = StandardMerkleTree.load(json.loads(json.dumps(tree.dump())))
    assert again.dump() == README_DUMP
    assert again.leaf_encoding == ("address", "uint256")
    assert len(again) == 2 and again.at(1) == README_VALUES[1]
    assert list(again.entries()) == list(enumerate(README_VALUES))


def test_static_verify_proof_accepts_js_proof() -> None:
    assert StandardMerkleTree.verify_proof(README_ROOT, README_ENCODING, README_VALUES[0], README_PROOFS[0])
    assert not StandardMerkleTree.verify_proof(
        README_ROOT, README_ENCODING, README_VALUES[0], README_PROOFS[1]
    )


def test_process_proof_matches_openzeppelin_merkle_proof() -> None:
    leaf = standard_leaf_hash(README_ENCODING, README_VALUES[0])
    assert process_proof(leaf, README_PROOFS[0]) == README_ROOT
    flags = READING_MULTI_0_2_4["proofFlags"]
    leaves = [standard_leaf_hash(READING_ENCODING, v) for v in READING_MULTI_0_2_4["leaves"]]
    assert process_multi_proof(leaves, [N3], flags) == READING_ROOT


def test_hashes_match_eth_utils_keccak() -> None:
    encoded = abi_encode(README_ENCODING, [bytes.fromhex("11" * 20), 5 * 10**18])
    expected = eth_utils_keccak(eth_utils_keccak(encoded))
    assert standard_leaf_hash(README_ENCODING, README_VALUES[0]) == expected
    a, b = bytes(range(32)), bytes(range(1, 33))
    assert standard_node_hash(a, b) == standard_node_hash(b, a) == eth_utils_keccak(a + b)


# --- the direct encoder agrees with eth_abi -------------------------------------------------

_STATIC = st.sampled_from(["uint256", "uint64", "uint8", "int256", "int32", "address", "bool"])
_BYTES_N = st.integers(1, 32).map(lambda n: f"bytes{n}")
_TYPES = st.lists(st.one_of(_STATIC, _BYTES_N, st.sampled_from(["string", "bytes"])), min_size=1, max_size=5)


def _value_for(draw: st.DrawFn, abi_type: str) -> Any:
    if abi_type.startswith("uint"):
        return draw(st.integers(0, 2 ** int(abi_type[4:]) - 1))
    if abi_type.startswith("int"):
        bits = int(abi_type[3:])
        return draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    if abi_type == "address":
        return draw(st.binary(min_size=20, max_size=20))
    if abi_type == "bool":
        return draw(st.booleans())
    if abi_type == "string":
        return draw(st.text(max_size=80))
    if abi_type == "bytes":
        return draw(st.binary(max_size=80))
    return draw(st.binary(min_size=int(abi_type[5:]), max_size=int(abi_type[5:])))


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[list[str], list[Any]]:
    types = draw(_TYPES)
    return types, [_value_for(draw, t) for t in types]


@settings(max_examples=400, deadline=None)
@given(typed_values())
def test_leaf_codec_encodes_like_eth_abi_for_static_string_and_bytes(
    case: tuple[list[str], list[Any]],
) -> None:
    types, values = case
    assert _LeafCodec(types).encode(values) == abi_encode(types, values)


# --- properties -----------------------------------------------------------------------------

_entries = st.lists(
    st.tuples(st.binary(min_size=20, max_size=20), st.integers(0, 2**256 - 1)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(_entries)
def test_every_proof_verifies_for_any_leaf_count(entries: list[tuple[bytes, int]]) -> None:
    values = [list(entry) for entry in entries]
    tree = StandardMerkleTree.of(values, README_ENCODING)
    for i, value in enumerate(values):
        proof = tree.get_proof(i)
        assert tree.verify(i, proof)
        assert tree.verify(value, proof)
        assert StandardMerkleTree.verify_proof(tree.root, README_ENCODING, value, proof)
        assert len(proof) <= len(values).bit_length()
    StandardMerkleTree.load(tree.dump()).validate()


@settings(max_examples=150, deadline=None)
@given(_entries, st.data())
def test_verify_fails_for_tampered_value_or_proof(
    entries: list[tuple[bytes, int]], data: st.DataObject
) -> None:
    values: list[list[Any]] = [list(entry) for entry in entries]
    tree = StandardMerkleTree.of(values, README_ENCODING)
    i = data.draw(st.integers(0, len(values) - 1))
    proof = tree.get_proof(i)
    address, amount = values[i]
    assert not tree.verify([address, amount ^ 1], proof)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        node = int(proof[k], 16) ^ (1 << bit)
        tampered = [*proof[:k], f"0x{node:064x}", *proof[k + 1 :]]
        assert not tree.verify(i, tampered)
        assert not tree.verify(i, proof[:-1])


@settings(max_examples=100, deadline=None)
@given(_entries, st.data())
def test_multi_proof_verifies_for_any_subset(entries: list[tuple[bytes, int]], data: st.DataObject) -> None:
    values = [list(entry) for entry in entries]
    tree = StandardMerkleTree.of(values, README_ENCODING)
    subset = data.draw(st.sets(st.integers(0, len(values) - 1)))
    multi = tree.get_multi_proof(sorted(subset))
    assert tree.verify_multi_proof(multi)
    assert len(multi.proof_flags) + 1 == len(multi.leaves) + len(multi.proof)


# --- errors ---------------------------------------------------------------------------------


def test_of_raises_empty_tree_error_for_no_values() -> None:
    with pytest.raises(MerkleEmptyTreeError) as caught:
        StandardMerkleTree.of([], README_ENCODING)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ChainError)


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (["0x11", 1], README_ENCODING),
        (["0x" + "11" * 20, -1], README_ENCODING),
        (["0x" + "11" * 20, 2**256], README_ENCODING),
        (["0x" + "11" * 20, "1_000"], README_ENCODING),
        (["0x" + "11" * 20, True], README_ENCODING),
        (["0x" + "11" * 20], README_ENCODING),
        ("0x" + "11" * 20, ["address"]),
        ([_b32(1) + "00", "1", "x"], READING_ENCODING),
        ([_b32(1), "1", b"x"], READING_ENCODING),
        (["0x" + "11" * 20, 1], ["uint257"]),
        ([1], "uint256"),
    ],
)
def test_of_raises_leaf_encoding_error_for_value_not_fitting_encoding(value: Any, encoding: Any) -> None:
    with pytest.raises(MerkleLeafEncodingError):
        StandardMerkleTree.of([value], encoding)


def test_get_proof_raises_index_error_out_of_bounds() -> None:
    tree = StandardMerkleTree.of(README_VALUES, README_ENCODING)
    with pytest.raises(MerkleIndexError) as caught:
        tree.get_proof(2)
    assert isinstance(caught.value, IndexError)
    with pytest.raises(MerkleIndexError):
        tree.verify(-1, [])
    with pytest.raises(MerkleIndexError):
        tree.at(5)
    with pytest.raises(MerkleIndexError):
        tree.get_multi_proof([0, 0])


def test_get_proof_raises_not_found_for_value_not_in_tree() -> None:
    tree = StandardMerkleTree.of(README_VALUES, README_ENCODING)
    with pytest.raises(MerkleLeafNotFoundError) as caught:
        tree.get_proof(["0x" + "33" * 20, 1])
    assert isinstance(caught.value, KeyError)


@pytest.mark.parametrize(
    "proof",
    [["0x1234"], ["zz" * 32], [b"\x00" * 31], [42]],
)
def test_verify_raises_proof_format_error_for_malformed_node(proof: list[Any]) -> None:
    tree = StandardMerkleTree.of(README_VALUES, README_ENCODING)
    with pytest.raises(MerkleProofFormatError):
        tree.verify(0, proof)


@pytest.mark.parametrize(
    ("leaves", "proof", "flags"),
    [
        ([N1], [], [True]),
        ([N1, N2], [], [False]),
        ([], [N1, N2], [False]),
    ],
)
def test_process_multi_proof_raises_format_error_for_inconsistent_counts(
    leaves: list[str], proof: list[str], flags: list[bool]
) -> None:
    with pytest.raises(MerkleProofFormatError):
        process_multi_proof(leaves, proof, flags)


def _dump_with(**changes: Any) -> dict[str, Any]:
    dump: dict[str, Any] = json.loads(json.dumps(README_DUMP))
    dump.update(changes)
    return dump


@pytest.mark.parametrize(
    "dump",
    [
        pytest.param(_dump_with(format="simple-v1"), id="format"),
        pytest.param(_dump_with(leafEncoding=None), id="no-encoding"),
        pytest.param(_dump_with(tree=[]), id="empty-tree"),
        pytest.param(_dump_with(tree=README_DUMP["tree"][:2]), id="one-child"),
        pytest.param(_dump_with(tree=[README_PROOFS[0][0], *README_DUMP["tree"][1:]]), id="root"),
        pytest.param(_dump_with(tree=["0x12", *README_DUMP["tree"][1:]]), id="short-node"),
        pytest.param(_dump_with(values=[{"value": README_VALUES[1], "treeIndex": 1}]), id="wrong-leaf"),
        pytest.param(_dump_with(values=[{"value": README_VALUES[0], "treeIndex": 0}]), id="inner"),
        pytest.param(_dump_with(values=[{"value": README_VALUES[0]}]), id="no-index"),
        pytest.param(_dump_with(values=[{"value": ["0x11", "1"], "treeIndex": 1}]), id="bad"),
        pytest.param([], id="not-a-mapping"),
    ],
)
def test_load_raises_tree_format_error_for_inconsistent_dump(dump: Any) -> None:
    with pytest.raises(MerkleTreeFormatError):
        StandardMerkleTree.load(dump)


def test_multi_proof_to_json_uses_js_key_names() -> None:
    multi = MultiProof(leaves=[], proof=[README_ROOT], proof_flags=[])
    assert multi.to_json() == {"leaves": [], "proof": [README_ROOT], "proofFlags": []}
    assert FORMAT == "standard-v1"
