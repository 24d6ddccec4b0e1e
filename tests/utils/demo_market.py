"""The demo's enterprises on the test consortium, for the market step's tests (``demo.market``
trades among demo enterprise-1..6; the test consortium registers enterprise-4..7)."""

from __future__ import annotations

from chain.accounts import demo_account
from chain.suite import LocalSuite
from demo.run import DEMO_ENTERPRISES, demo_profile


def register_demo_enterprises(c: LocalSuite) -> None:
    """Register demo enterprise-1..6 as ``demo.run`` does, those the consortium has not."""
    calls = [
        c.registry.encode_register_enterprise(demo_account(f"enterprise-{i + 1}").address, demo_profile(i))
        for i in range(len(DEMO_ENTERPRISES))
        if not c.registry.is_active_participant(demo_account(f"enterprise-{i + 1}").address)
    ]
    if calls:
        c.registry.govern(c.members, c.registry.encode_multicall(calls), "test: demo enterprises")
