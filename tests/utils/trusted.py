"""Factories for trusted-counterparty tests: TrustedCounterparties deployed on a suite (the
registry, a delay, a limit) and wired into its AllowanceToken by governance."""

from __future__ import annotations

from chain.suite import LocalSuite
from chain.trusted import TrustedClient, wire_trusted
from domain.trusted import DEFAULT_DELAY_SECONDS


def deploy_trusted(
    suite: LocalSuite, *, delay: int = DEFAULT_DELAY_SECONDS, limit: int = 100
) -> TrustedClient:
    """TrustedCounterparties deployed by the first member and wired into the suite's token."""
    address, receipt = suite.chain.deploy(
        "TrustedCounterparties", [suite.registry.address, delay, limit], suite.members[0]
    )
    trusted = TrustedClient(suite.chain, address, from_block=int(receipt["blockNumber"]))
    wire_trusted(suite.registry, suite.members, trusted, suite.allowance.address)
    return trusted
