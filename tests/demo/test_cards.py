"""The cards step of the demo on a real chain: EmissionCards deployed and wired by governance, two
cards issued beside the demo devices, March's load of SO2 2027 by enterprise-1, a recharge after a
purchase, a refused transfer of committed allowances; a re-run sends nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.accounts import demo_account
from chain.cards import CardsClient
from demo.cards import CARDS, LOAD, MONTH, PURCHASE, SO2_2027, demo_cards
from demo.run import demo_device_mn
from tests.conftest import Consortium
from tests.utils.demo_market import register_demo_enterprises


def test_demo_cards_load_recharge_and_refuse_then_rerun_sends_nothing(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    e1, e2 = demo_account("enterprise-1").address, demo_account("enterprise-2").address
    for index, owner in enumerate((e1, e2)):
        fresh.registry.bind_device(
            fresh.regulator, demo_account(f"enterprise-{index + 7}").address, owner, demo_device_mn(index)
        )
    fresh.allowance.set_cap(fresh.regulator, SO2_2027, 2_000)
    fresh.allowance.allocate(fresh.regulator, SO2_2027, [e1, e2], [1_000, 500], b"t-cards".ljust(32, b"\0"))
    manifest_path = tmp_path / "deployment.json"
    shutil.copy(fresh.manifest_path, manifest_path)

    first = demo_cards(fresh.chain, manifest_path, fresh.registry, fresh.members)

    assert first.manifest is not None
    cards = CardsClient(fresh.chain, first.manifest.address("EmissionCards"))
    assert first.committed == LOAD + PURCHASE == cards.month(CARDS[0], SO2_2027, MONTH).committed
    assert first.refusals == ["ERC1155InsufficientBalance"]
    assert fresh.allowance.balance(e1, SO2_2027) == 1_000 - LOAD
    assert fresh.allowance.balance(e2, SO2_2027) == 500 - PURCHASE
    assert [c.number for c in cards.cards_of(e2)] == [CARDS[1]]
    block = fresh.chain.w3.eth.block_number
    again = demo_cards(fresh.chain, manifest_path, fresh.registry, fresh.members)
    assert again.committed == first.committed and again.refusals == []
    assert fresh.chain.w3.eth.block_number == block
