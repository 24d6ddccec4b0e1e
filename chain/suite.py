"""A whole suite on a fresh local chain, deployed and wired with the demo consortium's keys:
what tests, simulators and benchmarks start from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.accounts import demo_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.auction import AuctionClient, wire_auction_house
from chain.compliance import ComplianceClient, wire_compliance_manager
from chain.deploy import ContractSpec, Manifest, SuiteConfig, deploy_suite
from chain.ledger import LedgerClient
from chain.market import MarketClient, wire_market
from chain.permits import PermitsClient, wire_permits
from chain.plans import PlansClient, wire_plans
from chain.registry import RegistryClient
from chain.reserve import ReserveClient, wire_reserve
from chain.tx import ChainClient

#: The plans contract, deployed after the suite when asked for (its args: registry, token).
PLANS_SUITE = (
    ContractSpec("TotalControlPlans", lambda _, d: [d["ConsortiumRegistry"], d["AllowanceToken"]]),
)

#: The discharge permits contract, deployed after the suite when asked for (its arg: the registry).
PERMITS_SUITE = (ContractSpec("DischargePermits", lambda _, d: [d["ConsortiumRegistry"]]),)

#: The government reserve, deployed after the suite when asked for (registry, token, cash).
RESERVE_SUITE = (
    ContractSpec(
        "GovernmentReserve", lambda _, d: [d["ConsortiumRegistry"], d["AllowanceToken"], d["SettlementToken"]]
    ),
)

#: Governance members of the demo consortium (2 of 3 approve).
MEMBERS = ("regulator", "exchange", "industry-body")


@dataclass
class LocalSuite:
    """Every contract's client and the accounts that run them (public demo keys)."""

    chain: ChainClient
    manifest: Manifest
    manifest_path: Path
    registry: RegistryClient
    allowance: AllowanceClient
    cash: SettlementClient
    auction: AuctionClient
    ledger: LedgerClient
    compliance: ComplianceClient
    market: MarketClient
    members: list[LocalAccount]
    regulator: LocalAccount
    exchange: LocalAccount
    industry_body: LocalAccount
    auditor: LocalAccount
    oracle: LocalAccount
    treasury: LocalAccount
    permits: PermitsClient | None = None
    plans: PlansClient | None = None
    reserve: ReserveClient | None = None


def deploy_local_suite(
    chain: ChainClient,
    manifest_path: Path,
    *,
    plans: bool = False,
    permits: bool = False,
    reserve: bool = False,
) -> LocalSuite:
    """Deploy the suite with the demo governance (2 of 3), grant the service roles (REGULATOR,
    EXCHANGE, AUDITOR, ORACLE), wire the auction house and the compliance manager, both paying
    the demo treasury, and the market, paying its fees to the exchange member's account and taking
    reference prices from it (the settlement agent: settlement runs with the exchange's key). With
    ``plans``, also TotalControlPlans, wired so the token takes caps from adopted plans only. With
    ``permits``, also DischargePermits, wired as the token's and the registry's gates. With
    ``reserve``, also GovernmentReserve, wired as the token's reserve (a system contract) paying
    the demo treasury and reading the plans (when ``plans``). For
    local chains only: the keys are public."""
    members = [demo_account(n) for n in MEMBERS]
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path)
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    suite = LocalSuite(
        chain=chain, manifest=manifest, manifest_path=manifest_path, registry=registry,
        allowance=allowance, cash=cash,
        auction=AuctionClient(chain, manifest.address("SealedBidAuction"), allowance, cash),
        ledger=LedgerClient(chain, manifest.address("EmissionsLedger")),
        compliance=ComplianceClient(chain, manifest.address("ComplianceManager"), allowance, cash),
        market=MarketClient(chain, manifest.address("Market"), allowance, cash,
                            from_block=manifest.contracts["Market"].block),
        members=members, regulator=members[0], exchange=members[1], industry_body=members[2],
        auditor=demo_account("auditor"), oracle=demo_account("oracle"), treasury=demo_account("treasury"),
    )  # fmt: skip
    registry.grant_roles(
        members,
        [
            ("REGULATOR", suite.regulator.address),
            ("EXCHANGE", suite.exchange.address),
            ("AUDITOR", suite.auditor.address),
            ("ORACLE", suite.oracle.address),
        ],
    )
    wire_auction_house(registry, members, suite.auction, suite.treasury.address)
    wire_compliance_manager(registry, members, suite.compliance, suite.treasury.address)
    wire_market(
        registry, members, suite.market, suite.exchange.address, settlement_agent=suite.exchange.address
    )
    if permits:
        # the token's and the registry's gates: allocation, transfers and devices need permits
        manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=PERMITS_SUITE)
        suite.manifest = manifest
        suite.permits = PermitsClient(chain, manifest.address("DischargePermits"),
                                      from_block=manifest.contracts["DischargePermits"].block)  # fmt: skip
        wire_permits(registry, members, suite.permits, allowance.address)
    if plans:
        manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=PLANS_SUITE)
        suite.manifest = manifest
        suite.plans = PlansClient(chain, manifest.address("TotalControlPlans"),
                                  from_block=manifest.contracts["TotalControlPlans"].block)  # fmt: skip
        wire_plans(registry, members, suite.plans)
    if reserve:
        manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=RESERVE_SUITE)
        suite.manifest = manifest
        suite.reserve = ReserveClient.of_manifest(chain, manifest)
        wire_reserve(registry, members, suite.reserve, suite.treasury.address)
    return suite
