"""The demo's Safe step on the session chain (two demo enterprises registered, one holding CO2): the
Safe-held enterprise created, registered and funded, a four-eyes transfer, trusted counterparties
wired, the Safe's addition pending its delay and an untrusted transfer refused by name; a re-run
sends nothing new but the refused call."""

from __future__ import annotations

from pathlib import Path

from chain.accounts import demo_account
from demo.safe import SAFE_PROFILE, demo_safe
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.market import CO2_2027


def test_demo_safe_four_eyes_and_trusted_counterparties(fresh: Consortium, tmp_path: Path) -> None:
    c = fresh
    manifest_path = c.manifest.save(tmp_path / "deployment.json")  # the session manifest stays as it is
    e1, e5 = demo_account("enterprise-1"), demo_account("enterprise-5")
    for seed, account in ((951, e1), (955, e5)):
        if not c.registry.is_active_participant(account.address):
            register(c.registry, c.members, account.address, seed=seed)
    c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + 5_000)
    c.allowance.allocate(c.regulator, CO2_2027, [e1.address], [5_000], b"\x95" * 32)
    report = demo_safe(c.chain, manifest_path, c.registry, c.members)
    assert c.registry.enterprise_by_credit_code(SAFE_PROFILE.credit_code) == report.safe
    assert c.allowance.balance(report.safe, CO2_2027) == 400 and report.four_eyes_gas
    assert report.refused == "AllowanceUntrustedCounterparty"
    assert any("in effect from" in line for line in report.lines), report.lines
    again = demo_safe(c.chain, manifest_path, c.registry, c.members)
    assert again.safe == report.safe and again.four_eyes_gas is None
    assert again.refused == "AllowanceUntrustedCounterparty"
    assert c.allowance.balance(report.safe, CO2_2027) == 400
