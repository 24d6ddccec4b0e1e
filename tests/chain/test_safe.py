"""Safe{Wallet} enterprise accounts on Anvil: the Safe contracts compiled by the project's solc and
deployed by its deploy code, a 2-of-2 Safe registered as an enterprise holding allowances and
cash, transfers and a market order executed with both representatives' signatures, and the
refusals (too few signatures, a non-representative's signature, a malformed one, a stale nonce)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.auction import AuctionParams
from chain.deploy import SuiteConfig
from chain.errors import (
    ContractRevertError,
    SafeNonceError,
    SafeSignatureError,
    SafeSignerNotOwnerError,
    SafeThresholdNotMetError,
)
from chain.onboarding import register_enterprises
from chain.safe import (
    SafeClient,
    SafeFactoryClient,
    SafeTx,
    deploy_safe_contracts,
    recover_signer,
    safe_tx_typed_data,
    sign_safe_tx,
)
from tests.conftest import Consortium
from tests.utils.chain import profile
from tests.utils.market import CO2_2027, MAX_UINT, MORNING, SELL, build_rig, next_weekday_at

#: The Safe's two representatives, a third account that is not one, and a plain enterprise.
ALICE, BOB, MALLORY = dev_account(22), dev_account(23), dev_account(24)
PLAIN = dev_account(26)


@dataclass
class SafeRig:
    c: Consortium
    safe: SafeClient
    factory: SafeFactoryClient


@pytest.fixture(scope="module")
def rig(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafeRig]:
    c = consortium
    snapshot = c.snapshot()
    try:
        build_rig(c, traders=[PLAIN], seed=860)
        config = SuiteConfig(members=tuple(m.address for m in c.members), threshold=2)
        manifest_path = Path(tmp_path_factory.mktemp("safe")) / "safe.json"
        _, contracts = deploy_safe_contracts(c.chain, c.members[0], config, manifest_path)
        factory = SafeFactoryClient(c.chain, contracts)
        safe = factory.create(ALICE, [ALICE.address, BOB.address], 2, salt=1)
        register_enterprises(c.registry, c.members, [(safe.address, profile(861))])
        c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + 5_000)
        c.allowance.allocate(c.regulator, CO2_2027, [safe.address], [5_000], b"\x86" * 32)
        c.cash.deposit(c.exchange, safe.address, 10**9, "safe-test-deposit")
        yield SafeRig(c, safe, factory)
    finally:
        c.revert(snapshot)


def _sign(r: SafeRig, account: LocalAccount, tx: SafeTx) -> bytes:
    return sign_safe_tx(account, r.c.chain.chain_id, r.safe.address, tx)


def _both(r: SafeRig, tx: SafeTx) -> dict[str, bytes]:
    return {a.address: _sign(r, a, tx) for a in (ALICE, BOB)}


def _transfer(r: SafeRig, amount: int) -> SafeTx:
    data = r.c.allowance.contract.encode_abi(
        "safeTransferFrom", args=[r.safe.address, PLAIN.address, CO2_2027, amount, b""]
    )
    return r.safe.transaction(r.c.allowance.address, bytes.fromhex(data[2:]))


def test_safe_is_created_with_its_representatives_and_threshold(rig: SafeRig) -> None:
    assert set(rig.safe.owners()) == {ALICE.address, BOB.address}
    assert rig.safe.threshold() == 2
    assert rig.c.registry.is_active_participant(rig.safe.address)
    assert rig.c.allowance.balance(rig.safe.address, CO2_2027) == 5_000


def test_safe_tx_hash_equals_the_safes_own_hash(rig: SafeRig) -> None:
    tx = _transfer(rig, 7)
    assert rig.safe.tx_hash(tx) == rig.safe.onchain_tx_hash(tx)
    typed = safe_tx_typed_data(rig.c.chain.chain_id, rig.safe.address, tx)
    assert typed["primaryType"] == "SafeTx" and typed["message"]["nonce"] == tx.nonce


def test_safe_transfer_executes_with_both_representatives_signatures(rig: SafeRig) -> None:
    c, safe = rig.c, rig.safe
    before = (c.allowance.balance(safe.address, CO2_2027), c.allowance.balance(PLAIN.address, CO2_2027))
    tx = _transfer(rig, 25)
    safe.execute(MALLORY, tx, _both(rig, tx))  # anyone may relay: the signatures decide
    after = (c.allowance.balance(safe.address, CO2_2027), c.allowance.balance(PLAIN.address, CO2_2027))
    assert after == (before[0] - 25, before[1] + 25)
    assert safe.nonce() == tx.nonce + 1


def test_safe_accepts_an_eth_sign_signature_with_v_plus_four(rig: SafeRig) -> None:
    tx = _transfer(rig, 3)
    tx_hash = rig.safe.tx_hash(tx)
    signed = BOB.sign_message(encode_defunct(primitive=tx_hash)).signature
    eth_sign = bytes(signed[:64]) + bytes([signed[64] + 4])
    assert recover_signer(tx_hash, eth_sign) == (BOB.address, "eth_sign")
    sigs: dict[str, bytes] = {ALICE.address: _sign(rig, ALICE, tx), BOB.address: eth_sign}
    before = rig.c.allowance.balance(PLAIN.address, CO2_2027)
    rig.safe.execute(ALICE, tx, sigs)
    assert rig.c.allowance.balance(PLAIN.address, CO2_2027) == before + 3


def test_safe_refuses_too_few_signatures_and_changes_nothing(rig: SafeRig) -> None:
    tx = _transfer(rig, 10)
    only_alice: dict[str, bytes] = {ALICE.address: _sign(rig, ALICE, tx)}
    before = rig.c.allowance.balance(rig.safe.address, CO2_2027)
    with pytest.raises(SafeThresholdNotMetError, match="needs 2 representatives' signatures, has 1"):
        rig.safe.execute(ALICE, tx, only_alice)
    # the Safe itself refuses too (GS020: signatures too short), even if the check were skipped
    fn = rig.safe.contract.functions.execTransaction(
        tx.to, 0, tx.data, 0, 0, 0, 0, tx.gas_token, tx.refund_receiver, only_alice[ALICE.address]
    )
    with pytest.raises(ContractRevertError, match="GS020"):
        rig.c.chain.transact(fn, ALICE)
    assert rig.c.allowance.balance(rig.safe.address, CO2_2027) == before
    assert rig.safe.nonce() == tx.nonce


def test_safe_refuses_a_non_representatives_signature(rig: SafeRig) -> None:
    tx = _transfer(rig, 10)
    mallory = _sign(rig, MALLORY, tx)
    with pytest.raises(SafeSignerNotOwnerError, match=f"{MALLORY.address} is not a representative"):
        rig.safe.check_signature(tx, mallory)
    sigs: dict[str, bytes] = {ALICE.address: _sign(rig, ALICE, tx), MALLORY.address: mallory}
    with pytest.raises(SafeSignerNotOwnerError):
        rig.safe.execute(ALICE, tx, sigs)
    assert rig.safe.nonce() == tx.nonce


def test_safe_refuses_malformed_or_misfiled_signatures_and_stale_nonces(rig: SafeRig) -> None:
    tx = _transfer(rig, 10)
    with pytest.raises(SafeSignatureError, match="64 bytes, not 65"):
        rig.safe.check_signature(tx, b"\x01" * 64)
    with pytest.raises(SafeSignatureError, match="v=29"):
        rig.safe.check_signature(tx, b"\x01" * 64 + b"\x1d")
    sigs = _both(rig, tx)
    with pytest.raises(SafeSignatureError, match="was made by"):
        rig.safe.execute(ALICE, tx, {ALICE.address: sigs[BOB.address], BOB.address: sigs[ALICE.address]})
    stale = SafeTx(to=tx.to, data=tx.data, nonce=tx.nonce + 1)
    with pytest.raises(SafeNonceError, match="is not the Safe's nonce"):
        rig.safe.execute(ALICE, stale, _both(rig, stale))


def test_safe_places_a_market_order_through_both_representatives(rig: SafeRig) -> None:
    c, safe = rig.c, rig.safe
    market = c.market.contract
    approve_all = c.allowance.contract.encode_abi("setApprovalForAll", args=[market.address, True])
    calls = [
        (c.cash.address, c.cash.contract.encode_abi("approve", args=[market.address, MAX_UINT])),
        (c.allowance.address, approve_all),
    ]
    for to, data in calls:
        tx = safe.transaction(to, bytes.fromhex(data[2:]))
        safe.execute(ALICE, tx, _both(rig, tx))
    next_weekday_at(c.chain, MORNING)
    place = market.encode_abi("placeOrder", args=[CO2_2027, SELL, 5_100, 40])
    tx = safe.transaction(market.address, bytes.fromhex(place[2:]))
    before = c.allowance.balance(safe.address, CO2_2027)
    receipt = safe.execute(BOB, tx, _both(rig, tx))
    placed = market.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
    assert placed and placed[0]["args"]["owner"] == safe.address
    assert c.allowance.balance(safe.address, CO2_2027) == before - 40  # escrowed by the market


@settings(max_examples=15, deadline=None)
@given(amount=st.integers(1, 6_000), signers=st.sampled_from([(ALICE,), (ALICE, BOB), (BOB, MALLORY)]))
def test_safe_transfer_conserves_allowances_or_changes_nothing(
    rig: SafeRig, amount: int, signers: tuple[LocalAccount, ...]
) -> None:
    c, safe = rig.c, rig.safe
    snapshot = c.snapshot()
    try:
        holders = (safe.address, PLAIN.address)
        before = [c.allowance.balance(h, CO2_2027) for h in holders]
        tx = _transfer(rig, amount)
        try:
            safe.execute(ALICE, tx, {a.address: _sign(rig, a, tx) for a in signers})
            moved = amount
        except (SafeThresholdNotMetError, SafeSignerNotOwnerError, ContractRevertError):
            moved = 0
        after = [c.allowance.balance(h, CO2_2027) for h in holders]
        assert sum(after) == sum(before) and after[0] == before[0] - moved
        assert moved == (amount if signers == (ALICE, BOB) and amount <= before[0] else 0)
    finally:
        c.revert(snapshot)


def test_safe_bids_in_an_auction_through_both_representatives(rig: SafeRig) -> None:
    c, safe = rig.c, rig.safe
    snapshot = c.snapshot()
    try:
        approve = c.cash.contract.encode_abi("approve", args=[c.auction.address, MAX_UINT])
        tx = safe.transaction(c.cash.address, bytes.fromhex(approve[2:]))
        safe.execute(ALICE, tx, _both(rig, tx))
        c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + 100)
        now = c.chain.timestamp()
        params = AuctionParams(token_id=CO2_2027, supply=100, reserve_price=5_000, commit_end=now + 3_600,
                               reveal_end=now + 7_200)  # fmt: skip
        auction_id = c.auction.create_primary(c.regulator, params)
        sealed = c.auction.seal(auction_id, safe.address, [(6_000, 50)], salt=b"\x5a" * 32)
        commit = c.auction.contract.encode_abi(
            "commit", args=[auction_id, bytes.fromhex(sealed.commitment[2:]), sealed.guarantee, []]
        )
        cash_before = c.cash.balance(safe.address)
        tx = safe.transaction(c.auction.address, bytes.fromhex(commit[2:]))
        safe.execute(BOB, tx, _both(rig, tx))
        assert c.cash.balance(safe.address) == cash_before - sealed.guarantee  # the guarantee in escrow
        c.chain.advance_time(3_600)
        reveal = c.auction.reveal_call(sealed)._encode_transaction_data()
        tx = safe.transaction(c.auction.address, bytes.fromhex(reveal[2:]))
        safe.execute(ALICE, tx, _both(rig, tx))
        assert (safe.address, ((6_000, 50),)) in [
            (b, tuple(s)) for b, s in c.auction.revealed_schedules(auction_id)
        ]
    finally:
        c.revert(snapshot)
