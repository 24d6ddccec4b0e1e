"""The permits step of ``ets demo`` on a real chain: DischargePermits deployed into the demo's
deployment and wired by governance (the token's and the registry's gates), each demo enterprise's
application signed by its own wallet and its permit issued by the regulator (outlets with the demo
devices' MN codes, SO2 for all, NOx for enterprise-1), an allocation above a permit refused by name
with nothing changed, the devices then bound to the permitted outlets; a re-run sends nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.accounts import demo_account
from chain.permits import PermitsClient, PermitState, Term
from demo.permits import NOX, NOX_PERMITTED, SO2, SO2_PERMITTED, demo_permits
from demo.run import demo_holders
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.demo_market import register_demo_enterprises


def test_demo_permits_apply_issue_gate_and_refuse_then_rerun_sends_nothing(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    manifest_path = tmp_path / "deployment.json"  # the session's manifest stays without permits
    shutil.copy(fresh.manifest_path, manifest_path)
    holders = demo_holders()

    first = demo_permits(fresh.chain, manifest_path, fresh.registry, fresh.members, holders)

    assert first.manifest is not None
    permits = PermitsClient(fresh.chain, first.manifest.address("DischargePermits"))
    token = fresh.chain.contract("AllowanceToken", fresh.allowance.address)
    assert token.functions.permits().call() == permits.address
    assert fresh.registry.contract.functions.permits().call() == permits.address
    assert first.permits == {h.name: i + 1 for i, h in enumerate(holders)}
    for i, holder in enumerate(holders):
        enterprise = demo_account(holder.name).address
        permit = permits.permit(first.permits[holder.name])
        application = permits.application(permit.application_id)
        assert application.enterprise == permit.enterprise == enterprise  # applied by its own wallet
        assert permit.state is PermitState.VALID and permit.number.startswith(holder.credit_code)
        assert tuple(o.mn for o in permit.outlets) == holder.mns and len(holder.mns) == 2
        assert permits.permitted_amount(enterprise, SO2, 2027) == SO2_PERMITTED[i]
        assert permits.permitted_amount(enterprise, SO2, 2028) == SO2_PERMITTED[i]
        expected_nox = NOX_PERMITTED if i == 0 else 0
        assert permits.permitted_amount(enterprise, NOX, 2027) == expected_nox
        assert all(isinstance(t, Term) for t in permit.terms)
    so2 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
    assert first.refusals == ["AllowanceAbovePermit"]
    assert fresh.allowance.issued(so2) == 0
    assert "(AllowanceAbovePermit), nothing changed" in first.lines[-1]
    assert len(first.lines) == 2 + 6 + 6 + 1  # wiring, issues, one line per permit, the summary
    # the gates now hold: a device binds to a permitted outlet only, allocation within the permit
    e1 = demo_account("enterprise-1").address
    with reverts("RegistryDeviceNotOnPermit", mn="MN00000000000999", enterprise=e1):
        fresh.registry.bind_device(
            fresh.regulator, demo_account("enterprise-9").address, e1, "MN00000000000999"
        )
    fresh.registry.bind_device(fresh.regulator, demo_account("enterprise-9").address, e1, holders[0].mns[0])
    fresh.allowance.set_cap(fresh.regulator, so2, 50_000)
    fresh.allowance.allocate(fresh.regulator, so2, [e1], [SO2_PERMITTED[0]], b"t-so2".ljust(32, b"\0"))

    again = demo_permits(fresh.chain, manifest_path, fresh.registry, fresh.members, holders)

    assert (again.permits, again.refusals) == (first.permits, first.refusals)
    assert again.lines == first.lines[-7:] and permits.permit_count() == permits.application_count() == 6
