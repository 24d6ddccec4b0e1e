"""A suite with discharge permits wired (the token's and the registry's gates), and factories of
applications and permits for the permits tests."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.accounts import demo_account, dev_account
from chain.node import AnvilNode
from chain.permits import Outlet, PermitsClient, Term, wire_permits
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register

SO2, NOX, COD, CO2 = 2, 3, 4, 1
YEAR = 2027
SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)
NOX_2027 = encode_id(Kind.ALLOWANCE, "NOx", YEAR)
CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", YEAR)
DOC = b"\x11" * 32
#: Enterprises of the permits tests (Anvil accounts 24..27, unused by the suite's roles).
ENTERPRISES = [dev_account(24 + i) for i in range(4)]


def deploy_permits_suite(anvil: AnvilNode, chain: ChainClient, directory: Path) -> Consortium:
    """A fresh suite on ``anvil`` with permits wired and the test enterprises registered."""
    suite = Consortium(**vars(deploy_local_suite(chain, directory / "deployment.json", permits=True)))
    for i, e in enumerate(ENTERPRISES):
        register(suite.registry, suite.members, e.address, seed=900 + i)
    return suite


def permits_of(c: Consortium) -> PermitsClient:
    assert c.permits is not None
    return c.permits


def outlets(enterprise: LocalAccount, n: int = 1) -> list[Outlet]:
    """``n`` outlets of ``enterprise`` with MN codes unique to it."""
    tag = enterprise.address[2:10].upper()
    return [Outlet(code=f"DA{i + 1:03d}", mn=f"MN{tag}{i + 1:02d}") for i in range(n)]


def terms(so2: int = 1_000, nox: int = 500) -> list[Term]:
    return [Term(SO2, so2, 35_000), Term(NOX, nox, 50_000)]


def applied(c: Consortium, enterprise: LocalAccount, **amounts: int) -> int:
    return permits_of(c).apply(enterprise, outlets(enterprise), terms(**amounts), DOC)


def issued(
    c: Consortium, enterprise: LocalAccount, *, so2: int = 1_000, nox: int = 500, number: str = ""
) -> int:
    """Apply and issue (granted as requested, valid from now for five years); returns the permit id."""
    p = permits_of(c)
    app = applied(c, enterprise, so2=so2, nox=nox)
    return p.issue(c.regulator, app, number or f"91331000{enterprise.address[2:12]}001P", [so2, nox])


def deploy_permits(c: LocalSuite) -> PermitsClient:
    """Deploy DischargePermits on ``c``'s chain (no manifest entry) and wire the token's and the
    registry's gates."""
    address, receipt = c.chain.deploy("DischargePermits", [c.registry.address], demo_account("deployer"))
    permits = PermitsClient(c.chain, address, from_block=int(receipt["blockNumber"]))
    wire_permits(c.registry, c.members, permits, c.allowance.address)
    return permits
