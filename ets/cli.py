"""The ``ets`` command line: thin shells over library functions in chain/, oracle/ and api/."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table

from chain.errors import ConfigError, ContractRevertError
from domain.errors import EtsError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(help="ETS Chain: emission-rights trading and compliance.", no_args_is_help=True)
node_app = typer.Typer(help="Local chain node (Anvil).", no_args_is_help=True)
registry_app = typer.Typer(help="Consortium registry: enterprises and devices.", no_args_is_help=True)
enterprise_app = typer.Typer(help="Enterprises (changes go through governance).", no_args_is_help=True)
device_app = typer.Typer(help="Monitoring devices (bound by the regulator).", no_args_is_help=True)
governance_app = typer.Typer(help="k-of-n governance proposals.", no_args_is_help=True)
app.add_typer(node_app, name="node")
app.add_typer(registry_app, name="registry")
registry_app.add_typer(enterprise_app, name="enterprise")
registry_app.add_typer(device_app, name="device")
app.add_typer(governance_app, name="governance")

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Demo account name (regulator, exchange, enterprise-1 ...); demo mode only."),
]
KeystoreOption = Annotated[
    Path | None,
    typer.Option("--keystore", help="Encrypted V3 keystore of the signing account."),
]


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print an ETS error's name and meaning and exit non-zero instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ContractRevertError as exc:
            err_console.print(f"[bold red]{exc.error}[/]: {exc.explain()}")
            raise typer.Exit(1) from None
        except EtsError as exc:
            err_console.print(f"[bold red]{type(exc).__name__}[/]: {exc}")
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# ---------------------------------------------------------------------- context


@functools.lru_cache(maxsize=1)
def _settings() -> Any:
    from chain.config import ChainSettings

    return ChainSettings.load()


def _chain() -> Any:
    from chain.compile import compile_contracts
    from chain.tx import ChainClient

    settings = _settings()
    return ChainClient.connect(settings.rpc_url, compile_contracts(), confirmations=settings.confirmations)


def _deployment() -> tuple[Any, Any]:
    """The connected chain and its checked deployment manifest."""
    from chain.deploy import load_for_chain

    chain = _chain()
    return chain, load_for_chain(chain, _settings().manifest_path)


def _registry() -> Any:
    from chain.registry import RegistryClient

    chain, manifest = _deployment()
    return RegistryClient(chain, manifest.address("ConsortiumRegistry"))


def _signer(as_: str | None, keystore: Path | None) -> LocalAccount:
    from chain.accounts import demo_account, load_keystore

    settings = _settings()
    if keystore is not None:
        password = (
            settings.keystore_password.get_secret_value()
            if settings.keystore_password is not None
            else typer.prompt(f"Password for {keystore}", hide_input=True)
        )
        return load_keystore(keystore, password)
    if as_ is not None:
        if not settings.demo:
            raise ConfigError("--as uses public demo keys: only in demo mode (ETS_DEMO=1)")
        return demo_account(as_)
    return settings.service_account()  # type: ignore[no-any-return]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# ---------------------------------------------------------------------- node


@node_app.command("up")
@cli_errors
def node_up(port: Annotated[int, typer.Option(help="RPC port on 127.0.0.1.")] = 8545) -> None:
    """Start a detached local node whose state persists in the state directory."""
    from chain.node import node_up as up

    state = up(_settings().state_dir / "node", port=port)
    console.print(f"node up: {state.url} (chain id {state.chain_id}, pid {state.pid}, log {state.log})")


@node_app.command("down")
@cli_errors
def node_down() -> None:
    """Stop the detached local node (its state is saved)."""
    from chain.node import node_down as down

    console.print("node stopped" if down(_settings().state_dir / "node") else "no node running")


@node_app.command("status")
@cli_errors
def node_status() -> None:
    """Say whether the detached node is running; exit 1 when it is not."""
    from chain.node import node_status as status

    state = status(_settings().state_dir / "node")
    if state is None:
        console.print("node: down")
        raise typer.Exit(1)
    console.print(f"node: up at {state.url} (chain id {state.chain_id}, pid {state.pid})")


# ---------------------------------------------------------------------- deploy


@app.command("deploy")
@cli_errors
def deploy(
    member: Annotated[
        list[str] | None,
        typer.Option(help="Governance member address (repeat). Demo: 3 demo members."),
    ] = None,
    threshold: Annotated[int | None, typer.Option(help="Approvals needed (default: majority).")] = None,
    as_: AsOption = "deployer",
    keystore: KeystoreOption = None,
) -> None:
    """Deploy the contract suite (only what the manifest does not hold yet)."""
    from chain.accounts import demo_account
    from chain.deploy import SuiteConfig, deploy_suite

    settings = _settings()
    deployer = _signer(as_ if settings.demo and keystore is None else None, keystore)
    members = tuple(member or ())
    if not members:
        if not settings.demo:
            raise ConfigError("give the governance members with --member (repeat)")
        members = tuple(demo_account(n).address for n in ("regulator", "exchange", "industry-body"))
    config = SuiteConfig(members=members, threshold=threshold or len(members) // 2 + 1)
    manifest = deploy_suite(_chain(), deployer, config, settings.manifest_path)
    table = Table("contract", "address", "block", title=f"chain {manifest.chain_id}")
    for name, record in manifest.contracts.items():
        table.add_row(name, record.address, str(record.block))
    console.print(table)
    console.print(f"manifest: {settings.manifest_path}")


# ---------------------------------------------------------------------- registry


@enterprise_app.command("add")
@cli_errors
def enterprise_add(
    account: Annotated[str, typer.Argument(help="The enterprise's account address.")],
    code: Annotated[str, typer.Option(help="Unified social credit code (18 characters).")],
    name: Annotated[str, typer.Option(help="Registered name.")],
    region: Annotated[int, typer.Option(help="GB/T 2260 region code, 6 digits.")],
    industry: Annotated[str, typer.Option(help="GB/T 4754 industry code, e.g. D4411.")],
    lat: Annotated[float, typer.Option(help="Latitude, decimal degrees.")],
    lon: Annotated[float, typer.Option(help="Longitude, decimal degrees.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose registering an enterprise (checked first, then approved by other members)."""
    from chain.registry import EnterpriseProfile

    profile = EnterpriseProfile.from_degrees(
        credit_code=code, name=name, region_code=region, industry_code=industry,
        latitude=lat, longitude=lon,
    )  # fmt: skip
    registry = _registry()
    data = registry.encode_register_enterprise(account, profile)
    proposal_id = registry.propose(_signer(as_, keystore), data, f"register {name} ({code})")
    console.print(f"proposal {proposal_id}: register {name}; needs {registry.threshold()} approvals")


@enterprise_app.command("suspend")
@cli_errors
def enterprise_suspend(
    account: str,
    reason: Annotated[int, typer.Option(help="Reason code.")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose suspending a participant."""
    registry = _registry()
    data = registry.encode_suspend(account, reason)
    proposal_id = registry.propose(_signer(as_, keystore), data, f"suspend {account}")
    console.print(f"proposal {proposal_id}: suspend {account}")


@enterprise_app.command("list")
@cli_errors
def enterprise_list(
    start: int = 0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered enterprises."""
    registry = _registry()
    rows = registry.enterprises(start, limit)
    if as_json:
        _print_json([{"account": e.account, "status": e.status.name, **e.profile.__dict__} for e in rows])
        return
    table = Table("account", "credit code", "name", "region", "industry", "status",
                  title=f"{registry.enterprise_count()} enterprises")  # fmt: skip
    for e in rows:
        p = e.profile
        table.add_row(e.account, p.credit_code, p.name, str(p.region_code), p.industry_code, e.status.name)
    console.print(table)


@device_app.command("add")
@cli_errors
def device_add(
    device: Annotated[str, typer.Argument(help="The device's signing address.")],
    enterprise: Annotated[str, typer.Option(help="Enterprise account it belongs to.")],
    mn: Annotated[str, typer.Option(help="HJ 212 MN code.")],
    oracle: Annotated[
        str | None, typer.Option(help="Oracle (site gateway key) that alone may anchor its readings.")
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Bind a device to an enterprise, and with --oracle set the oracle that anchors it (regulator)."""
    receipt = _registry().bind_device(_signer(as_, keystore), device, enterprise, mn, oracle=oracle)
    shown = f", oracle {oracle}" if oracle else ""
    console.print(f"device {device} bound (gas {receipt['gasUsed']}){shown}")


@device_app.command("set-oracle")
@cli_errors
def device_set_oracle(
    device: Annotated[str, typer.Argument(help="The device's signing address.")],
    oracle: Annotated[str, typer.Option(help="Oracle (site gateway key) that alone may anchor it.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Set (or move) the oracle that may anchor a bound device's readings (regulator)."""
    _registry().set_device_oracle(_signer(as_, keystore), device, oracle)
    console.print(f"device {device}: oracle {oracle}")


@enterprise_app.command("assign-auditor")
@cli_errors
def enterprise_assign_auditor(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's account.")],
    auditor: Annotated[str, typer.Option(help="Auditor account (holds AUDITOR_ROLE).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Assign an auditor to an enterprise: it may then attest and read its records (regulator)."""
    _registry().assign_auditor(_signer(as_, keystore), auditor, enterprise)
    console.print(f"auditor {auditor} assigned to {enterprise}")


@enterprise_app.command("unassign-auditor")
@cli_errors
def enterprise_unassign_auditor(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's account.")],
    auditor: Annotated[str, typer.Option(help="The assigned auditor's account.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """End an auditor's assignment to an enterprise (regulator)."""
    _registry().unassign_auditor(_signer(as_, keystore), auditor, enterprise)
    console.print(f"auditor {auditor} no longer assigned to {enterprise}")


@device_app.command("list")
@cli_errors
def device_list(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's devices.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List bound devices."""
    rows = _registry().devices(enterprise)
    if as_json:
        _print_json([d.__dict__ for d in rows])
        return
    table = Table("device", "enterprise", "MN", title=f"{len(rows)} devices")
    for d in rows:
        table.add_row(d.address, d.enterprise, d.mn)
    console.print(table)


# ---------------------------------------------------------------------- governance

ACTIONS = ("grant-role", "revoke-role", "suspend", "reinstate", "set-threshold", "set-lifetime")


@governance_app.command("propose")
@cli_errors
def governance_propose(
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    args: Annotated[list[str] | None, typer.Argument(help="The action's arguments.")] = None,
    description: Annotated[str, typer.Option(help="Text for the approving members.")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose a change: grant-role ROLE ACCOUNT | revoke-role ROLE ACCOUNT | suspend ACCOUNT
    [REASON] | reinstate ACCOUNT | set-threshold N | set-lifetime SECONDS."""
    from domain.errors import InvalidInputError

    registry = _registry()
    values = args or []
    builders: dict[str, tuple[int, Callable[..., bytes]]] = {
        "grant-role": (2, registry.encode_grant_role),
        "revoke-role": (2, registry.encode_revoke_role),
        "suspend": (1, lambda a, r="0": registry.encode_suspend(a, int(r))),
        "reinstate": (1, registry.encode_reinstate),
        "set-threshold": (1, lambda n: registry.encode_set_threshold(int(n))),
        "set-lifetime": (1, lambda s: registry.encode_set_lifetime(int(s))),
    }
    if action not in builders:
        raise InvalidInputError(f"unknown action {action!r}; one of: {', '.join(ACTIONS)}")
    minimum, build = builders[action]
    if not minimum <= len(values) <= minimum + (action == "suspend"):
        raise InvalidInputError(f"{action} takes {minimum} argument(s), got {len(values)}")
    try:
        data = build(*values)
    except ValueError as exc:
        raise InvalidInputError(f"{action}: {exc}") from None
    text = description or f"{action} {' '.join(values)}"
    proposal_id = registry.propose(_signer(as_, keystore), data, text)
    console.print(f"proposal {proposal_id}: {registry.describe_call(data)}")


@governance_app.command("approve")
@cli_errors
def governance_approve(proposal_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Approve a proposal."""
    registry = _registry()
    registry.approve(_signer(as_, keystore), proposal_id)
    console.print(f"proposal {proposal_id}: {registry.proposal(proposal_id).approvals} approvals")


@governance_app.command("execute")
@cli_errors
def governance_execute(proposal_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Execute a proposal that has enough approvals."""
    receipt = _registry().execute(_signer(as_, keystore), proposal_id)
    console.print(f"proposal {proposal_id}: executed (gas {receipt['gasUsed']})")


@governance_app.command("list")
@cli_errors
def governance_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List proposals with their approvals."""
    registry = _registry()
    rows = registry.proposals()
    if as_json:
        _print_json([{k: v for k, v in p.__dict__.items() if k != "data"} for p in rows])
        return
    table = Table("id", "call", "approvals", "executed", "deadline",
                  title=f"threshold {registry.threshold()} of {len(registry.members())}")  # fmt: skip
    for p in rows:
        table.add_row(
            str(p.id), p.call[:80], str(p.approvals), "yes" if p.executed else "no", str(p.deadline)
        )
    console.print(table)


@app.command("demo")
@cli_errors
def demo(
    port: Annotated[int, typer.Option(help="RPC port of the demo node.")] = 8545,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve", envvar="ETS_DEMO_SERVE",
            help="End by serving the API and the dashboard on loopback until Ctrl-C "
            "(--no-serve or ETS_DEMO_SERVE=0: exit when done, for scripts and CI).",
        ),
    ] = True,
    serve_port: Annotated[int, typer.Option(help="Port of the API and the dashboard.")] = 8000,
) -> None:
    """Start a local chain, deploy, register a sample consortium, and say where everything is;
    then serve the API and the dashboard on loopback until Ctrl-C (unless --no-serve)."""
    from demo.run import run_demo

    settings = _settings()
    if not settings.demo:
        raise ConfigError("the demo signs with public demo keys: run it with ETS_DEMO=1 (scripts/demo)")
    report = run_demo(settings, port=port, say=lambda text: console.print(f"[dim]{text}[/]"))
    for step in report.steps:
        console.print(f"[green]✓[/] {step}")
    table = Table("contract", "address", "block", title="Deployment")
    for name, record in report.manifest.contracts.items():
        table.add_row(name, record.address, str(record.block))
    console.print(table)
    accounts = Table("demo account", "address", title="Accounts (public Anvil keys: demo only)")
    for name, address in report.accounts.items():
        accounts.add_row(name, address)
    console.print(accounts)
    holdings = Table("holder", "asset", "amount", title="Holdings (top CO2 allocations and demo trades)")
    for holder, asset, amount in report.holdings:
        holdings.add_row(holder, asset, f"{amount:,}")
    console.print(holdings)
    for name, path in report.files.items():
        console.print(f"{name:12s} {path}")
    _demo_api(settings)
    from ets.network_cli import demo_network
    from ets.settle_cli import demo_settlement

    demo_settlement(settings)
    demo_network(settings)
    console.print(f"RPC URL:  {report.node.url} (chain id {report.node.chain_id})")
    console.print(f"Manifest: {report.manifest_path}")
    console.print(f"Node log: {report.node.log}; stop with `ets node down`")
    if not serve:
        console.print("API:      `ets api` serves it on http://127.0.0.1:8000 (OpenAPI at /docs)")
        return
    from demo.api import serve_demo

    serve_demo(settings, port=serve_port, say=console.print)


def _demo_api(settings: Any) -> None:
    from demo.api import demo_api

    api = demo_api(settings, say=lambda text: console.print(f"[dim]{text}[/]"))
    for line in api.lines:
        console.print(f"[green]✓[/] API: {line}")
    trail = Table(
        "block", "time (UTC)", "contract", "event", title="Audit trail of enterprise-1 (GET /audit/events)"
    )
    for e in api.trail:
        trail.add_row(str(e["block_number"]), e["time"][:19], e["contract"], e["name"])
    console.print(trail)
    stats = Table(
        "enterprise",
        "year",
        "emissions (t)",
        "batches",
        title="GET /stats?metric=emissions_t&group_by=enterprise",
    )
    for row in api.stats:
        stats.add_row(str(row["enterprise"]), str(row["period"]), f"{row['value']:,.3f}", str(row["count"]))
    console.print(stats)


# ---------------------------------------------------------------------- sample data and allocation

sample_app = typer.Typer(help="Synthetic sample data.", no_args_is_help=True)
allocate_app = typer.Typer(help="Allocation planning and on-chain allocation.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(allocate_app, name="allocate")


@sample_app.command("enterprises")
@cli_errors
def sample_enterprises(
    n: Annotated[int, typer.Option("--n", help="Number of enterprises.")] = 2162,
    years: Annotated[int, typer.Option(help="Years of history (3-10).")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2027,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("sample"),
) -> None:
    """Write a realistic synthetic consortium: enterprises.csv and history.csv."""
    from sim.sample import generate_enterprises, write_sample

    consortium = generate_enterprises(n, years, seed=seed)
    enterprises, history = write_sample(consortium, out)
    console.print(f"{n} enterprises, {years} years: {enterprises}, {history}")


@allocate_app.command("plan")
@cli_errors
def allocate_plan(
    history: Annotated[Path, typer.Argument(help="history.csv (enterprises.csv read from beside it).")],
    year: Annotated[int, typer.Option(help="Target (vintage) year.")],
    rule: Annotated[str, typer.Option(help="grandfathering | benchmark | mixed.")] = "benchmark",
    reduction: Annotated[float, typer.Option(help="Reduction rate applied to the trend.")] = 0.02,
    weight: Annotated[float, typer.Option(help="Grandfathering weight for the mixed rule.")] = 0.5,
    cap: Annotated[
        int | None, typer.Option(help="Cap to allocate (default: proposed from the trend).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Plan CSV to write.")] = Path("plan.csv"),
) -> None:
    """Plan an allocation: trend, proposed cap, per-enterprise integers summing to the cap; chart PNG."""
    from chain.allocation import load_history, plan, render_trend_chart

    records = load_history(history, rule=rule)
    result = plan(records, year, rule, reduction_rate=reduction, weight=weight, cap=cap)
    result.write_csv(out)
    chart = render_trend_chart(result, out.with_suffix(".png"))
    t = result.trend
    console.print(
        f"{len(result.entries)} enterprises, rule {result.rule}, cap {result.cap:,} t for {year} "
        f"(trend {t.cagr:+.2%}/yr, R² {t.r_squared:.3f})"
    )
    console.print(f"plan: {out}\nchart: {chart}")


@allocate_app.command("execute")
@cli_errors
def allocate_execute(
    plan_csv: Annotated[Path, typer.Argument(help="Plan CSV from `ets allocate plan`.")],
    enterprises: Annotated[Path, typer.Option(help="enterprises.csv (maps ids to credit codes).")],
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    batch_size: Annotated[int, typer.Option(help="Enterprises per transaction.")] = 200,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Mint a plan on-chain in batches with a progress bar; re-running resumes, never mints twice."""
    from rich.progress import Progress

    from chain.allowance import AllowanceClient
    from chain.onboarding import execute_plan
    from chain.registry import RegistryClient

    chain, manifest = _deployment()
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    signer = _signer(as_, keystore)
    with Progress(console=console) as progress:
        task = progress.add_task("allocating", total=None)

        def advance(n: int, done: bool) -> None:
            progress.advance(task, n)

        report = execute_plan(
            allowance, registry, signer, plan_csv, enterprises, pollutant=pollutant,
            batch_size=batch_size, on_batch=advance,
        )  # fmt: skip
    console.print(
        f"{report.batches} batches: {report.batches - report.skipped} minted now, "
        f"{report.skipped} already on-chain; {report.minted:,} allowances minted, gas {report.gas_used:,}"
    )


# ---------------------------------------------------------------------- auctions

auction_app = typer.Typer(help="Sealed-bid uniform-price allowance auctions.", no_args_is_help=True)
app.add_typer(auction_app, name="auction")


def _auction() -> Any:
    from chain.allowance import AllowanceClient, SettlementClient
    from chain.auction import AuctionClient

    chain, manifest = _deployment()
    record = manifest.contracts["SealedBidAuction"]
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    return AuctionClient(chain, record.address, allowance, cash, from_block=record.block)


def _bid_store() -> Any:
    from chain.auction import BidStore

    return BidStore(_settings().state_dir / "bids")


def _parse_bid(text: str) -> tuple[int, int]:
    from domain.errors import AuctionInputError

    try:
        price, quantity = text.split(":")
        return int(price), int(quantity)
    except ValueError:
        raise AuctionInputError(f"bid {text!r} is not PRICE:QUANTITY (e.g. 6000:25)") from None


@auction_app.command("simulate")
@cli_errors
def auction_simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON: supply, reserve_price, bids ...")],
) -> None:
    """Run a whole auction on a fresh local chain and print its result as JSON."""
    from sim.auction import load_scenario, simulate

    result = simulate(load_scenario(scenario), say=lambda m: err_console.print(f"[dim]{m}[/]"))
    _print_json(result)


@auction_app.command("create")
@cli_errors
def auction_create(
    supply: Annotated[int, typer.Option(help="Allowances offered.")],
    reserve: Annotated[int, typer.Option(help="Reserve price, fen per allowance.")],
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    vintage: Annotated[int, typer.Option(help="Vintage year.")] = 2027,
    limit: Annotated[int, typer.Option(help="Purchase limit per bidder (0 = none).")] = 0,
    rule: Annotated[str, typer.Option(help="lowest_accepted | highest_rejected.")] = "lowest_accepted",
    commit_hours: Annotated[float, typer.Option(help="Length of the commit window.")] = 24.0,
    reveal_hours: Annotated[float, typer.Option(help="Length of the reveal window.")] = 24.0,
    forfeit_bps: Annotated[
        int | None, typer.Option(help="Share of a no-show's guarantee forfeited, bps (default 10 %).")
    ] = None,
    secondary: Annotated[bool, typer.Option(help="Sell the signer's own allowances.")] = False,
    eligible: Annotated[
        Path | None, typer.Option(help="Primary only: file of eligible addresses, one per line.")
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Create a primary (regulator: new allowances) or secondary (own allowances) auction."""
    from chain.allowance import Kind, encode_id
    from chain.auction import DEFAULT_FORFEIT_BPS, ZERO_ROOT, AuctionParams, PriceRule, eligibility_tree

    client = _auction()
    signer = _signer(as_, keystore)
    root = ZERO_ROOT
    if eligible is not None:
        lines = [x.strip() for x in eligible.read_text().splitlines() if x.strip()]
        tree = eligibility_tree(lines)
        root = bytes.fromhex(tree.root[2:])
        eligible.with_suffix(".tree.json").write_text(json.dumps(tree.dump()))  # proofs for the bidders
    now = client.chain.timestamp()
    commit_end = now + int(commit_hours * 3600)
    params = AuctionParams(
        token_id=encode_id(Kind.ALLOWANCE, pollutant, vintage), supply=supply, reserve_price=reserve,
        purchase_limit=limit, commit_end=commit_end, reveal_end=commit_end + int(reveal_hours * 3600),
        forfeit_bps=DEFAULT_FORFEIT_BPS if forfeit_bps is None else forfeit_bps,
        price_rule=PriceRule.parse(rule), eligibility_root=root,
    )  # fmt: skip
    create = client.create_secondary if secondary else client.create_primary
    auction_id = create(signer, params)
    console.print(f"auction {auction_id} created: {supply:,} {pollutant} {vintage}, reserve {reserve:,} fen")


@auction_app.command("commit")
@cli_errors
def auction_commit(
    auction_id: int,
    bid: Annotated[list[str], typer.Option("--bid", help="PRICE:QUANTITY (repeat for a schedule).")],
    guarantee: Annotated[int | None, typer.Option(help="Cash escrowed (default: the bids' value).")] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Commit a sealed bid; the salt is kept in a local file (mode 0600) for the reveal."""
    client = _auction()
    signer = _signer(as_, keystore)
    sealed = client.seal(auction_id, signer.address, [_parse_bid(b) for b in bid], guarantee=guarantee)
    path = _bid_store().save(sealed)  # saved before sending: a lost salt would forfeit the guarantee
    client.commit(signer, sealed)
    console.print(f"committed {sealed.commitment} with guarantee {sealed.guarantee:,} fen; secret: {path}")


@auction_app.command("reveal")
@cli_errors
def auction_reveal(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Reveal the bid committed from this machine."""
    client = _auction()
    signer = _signer(as_, keystore)
    client.reveal(signer, _bid_store().load(auction_id, signer.address))
    console.print(f"revealed bid of {signer.address} in auction {auction_id}")


@auction_app.command("clear")
@cli_errors
def auction_clear(
    auction_id: int,
    page: Annotated[int | None, typer.Option(help="Bidders per transaction (default: sized by gas).")] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Compute the clearing from the revealed bids and submit it (anyone may)."""
    client = _auction()
    result = client.compute_clearing(auction_id)
    receipts = client.submit_clearing(_signer(as_, keystore), auction_id, result.claim, max_bidders=page)
    console.print(
        f"auction {auction_id} cleared in {len(receipts)} transaction(s): price {result.clearing_price}, "
        f"sold {result.sold:,}, unsold {result.unsold:,}"
    )


@auction_app.command("claim")
@cli_errors
def auction_claim(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Winners: take the allowances and pay (DvP). Others: take the guarantee back."""
    client = _auction()
    signer = _signer(as_, keystore)
    won = client.allocation_of(auction_id, signer.address)
    client.settle(signer, auction_id)
    console.print(f"claimed {won:,} allowances" if won else "guarantee refunded")


@auction_app.command("withdraw")
@cli_errors
def auction_withdraw(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Seller (secondary) or regulator (primary, to the treasury): take the proceeds and unsold allowances."""
    client = _auction()
    client.withdraw_proceeds(_signer(as_, keystore), auction_id)
    view = client.view(auction_id)
    console.print(f"auction {auction_id}: proceeds {view.proceeds:,} fen paid out")


@auction_app.command("show")
@cli_errors
def auction_show(
    auction_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (state and events).")] = False,
) -> None:
    """An auction's state, phase and (with --json) every event."""
    from dataclasses import asdict

    from chain.auction import auction_events

    client = _auction()
    view = client.view(auction_id)
    phase = view.phase(client.chain.timestamp())
    if as_json:
        _print_json({**asdict(view), "phase": phase, "events": auction_events(client, auction_id)})
        return
    table = Table("field", "value", title=f"auction {auction_id} ({phase})")
    for key, value in asdict(view).items():
        table.add_row(key, str(value.name.lower() if hasattr(value, "name") else value))
    console.print(table)


# ---------------------------------------------------------------------- field oracle

oracle_app = typer.Typer(
    help="Field oracle: HJ 212 controllers, signed readings, anchoring.", no_args_is_help=True
)
app.add_typer(oracle_app, name="oracle")


def _oracle_settings(**overrides: Any) -> Any:
    from oracle.service import OracleSettings

    settings = OracleSettings()
    changes = {k: v for k, v in overrides.items() if v is not None and v != []}
    return settings.model_copy(update=changes) if changes else settings


@oracle_app.command("run")
@cli_errors
def oracle_run(
    port: Annotated[list[str], typer.Option("--port", help="Serial port or pyserial URL (repeatable).")] = [],  # noqa: B006
    tcp_port: Annotated[int | None, typer.Option(help="TCP platform port for controllers that push.")] = None,
    tcp_host: Annotated[str | None, typer.Option(help="Address of the TCP port (0.0.0.0: network).")] = None,
    site: Annotated[Path | None, typer.Option(help="Site file (devices, quotas, cards).")] = None,
    queue: Annotated[Path | None, typer.Option(help="Durable queue file.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Most readings per anchored batch.")] = None,
    batch_age: Annotated[float | None, typer.Option(help="Longest wait of a reading (seconds).")] = None,
    baudrate: Annotated[int | None, typer.Option(help="Serial speed.")] = None,
    status_every: Annotated[float, typer.Option(help="Seconds between status lines (0: none).")] = 10.0,
) -> None:
    """Run the gateway against real controllers until interrupted (Ctrl-C: anchors what is left)."""
    import signal
    import threading

    from oracle.service import OracleService

    settings = _oracle_settings(
        serial_ports=port, tcp_port=tcp_port, tcp_host=tcp_host, site=site, queue=queue,
        batch_size=batch_size, batch_age_seconds=batch_age, baudrate=baudrate,
    )  # fmt: skip
    if not settings.serial_ports and settings.tcp_port is None:
        raise ConfigError("nothing to listen on: give --port and/or --tcp-port")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with OracleService.from_settings(settings, _settings()) as service:
        address = service.tcp_address
        where = [*settings.serial_ports, *([f"tcp://{address[0]}:{address[1]}"] if address else [])]
        err_console.print(
            f"oracle gateway listening on {', '.join(where)}; devices: {len(service.gateway.devices)}"
        )
        while not stop.wait(status_every if status_every > 0 else None):
            s = service.status()
            err_console.print(
                f"frames {s['gateway']['frames']}  readings {s['gateway']['readings_signed']}  "
                f"anchored {s['anchoring']['readings_anchored']}  queue {s['queue']['readings']}"
            )
    _print_json(service.final_status)


@oracle_app.command("simulate")
@cli_errors
def oracle_simulate(
    devices: Annotated[int, typer.Option(help="Virtual controllers.", min=1, max=500)] = 6,
    minutes: Annotated[int, typer.Option(help="Minute frames per controller.", min=1)] = 720,
    tcp: Annotated[bool, typer.Option("--tcp", help="Push over TCP instead of pseudo-terminals.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the first controller.")] = 2027,
    fault_rate: Annotated[float, typer.Option(help="Per-minute chance of a fault or gap event.")] = 0.002,
    batch_size: Annotated[int, typer.Option(help="Readings per anchored batch.")] = 256,
) -> None:
    """Run virtual card-swipe controllers against the gateway and anchor their readings (demo mode)."""
    from rich.progress import Progress

    from sim.site import run_site_simulation

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("frames answered", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_site_simulation(
            _settings(), devices=devices, minutes=minutes, transport="tcp" if tcp else "pty", seed=seed,
            fault_rate=fault_rate, batch_size=batch_size, progress=progress,
        )  # fmt: skip
    _print_simulation(result)


def _print_simulation(result: Any) -> None:
    title = f"Simulated site from {result.start:%Y-%m-%d %H:%M} ({result.transport})"
    table = Table("device", "frames answered", "re-sent", "card swipes", "discharge (kg)", title=title)
    for mn, d in result.per_device.items():
        kg = ", ".join(f"{code} {v:.1f}" for code, v in d["totals"].items() if not code.endswith("00000"))
        table.add_row(mn, str(d["answered"]), str(d["resent"]), str(d["swipes"]), kg)
    console.print(table)
    console.print(
        f"readings signed {result.readings_signed:,}; anchored {result.readings_anchored:,} in "
        f"{result.batches_anchored:,} batches; queue {result.queue}; {result.seconds:.1f} s"
    )
    console.print(f"events: {result.events}; rejected: {result.rejected or 'none'}")
    if result.anchor_refused:
        console.print(f"[red]ledger refused batches[/]: {result.anchor_refused}")
    for mn, code, threshold in result.alarms:
        console.print(f"[yellow]quota alarm[/] {mn} {code} {threshold * 100:.0f} %")
    for mn in result.valves_closed:
        console.print(f"[red]valve closed[/] {mn}: monthly quota spent")
    if result.chart is not None:
        console.print(f"chart: {result.chart}")


# ---------------------------------------------------------------------- sub-command modules

from ets.api_cli import api, index_app  # noqa: E402
from ets.compliance_cli import attest_app, compliance_app  # noqa: E402
from ets.network_cli import network_app  # noqa: E402
from ets.report_cli import report_app  # noqa: E402
from ets.settle_cli import settle_app  # noqa: E402
from scheduler.cli import alarms_app  # noqa: E402

app.add_typer(compliance_app, name="compliance")
app.add_typer(attest_app, name="attest")
app.add_typer(report_app, name="report")
app.add_typer(alarms_app, name="alarms")
app.add_typer(index_app, name="index")
app.add_typer(network_app, name="network")
app.add_typer(settle_app, name="settle")
app.command("api")(api)
