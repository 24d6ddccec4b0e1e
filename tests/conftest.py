"""Shared fixtures: one real Anvil node and one deployed suite per session; every chain test
runs between an ``evm_snapshot`` and an ``evm_revert``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.accounts import demo_account, dev_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.auction import AuctionClient, wire_auction_house
from chain.compile import Artifact, compile_contracts
from chain.compliance import ComplianceClient, wire_compliance_manager
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.ledger import LedgerClient
from chain.node import AnvilNode
from chain.registry import RegistryClient
from chain.tx import ChainClient


@dataclass
class Consortium:
    """The demo consortium every chain test starts from."""

    chain: ChainClient
    manifest: Manifest
    manifest_path: Path
    registry: RegistryClient
    allowance: AllowanceClient
    cash: SettlementClient
    auction: AuctionClient
    ledger: LedgerClient
    compliance: ComplianceClient
    members: list[LocalAccount]  # governance members (threshold 2 of 3)
    regulator: LocalAccount
    exchange: LocalAccount
    industry_body: LocalAccount
    auditor: LocalAccount
    oracle: LocalAccount
    outsider: LocalAccount
    treasury: LocalAccount

    def snapshot(self) -> str:
        return str(self.chain.w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]

    def revert(self, snapshot_id: str) -> None:
        self.chain.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        self.chain.reset_nonces()


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(accounts=40) as node:
        yield node


@pytest.fixture(scope="session")
def consortium(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    chain = ChainClient.connect(anvil.url, artifacts)
    members = [demo_account(n) for n in ("regulator", "exchange", "industry-body")]
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest_path = Path(tmp_path_factory.mktemp("deploy")) / "deployment.json"
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path)
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    c = Consortium(
        chain=chain,
        manifest=manifest,
        manifest_path=manifest_path,
        registry=registry,
        allowance=allowance,
        cash=cash,
        auction=AuctionClient(chain, manifest.address("SealedBidAuction"), allowance, cash),
        ledger=LedgerClient(chain, manifest.address("EmissionsLedger")),
        compliance=ComplianceClient(chain, manifest.address("ComplianceManager"), allowance, cash),
        members=members,
        regulator=members[0],
        exchange=members[1],
        industry_body=members[2],
        auditor=demo_account("auditor"),
        oracle=demo_account("oracle"),
        outsider=dev_account(39),
        treasury=demo_account("treasury"),
    )
    registry.grant_roles(
        members,
        [
            ("REGULATOR", c.regulator.address),
            ("EXCHANGE", c.exchange.address),
            ("AUDITOR", c.auditor.address),
            ("ORACLE", c.oracle.address),
        ],
    )
    wire_auction_house(registry, members, c.auction, c.treasury.address)
    wire_compliance_manager(registry, members, c.compliance, c.treasury.address)
    return c


@pytest.fixture
def fresh(consortium: Consortium) -> Iterator[Consortium]:
    """The consortium, with every change this test makes rolled back afterwards."""
    snapshot_id = consortium.snapshot()
    try:
        yield consortium
    finally:
        consortium.revert(snapshot_id)
