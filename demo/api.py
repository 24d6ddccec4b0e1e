"""The demo's API part: index the demo chain into the read model, import the oracle's readings
and the sample's monthly energy, serve the API on a loopback port of its own (:func:`api_socket`:
recorded in the state dir, so a re-run serves on the same one and two demos side by side never
meet) and use it as its users would: sign in with a wallet key (SIWE), read the audit trail and
statistics, check a reading's Merkle proof against the chain, and move allowances with a
transaction built by the API and signed locally. Then (:func:`serve_demo`) serve the API and the
dashboard on loopback until Ctrl-C, saying where and how to sign in as each role.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.accounts import Signer, demo_account
from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import Manifest, load_for_chain
from chain.errors import NodeError
from chain.onboarding import read_credit_codes
from chain.siwe import wallet_sign_in
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from oracle.field import FieldStore
from readmodel.indexer.energy import import_energy
from readmodel.indexer.readings import import_readings
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.models import MarketTrade
from readmodel.session import make_engine
from scheduler.alarms import AlarmStore
from scheduler.config import SchedulerSettings
from scheduler.delivery import deliver_pending
from scheduler.field import FieldAlarmRelay
from scheduler.notify import LogNotifier
from scheduler.surveillance import MarketSurveillance, import_records
from sim.sample import generate_enterprises, write_monthly_sample

#: The wallet transfer the demo makes once: enterprise-2 sends SO2 2028 allowances to enterprise-4.
TRANSFER_AMOUNT = 7
#: Where the demo serves the API and the dashboard at the end (loopback only).
SERVE_HOST, SERVE_PORT = "127.0.0.1", 8000
#: Where the state dir records the loopback port of the demo's in-process API steps.
API_PORT_FILE = "api-port"
#: The demo accounts a newcomer signs in as, one per role, with what that view shows.
SIGN_IN_ROLES = (
    ("regulator", "regulator", "overview: map, compliance, alarms, proposals; the exchange view too"),
    ("exchange", "exchange", "auctions, settlement cash, the daily settlement report"),
    ("enterprise-1", "enterprise", "holdings, notices and outcomes, production report, bids, transfers"),
    ("auditor", "auditor", "assigned enterprises, anchored batches, attestations, reading proofs"),
)


@dataclass
class ApiDemoReport:
    """What the API demo did and saw (``url``: where it served the API)."""

    database: str
    events: int
    url: str = ""
    lines: list[str] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)
    trail: list[dict[str, Any]] = field(default_factory=list)


def _sign_in(client: httpx.Client, account: Signer) -> dict[str, str]:
    """Sign in as a wallet would: nonce from the server, EIP-4361 message signed with the key."""
    token = wallet_sign_in(client.post, account, statement="Sign in to ETS Chain (demo)")
    return {"Authorization": f"Bearer {token}"}


def api_socket(state_dir: Path) -> socket.socket:
    """A listening loopback socket for the demo's in-process API steps, bound before their server
    starts: on the port recorded in ``<state dir>/api-port`` while it is free, else on a free port
    the system picks (then recorded). So a re-run serves where the last one did, and a demo never
    takes, or talks to, another demo's port (each has its own state dir)."""
    path = state_dir / API_PORT_FILE
    try:
        recorded = int(path.read_text())
    except (OSError, ValueError):
        recorded = 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a re-run within TIME_WAIT binds it
    try:
        try:
            sock.bind((SERVE_HOST, recorded))
        except OSError:  # taken since (by anything, listening): another free one
            sock.bind((SERVE_HOST, 0))
        sock.listen()
    except OSError:
        sock.close()
        raise
    port = int(sock.getsockname()[1])
    if port != recorded:
        path.write_text(f"{port}\n")
    return sock


@contextmanager
def served_api(
    settings: ChainSettings, chain: ChainClient, manifest: Manifest, database: str, engine: Any, *, name: str
) -> Iterator[str]:
    """Serve the API over the demo's read model (``database``, open as ``engine``; no migrations,
    no embedded indexer) in a thread on :func:`api_socket`'s port for the block; yields its base
    URL, then stops it.

    Raises:
        NodeError: the server did not start within 30 s.
    """
    sock = api_socket(settings.state_dir)
    try:
        host, port = sock.getsockname()[:2]
        api_settings = ApiSettings(database_url=database, api_host=host, api_port=port)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(AppContext(api_settings, chain, manifest, engine), migrate=False, indexer=False),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=api_settings.api_shutdown_seconds,
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 30
            while not server.started and thread.is_alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not server.started:
                raise NodeError(f"the demo's API ({name}) did not start on {host}:{port}")
            yield f"http://{host}:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        sock.close()


def demo_api(settings: ChainSettings, *, say: Callable[[str], None] = print) -> ApiDemoReport:
    """Index, import and exercise the API over the demo chain, served on :func:`api_socket`'s
    port; idempotent (the wallet transfer happens once, the read model resumes from its
    checkpoint)."""
    chain = ChainClient.connect(settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, settings.manifest_path)
    database = f"sqlite:///{settings.state_dir / 'readmodel.db'}"
    engine = make_engine(database)
    upgrade(engine)
    queue = settings.state_dir / "oracle" / "queue.db"
    indexer = Indexer(chain, manifest, engine, oracle_queues=[queue])
    events = indexer.catch_up()
    status = indexer.status()
    report = ApiDemoReport(database, status.events)
    report.lines.append(
        f"indexed {events:,} new events ({status.events:,} in the read model), lag {status.lag}"
    )
    readings = import_readings(engine, [queue])
    report.lines.append(
        f"imported {readings.readings:,} signed readings of {readings.batches} anchored batches "
        f"({readings.present} already there)"
    )
    energy = _import_energy(settings, engine)
    if energy:
        report.lines.append(energy)
    report.lines.extend(_surveil(settings, engine, chain.timestamp()))
    report.lines.extend(relay_field_alarms(settings, engine))

    try:
        with (
            served_api(settings, chain, manifest, database, engine, name="ets-api-demo") as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            report.url = url
            report.lines.append(
                f"served in process on {url} (the port kept in the state dir's {API_PORT_FILE})"
            )
            _exercise(client, chain, indexer, report, say)
    finally:
        engine.dispose()
    return report


def _surveil(settings: ChainSettings, engine: Any, now: int) -> list[str]:
    """The exchange's account records of the sample (``account_records.csv``, written by the demo's
    market step) into the read model, then the surveillance scans over each trading day of the
    market, their alerts stored for ``GET /market/alerts`` (once: a re-run finds them)."""
    records = settings.state_dir / "sample" / "account_records.csv"
    if not records.exists():
        return []
    count = import_records(engine, records.read_text(encoding="utf-8"), now=now, source=records.name)
    lines = [f"imported {count} account records of the exchange (enterprise group, controller)"]
    with engine.connect() as conn:
        days = list(conn.scalars(select(MarketTrade.day).distinct().order_by(MarketTrade.day)))
    for day in days:
        scanned = MarketSurveillance(engine, None).run(day, now)
        found = ", ".join(f"{f.kind} {' & '.join(a[:8] for a in f.accounts)} ({len(f.trade_ids)} trades)"
                          for f in scanned.findings)  # fmt: skip
        lines.append(f"surveillance of {day}: {scanned.trades} trades, alerts: {found or 'none'}")
    return lines


def relay_field_alarms(settings: ChainSettings, engine: Any) -> list[str]:
    """The site gateway's field alarms (quota, over-standard, facility, instrument, tamper) relayed
    into the scheduler's alarm store and the read model for ``GET /alarms`` and the regulator's map,
    delivered on the log channel (once: a re-run finds them relayed)."""
    path = settings.state_dir / "oracle" / "field.db"
    if not path.exists():
        return []
    notifiers = [LogNotifier()]
    with (
        AlarmStore(SchedulerSettings.load().database(settings.state_dir)) as store,
        FieldStore(path) as source,
    ):
        relay = FieldAlarmRelay(
            store,
            [n.name for n in notifiers],
            [source],
            engine=engine,
            deliver=lambda now: deliver_pending(store, notifiers, now, max_attempts=3),
        )
        relayed = relay.run()
    kinds = Counter(str(a.kind) for a in relayed.raised)
    shown = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
    return [f"field alarms relayed to the alarm store and the read model: {shown or 'none new'}"]


def _import_energy(settings: ChainSettings, engine: Any) -> str | None:
    enterprises_csv = settings.state_dir / "sample" / "enterprises.csv"
    if not enterprises_csv.exists():
        return None
    path = write_monthly_sample(generate_enterprises(200, 10, seed=2027), settings.state_dir / "sample")
    result = import_energy(engine, path, credit_codes=read_credit_codes(enterprises_csv))
    return f"imported monthly energy use into the statistics: {result}"


def _exercise(
    client: httpx.Client,
    chain: ChainClient,
    indexer: Indexer,
    report: ApiDemoReport,
    say: Callable[[str], None],
) -> None:
    health = client.get("/health").json()
    report.lines.append(
        f"GET /health: {health['status']} (chain head {health['chain']['head']}, "
        f"indexer lag {health['indexer']['lag_blocks']} blocks)"
    )
    regulator = _sign_in(client, demo_account("regulator"))
    report.lines.append(
        "regulator signed in with SIWE (EIP-4361); roles from the registry: "
        + ", ".join(client.get("/auth/me", headers=regulator).json()["roles"])
    )

    e1 = demo_account("enterprise-1").address
    trail = client.get("/audit/events", params={"account": e1, "limit": 8}, headers=regulator).json()
    report.trail = trail["items"]
    report.lines.append(
        f"GET /audit/events?account=enterprise-1: {len(trail['items'])} of its events, "
        f"next cursor {trail.get('next')}"
    )
    csv_text = client.get("/audit/events.csv", params={"account": e1}, headers=regulator).text
    report.lines.append(
        f"GET /audit/events.csv: {csv_text.count(chr(10)) - 1} rows of enterprise-1's history"
    )

    stats = client.get(
        "/stats",
        params={"metric": "emissions_t", "grain": "year", "group_by": ["time", "enterprise"], "limit": 6},
        headers=regulator,
    ).json()
    report.stats = stats["rows"]
    trend = client.get("/stats/trend", params={"metric": "allocated"}, headers=regulator).json()["points"]
    shown = ", ".join(f"{p['year']}: {p['value']:,.0f} t" for p in trend[-3:])
    report.lines.append(f"GET /stats/trend?metric=allocated (annual totals): {shown}")

    page = client.get("/dashboard/")
    overview = client.get("/dashboard/api/overview", headers=regulator).json()
    counts = ", ".join(f"{n} {status}" for status, n in overview["counts"].items())
    report.lines.append(
        f"GET /dashboard/ ({len(page.content):,} bytes) and its regulator overview: "
        f"{len(overview['enterprises'])} enterprises on the map ({counts}); the demo serves it at "
        "the end (demo mode: pick a demo account, it signs in the page)"
    )

    batches = client.get("/batches", params={"limit": 1}, headers=regulator).json()["items"]
    if batches:
        batch_id = batches[0]["batch_id"]
        proof = client.get(f"/audit/readings/{batch_id}/0", headers=regulator).json()
        report.lines.append(
            f"GET /audit/readings/{batch_id[:10]}…/0: Merkle proof of {len(proof['proof'])} "
            f"nodes, verified against the on-chain root: {proof['verified']}"
        )

    # an enterprise acts with its own wallet: the API builds, the key signs locally, the API relays
    sender, recipient = demo_account("enterprise-2"), demo_account("enterprise-4")
    token_id = encode_id(Kind.ALLOWANCE, "SO2", 2028)
    headers = _sign_in(client, sender)
    done = client.get(
        "/transfers", params={"account": sender.address, "token_id": token_id}, headers=headers
    ).json()
    already = any(
        t["recipient"] == recipient.address and t["amount"] == TRANSFER_AMOUNT for t in done["items"]
    )
    if already:
        report.lines.append("wallet transfer enterprise-2 → enterprise-4 was made by an earlier run")
        return
    args = {
        "from": sender.address,
        "to": recipient.address,
        "id": token_id,
        "value": TRANSFER_AMOUNT,
        "data": "0x",
    }
    built = client.post(
        "/tx/build",
        headers=headers,
        json={"contract": "AllowanceToken", "function": "safeTransferFrom", "args": args},
    )
    if built.status_code != 200:
        report.lines.append(f"POST /tx/build refused: {built.json().get('message')}")
        return
    tx = {k: v for k, v in built.json()["tx"].items() if k != "from"}
    raw = "0x" + bytes(sender.sign_transaction(tx).raw_transaction).hex()
    relayed = client.post(
        "/tx/relay", headers=headers, json={"intent_id": built.json()["intent_id"], "raw_transaction": raw}
    ).json()
    report.lines.append(
        f"enterprise-2 built a transfer of {TRANSFER_AMOUNT} t SO2 2028 through POST /tx/build, "
        f"signed it with its own key, POST /tx/relay: {relayed.get('status')} "
        f"(tx {str(relayed.get('tx_hash'))[:12]}…)"
    )
    indexer.catch_up()


@dataclass
class DemoServer:
    """The API and the dashboard over the demo's read model, ready to run on loopback.

    Attributes:
        url: the dashboard's address.
        server: the uvicorn server (``run()`` blocks until Ctrl-C or ``should_exit``).
        engine: the read model's engine (disposed when the server stops).
    """

    url: str
    server: uvicorn.Server
    engine: Any = field(repr=False)

    def run(self) -> None:
        """Serve until Ctrl-C (uvicorn stops on SIGINT / SIGTERM), then release the read model."""
        try:
            self.server.run()
        finally:
            self.engine.dispose()


def demo_server(settings: ChainSettings, *, port: int = SERVE_PORT) -> DemoServer:
    """The API with the dashboard over the demo chain's read model, on loopback, with its
    embedded indexer following the chain (demo mode: the page signs with the public demo keys)."""
    chain = ChainClient.connect(settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, settings.manifest_path)
    database = f"sqlite:///{settings.state_dir / 'readmodel.db'}"
    engine = make_engine(database)
    queue = settings.state_dir / "oracle" / "queue.db"
    api_settings = ApiSettings(database_url=database, api_host=SERVE_HOST, api_port=port,
                               indexer_oracle_queues=str(queue))  # fmt: skip
    ctx = AppContext(api_settings, chain, manifest, engine)
    app = create_app(ctx, migrate=True, indexer=True)
    app.state.dashboard_demo = settings.demo  # the demo's own mode, not re-read from the environment
    config = uvicorn.Config(
        app,
        host=SERVE_HOST,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=api_settings.api_shutdown_seconds,
    )
    return DemoServer(f"http://{SERVE_HOST}:{port}/dashboard/", uvicorn.Server(config), engine)


def sign_in_lines(url: str) -> list[str]:
    """How to open the dashboard and sign in as each role (the demo's closing words)."""
    lines = [
        f"Dashboard: {url}  (API: {url.removesuffix('dashboard/')}docs)",
        "Sign in: pick a demo account in the list and press Sign in (demo mode: the page signs with",
        "the public Anvil demo keys, no wallet needed). One account per role:",
    ]
    for name, view, what in SIGN_IN_ROLES:
        lines.append(f"  {name:<13} {demo_account(name).address}  → {view} view: {what}")
    lines.append("The audit trail (every on-chain event, CSV export) is in each view's menu.")
    lines.append("Ctrl-C stops the server; the chain keeps running (`ets node down` stops it).")
    return lines


def serve_demo(
    settings: ChainSettings, *, port: int = SERVE_PORT, say: Callable[[str], None] = print
) -> None:
    """Serve the API and the dashboard on loopback until Ctrl-C, after saying where and how to
    sign in as each role."""
    served = demo_server(settings, port=port)
    for line in sign_in_lines(served.url):
        say(line)
    served.run()
