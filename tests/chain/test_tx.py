"""Transactions: unsigned build, local signing, raw relay, custom-error decoding."""

from __future__ import annotations

import pytest
from eth_abi import encode

from chain.accounts import dev_account
from chain.errors import ContractRevertError, TransactionError
from chain.tx import ErrorDecoder
from tests.conftest import Consortium
from tests.utils.chain import profile, reverts


def test_build_returns_unsigned_eip1559_tx_for_wallet(fresh: Consortium) -> None:
    r = fresh.registry
    fn = r.contract.functions.propose(r.address, r.encode_reinstate(dev_account(21).address), "x")
    tx = fresh.chain.build(fn, fresh.regulator.address)
    assert tx["chainId"] == 31337 and tx["to"] == r.address
    assert "maxFeePerGas" in tx and "maxPriorityFeePerGas" in tx and "gasPrice" not in tx
    assert tx["gas"] > 21_000 and tx["nonce"] >= 0


def test_send_raw_relays_wallet_signed_transaction(fresh: Consortium) -> None:
    r = fresh.registry
    fn = r.contract.functions.propose(r.address, r.encode_grant_role("AUDITOR", dev_account(21).address), "x")
    tx = fresh.chain.build(fn, fresh.exchange.address)
    # the wallet signs on its own side; the server only relays the raw bytes
    raw = fresh.exchange.sign_transaction({k: v for k, v in tx.items() if k != "from"}).raw_transaction
    receipt = fresh.chain.wait(fresh.chain.send_raw(bytes(raw)))
    assert receipt["status"] == 1
    assert r.proposals()[-1].proposer == fresh.exchange.address


def test_build_raises_decoded_custom_error_when_call_would_revert(fresh: Consortium) -> None:
    r = fresh.registry
    fn = r.contract.functions.approve(77)
    with reverts("ProposalUnknown", proposalId=77) as info:
        fresh.chain.build(fn, fresh.regulator.address)
    assert info.value.notice == "No proposal with this id."
    assert info.value.explain() == "ProposalUnknown(proposalId=77): No proposal with this id."


def test_wait_replays_reason_when_mined_transaction_reverted(fresh: Consortium) -> None:
    r = fresh.registry
    fn = r.contract.functions.approve(77)
    tx = fresh.chain.build(fn, fresh.regulator.address, gas=200_000)  # explicit gas: no estimate
    with reverts("ProposalUnknown", proposalId=77) as info:
        fresh.chain.wait(fresh.chain.send_raw(fresh.chain.sign(tx, fresh.regulator)))
    assert info.value.tx_hash is not None


def test_sign_refused_when_key_is_not_sender(fresh: Consortium) -> None:
    r = fresh.registry
    tx = fresh.chain.build(r.contract.functions.approve(1), fresh.regulator.address, gas=100_000)
    with pytest.raises(TransactionError, match="key is"):
        fresh.chain.sign(tx, fresh.exchange)


def test_error_decoder_handles_builtin_and_unknown_errors() -> None:
    decoder = ErrorDecoder([])
    err = decoder.decode(bytes.fromhex("08c379a0") + encode(["string"], ["boom"]))
    assert (err.error, err.args_) == ("Error", {"reason": "boom"})
    panic = decoder.decode(bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]))
    assert panic.error == "Panic" and "overflow" in str(panic)
    assert decoder.decode(b"\x12\x34\x56\x78").error == "Unknown"
    assert decoder.decode(b"").error == "Unknown"


def test_pipelined_transactions_use_consecutive_nonces(fresh: Consortium) -> None:
    r = fresh.registry
    before = len(r.proposals())
    hashes = []
    for i in range(5):
        data = r.encode_register_enterprise(dev_account(20 + i).address, profile(i))
        fn = r.contract.functions.propose(r.address, data, "")
        tx = fresh.chain.build(fn, fresh.regulator.address, gas=500_000)
        hashes.append(fresh.chain.send_raw(fresh.chain.sign(tx, fresh.regulator)))
    receipts = [fresh.chain.wait(h) for h in hashes]
    assert all(rc["status"] == 1 for rc in receipts)
    assert len(r.proposals()) == before + 5


def test_send_packed_mines_many_transactions_a_block_and_returns_receipts_in_order(
    fresh: Consortium,
) -> None:
    r = fresh.registry
    calls = [
        (r.contract.functions.propose(r.address, r.encode_register_enterprise(dev_account(20 + i).address,
                                                                            profile(i)), f"p{i}"),
         fresh.members[i % 2])
        for i in range(12)
    ]  # fmt: skip
    seen: list[int] = []
    receipts = fresh.chain.send_packed(calls, gas=500_000, chunk=5, on_progress=seen.append)
    assert seen == [5, 5, 2]
    assert all(rc["status"] == 1 for rc in receipts)
    assert len({rc["blockNumber"] for rc in receipts}) <= 6  # packed, not one block each
    descriptions = [p.description for p in r.proposals()[-12:]]
    assert descriptions == [f"p{i}" for i in range(12)]
    assert fresh.chain.w3.provider.make_request("anvil_getAutomine", [])["result"] is True  # type: ignore[arg-type]


def test_contract_revert_error_is_chain_error() -> None:
    from chain.errors import ChainError
    from domain.errors import EtsError

    assert issubclass(ContractRevertError, ChainError) and issubclass(ChainError, EtsError)
