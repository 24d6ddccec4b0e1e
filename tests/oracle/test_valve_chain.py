"""Valve orders checked against the real ConsortiumRegistry on Anvil: only an active REGULATOR's
signed order passes; another role, an outsider and a suspended regulator are refused by name."""

from __future__ import annotations

import time

import pytest
from eth_account.signers.local import LocalAccount

from chain.valve import ValveOrder, sign_valve_order
from oracle.errors import ValveOrderNotRegulatorError, ValveOrderSignatureError
from oracle.valve import RegistryRegulators, SignedValveOrder, ValveOrderCheck
from tests.conftest import Consortium

MN = "33100000000001"


def signed(consortium: Consortium, by: LocalAccount, nonce: int = 1) -> SignedValveOrder:
    order = ValveOrder(by.address, MN, "close", nonce, int(time.time()) + 600, "停产整顿")
    registry = consortium.registry
    return SignedValveOrder(order, sign_valve_order(by, consortium.chain.chain_id, registry.address, order))


def check(consortium: Consortium) -> ValveOrderCheck:
    registry = consortium.registry
    return ValveOrderCheck(consortium.chain.chain_id, registry.address, RegistryRegulators(registry), [MN])


def test_only_an_active_regulators_signed_order_passes_the_registry_check(fresh: Consortium) -> None:
    gate = check(fresh)
    gate.check(signed(fresh, fresh.regulator), ())
    for other in (fresh.auditor, fresh.oracle, fresh.outsider):
        with pytest.raises(ValveOrderNotRegulatorError, match="not an active REGULATOR"):
            gate.check(signed(fresh, other), ())
    fresh.registry.govern(fresh.members, fresh.registry.encode_suspend(fresh.regulator.address, 3), "suspend")
    with pytest.raises(ValveOrderNotRegulatorError):
        gate.check(signed(fresh, fresh.regulator, nonce=2), ())


def test_an_order_signed_for_another_registry_or_chain_is_refused(fresh: Consortium) -> None:
    order = ValveOrder(fresh.regulator.address, MN, "open", 3, int(time.time()) + 600, "reopen")
    elsewhere = sign_valve_order(fresh.regulator, fresh.chain.chain_id + 1, fresh.registry.address, order)
    with pytest.raises(ValveOrderSignatureError, match="not its regulator"):
        check(fresh).check(SignedValveOrder(order, elsewhere), ())
