"""The chain tests' isolation (tests/conftest.py): a test's revert leaves nothing behind, not
even a transaction waiting in the node's pool."""

from __future__ import annotations

from typing import Any

from chain.accounts import dev_account
from tests.conftest import Consortium


def test_revert_drops_a_transaction_queued_behind_a_nonce_gap(consortium: Consortium) -> None:
    chain, sender = consortium.chain, dev_account(38)
    w3 = chain.w3
    snapshot = consortium.snapshot()
    gap = w3.eth.get_transaction_count(sender.address) + 3
    tx: dict[str, Any] = {
        "to": consortium.outsider.address,
        "value": 1,
        "gas": 21_000,
        "gasPrice": 2 * w3.eth.gas_price,
        "nonce": gap,
        "chainId": chain.chain_id,
    }
    w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    assert int(chain.rpc("txpool_status", [])["queued"], 16) == 1
    consortium.revert(snapshot)
    assert chain.rpc("txpool_status", []) == {"pending": "0x0", "queued": "0x0"}
