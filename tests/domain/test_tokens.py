"""Token ids (domain.tokens): the layout's refusals and labels."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInputError
from domain.tokens import CASH_ID, Kind, decode_id, encode_id, token_label


def test_encode_id_refuses_bad_parts() -> None:
    with pytest.raises(InvalidInputError, match="vintage"):
        encode_id(Kind.ALLOWANCE, "CO2", 1999)
    with pytest.raises(InvalidInputError, match="unknown pollutant"):
        encode_id(Kind.ALLOWANCE, "CH4", 2027)
    with pytest.raises(InvalidInputError, match="unknown token kind"):
        encode_id(7, "CO2", 2027)
    with pytest.raises(InvalidInputError):
        decode_id(1 << 40)


def test_token_label_names_cash_kind_pollutant_and_vintage() -> None:
    assert token_label(CASH_ID) == "cash"
    assert token_label(encode_id(Kind.ALLOWANCE, "CO2", 2027)) == "allowance:CO2:2027"
    assert token_label(encode_id(Kind.OFFSET, "NH3-N", 2030)) == "offset:NH3-N:2030"
    assert token_label(3 << 24 | 9 << 16 | 2027) == "kind3:P9:2027"
