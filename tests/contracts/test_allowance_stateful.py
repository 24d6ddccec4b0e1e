"""Hypothesis state machine over allocate / transfer / freeze / suspend / surrender on a real
Anvil: for every id, issued <= cap and sum(balances) + retired == issued; no unregistered
account ever holds a balance; every refusal is the one the model predicts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chain.accounts import dev_account
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import CHAIN_MACHINE_SETTINGS, encode_call, expect, profile

HOLDERS = [dev_account(i) for i in (20, 21, 22)]
OUTSIDER = dev_account(38)
ESCROW = dev_account(35)  # stands in for the compliance manager (a system contract)
IDS = [encode_id(Kind.ALLOWANCE, "CO2", 2026), encode_id(Kind.ALLOWANCE, "CO2", 2027)]
CAP = 5_000


@pytest.fixture(scope="module")
def prepared(consortium: Consortium) -> Iterator[Consortium]:
    """Holders registered, caps set, the escrow made compliance manager — once for the module,
    rolled back after it."""
    module_snapshot = consortium.snapshot()
    c, r, a = consortium, consortium.registry, consortium.allowance
    calls = [r.encode_register_enterprise(h.address, profile(700 + i)) for i, h in enumerate(HOLDERS)]
    r.govern(c.members, r.encode_multicall(calls), "holders")
    r.govern(
        c.members,
        encode_call(a.contract, "setSystemContract", ESCROW.address, True),
        "escrow",
        target=a.address,
    )
    r.govern(
        c.members, encode_call(a.contract, "setComplianceManager", ESCROW.address), "cm", target=a.address
    )
    for token_id in IDS:
        a.set_cap(c.regulator, token_id, CAP)
    yield c
    consortium.revert(module_snapshot)


def test_allowances_are_conserved_under_random_operations(prepared: Consortium) -> None:
    c, a, r = prepared, prepared.allowance, prepared.registry

    class Market(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = c.snapshot()
            self.balances = {(h.address, t): 0 for h in [*HOLDERS, ESCROW] for t in IDS}
            self.issued = dict.fromkeys(IDS, 0)
            self.retired = dict.fromkeys(IDS, 0)
            self.frozen: set[tuple[str, int]] = set()
            self.suspended: set[str] = set()
            self.batch = 0

        def teardown(self) -> None:
            c.revert(self.snapshot)

        @rule(t=st.sampled_from(IDS), who=st.lists(st.integers(0, 2), min_size=1, max_size=3),
              amount=st.integers(1, 2_000))  # fmt: skip
        def allocate(self, t: int, who: list[int], amount: int) -> None:
            self.batch += 1
            recipients = [HOLDERS[i].address for i in who]
            total = amount * len(who)
            error = None
            if total > CAP - self.issued[t]:
                error = "CapExceeded"
            elif any(x in self.suspended for x in recipients):
                error = "AllowanceNotEnterprise"
            expect(
                error,
                a.allocate,
                c.regulator,
                t,
                recipients,
                [amount] * len(who),
                self.batch.to_bytes(32, "big"),
            )
            if error is None:
                self.issued[t] += total
                for x in recipients:
                    self.balances[(x, t)] += amount

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), j=st.integers(0, 3), amount=st.integers(1, 800))
        def transfer(self, t: int, i: int, j: int, amount: int) -> None:
            src = HOLDERS[i]
            dst = OUTSIDER.address if j == 3 else HOLDERS[j].address
            error = None
            if src.address in self.suspended or j == 3 or dst in self.suspended:
                error = "PartyNotAllowed"
            elif (src.address, t) in self.frozen:
                error = "AllowanceFrozen"
            elif self.balances[(src.address, t)] < amount:
                error = "ERC1155InsufficientBalance"
            expect(error, a.transfer, src, dst, t, amount)
            if error is None:
                self.balances[(src.address, t)] -= amount
                self.balances[(dst, t)] += amount

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2))
        def toggle_freeze(self, t: int, i: int) -> None:
            key = (HOLDERS[i].address, t)
            if key in self.frozen:
                a.release(c.regulator, key[0], t)
                self.frozen.discard(key)
            else:
                a.freeze(c.regulator, key[0], t, 9)
                self.frozen.add(key)

        @rule(i=st.integers(0, 2))
        def toggle_suspend(self, i: int) -> None:
            account = HOLDERS[i].address
            if account in self.suspended:
                r.govern(c.members, r.encode_reinstate(account), "reinstate")
                self.suspended.discard(account)
            else:
                r.govern(c.members, r.encode_suspend(account, 1), "suspend")
                self.suspended.add(account)

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), amount=st.integers(1, 500),
              year=st.sampled_from([2026, 2027]))  # fmt: skip
        def surrender(self, t: int, i: int, amount: int, year: int) -> None:
            holder = HOLDERS[i]
            key = (holder.address, t)
            if holder.address in self.suspended or key in self.frozen or self.balances[key] < amount:
                return  # escrow transfer refused: covered by the transfer rule
            a.transfer(holder, ESCROW.address, t, amount)
            self.balances[key] -= amount
            self.balances[(ESCROW.address, t)] += amount
            vintage = t & 0xFFFF
            error = "AllowanceVintageInFuture" if vintage > year else None
            expect(error, a.retire, ESCROW, holder.address, t, amount, year)
            if error is None:
                self.balances[(ESCROW.address, t)] -= amount
                self.retired[t] += amount

        @invariant()
        def conserved(self) -> None:
            for t in IDS:
                on_chain = {h: a.balance(h, t) for h, tt in self.balances if tt == t}
                assert on_chain == {h: n for (h, tt), n in self.balances.items() if tt == t}
                issued, retired = a.issued(t), a.retired(t)
                assert (issued, retired) == (self.issued[t], self.retired[t])
                assert issued <= a.cap(t)
                assert sum(on_chain.values()) + retired == issued
                assert a.balance(OUTSIDER.address, t) == 0

    Market.TestCase.settings = CHAIN_MACHINE_SETTINGS
    Market.TestCase().runTest()
