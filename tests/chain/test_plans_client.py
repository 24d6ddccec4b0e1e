"""chain.plans with deploy_local_suite(plans=True) on its own Anvil: the plans contract deployed,
recorded in the manifest and wired into the token; the client's round trips of plan content."""

from __future__ import annotations

from pathlib import Path

from chain.compile import Artifact
from chain.node import AnvilNode
from chain.suite import deploy_local_suite
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.utils.chain import reverts
from tests.utils.plans import SO2, annual, five_year


def test_deploy_local_suite_with_plans_wires_caps_to_adopted_plans(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    with AnvilNode(accounts=12) as node:
        chain = ChainClient.connect(node.url, artifacts)
        suite = deploy_local_suite(chain, tmp_path / "deployment.json", plans=True)
        plans = suite.plans
        assert plans is not None
        assert suite.manifest.address("TotalControlPlans") == plans.address
        assert suite.allowance.contract.functions.plans().call() == plans.address
        five_id = plans.draft_five_year(suite.regulator, five_year())
        assert plans.five_year(five_id) == five_year()
        plans.adopt(suite.registry, suite.members, five_id)
        annual_id = plans.draft_annual(suite.regulator, annual(five_id))
        assert plans.annual(annual_id).caps == annual(five_id).caps
        plans.adopt(suite.registry, suite.members, annual_id)
        so2_2027 = encode_id(Kind.ALLOWANCE, SO2, 2027)
        with reverts("AllowanceCapNeedsPlan", id=so2_2027):
            suite.allowance.set_cap(suite.regulator, so2_2027, 1)
        plans.execute_cap(suite.regulator, annual_id, SO2)
        assert suite.allowance.cap(so2_2027) == 9_000
        # the default suite keeps caps with the regulator
        other = deploy_local_suite(chain, tmp_path / "other.json")
        assert other.plans is None
        assert other.allowance.contract.functions.plans().call() == "0x" + "00" * 20
