"""A consortium set up for planning allocations under an annual plan: TotalControlPlans and
DischargePermits deployed and wired, three enterprises (two in Taizhou, one in Hangzhou) with SO2
and NOx permits, the 2026–2030 five-year plan and its 2027 annual plan adopted (SO2 Taizhou 5,000 t
and Hangzhou 4,000 t, 10 % reserve each; a 5 % SO2 target for the first enterprise)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from eth_account.signers.local import LocalAccount

from chain.accounts import dev_account
from chain.permits import PermitsClient
from chain.plans import PlansClient
from domain.plans import EnterpriseTarget
from tests.conftest import Consortium
from tests.utils.chain import credit_code, profile
from tests.utils.permits import DOC, deploy_permits, outlets, terms
from tests.utils.plans import HANGZHOU, SO2, TAIZHOU, annual, deploy_plans, five_year

#: Enterprises (Anvil accounts 31..33): (account, region, SO2 permitted, NOx permitted).
ENTERPRISES: tuple[tuple[LocalAccount, int, int, int], ...] = (
    (dev_account(31), TAIZHOU, 3_000, 800),
    (dev_account(32), TAIZHOU, 2_500, 600),
    (dev_account(33), HANGZHOU, 1_000, 400),
)


@dataclass(frozen=True)
class PlannedConsortium:
    c: Consortium
    plans: PlansClient
    permits: PermitsClient
    five_year_id: int
    annual_id: int


def set_up(c: Consortium) -> PlannedConsortium:
    """Deploy and wire plans and permits on ``c``, register and permit the enterprises, adopt the plans."""
    plans = deploy_plans(c)
    permits = deploy_permits(c)
    for n, (account, region, so2, nox) in enumerate(ENTERPRISES):
        p = profile(700 + n, region_code=region, credit_code=credit_code(700 + n, region))
        register = c.registry.encode_register_enterprise(account.address, p)
        c.registry.govern(c.members, register, f"register {n}")
        application = permits.apply(account, outlets(account), terms(so2=so2, nox=nox), DOC)
        permits.issue(c.regulator, application, f"9133{n:04d}{account.address[2:12]}P", [so2, nox])
    five_id = plans.draft_five_year(c.regulator, five_year())
    plans.adopt(c.registry, c.members, five_id)
    target = (EnterpriseTarget(ENTERPRISES[0][0].address, SO2, 500),)
    annual_id = plans.draft_annual(c.regulator, replace(annual(five_id), targets=target))
    plans.adopt(c.registry, c.members, annual_id)
    return PlannedConsortium(c, plans, permits, five_id, annual_id)
