"""The demo's government reserve, new project and closure (关停): GovernmentReserve deployed into
the demo deployment and wired by governance; the 2027 annual plan's reserve share of SO2 and NOx
fed into it; a new project (Taizhou Linhai New Materials Co., Ltd., registered without a permit)
buys SO2 2027 from the reserve at the plan's guide price, paying the treasury in the same
transaction, and is then issued its permit (when permits are wired); a primary auction restricted
to that project (``createRestrictedPrimary``: SO2 or NOx 2027 within the cap's headroom, reserve
price the guide price) is opened, an enterprise it does not name is refused its commit by name
(``AuctionBidderNotAllowed``, nothing sent) and the project commits a sealed bid (the auction stays
in its commit phase for the dashboard: named bidders, who may bid); a small dyeing works (permit,
one monitoring device, an SO2 allocation) is closed by one governance proposal: one approval is
refused by name, the second executes the sweep of its current and future allowances into the
reserve, the cancellation of its permit, the unbinding of its device and its suspension.

Runs last (after the plans step): the closure is the demo's last on-chain step. A re-run finds
the reserve fed, the sale accepted, the restricted auction and the project's bid, and the
enterprise closed, and sends nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import Signer, demo_account, seeded_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.auction import AuctionClient, AuctionParams
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.errors import ContractRevertError, DeploymentError
from chain.permits import Outlet, PermitsClient, Term
from chain.plans import PlansClient
from chain.registry import EnterpriseProfile, RegistryClient
from chain.reserve import Closure, OfferState, ReserveClient, wire_reserve
from chain.suite import RESERVE_SUITE
from chain.tx import ChainClient
from domain.codes import credit_code_check_char
from domain.tokens import Kind, encode_id

YEAR = 2027
SO2, NOX = 2, 3
NAMES = {SO2: "SO2", NOX: "NOx"}
SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)

#: The new project: registered, buys from the reserve before its permit is issued.
PROJECT_NAME = "Taizhou Linhai New Materials Co., Ltd."
PROJECT_REGION = 331082  # Linhai, Taizhou (GB/T 2260): the Taizhou line's guide price applies
PROJECT_SO2 = 500  # t of SO2 2027 bought from the reserve
#: The enterprise closed (关停): a small dyeing works in Jiaojiang, Taizhou.
CLOSED_NAME = "Taizhou Jiaojiang Haimen Dyeing Co., Ltd."
CLOSED_REGION = 331002
CLOSED_SO2 = 600  # t of SO2 2027 allocated before the closure
CLOSURE_REASON = "关停: dyeing works shut down under the 2027 annual plan (Taizhou EPB order 2027-17)"


def _credit_code(region: int, body: str) -> str:
    code = f"91{region:06d}{body}"
    return code + credit_code_check_char(code)


PROJECT_PROFILE = EnterpriseProfile.from_degrees(
    credit_code=_credit_code(PROJECT_REGION, "MA2HLX7N3"), name=PROJECT_NAME, region_code=PROJECT_REGION,
    industry_code="C2614", latitude=28.8458, longitude=121.1450,
)  # fmt: skip
CLOSED_PROFILE = EnterpriseProfile.from_degrees(
    credit_code=_credit_code(CLOSED_REGION, "MA28HMD4K"), name=CLOSED_NAME, region_code=CLOSED_REGION,
    industry_code="C1713", latitude=28.6880, longitude=121.4410,
)  # fmt: skip


def project_account() -> Signer:
    """The new project's key (a demo development account)."""
    return demo_account("enterprise-13")


def closed_account() -> Signer:
    """The closed enterprise's key (a public derivation: demo only)."""
    return seeded_account("ets-demo-closure:enterprise")


def closed_device() -> Signer:
    """The closed enterprise's monitoring device key (a public derivation: demo only)."""
    return seeded_account("ets-demo-closure:device")


CLOSED_MN = "MN33100200000DY01"
#: The bank reference of the new project's cash deposit (a line of the demo bank's statement).
RESERVE_BANK_REF = "ICBC-DEMO-RESERVE-0001"
#: The bank reference of the new project's deposit for its auction guarantee.
AUCTION_BANK_REF = "ICBC-DEMO-RESERVE-0002"
#: Tonnes on sale in the auction restricted to the new project (at most the cap's headroom).
RESTRICTED_SUPPLY = 200
PROJECT_MN = "MN33108200000LH01"


@dataclass
class ReserveDemoReport:
    """What the reserve step did or found (for the report and the tests)."""

    fed: dict[int, int]
    offer_id: int
    payment: int
    closure: Closure | None
    refusals: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    #: The primary auction restricted to the new project (None: no cap headroom left for one).
    restricted_auction: int | None = None
    #: The error an enterprise it does not name was refused its commit with (this run only).
    restricted_refusal: str | None = None


def demo_reserve(
    chain: ChainClient,
    manifest_path: Path,
    registry: RegistryClient,
    members: Sequence[Signer],
) -> ReserveDemoReport:
    """Deploy and wire the reserve, feed it from the 2027 annual plan, serve the new project and
    close the dyeing works; each done once (a re-run verifies and skips)."""
    regulator = demo_account("regulator")
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=RESERVE_SUITE)
    if "TotalControlPlans" not in manifest.contracts:
        raise DeploymentError("the reserve step needs the plans step's TotalControlPlans")
    reserve = ReserveClient.of_manifest(chain, manifest)
    auction = chain.contract("SealedBidAuction", manifest.address("SealedBidAuction"))
    treasury = str(auction.functions.treasury().call())
    lines = [
        f"reserve: {line} (2-of-3 governance)" for line in wire_reserve(registry, members, reserve, treasury)
    ]
    plans = PlansClient(chain, manifest.address("TotalControlPlans"))
    permits = (
        PermitsClient(chain, manifest.address("DischargePermits"))
        if "DischargePermits" in manifest.contracts
        else None
    )
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))

    annual_id = plans.current_annual(YEAR)
    fed: dict[int, int] = {}
    for p in (SO2, NOX):
        token_id = encode_id(Kind.ALLOWANCE, NAMES[p], YEAR)
        if reserve.fed(token_id) < reserve.reserve_share_of(annual_id, p):
            reserve.feed(regulator, annual_id, p)
        fed[p] = reserve.fed(token_id)
    lines.append(
        f"reserve: fed from annual plan {annual_id}'s reserve share: SO2 {YEAR} {fed[SO2]:,} t, "
        f"NOx {YEAR} {fed[NOX]:,} t (minted within the caps)"
    )

    offer_id, payment, project_line = _serve_project(chain, manifest, registry, members, reserve, permits)
    lines.append(project_line)
    restricted, refused, restricted_line = _restricted_auction(chain, manifest, reserve, allowance)
    lines.append(restricted_line)
    closure, refusals, closure_line = _close(chain, registry, members, reserve, permits, allowance)
    lines.append(closure_line)
    lines.append(
        f"reserve: holds SO2 {YEAR} {reserve.balance(SO2_2027):,} t "
        f"({reserve.available(SO2_2027):,} t free to offer), NOx {YEAR} "
        f"{reserve.balance(encode_id(Kind.ALLOWANCE, 'NOx', YEAR)):,} t"
    )
    return ReserveDemoReport(fed, offer_id, payment, closure, refusals, lines, manifest, restricted, refused)


def _register(
    registry: RegistryClient, members: Sequence[Signer], account: str, profile: EnterpriseProfile
) -> bool:
    if registry.enterprise_by_credit_code(profile.credit_code) is not None:
        return False
    registry.govern(
        members, registry.encode_register_enterprise(account, profile), f"register {profile.name}"
    )
    return True


def _serve_project(
    chain: ChainClient,
    manifest: Manifest,
    registry: RegistryClient,
    members: Sequence[Signer],
    reserve: ReserveClient,
    permits: PermitsClient | None,
) -> tuple[int, int, str]:
    """The new project registers, buys SO2 2027 from the reserve at the guide price, then gets its permit."""
    project = project_account()
    _register(registry, members, project.address, PROJECT_PROFILE)
    accepted = [
        o for o in reserve.offers() if o.project == project.address and o.state == OfferState.ACCEPTED
    ]
    had_permit = permits is not None and permits.permit_of(project.address) != 0
    if accepted:
        offer = accepted[0]
    else:
        deadline = chain.timestamp() + 7 * 86_400
        offer = reserve.offer_of(
            reserve.offer(demo_account("regulator"), project.address, SO2_2027, PROJECT_SO2, deadline)
        )
        cash = SettlementClient(chain, manifest.address("SettlementToken"))
        if cash.balance(project.address) < offer.payment:
            cash.deposit(demo_account("exchange"), project.address, offer.payment, RESERVE_BANK_REF)
        reserve.accept(project, offer.id)
    permit_note = "permits not wired"
    if permits is not None:
        if not had_permit and permits.permit_of(project.address) == 0:
            app = permits.apply(
                project, [Outlet("DA001", PROJECT_MN)], [Term(SO2, 2_000, 35_000)], b"\x4c" * 32
            )
            permits.issue(demo_account("regulator"), app, f"{PROJECT_PROFILE.credit_code}001P", [2_000])
        permit_note = f"its permit {permits.permit_of(project.address)} issued after the purchase"
    line = (
        f"reserve: new project {PROJECT_NAME} ({PROJECT_REGION}) bought {offer.quantity:,} t SO2 {YEAR} "
        f"(offer {offer.id}) at the guide price {offer.price / 100:,.2f} CNY/t before its permit: "
        f"{offer.payment / 100:,.2f} CNY paid to the treasury in the same transaction; {permit_note}"
    )
    return offer.id, offer.payment, line


def _restricted_auction(
    chain: ChainClient, manifest: Manifest, reserve: ReserveClient, allowance: AllowanceClient
) -> tuple[int | None, str | None, str]:
    """A primary auction restricted to the new project: opened, an outsider's commit refused by
    name (at the estimate: nothing sent), the project's sealed bid committed; on a re-run, found.
    Returns the auction id, the outsider's refusal and the report line."""
    project, regulator = project_account(), demo_account("regulator")
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    record = manifest.contracts["SealedBidAuction"]
    auction = AuctionClient(chain, record.address, allowance, cash, from_block=record.block)
    found = [
        int(e["args"]["auctionId"])
        for e in auction.contract.events.AuctionRestricted().get_logs(from_block=record.block)
        if project.address in e["args"]["bidders"]
    ]
    if found:
        view = auction.view(found[-1])
        return (
            found[-1],
            None,
            (
                f"auction {found[-1]}: primary, restricted to {PROJECT_NAME} (opened before: "
                f"{view.supply:,} t, {view.bidders} sealed bid)"
            ),
        )
    ids = (SO2_2027, encode_id(Kind.ALLOWANCE, "NOx", YEAR))
    token_id, room = max(((t, allowance.cap(t) - allowance.issued(t)) for t in ids), key=lambda x: x[1])
    if room <= 0:
        return None, None, "auction restricted to the new project: not opened (no 2027 cap headroom left)"
    supply = min(RESTRICTED_SUPPLY, room)
    price, _ = reserve.guide_price(token_id, PROJECT_REGION)
    now = chain.timestamp()
    params = AuctionParams(token_id=token_id, supply=supply, reserve_price=price, commit_end=now + 2 * 86_400,
                           reveal_end=now + 3 * 86_400)  # fmt: skip
    auction_id = auction.create_primary(regulator, params, bidders=[project.address])
    outsider = demo_account("enterprise-1")
    sealed = auction.seal(auction_id, outsider.address, [(price, 10)])
    refusal = None
    try:
        fn = auction.contract.functions.commit(
            auction_id, bytes.fromhex(sealed.commitment[2:]), sealed.guarantee, []
        )
        chain.build(fn, outsider.address)  # the estimate: nothing is sent
    except ContractRevertError as e:
        refusal = e.error
    bid = auction.seal(auction_id, project.address, [(price, supply)])
    if cash.balance(project.address) < bid.guarantee:
        cash.deposit(demo_account("exchange"), project.address, bid.guarantee, AUCTION_BANK_REF)
    auction.commit(project, bid)
    symbol = NAMES.get(token_id >> 16 & 0xFF, str(token_id))
    return (
        auction_id,
        refusal,
        (
            f"auction {auction_id}: primary, {supply:,} t {symbol} {YEAR} at a reserve of {price / 100:,.2f} "
            f"CNY/t (the guide price), restricted to {PROJECT_NAME} (createRestrictedPrimary); enterprise-1, "
            f"not named, refused at commit ({refusal or 'NOT refused'}, nothing sent); the project committed "
            f"a sealed bid (guarantee {bid.guarantee / 100:,.2f} CNY), commit phase open"
        ),
    )


def _close(
    chain: ChainClient,
    registry: RegistryClient,
    members: Sequence[Signer],
    reserve: ReserveClient,
    permits: PermitsClient | None,
    allowance: AllowanceClient,
) -> tuple[Closure | None, list[str], str]:
    """Set up the dyeing works (permit, device, allocation) and close it in one 2-of-3 proposal;
    on a re-run, find the closure on-chain."""
    works, device = closed_account(), closed_device()
    _register(registry, members, works.address, CLOSED_PROFILE)
    events = registry.contract.events.EnterpriseClosed().get_logs(
        from_block=reserve.from_block, argument_filters={"enterprise": works.address}
    )
    if events:
        args = events[-1]["args"]
        return (
            None,
            [],
            (
                f"closure (关停) of {CLOSED_NAME}: done before (closure {args['closureId']}, permit "
                f"{args['permitId']} cancelled, {args['devices']} device unbound, suspended)"
            ),
        )
    regulator = demo_account("regulator")
    if int(chain.rpc_batch([("eth_getBalance", [works.address, "latest"])])[0], 16) < 10**18:
        chain.rpc_batch([("anvil_setBalance", [works.address, hex(10**20)])])  # the demo runs on Anvil
    if permits is not None and permits.permit_of(works.address) == 0:
        app = permits.apply(works, [Outlet("DA001", CLOSED_MN)], [Term(SO2, 1_000, 35_000)], b"\x44" * 32)
        permits.issue(regulator, app, f"{CLOSED_PROFILE.credit_code}001P", [1_000])
    if device.address not in registry.contract.functions.devicesOf(works.address).call():
        registry.bind_device(regulator, device.address, works.address, CLOSED_MN)
    batch = b"demo-closure-so2-2027".ljust(32, b"\0")
    if not allowance.batch_executed(batch):
        allowance.allocate(regulator, SO2_2027, [works.address], [CLOSED_SO2], batch)

    refusals = []
    proposal = reserve.propose_closure(registry, members[0], works.address, CLOSURE_REASON)
    try:
        registry.execute(members[0], proposal)  # one approval of the two needed
    except ContractRevertError as e:
        refusals.append(e.error)
    registry.approve(members[1], proposal)
    closure = reserve.closure_from_receipt(registry, registry.execute(members[0], proposal))
    swept = ", ".join(
        f"{NAMES.get(t >> 16 & 0xFF, t)} {t & 0xFFFF} {n:,} t"
        for t, n in zip(closure.token_ids, closure.amounts, strict=True)
    )
    line = (
        f"closure (关停) of {CLOSED_NAME} by one 2-of-3 governance proposal {proposal} (one approval "
        f"refused: {refusals[0] if refusals else 'NOT refused'}): swept {swept or 'nothing'} into the "
        f"reserve (closure {closure.closure_id}), permit {closure.permit_id or 'none'} cancelled, "
        f"{closure.devices} device unbound, enterprise suspended"
    )
    return closure, refusals, line
