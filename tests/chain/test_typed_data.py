"""The EIP-712 typed-data helper: the digest of a ledger ``ReviewDecision`` equals eth-account's
encoder called apart and the EmissionsLedger's own ``reviewDigest`` view on Anvil; signatures
recover to their signer and to no one when malformed; a domain carries only the fields it has."""

from __future__ import annotations

from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.accounts import dev_account
from chain.review import REVIEW_FIELDS
from chain.typed_data import Eip712Domain, recover_typed, sign_typed, typed_data, typed_digest
from tests.conftest import Consortium

SIGNER, OTHER = dev_account(35), dev_account(36)


def _decision(month: int, action: int, value: int, note: bytes) -> dict[str, Any]:
    return {
        "reviewer": SIGNER.address,
        "enterprise": OTHER.address,
        "subject": b"\x11" * 32,
        "pollutant": b"w01018\x00\x00",
        "month": month,
        "action": action,
        "method": b"prevhour",
        "value": value,
        "decimals": 2,
        "noteHash": note,
    }


def _ledger_domain(c: Consortium) -> Eip712Domain:
    return Eip712Domain(
        chain_id=c.chain.chain_id,
        verifying_contract=c.ledger.address,
        name="ETS EmissionsLedger",
        version="1",
    )


@settings(max_examples=8, deadline=None)
@given(
    month=st.integers(0, 2**32 - 1),
    action=st.integers(0, 255),
    value=st.integers(-(2**255), 2**255 - 1),
    note=st.binary(min_size=32, max_size=32),
)
def test_typed_digest_equals_eth_account_and_ledger_view_for_review_decision(
    consortium: Consortium, month: int, action: int, value: int, note: bytes
) -> None:
    c = consortium
    domain = _ledger_domain(c)
    message = _decision(month, action, value, note)
    data = typed_data(domain, "ReviewDecision", {"ReviewDecision": REVIEW_FIELDS}, message)

    apart = encode_typed_data(
        domain_data={
            "name": "ETS EmissionsLedger",
            "version": "1",
            "chainId": c.chain.chain_id,
            "verifyingContract": c.ledger.address,
        },
        message_types={"ReviewDecision": REVIEW_FIELDS},
        message_data=message,
    )
    on_chain = c.chain.call(c.ledger.contract.functions.reviewDigest(tuple(message.values())))

    digest = typed_digest(data)
    assert digest == bytes(keccak(b"\x19" + apart.version + apart.header + apart.body))
    assert digest == bytes(on_chain)


def test_sign_typed_recovers_signer_and_none_when_malformed() -> None:
    domain = Eip712Domain(chain_id=31337, verifying_contract=OTHER.address, name="ETS", version="1")
    data = typed_data(
        domain, "ReviewDecision", {"ReviewDecision": REVIEW_FIELDS}, _decision(202701, 2, -5, bytes(32))
    )
    other_chain = typed_data(
        Eip712Domain(chain_id=1, verifying_contract=OTHER.address, name="ETS", version="1"),
        "ReviewDecision",
        {"ReviewDecision": REVIEW_FIELDS},
        data["message"],
    )

    signature = sign_typed(SIGNER, data)

    assert len(signature) == 65
    assert recover_typed(data, signature) == SIGNER.address
    assert recover_typed(other_chain, signature) not in (None, SIGNER.address)
    assert recover_typed(data, signature[:64]) is None
    assert recover_typed(data, bytes(65)) is None


def test_domain_has_only_its_fields_in_eip_order_when_without_name_and_version() -> None:
    safe = Eip712Domain(chain_id=31337, verifying_contract=OTHER.address)
    named = Eip712Domain(chain_id=5, verifying_contract=OTHER.address, name="N", version="2")

    data = typed_data(safe, "SafeTx", {"SafeTx": [{"name": "nonce", "type": "uint256"}]}, {"nonce": 1})

    assert list(data) == ["types", "primaryType", "domain", "message"]
    assert list(data["types"]) == ["EIP712Domain", "SafeTx"]
    assert data["types"]["EIP712Domain"] == [
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ]
    assert data["domain"] == {"chainId": 31337, "verifyingContract": OTHER.address}
    assert [f["name"] for f in named.fields()] == ["name", "version", "chainId", "verifyingContract"]
    assert list(named.as_json().items()) == [
        ("name", "N"),
        ("version", "2"),
        ("chainId", 5),
        ("verifyingContract", OTHER.address),
    ]
