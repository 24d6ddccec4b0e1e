"""QBFT extraData codec: Besu's own vector, round trips, and what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.network.errors import ExtraDataError
from chain.network.qbft import QbftExtraData, Vote, decode, encode, genesis_extra_data, sort_validators

# Besu, besu/src/test/java/org/hyperledger/besu/cli/subcommands/rlp/RLPSubCommandTest.java,
# canEncodeToQbftExtraData: `besu rlp encode --type=QBFT_EXTRA_DATA` of these two, in this order.
BESU_VALIDATORS = ["be068f726a13c8d46c44be6ce9d275600e1735a4", "5ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193"]
BESU_QBFT = (
    "0xf84fa00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d"
    "46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193c080c0"
)
# Same test file, encodeWithoutPathMustWriteToStandardOutput: the IBFT 2.0 encoding of the same list.
BESU_IBFT = (
    "0xf853a00000000000000000000000000000000000000000000000000000000000000000ea94be068f726a13c8d"
    "46c44be6ce9d275600e1735a4945ff6f4b66a46a2b2310a6f3a93aaddc0d9a1c193808400000000c0"
)

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


def test_genesis_extra_data_equals_besu_vector_when_validators_in_given_order() -> None:
    assert genesis_extra_data(["0x" + a for a in BESU_VALIDATORS]) == BESU_QBFT


def test_genesis_extra_data_accepts_addresses_without_prefix_and_mixed_case() -> None:
    assert genesis_extra_data([BESU_VALIDATORS[0].upper(), BESU_VALIDATORS[1]]) == BESU_QBFT


def test_decode_returns_validators_when_besu_vector() -> None:
    data = decode(BESU_QBFT)
    assert [v.lower() for v in data.validators] == ["0x" + a for a in BESU_VALIDATORS]
    assert (data.vanity, data.vote, data.round, data.seals) == (bytes(32), None, 0, ())


def test_decode_refuses_ibft2_extra_data() -> None:
    with pytest.raises(ExtraDataError, match="IBFT"):
        decode(BESU_IBFT)


@settings(max_examples=60, deadline=None)
@given(st.lists(addresses, min_size=1, max_size=30, unique=True))
def test_extra_data_round_trips_when_any_validator_set(validators: list[str]) -> None:
    decoded = decode(genesis_extra_data(validators))
    assert [v.lower() for v in decoded.validators] == validators
    assert decoded.round == 0 and decoded.vote is None and decoded.seals == ()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(addresses, min_size=1, max_size=8, unique=True),
    addresses,
    st.booleans(),
    st.integers(0, 2**32 - 1),
    st.lists(st.binary(min_size=65, max_size=65), max_size=4),
    st.binary(min_size=32, max_size=32),
)
def test_encode_round_trips_when_vote_round_and_seals(
    validators: list[str], recipient: str, add: bool, round_: int, seals: list[bytes], vanity: bytes
) -> None:
    data = QbftExtraData(tuple(validators), vanity, Vote(recipient, add), round_, tuple(seals))
    decoded = decode(encode(data))
    assert (
        decoded.vote is not None and decoded.vote.recipient.lower() == recipient and decoded.vote.add is add
    )
    assert (decoded.round, decoded.seals, decoded.vanity) == (round_, tuple(seals), vanity)


def test_encode_writes_round_as_minimal_scalar() -> None:
    one = encode(QbftExtraData(("0x" + BESU_VALIDATORS[0],), round=1))
    assert one.endswith(bytes.fromhex("c0" + "01" + "c0"))  # empty vote, round 1, no seals
    big = encode(QbftExtraData(("0x" + BESU_VALIDATORS[0],), round=0x1234))
    assert big.endswith(bytes.fromhex("c0" + "821234" + "c0"))


def test_sort_validators_orders_ascending_by_bytes() -> None:
    assert [a.lower() for a in sort_validators(["0x" + a for a in BESU_VALIDATORS])] == [
        "0x" + BESU_VALIDATORS[1],
        "0x" + BESU_VALIDATORS[0],
    ]


@pytest.mark.parametrize(
    ("validators", "message"),
    [([], "at least one"), (["0x1234"], "not a 20-byte"), (["0x" + "11" * 20, "0x" + "11" * 20], "twice")],
)
def test_genesis_extra_data_refuses_bad_validator_lists(validators: list[str], message: str) -> None:
    with pytest.raises(ExtraDataError, match=message):
        genesis_extra_data(validators)


@pytest.mark.parametrize("bad", ["0xzz", "0x80", "0xc0", BESU_QBFT[:-2]])
def test_decode_refuses_malformed_input(bad: str) -> None:
    with pytest.raises(ExtraDataError):
        decode(bad)
