"""A suite with plans, permits and the government reserve wired, the 2026–2030 five-year plan and
its 2027 annual plan adopted and their SO2 and NOx caps executed, for the reserve tests."""

from __future__ import annotations

from pathlib import Path

from chain.accounts import demo_account, dev_account
from chain.node import AnvilNode
from chain.plans import PlansClient
from chain.reserve import ReserveClient, wire_reserve
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.plans import NOX, SO2, annual, five_year

SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
NOX_2027 = encode_id(Kind.ALLOWANCE, "NOx", 2027)
#: The 2027 annual plan's SO2 reserve share: (5,000 + 4,000) × 10 %; its guide price (fen/t).
SO2_SHARE, SO2_PRICE = 900, 2_500
#: Enterprises of the reserve tests (Anvil accounts 28..31, unused by the suite's roles).
ENTERPRISES = [dev_account(28 + i) for i in range(4)]


def reserve_of(c: Consortium) -> ReserveClient:
    assert c.reserve is not None
    return c.reserve


def plans_of(c: Consortium) -> PlansClient:
    assert c.plans is not None
    return c.plans


def deploy_reserve_suite(anvil: AnvilNode, chain: ChainClient, directory: Path) -> tuple[Consortium, int]:
    """A fresh suite on ``anvil`` with plans, permits and the reserve wired, the test enterprises
    registered (Taizhou), the 2027 annual plan adopted and its SO2 and NOx caps executed; returns
    the suite and the annual plan's id."""
    suite = deploy_local_suite(chain, directory / "deployment.json", plans=True, permits=True, reserve=True)
    c = Consortium(**vars(suite))
    for i, e in enumerate(ENTERPRISES):
        register(c.registry, c.members, e.address, seed=950 + i)
    plans = plans_of(c)
    five = plans.draft_five_year(c.regulator, five_year())
    plans.adopt(c.registry, c.members, five)
    plan_id = plans.draft_annual(c.regulator, annual(five))
    plans.adopt(c.registry, c.members, plan_id)
    for pollutant in (SO2, NOX):
        plans.execute_cap(c.regulator, plan_id, pollutant)
    return c, plan_id


def deploy_reserve(c: LocalSuite) -> ReserveClient:
    """Deploy GovernmentReserve on ``c``'s chain (no manifest entry) and wire it (the token's
    reserve and system contract, the demo treasury, the token's plans when wired)."""
    args = [c.registry.address, c.allowance.address, c.cash.address]
    address, receipt = c.chain.deploy("GovernmentReserve", args, demo_account("deployer"))
    token_block = c.manifest.contracts["AllowanceToken"].block
    reserve = ReserveClient(
        c.chain, address, from_block=int(receipt["blockNumber"]), token_from_block=token_block
    )
    wire_reserve(c.registry, c.members, reserve, c.treasury.address)
    return reserve
