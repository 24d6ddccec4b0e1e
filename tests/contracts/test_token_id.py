"""TokenIdLib (contracts/src/types/TokenId.sol), the one on-chain home of the token-id layout,
against the Python layout (``domain.tokens.encode_id`` / ``decode_id``) through a test harness."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInputError
from domain.tokens import Kind, decode_id, encode_id
from tests.conftest import Consortium

#: Ids around the layout: valid ones, unknown kind bytes, and bits above the 32 the layout uses.
IDS = st.one_of(
    st.builds(
        lambda k, p, v: k << 24 | p << 16 | v,
        st.integers(0, 255),
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
    ),
    st.integers(0, 2**40),
    st.integers(0, 2**256 - 1),
)


@pytest.fixture(scope="module")
def harness(consortium: Consortium) -> Iterator[Any]:
    snapshot = consortium.snapshot()
    address, _ = consortium.chain.deploy("TokenIdHarness", [], consortium.regulator)
    yield consortium.chain.contract("TokenIdHarness", address)
    consortium.revert(snapshot)


def _python_decode(token_id: int) -> tuple[int, int, int] | None:
    try:
        d = decode_id(token_id)
    except InvalidInputError:
        return None
    return int(d.kind), d.pollutant, d.vintage


@given(kind=st.sampled_from(list(Kind)), pollutant=st.integers(1, 255), vintage=st.integers(2000, 2200))
@settings(max_examples=60, deadline=None)
def test_encode_matches_python_layout(harness: Any, kind: Kind, pollutant: int, vintage: int) -> None:
    assert harness.functions.encode(int(kind), pollutant, vintage).call() == encode_id(
        kind, pollutant, vintage
    )


@given(token_id=IDS)
@settings(max_examples=150, deadline=None)
def test_decode_matches_python_layout_for_any_id(harness: Any, token_id: int) -> None:
    fits, kind, pollutant, vintage, kind_only, pollutant_only, vintage_only = harness.functions.inspect(
        token_id
    ).call()
    assert fits == (token_id >> 32 == 0)
    assert (kind, pollutant, vintage) == (kind_only, pollutant_only, vintage_only)
    assert (pollutant, vintage) == ((token_id >> 16) & 0xFF, token_id & 0xFFFF)
    python = _python_decode(token_id)
    if python is not None:  # Python decodes exactly the ids that fit with a known kind
        assert fits and (kind, pollutant, vintage) == python
    elif fits:
        assert kind == 0  # an unknown kind byte reads as Kind.None


@given(token_id=IDS, kind=st.sampled_from(list(Kind)), pollutant=st.integers(0, 255))
@settings(max_examples=150, deadline=None)
def test_is_of_is_fits_and_same_kind_and_pollutant(
    harness: Any, token_id: int, kind: Kind, pollutant: int
) -> None:
    python = _python_decode(token_id)
    expected = python is not None and python[:2] == (int(kind), pollutant)
    assert harness.functions.isOf(token_id, int(kind), pollutant).call() == expected


def test_is_of_refuses_a_bit_above_the_layout(harness: Any) -> None:
    token_id = encode_id(Kind.OFFSET, "CO2", 2024)
    assert harness.functions.isOf(token_id, int(Kind.OFFSET), 1).call()
    assert not harness.functions.isOf(token_id | 1 << 32, int(Kind.OFFSET), 1).call()
    assert not harness.functions.isOf(token_id, int(Kind.ALLOWANCE), 1).call()
