"""``chain.replay``: pre-signed transactions mined many to a block in signing order (a chain of
transfers each depending on the one before goes through), a revert reported in its receipt, and
the replay node's command line."""

from __future__ import annotations

from chain.accounts import dev_account
from chain.replay import REPLAY_BLOCK_GAS_LIMIT, RawCall, Replayer, ReplayNode
from tests.conftest import Consortium

TOKEN = 7


def test_replayer_mines_dependent_transfers_in_signing_order_many_a_block(fresh: Consortium) -> None:
    chain = fresh.chain
    deployer, ring = dev_account(30), [dev_account(31), dev_account(32), dev_account(33)]
    address, _ = chain.deploy("PlainERC1155", [], deployer)
    token = chain.contract("PlainERC1155", address)
    calls = [RawCall.of(token.functions.mint(ring[0].address, TOKEN, 100), deployer, 100_000)]
    # the whole balance goes round the ring: each transfer needs the one before (batches of 100
    # are enough for Anvil to lose their arrival order: the fee order has to keep it)
    for i in range(300):
        sender, receiver = ring[i % 3], ring[(i + 1) % 3]
        transfer = token.functions.safeTransferFrom(sender.address, receiver.address, TOKEN, 100, b"")
        calls.append(RawCall.of(transfer, sender, 100_000))
    replayer = Replayer(chain)
    mined = replayer.receipts(replayer.send(replayer.sign(calls), per_block=100))
    assert [m.status for m in mined] == [1] * len(calls)
    assert len({m.block for m in mined}) == 4  # 301 transactions, 100 a block
    assert [(m.block, m.index) for m in mined] == sorted((m.block, m.index) for m in mined)
    assert token.functions.balanceOf(ring[0].address, TOKEN).call() == 100
    assert chain.rpc("anvil_getAutomine", []) is True  # back on after the replay


def test_replayer_reports_reverted_transaction_in_its_receipt(fresh: Consortium) -> None:
    chain = fresh.chain
    deployer, holder, other = dev_account(30), dev_account(31), dev_account(32)
    address, _ = chain.deploy("PlainERC1155", [], deployer)
    token = chain.contract("PlainERC1155", address)
    move = token.functions.safeTransferFrom
    calls = [
        RawCall.of(token.functions.mint(holder.address, TOKEN, 10), deployer, 100_000),
        RawCall.of(move(holder.address, other.address, TOKEN, 11, b""), holder, 100_000),  # more than held
        RawCall.of(move(holder.address, other.address, TOKEN, 10, b""), holder, 100_000),
    ]
    replayer = Replayer(chain)
    mined = replayer.receipts(replayer.send(replayer.sign(calls)))
    assert [m.status for m in mined] == [1, 0, 1]
    assert len({m.block for m in mined}) == 1
    assert token.functions.balanceOf(other.address, TOKEN).call() == 10


def test_replay_node_command_has_large_block_gas_limit_and_fee_order() -> None:
    command = ReplayNode().command()
    assert command[command.index("--gas-limit") + 1] == str(REPLAY_BLOCK_GAS_LIMIT)
    assert command[command.index("--order") + 1] == "fees"
