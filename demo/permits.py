"""The demo's discharge permits: DischargePermits deployed into the demo deployment and wired by
governance as the gates of allocation, transfers and device binding; each demo enterprise applies
(signed by its own wallet) for its outlets, each listing its monitoring device's MN code,
and the SO2 (and, for enterprise-1, NOx) it is allocated in 2027; the regulator issues each as
requested; and the refusal that follows: an allocation above a permit (``AllowanceAbovePermit``).

Runs before the demo's SO2/NOx allocations and device bindings: once wired, the token allocates a
gated pollutant only within a valid permit, and the registry binds a device only to a permitted
outlet. A re-run finds the permits on-chain and sends nothing but the refused call (which changes
nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient
from chain.attestations import document_hash
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.errors import ContractRevertError, DeploymentError
from chain.permits import ApplicationState, Outlet, PermitsClient, PermitState, Term, wire_permits
from chain.registry import RegistryClient
from chain.suite import PERMITS_SUITE
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id

SO2, NOX = 2, 3
YEAR = 2027
#: Permitted annual SO2 (t) of enterprise-1..6: the larger of what each is allocated for 2027
#: (8,000, 6,000, 9,000, 7,000, 5,000, 6,000) and for 2028 (6,000 each).
SO2_PERMITTED = (8_000, 6_000, 9_000, 7_000, 6_000, 6_000)
#: SO2 concentration limits (mg/m3 × 1000): ultra-low emission power, paper, steel, cement, chemicals.
SO2_LIMITS = (35_000, 200_000, 50_000, 100_000, 200_000, 200_000)
#: enterprise-1 (a power plant) owes NOx too in 2027: its permitted NOx (t) and limit (mg/m3 × 1000).
NOX_PERMITTED, NOX_LIMIT = 3_000, 50_000
#: Outlet codes (air: DA001, DA002, ...), one per monitoring device.
OUTLET_PREFIX = "DA"
#: The refused act: an SO2 2027 allocation to enterprise-1 this much above its permit.
ABOVE_PERMIT = 1_000


@dataclass(frozen=True)
class DemoHolder:
    """A demo enterprise as the permits step needs it: its account name, unified social credit
    code (the permit number's stem) and the HJ 212 MN codes of its monitoring devices, one per
    outlet (the registry's demo device, then the site's simulated controller)."""

    name: str
    credit_code: str
    mns: tuple[str, ...]


def terms_of(index: int) -> tuple[Term, ...]:
    """The terms demo enterprise ``index`` (0-based) applies for: SO2, and NOx for enterprise-1."""
    so2 = Term(SO2, SO2_PERMITTED[index], SO2_LIMITS[index])
    return (so2, Term(NOX, NOX_PERMITTED, NOX_LIMIT)) if index == 0 else (so2,)


@dataclass
class PermitsDemoReport:
    """What the permits step did or found, with its figures (for the report and the tests)."""

    permits: dict[str, int]
    refusals: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    manifest: Manifest | None = None


def demo_permits(
    chain: ChainClient,
    manifest_path: Path,
    registry: RegistryClient,
    members: Sequence[Signer],
    holders: Sequence[DemoHolder],
) -> PermitsDemoReport:
    """Deploy and wire DischargePermits, have each holder apply and the regulator issue its
    permit, and show an allocation above a permit refused; each done once (a re-run verifies and
    skips)."""
    regulator = demo_account("regulator")
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=PERMITS_SUITE)
    record = manifest.contracts["DischargePermits"]
    permits = PermitsClient(chain, record.address, from_block=record.block)
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    lines = [
        f"permits: {line} (2-of-3 governance)"
        for line in wire_permits(registry, members, permits, allowance.address)
    ]

    pending = _pending_applications(permits)
    issued: dict[str, int] = {}
    for index, holder in enumerate(holders):
        enterprise = demo_account(holder.name)
        permit_id = permits.permit_of(enterprise.address)
        if permit_id == 0:
            outlets = tuple(Outlet(f"{OUTLET_PREFIX}{n + 1:03d}", mn) for n, mn in enumerate(holder.mns))
            application_id = pending.get(enterprise.address)
            if application_id is None:  # signed by the enterprise's own wallet
                doc = document_hash(f"discharge permit application {holder.credit_code} {YEAR}")
                application_id = permits.apply(enterprise, outlets, terms_of(index), doc)
            granted = [t.annual_amount for t in terms_of(index)]
            permit_id = permits.issue(regulator, application_id, f"{holder.credit_code}001P", granted)
            lines.append(
                f"permits: {holder.name} applied (application {application_id}), permit {permit_id} issued"
            )
        permit = permits.permit(permit_id)
        if (
            permit.state is not PermitState.VALID
            or permit.terms != terms_of(index)
            or tuple(o.mn for o in permit.outlets) != holder.mns
        ):
            raise DeploymentError(f"permit {permit_id} of {holder.name} on-chain differs from the demo's")
        issued[holder.name] = permit_id

    refusals = []
    so2 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)
    first = demo_account(holders[0].name).address
    before = (allowance.balance(first, so2), allowance.issued(so2))
    try:
        amount = SO2_PERMITTED[0] + ABOVE_PERMIT
        allowance.allocate(regulator, so2, [first], [amount], b"demo-above-permit".ljust(32, b"\0"))
    except ContractRevertError as e:
        refusals.append(e.error)
    unchanged = (allowance.balance(first, so2), allowance.issued(so2)) == before
    lines.extend(_summary(permits, holders, issued, refusals, unchanged))
    return PermitsDemoReport(issued, refusals, lines, manifest)


def _pending_applications(permits: PermitsClient) -> dict[str, int]:
    """Submitted applications by enterprise (an interrupted run applied but did not issue)."""
    pending: dict[str, int] = {}
    for application_id in range(1, permits.application_count() + 1):
        application = permits.application(application_id)
        if application.state is ApplicationState.SUBMITTED:
            pending[application.enterprise] = application_id
    return pending


def _summary(
    permits: PermitsClient,
    holders: Sequence[DemoHolder],
    issued: dict[str, int],
    refusals: list[str],
    unchanged: bool,
) -> list[str]:
    """One line per permit (number, validity, terms, outlets), then the gates and the refusal."""
    names = {SO2: "SO2", NOX: "NOx"}
    lines = []
    for holder in holders:
        permit = permits.permit(issued[holder.name])
        terms = " + ".join(f"{names[t.pollutant]} {t.annual_amount:,} t/yr" for t in permit.terms)
        outlets = ", ".join(f"{o.code} MN {o.mn}" for o in permit.outlets)
        days = (permit.valid_until - permit.valid_from) // 86_400
        lines.append(
            f"permits: {holder.name} permit {permit.id} no. {permit.number}, {permit.state.name.lower()} "
            f"for {days:,} days: {terms}; outlets {outlets}"
        )
    refused = refusals[0] if refusals else "NOT refused"
    lines.append(
        f"permits: {len(issued)} valid permits gate allocation, trading and device binding of SO2 and "
        f"NOx; refused by name: {SO2_PERMITTED[0] + ABOVE_PERMIT:,} t SO2 {YEAR} to {holders[0].name} "
        f"above its permit of {SO2_PERMITTED[0]:,} t ({refused}), "
        f"{'nothing changed' if unchanged else 'BALANCES CHANGED'}"
    )
    return lines
