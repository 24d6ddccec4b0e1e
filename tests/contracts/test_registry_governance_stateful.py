"""Hypothesis state machine over random governance actions on a real Anvil: fewer than k
members can never change a role, a registration or a suspension."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chain.accounts import dev_account
from chain.registry import RegistryClient, Status
from tests.conftest import Consortium
from tests.utils.chain import CHAIN_MACHINE_SETTINGS, expect, profile

MEMBERS = [dev_account(i) for i in (24, 25, 26, 27)]
THRESHOLD = 3
LIFETIME = 3600
TARGETS = [dev_account(i).address for i in (28, 29, 30)]
ROLE_NAMES = ["REGULATOR", "AUDITOR", "ORACLE"]
SEEDS = [501, 502, 503]


@dataclass
class ModelProposal:
    action: tuple[str, ...]
    approvals: set[int]
    expired: bool = False
    executed: bool = False


@dataclass
class Model:
    roles: set[tuple[str, str]] = field(default_factory=set)
    enterprises: dict[str, int] = field(default_factory=dict)  # account -> seed
    suspended: set[str] = field(default_factory=set)
    proposals: dict[int, ModelProposal] = field(default_factory=dict)


@pytest.fixture(scope="module")
def governed(consortium: Consortium) -> Iterator[RegistryClient]:
    """A second registry with 4 members and threshold 3, deployed once for this module."""
    module_snapshot = consortium.snapshot()
    address, _ = consortium.chain.deploy(
        "ConsortiumRegistry", [[m.address for m in MEMBERS], THRESHOLD, LIFETIME], dev_account(0)
    )
    yield RegistryClient(consortium.chain, address)
    consortium.revert(module_snapshot)


def test_governance_changes_need_threshold_approvals(
    consortium: Consortium, governed: RegistryClient
) -> None:
    class Governance(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.c = consortium
            self.r = governed
            self.model = Model()
            self.snapshot = consortium.snapshot()

        def teardown(self) -> None:
            self.c.revert(self.snapshot)

        @initialize()
        def start(self) -> None:
            pass

        def _encode(self, action: tuple[str, ...]) -> bytes:
            kind = action[0]
            if kind == "grant":
                return self.r.encode_grant_role(action[1], action[2])
            if kind == "revoke":
                return self.r.encode_revoke_role(action[1], action[2])
            if kind == "register":
                return self.r.encode_register_enterprise(action[1], profile(int(action[2])))
            return self.r.encode_suspend(action[1], 1)

        @rule(
            member=st.integers(0, 3),
            action=st.one_of(
                st.tuples(
                    st.sampled_from(["grant", "revoke"]),
                    st.sampled_from(ROLE_NAMES),
                    st.sampled_from(TARGETS),
                ),
                st.tuples(
                    st.just("register"), st.sampled_from(TARGETS), st.sampled_from([str(s) for s in SEEDS])
                ),
                st.tuples(st.just("suspend"), st.sampled_from(TARGETS)),
            ),
        )
        def propose(self, member: int, action: tuple[str, ...]) -> None:
            pid = self.r.propose(MEMBERS[member], self._encode(action), "random", preflight=False)
            self.model.proposals[pid] = ModelProposal(action, {member})

        @rule(member=st.integers(0, 3), pick=st.integers(0, 1000))
        def approve(self, member: int, pick: int) -> None:
            if not self.model.proposals:
                return
            pid = sorted(self.model.proposals)[pick % len(self.model.proposals)]
            p = self.model.proposals[pid]
            error = (
                "ProposalAlreadyExecuted" if p.executed
                else "ProposalExpired" if p.expired
                else "ProposalAlreadyApproved" if member in p.approvals
                else None
            )  # fmt: skip
            expect(error, self.r.approve, MEMBERS[member], pid)
            if error is None:
                p.approvals.add(member)

        def _inner_error(self, action: tuple[str, ...]) -> str | None:
            m = self.model
            kind = action[0]
            if kind == "register":
                account, seed = action[1], int(action[2])
                if account in m.enterprises:
                    return "RegistryAlreadyRegistered"
                if seed in m.enterprises.values():
                    return "RegistryDuplicateEnterprise"
            if kind == "suspend":
                account = action[1]
                has_role = any(a == account for _, a in m.roles) or account in m.enterprises
                if not has_role or account in m.suspended:
                    return "RegistryWrongStatus"
            return None

        def _apply(self, action: tuple[str, ...]) -> None:
            m = self.model
            kind = action[0]
            if kind == "grant":
                m.roles.add((action[1], action[2]))
            elif kind == "revoke":
                m.roles.discard((action[1], action[2]))
            elif kind == "register":
                m.enterprises[action[1]] = int(action[2])
            else:
                m.suspended.add(action[1])

        @rule(member=st.integers(0, 3), pick=st.integers(0, 1000))
        def execute(self, member: int, pick: int) -> None:
            if not self.model.proposals:
                return
            pid = sorted(self.model.proposals)[pick % len(self.model.proposals)]
            p = self.model.proposals[pid]
            error = (
                "ProposalAlreadyExecuted" if p.executed
                else "ProposalExpired" if p.expired
                else "ProposalThresholdNotMet" if len(p.approvals) < THRESHOLD
                else self._inner_error(p.action)
            )  # fmt: skip
            expect(error, self.r.execute, MEMBERS[member], pid)
            if error is None:
                p.executed = True
                self._apply(p.action)

        @rule(pick=st.integers(0, 1000))
        def outsider_tries(self, pick: int) -> None:
            if not self.model.proposals:
                return
            pid = sorted(self.model.proposals)[pick % len(self.model.proposals)]
            expect("GovernanceNotMember", self.r.approve, self.c.outsider, pid)
            expect("GovernanceNotMember", self.r.execute, self.c.outsider, pid)

        @rule(long=st.booleans())
        def time_passes(self, long: bool) -> None:
            seconds = LIFETIME + 10 if long else 30
            w3 = self.c.chain.w3
            w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            if long:
                for p in self.model.proposals.values():
                    p.expired = True

        @invariant()
        def chain_matches_model(self) -> None:
            m = self.model
            for role in ROLE_NAMES:
                on_chain = set(self.r.role_members(role)) & set(TARGETS)
                assert on_chain == {t for r, t in m.roles if r == role}
            assert set(self.r.role_members("ENTERPRISE")) == set(m.enterprises)
            for target in m.suspended:
                assert self.r.status_of(target) == Status.SUSPENDED

    Governance.TestCase.settings = CHAIN_MACHINE_SETTINGS
    Governance.TestCase().runTest()
