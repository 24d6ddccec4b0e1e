"""The demo: a local chain with the suite deployed and a sample consortium registered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from chain.accounts import DEMO_ROLES, Signer, demo_account
from chain.allocation import load_history, plan, render_trend_chart
from chain.allowance import AllowanceClient, SettlementClient
from chain.auction import AuctionClient, AuctionParams, AuctionStatus, render_demand_curve, wire_auction_house
from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.ledger import LedgerClient
from chain.node import node_up
from chain.onboarding import execute_plan, register_enterprises
from chain.registry import EnterpriseProfile, RegistryClient
from chain.tx import ChainClient
from demo.cards import demo_cards
from demo.compliance import demo_compliance
from demo.market import demo_trading_day
from demo.permits import DemoHolder, demo_permits
from demo.planner import demo_planner
from demo.plans import demo_plans
from demo.report import DemoReport
from demo.reserve import demo_reserve
from demo.review import demo_review
from demo.safe import demo_safe
from domain.auction import PriceRule
from domain.codes import credit_code_check_char
from domain.tokens import Kind, decode_id, encode_id
from oracle.queue import BatchStatus, Queue
from oracle.simulator.profiles import device_mn
from oracle.valve import ReverseControl
from sim.sample import (
    generate_enterprises,
    sample_account,
    sample_profile,
    write_demo_account_records,
    write_sample,
)
from sim.site import SIM_FIRST_DEVICE, run_site_simulation

logger = logging.getLogger(__name__)

GOVERNANCE_MEMBERS = ("regulator", "exchange", "industry-body")
SERVICE_ROLES = (("regulator", "REGULATOR"), ("exchange", "EXCHANGE"), ("auditor", "AUDITOR"),
                 ("oracle", "ORACLE"))  # fmt: skip

#: Demo enterprises (demo accounts enterprise-1..6) in Taizhou and beyond: power, steel, cement,
#: chemicals, paper; each with one monitoring device.
DEMO_ENTERPRISES: tuple[tuple[str, str, int, str, float, float], ...] = (
    ("Zhejiang Taizhou Huaneng Power Co., Ltd.", "91331000", 331000, "D4411", 28.6561, 121.4208),
    ("Taizhou Jiaojiang Paper Co., Ltd.", "91331002", 331002, "C2221", 28.6805, 121.4459),
    ("Ningbo Beilun Iron & Steel Co., Ltd.", "91330206", 330206, "C3120", 29.8990, 121.8446),
    ("Huzhou Changxing Cement Co., Ltd.", "91330522", 330522, "C3011", 31.0268, 119.9108),
    ("Shaoxing Shangyu Fine Chemicals Co., Ltd.", "91330604", 330604, "C2614", 30.0330, 120.8680),
    ("Jiaxing Pinghu Thermal Power Co., Ltd.", "91330482", 330482, "D4411", 30.6760, 121.0150),
)


def demo_profile(index: int) -> EnterpriseProfile:
    """Profile of demo enterprise ``index`` (0-based) with a valid credit code."""
    name, prefix, region, industry, lat, lon = DEMO_ENTERPRISES[index]
    body = f"{prefix}MA2{index:02d}7X{index:02d}"[:17].ljust(17, "0")
    return EnterpriseProfile.from_degrees(
        credit_code=body + credit_code_check_char(body), name=name, region_code=region,
        industry_code=industry, latitude=lat, longitude=lon,
    )  # fmt: skip


def demo_device_mn(index: int) -> str:
    """The HJ 212 MN code of demo enterprise ``index``'s (0-based) monitoring device."""
    return f"{DEMO_ENTERPRISES[index][2]}{index + 1:08d}"


def demo_holders() -> list[DemoHolder]:
    """The demo enterprises as permit holders: each device's MN code on an outlet (the registry's
    demo device, then the site's simulated controller that ``sim.site`` binds to it)."""
    return [
        DemoHolder(
            f"enterprise-{i + 1}",
            demo_profile(i).credit_code,
            (demo_device_mn(i), device_mn(SIM_FIRST_DEVICE + i)),
        )
        for i in range(len(DEMO_ENTERPRISES))
    ]


def run_demo(
    settings: ChainSettings, *, port: int = 8545, say: Callable[[str], None] = logger.info
) -> DemoReport:
    """Start (or reuse) the local node, deploy, and register the sample consortium once.

    Idempotent: a second run finds the node, the manifest and the registrations and adds nothing.
    """
    node = node_up(settings.state_dir / "node", port=port)
    say(f"node at {node.url}")
    chain = ChainClient.connect(node.url, compile_contracts())
    members = [demo_account(n) for n in GOVERNANCE_MEMBERS]
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, settings.manifest_path)
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    report = DemoReport(node, settings.manifest_path, manifest, {})

    missing = [(n, role) for n, role in SERVICE_ROLES if not registry.has_role(role, demo_account(n).address)]
    if missing:
        grants = [(role, demo_account(n).address) for n, role in missing]
        registry.grant_roles(members, grants, "demo: service roles")
        report.steps.append(f"granted {len(missing)} service roles (2-of-3 governance)")
    calls = []
    for i in range(len(DEMO_ENTERPRISES)):
        account = demo_account(f"enterprise-{i + 1}").address
        if registry.enterprise_by_credit_code(demo_profile(i).credit_code) is None:
            calls.append(registry.encode_register_enterprise(account, demo_profile(i)))
    if calls:
        registry.govern(members, registry.encode_multicall(calls), "demo: register enterprises")
        report.steps.append(f"registered {len(calls)} enterprises in one multicall proposal")
    # discharge permits before any SO2/NOx allocation and device binding: they gate both
    permits = demo_permits(chain, settings.manifest_path, registry, members, demo_holders())
    report.steps.extend(permits.lines)
    manifest = permits.manifest or manifest
    bound = 0
    already = {d.address for d in registry.devices()}
    for i in range(len(DEMO_ENTERPRISES)):
        device = demo_account(f"enterprise-{i + 7}").address  # demo device keys
        if device not in already:
            mn = demo_device_mn(i)
            owner = demo_account(f"enterprise-{i + 1}").address
            oracle = demo_account("oracle").address  # the site gateway's key anchors its readings
            registry.bind_device(demo_account("regulator"), device, owner, mn, oracle=oracle)
            bound += 1
    if bound:
        report.steps.append(f"bound {bound} monitoring devices (anchored by the site's oracle key)")
    auditor = demo_account("auditor").address
    for i in range(len(DEMO_ENTERPRISES)):  # the regulator assigns the auditor: attest and read scope
        owner = demo_account(f"enterprise-{i + 1}").address
        if not registry.is_auditor_assigned(auditor, owner):
            registry.assign_auditor(demo_account("regulator"), auditor, owner)
    _demo_market(chain, manifest, registry, members, settings.state_dir, report)
    _demo_auctions(chain, manifest, registry, members, settings.state_dir, report)
    _demo_oracle(settings, report, say)
    _demo_verify_reading(chain, manifest, settings.state_dir / "oracle" / "queue.db", report)
    # the regulator's review of doubtful data: one decision signed and recorded on the ledger
    report.steps.extend(demo_review(chain, manifest, settings.state_dir / "oracle" / "queue.db").lines)
    demo_compliance(chain, manifest, registry, members, settings.state_dir, report)
    if "Market" in manifest.contracts:  # the exchange's trading day, the last on-chain step before settlement
        report.market = demo_trading_day(chain, manifest, registry, members)
        report.steps.extend(report.market.lines)
    # total-amount control: once wired, 2027 caps come from the adopted annual plan only
    plans = demo_plans(chain, settings.manifest_path, registry, members)
    report.steps.extend(plans.lines)
    report.manifest = plans.manifest or manifest
    # the allocation planner for SO2 and NOx 2027 from the permits, under the adopted annual plan
    report.steps.extend(demo_planner(chain, report.manifest, settings.state_dir / "sample").lines)
    # the government reserve: fed from the 2027 plan, a new project served, a closure (the last on-chain step)
    reserve = demo_reserve(chain, settings.manifest_path, registry, members)
    report.steps.extend(reserve.lines)
    report.manifest = reserve.manifest or report.manifest
    # IC cards tied to rights: cards issued, a month's SO2 committed and recharged, the swipe's quota
    cards = demo_cards(chain, settings.manifest_path, registry, members)
    report.steps.extend(cards.lines)
    report.manifest = cards.manifest or report.manifest
    # four eyes: a 2-of-2 Safe enterprise account, trusted counterparties (a refused untrusted transfer)
    safe = demo_safe(chain, settings.manifest_path, registry, members)
    report.steps.extend(safe.lines)
    report.manifest = safe.manifest or report.manifest
    report.accounts = {name: demo_account(name).address for name in DEMO_ROLES}
    for i in range(len(DEMO_ENTERPRISES)):
        report.accounts[f"enterprise-{i + 1}"] = demo_account(f"enterprise-{i + 1}").address
    return report


SAMPLE_SIZE = 200
TARGET_YEAR = 2027


def _demo_market(
    chain: ChainClient,
    manifest: Manifest,
    registry: RegistryClient,
    members: list[Signer],
    state_dir: Path,
    report: DemoReport,
) -> None:
    """Sample consortium with a planned CO2 allocation, plus trades among the demo enterprises."""
    regulator, exchange = demo_account("regulator"), demo_account("exchange")
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    sample = generate_enterprises(SAMPLE_SIZE, 10, seed=2027)
    enterprises_csv, history_csv = write_sample(sample, state_dir / "sample")
    report.files["account records"] = write_demo_account_records(sample, state_dir / "sample")
    rows = [(sample_account(e.credit_code).address, sample_profile(e)) for e in sample.enterprises]
    added = register_enterprises(registry, members, rows, batch_size=40)
    if added:
        report.steps.append(f"registered {added} sample enterprises (10 years of energy data each)")
    result = plan(load_history(history_csv, rule="benchmark"), TARGET_YEAR, "benchmark", reduction_rate=0.02)
    plan_csv = result.write_csv(state_dir / "sample" / f"plan-{TARGET_YEAR}.csv")
    chart = render_trend_chart(result, plan_csv.with_suffix(".png"))
    executed = execute_plan(allowance, registry, regulator, plan_csv, enterprises_csv, batch_size=100)
    if executed.minted:
        report.steps.append(
            f"planned and allocated CO2 {TARGET_YEAR}: cap {result.cap:,} t, benchmark rule, "
            f"{executed.batches} batches, trend {result.trend.cagr:+.2%}/yr"
        )
    report.files.update(
        {"enterprises": enterprises_csv, "history": history_csv, "plan": plan_csv, "chart": chart}
    )
    for entry in sorted(result.entries, key=lambda e: -e.allocation)[:5]:
        report.holdings.append((entry.enterprise_id, f"CO2 {TARGET_YEAR}", entry.allocation))

    so2 = encode_id(Kind.ALLOWANCE, "SO2", TARGET_YEAR)
    e1, e2 = demo_account("enterprise-1"), demo_account("enterprise-2")
    if allowance.cap(so2) == 0:
        allowance.set_cap(regulator, so2, 50_000)
        demo_accounts = [demo_account(f"enterprise-{i + 1}").address for i in range(len(DEMO_ENTERPRISES))]
        allowance.allocate(
            regulator,
            so2,
            demo_accounts,
            [8_000, 6_000, 9_000, 7_000, 5_000, 6_000],
            b"demo-so2".ljust(32, b"\0"),
        )
        allowance.transfer(e1, e2.address, so2, 1_500)
        cash.deposit(exchange, e1.address, 12_500_000, "ICBC-DEMO-0001")
        cash.transfer(e1, e2.address, 4_500_000)
        report.steps.append(
            "SO2 2027 capped at 50,000 t and allocated to 6 demo enterprises; enterprise-1 sold 1,500 t "
            "to enterprise-2 for CNY 45,000 in settlement cash"
        )
    for name in ("enterprise-1", "enterprise-2"):
        report.holdings.append(
            (name, f"SO2 {TARGET_YEAR}", allowance.balance(demo_account(name).address, so2))
        )
        report.holdings.append((name, "cash (CNY)", cash.balance(demo_account(name).address) // 100))


#: Demo bid schedules (CNY fen per tonne, tonnes) of enterprise-1..6 in the primary CO2 auction.
PRIMARY_BIDS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((7_200, 3_000), (6_500, 4_000)),
    ((6_800, 2_500), (6_100, 3_000)),
    ((7_000, 6_000), (6_300, 2_000), (5_600, 2_000)),
    ((6_300, 3_500),),
    ((6_100, 2_000), (5_800, 3_000)),
    ((9_000, 1_000),),  # enterprise-6 never reveals: it forfeits 10 % of its guarantee
)


#: The demo's simulated site: controllers and minute frames each (12 hours, from midnight).
DEMO_SITE_DEVICES = 6
DEMO_SITE_MINUTES = 720
#: Share of minute frames the demo's serial links lose in transit (the gateway back-fills them).
DEMO_SITE_DROP_RATE = 0.003


def _demo_oracle(settings: ChainSettings, report: DemoReport, say: Callable[[str], None]) -> None:
    """Six simulated card-swipe controllers on pseudo-terminals feed the oracle gateway, which
    signs, queues and anchors their readings; once (a re-run finds the anchored readings)."""
    queue_path = settings.state_dir / "oracle" / "queue.db"
    if queue_path.exists():
        with Queue(queue_path) as queue:
            anchored = queue.stats().readings["ANCHORED"]
        if anchored:
            report.steps.append(f"oracle: {anchored:,} device-signed readings anchored already")
            report.files["oracle chart"] = settings.state_dir / "oracle" / "simulation.png"
            return
    say(f"oracle: {DEMO_SITE_DEVICES} simulated controllers x {DEMO_SITE_MINUTES} minute frames over PTYs")
    result = run_site_simulation(
        settings, devices=DEMO_SITE_DEVICES, minutes=DEMO_SITE_MINUTES, drop_rate=DEMO_SITE_DROP_RATE
    )
    report.steps.append(
        f"oracle: {result.frames_answered:,} HJ 212 frames from {result.devices} controllers (serial PTYs) → "
        f"{result.readings_signed:,} device-signed readings, {result.readings_anchored:,} anchored in "
        f"{result.batches_anchored} Merkle batches"
    )
    report.steps.append(
        f"oracle: back-fill: {result.frames_dropped} frames lost in transit, {result.frames_backfilled} "
        f"recovered by HJ 212-2017 history requests (CN=2051 BeginTime/EndTime, 9011 … 9012), "
        f"{result.readings_backfilled:,} readings device-signed and anchored;"
        f" {result.gaps_closed} gaps closed"
    )
    alarms = ", ".join(f"{mn} {code} {t * 100:.0f} %" for mn, code, t in result.alarms)
    report.steps.append(
        f"oracle: quota alarms {alarms or 'none'}; valves closed: {result.valves_closed or 'none'}"
    )
    with Queue(queue_path) as queue:
        valves = ReverseControl(queue)
        acks = [e for mn in result.valves_closed for e in valves.log(mn) if e["event"] == "ack"]
    report.steps.append(
        f"oracle: valve closures sent as HJ 212 reverse control (CN=3098 ValveCmd=0), acknowledged by "
        f"the controller {len(acks)} time(s) (9012 ExeRtn=1); orders, commands and acknowledgements "
        f"anchored as readings VLVORD/VLVCMD/VLVACK"
    )
    fields = ", ".join(f"{kind} {mn}" for kind, mn, _ in result.field_alarms)
    report.steps.append(
        f"oracle: field alarms (over-standard hourly averages, facility and instrument status, "
        f"parameter tampering): {fields or 'none'}"
    )
    if result.chart is not None:
        report.files["oracle chart"] = result.chart


def _demo_verify_reading(
    chain: ChainClient, manifest: Manifest, queue_path: Path, report: DemoReport
) -> None:
    """What an auditor does with one anchored reading: check its device's frame signature and its
    Merkle proof against the root on-chain, with ``EmissionsLedger.verifyReading``."""
    if not queue_path.exists():
        return
    with Queue(queue_path) as queue:
        anchored = queue.batches(BatchStatus.ANCHORED)
        if not anchored:
            return
        batch = anchored[len(anchored) // 2]
        stored = queue.batch_readings(batch.batch_id)[batch.count // 2]
        proof = queue.proof(stored.row_id)
    ledger = LedgerClient(chain, manifest.address("EmissionsLedger"))
    signed = stored.signed
    ok = ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof.proof)
    r = signed.reading
    report.steps.append(
        f"auditor check on-chain: {r.pollutant} {r.amount} {r.unit or '(no unit)'} "
        f"from device {r.device[:10]}… "
        f"(sequence {r.sequence}): frame signature over {len(signed.witness.hashes)} readings and a "
        f"{len(proof.proof)}-hash Merkle proof into batch {batch.batch_id.hex()[:10]}… → "
        f"{'verified' if ok else 'NOT verified'}"
    )


def _demo_auctions(
    chain: ChainClient,
    manifest: Manifest,
    registry: RegistryClient,
    members: list[Signer],
    state_dir: Path,
    report: DemoReport,
) -> None:
    """A primary CO2 auction (regulator sells new allowances) and a secondary SO2 auction
    (enterprise-3 sells surplus, RGGI price rule), each run to the last claim."""
    regulator, exchange = demo_account("regulator"), demo_account("exchange")
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    record = manifest.contracts["SealedBidAuction"]
    auction = AuctionClient(chain, record.address, allowance, cash, from_block=record.block)
    done = wire_auction_house(registry, members, auction, demo_account("treasury").address)
    if done:
        report.steps.append(
            "auction house wired by governance (escrow of both tokens, cap issuance, treasury)"
        )
    bidders = [demo_account(f"enterprise-{i + 1}") for i in range(len(DEMO_ENTERPRISES))]
    if auction.count() == 0:
        co2 = encode_id(Kind.ALLOWANCE, "CO2", TARGET_YEAR)
        allowance.set_cap(regulator, co2, allowance.cap(co2) + 20_000)
        now = chain.timestamp()
        primary = AuctionParams(co2, supply=20_000, reserve_price=5_000, purchase_limit=8_000,
                                commit_end=now + 3600, reveal_end=now + 7200, forfeit_bps=1_000)  # fmt: skip
        first = auction.create_primary(regulator, primary)
        sealed = []
        for i, (bidder, bids) in enumerate(zip(bidders, PRIMARY_BIDS, strict=True)):
            bid = auction.seal(first, bidder.address, bids)
            cash.deposit(exchange, bidder.address, bid.guarantee, f"ICBC-DEMO-AUCTION-{i + 1:04d}")
            auction.commit(bidder, bid)
            sealed.append(bid)
        chain.advance_time(3600)
        for bidder, bid in zip(bidders[:-1], sealed[:-1], strict=True):
            auction.reveal(bidder, bid)
        chain.advance_time(3600)
        auction.submit_clearing(exchange, first)
        for bidder in bidders:
            auction.settle(bidder, first)
        auction.withdraw_proceeds(regulator, first)

        so2 = encode_id(Kind.ALLOWANCE, "SO2", TARGET_YEAR)
        now = chain.timestamp()
        secondary = AuctionParams(so2, supply=2_000, reserve_price=20_000, commit_end=now + 3600,
                                  reveal_end=now + 7200, price_rule=PriceRule.HIGHEST_REJECTED)  # fmt: skip
        seller = bidders[2]
        second = auction.create_secondary(seller, secondary)
        schedules = {0: ((26_000, 800), (23_000, 600)), 1: ((24_000, 900),), 3: ((22_000, 1_000),)}
        sealed2 = {}
        for i, bids in schedules.items():
            bid = auction.seal(second, bidders[i].address, bids)
            cash.deposit(exchange, bidders[i].address, bid.guarantee, f"ICBC-DEMO-SO2-{i + 1:04d}")
            auction.commit(bidders[i], bid)
            sealed2[i] = bid
        chain.advance_time(3600)
        for i, bid in sealed2.items():
            auction.reveal(bidders[i], bid)
        chain.advance_time(3600)
        auction.submit_clearing(exchange, second)
        for i in schedules:
            auction.settle(bidders[i], second)
        auction.withdraw_proceeds(seller, second)
    for auction_id in range(1, auction.count() + 1):
        view = auction.view(auction_id)
        if view.status is AuctionStatus.OPEN:
            continue  # still taking bids (the reserve step's restricted auction has its own line)
        result = auction.compute_clearing(auction_id)
        label = decode_id(view.token_id).label()
        kind = "primary" if view.primary else "secondary"
        price = f"CNY {view.clearing_price / 100:,.2f}/t" if view.clearing_price is not None else "no sale"
        winners = sum(1 for q in result.allocations.values() if q)
        report.steps.append(
            f"{kind} auction {auction_id}: {view.supply:,} t {label}, {view.bidders} sealed bids, "
            f"{view.revealed} revealed, cleared at {price} ({view.price_rule.label}), {winners} winners, "
            f"proceeds CNY {view.proceeds / 100:,.2f} to {'the treasury' if view.primary else 'the seller'}"
        )
        chart = state_dir / f"auction-{auction_id}-demand.png"
        render_demand_curve(result, view.supply, view.reserve_price, chart, f"Auction {auction_id}: {label}")
        report.files[f"auction {auction_id} chart"] = chart
