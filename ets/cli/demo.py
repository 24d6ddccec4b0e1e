"""``ets demo``: the whole demo, printed step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from chain.errors import ConfigError
from ets.cli.context import context
from ets.cli.options import cli_errors

if TYPE_CHECKING:
    from chain.config import ChainSettings
    from demo.market import MarketDayReport


@cli_errors
def demo(
    port: Annotated[int, typer.Option(help="RPC port of the demo node.")] = 8545,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--no-serve",
            envvar="ETS_DEMO_SERVE",
            help="End by serving the API and the dashboard on loopback until Ctrl-C "
            "(--no-serve or ETS_DEMO_SERVE=0: exit when done, for scripts and CI).",
        ),
    ] = True,
    serve_port: Annotated[int, typer.Option(help="Port of the API and the dashboard.")] = 8000,
) -> None:
    """Start a local chain, deploy, register a sample consortium, and say where everything is;
    then serve the API and the dashboard on loopback until Ctrl-C (unless --no-serve)."""
    from demo.run import run_demo

    ctx = context()
    settings = ctx.settings
    if not settings.demo:
        raise ConfigError("the demo signs with public demo keys: run it with ETS_DEMO=1 (scripts/demo)")
    report = run_demo(settings, port=port, say=lambda text: ctx.console.print(f"[dim]{text}[/]"))
    for step in report.steps:
        ctx.console.print(f"[green]✓[/] {step}")
    table = Table("contract", "address", "block", title="Deployment")
    for name, record in report.manifest.contracts.items():
        table.add_row(name, record.address, str(record.block))
    ctx.console.print(table)
    accounts = Table("demo account", "address", title="Accounts (public Anvil keys: demo only)")
    for name, address in report.accounts.items():
        accounts.add_row(name, address)
    ctx.console.print(accounts)
    holdings = Table("holder", "asset", "amount", title="Holdings (top CO2 allocations and demo trades)")
    for holder, asset, amount in report.holdings:
        holdings.add_row(holder, asset, f"{amount:,}")
    ctx.console.print(holdings)
    for name, path in report.files.items():
        ctx.console.print(f"{name:12s} {path}")
    if report.market is not None:
        _demo_market(report.market)
    _demo_api(settings)
    demo_settlement(settings)
    _demo_accounts(settings)
    demo_market_close(settings)
    demo_network(settings)
    ctx.console.print(f"RPC URL:  {report.node.url} (chain id {report.node.chain_id})")
    ctx.console.print(f"Manifest: {report.manifest_path}")
    ctx.console.print(f"Node log: {report.node.log}; stop with `ets node down`")
    if not serve:
        ctx.console.print("API:      `ets api` serves it on http://127.0.0.1:8000 (OpenAPI at /docs)")
        return
    from demo.api import serve_demo

    serve_demo(settings, port=serve_port, say=ctx.console.print)


def _demo_market(day: MarketDayReport) -> None:
    """The market step's day (:func:`demo.market.demo_trading_day`), printed: its trades and the
    best five levels of each side at the end of trading (prices in CNY per tonne; E2 is
    enterprise-2)."""
    ctx = context()

    def who(address: str) -> str:
        return day.names.get(address, address[:8]).replace("enterprise-", "E")

    def yuan(fen: int) -> str:
        return f"{fen / 100:,.2f}"

    trades = Table(
        "block", "mode", "buyer", "seller", "CNY/t", "t", "fees CNY", title=f"Market: trades {day.day}"
    )
    for t in day.trades:
        fees = yuan(t.buyer_fee + t.seller_fee)
        trades.add_row(str(t.block_number), t.mode.name.lower(), who(t.buyer), who(t.seller), yuan(t.price),
                       f"{t.quantity:,}", fees)  # fmt: skip
    ctx.console.print(trades)
    book = Table(
        "level", "bid t", "bid CNY/t", "ask CNY/t", "ask t", title="Market: best five levels (end of trading)"
    )
    for n in range(max(len(day.book.bids), len(day.book.asks))):
        bid = day.book.bids[n] if n < len(day.book.bids) else None
        ask = day.book.asks[n] if n < len(day.book.asks) else None
        book.add_row(
            str(n + 1), f"{bid[1]:,}" if bid else "", yuan(bid[0]) if bid else "",
            yuan(ask[0]) if ask else "", f"{ask[1]:,}" if ask else "",
        )  # fmt: skip
    ctx.console.print(book)


def demo_market_close(settings: ChainSettings) -> None:
    """``ets demo``'s market close after the settlement step (:func:`demo.market.close_market_day`):
    the day's open orders expired, the close posted as the next reference price."""
    from demo.market import close_market_day

    ctx = context()
    closed = close_market_day(settings)
    for line in closed.lines if closed else []:
        ctx.console.print(f"[green]✓[/] {line}")


def _demo_api(settings: ChainSettings) -> None:
    from demo.api import demo_api

    ctx = context()
    api = demo_api(settings, say=lambda text: ctx.console.print(f"[dim]{text}[/]"))
    for line in api.lines:
        ctx.console.print(f"[green]✓[/] API: {line}")
    trail = Table(
        "block", "time (UTC)", "contract", "event", title="Audit trail of enterprise-1 (GET /audit/events)"
    )
    for e in api.trail:
        trail.add_row(str(e["block_number"]), e["time"][:19], e["contract"], e["name"])
    ctx.console.print(trail)
    stats = Table(
        "enterprise",
        "year",
        "emissions (t)",
        "batches",
        title="GET /stats?metric=emissions_t&group_by=enterprise",
    )
    for row in api.stats:
        stats.add_row(str(row["enterprise"]), str(row["period"]), f"{row['value']:,.3f}", str(row["count"]))
    ctx.console.print(stats)


def _demo_accounts(settings: ChainSettings) -> None:
    """``ets demo``'s accounts step (:func:`demo.accounts.demo_accounts`), after the settlement so
    that a settled day has a statement: a registration application reviewed and executed, and an
    enterprise's own statement."""
    from demo.accounts import demo_accounts

    ctx = context()
    accounts = demo_accounts(settings, say=lambda text: ctx.console.print(f"[dim]{text}[/]"))
    for line in accounts.lines:
        ctx.console.print(f"[green]✓[/] {line}")


def demo_settlement(settings: ChainSettings) -> None:
    """``ets demo``'s settlement step (:func:`demo.settlement.run_settlement_demo`), printed: what
    it did, the day's totals per movement type and the report's files."""
    from rich.table import Table

    from demo.settlement import run_settlement_demo

    ctx = context()
    demo = run_settlement_demo(settings, say=lambda text: ctx.console.print(f"[dim]{text}[/]"))
    summary = demo.summary
    for step in demo.steps:
        ctx.console.print(f"[green]✓[/] settlement: {step}")
    from chain.accounts import demo_account

    sent = f", tx {demo.tx_hash[:12]}…" if demo.tx_hash else ""
    signer = (
        f"the exchange ({demo.signer})" if demo.signer == demo_account("exchange").address else demo.signer
    )
    again = "" if demo.settled else ", verified rather than settled again"
    ctx.console.print(
        f"[green]✓[/] settlement of trading day {demo.day}{again} "
        f"(blocks {summary.first_block}–{summary.last_block}): "
        f"{summary.accounts:,} accounts, {summary.movements:,} movements; "
        f"bank statement {demo.bank_lines} lines ({demo.bank_file.name}); reconciled with the chain, "
        f"the read model and the bank: {'balanced' if summary.balanced else 'NOT balanced'}"
    )
    ctx.console.print(
        f"[green]✓[/] report hash 0x{summary.bundle.report_hash.hex()[:16]}… anchored on SettlementReports "
        f"({demo.anchored}{sent}), signed by {signer}; files and hash verified against the chain: "
        f"{'yes' if demo.verified else '[red]NO[/]'}"
    )
    table = Table(
        "movement", "legs", "allowances (t)", "cash (CNY)", title=f"Settlement {demo.day} by movement type"
    )
    for total in demo.totals:
        table.add_row(
            total.movement,
            f"{total.legs:,}",
            f"{total.allowances:,}" if total.allowances else "",
            f"{total.cash / 100:,.2f}" if total.cash else "",
        )
    ctx.console.print(table)
    for line in demo.bulletin:
        ctx.console.print(f"[green]✓[/] settlement: {line}")
    for path in demo.files:
        ctx.console.print(f"settlement report {path}")
    ctx.console.print(f"bank statement    {demo.bank_file}")


def demo_network(settings: ChainSettings) -> None:
    """``ets demo``'s network step (:func:`demo.network.demo_network_config`), printed: the
    validators, the genesis extraData, and whether Besu is here to run it."""
    from demo.network import demo_network_config

    ctx = context()
    net = demo_network_config(settings.state_dir, say=lambda text: ctx.console.print(f"[dim]{text}[/]"))
    made = "generated" if net.created else "generated by an earlier run"
    ctx.console.print(
        f"[green]✓[/] network: {len(net.nodes)}-validator QBFT configuration {made} in {net.directory} "
        f"(chain id {net.chain_id}; keys, genesis.json, per-node config.toml, static nodes, permissions)"
    )
    for name, validator, enode in net.nodes:
        ctx.console.print(f"  {name}: validator {validator}  {enode.split('@')[-1]}")
    check = "decodes back to the same validators" if net.decoded == net.validators else "[red]MISMATCH[/]"
    ctx.console.print(f"  genesis extraData ({check}): {net.extra_data}")
    if net.besu is None:
        ctx.console.print(
            "  Besu is not installed here (no `besu` on PATH): this demo runs on Anvil. With Besu, "
            f"`scripts/network` starts these validators (ETS_NETWORK_DIR={net.directory})."
        )
    else:
        ctx.console.print(
            f"  Besu found ({net.besu}); this demo still runs on Anvil: `scripts/network` "
            f"(ETS_NETWORK_DIR={net.directory}) starts the validators and runs the demo on them."
        )
