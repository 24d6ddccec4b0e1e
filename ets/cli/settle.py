"""``ets settle``: end-of-day clearing and settlement, reconciliation and reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from settlement.day import DayResult
    from settlement.service import SettlementService

settle_app: typer.Typer = typer.Typer(help="End-of-day settlement: run a day, reconcile, report.")
bank_app: typer.Typer = typer.Typer(
    help="Bank statement files: generate (tests, demo), apply.", no_args_is_help=True
)
settle_app.add_typer(bank_app, name="bank")


DayOption = Annotated[str, typer.Option("--day", help="Trading day, YYYY-MM-DD (Asia/Shanghai calendar).")]


def _day(text: str) -> date:
    from settlement.errors import CalendarError

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"--day {text!r} is not a date (YYYY-MM-DD)") from None


def _service(out: Path | None = None) -> SettlementService:
    """The settlement service over the configured deployment and read model (``out``: reports
    directory instead of ``ETS_SETTLE_REPORTS_DIR``)."""
    from api.config import ApiSettings
    from readmodel.session import make_engine
    from settlement.config import SettlementSettings
    from settlement.service import SettlementService

    ctx = context()
    settings = SettlementSettings.load()
    if out is not None:
        settings.reports_dir = out
    chain, manifest = ctx.deployment()
    engine = make_engine(ApiSettings.load().database(ctx.settings))
    return SettlementService.connect(settings, chain, manifest, engine)


def _print_result(result: DayResult, as_json: bool) -> None:
    ctx = context()
    summary = {
        "trading_day": result.settlement.bounds.day.isoformat(),
        "blocks": [result.settlement.bounds.first_block, result.settlement.bounds.last_block],
        "accounts": len(result.settlement.accounts),
        "movements": result.settlement.movements,
        "balanced": result.balanced,
        "differences": len(result.reconciliation.differences),
        "report": str(result.bundle.directory),
        "report_hash": "0x" + result.bundle.report_hash.hex(),
        "anchored": result.anchored,
        "tx_hash": result.tx_hash,
        "seconds": round(result.seconds, 3),
    }
    if as_json:
        ctx.print_json(summary)
        return
    status = "[green]balanced[/]" if result.balanced else f"[red]{summary['differences']} difference(s)[/]"
    ctx.console.print(
        f"trading day {summary['trading_day']}: {summary['accounts']:,} accounts, "
        f"{summary['movements']:,} movements, {status}; report {summary['report']} "
        f"({summary['report_hash']}, {result.anchored}) in {result.seconds:.2f} s"
    )
    for d in result.reconciliation.differences[:50]:
        ctx.console.print(
            f"  [red]{d.kind}[/] {d.account} {d.token_id if d.token_id is not None else ''}: {d.detail}"
            + (f" (tx {', '.join(d.transactions)})" if d.transactions else "")
        )


def _run(
    day: str, bank: Path | None, out: Path | None, as_: str | None, keystore: Path | None, as_json: bool
) -> None:
    parsed = _day(day)
    service = _service(out)
    result = service.run(parsed, service.anchor(lambda: context().signer(as_, keystore)), bank)
    _print_result(result, as_json)
    if not result.balanced:
        raise typer.Exit(1)


BankOption = Annotated[
    Path | None,
    typer.Option("--bank", help="Bank statement CSV (default: ETS_SETTLE_BANK_DIR/bank-YYYYMMDD.csv)."),
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Reports directory (default ETS_SETTLE_REPORTS_DIR).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON summary.")]


@settle_app.callback(invoke_without_command=True)
def settle_main(
    ctx: typer.Context,
    day: Annotated[str | None, typer.Option("--day", help="Trading day to settle, YYYY-MM-DD.")] = None,
    bank: BankOption = None,
    out: OutOption = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Settle a trading day (``ets settle --day 2027-06-30``): balances, movements, reconciliation
    with the chain and the bank, the report, its hash signed and anchored. Exit 1 when the books
    do not balance (the report is written, not anchored)."""
    if ctx.invoked_subcommand is not None:
        return
    if day is None:
        context().console.print(ctx.get_help())
        raise typer.Exit(2)
    cli_errors(_run)(day, bank, out, as_, keystore, as_json)


@settle_app.command("run")
def settle_run(
    day: DayOption,
    bank: BankOption = None,
    out: OutOption = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Same as ``ets settle --day``."""
    cli_errors(_run)(day, bank, out, as_, keystore, as_json)


@settle_app.command("close-market")
@cli_errors
def settle_close_market(
    day: DayOption, as_: AsOption = None, keystore: KeystoreOption = None, as_json: JsonOption = False
) -> None:
    """Close the exchange market's trading day (the settlement job does it after a balanced,
    anchored settlement): for every listed token id, the day's open orders and pending blocks
    expire (escrow returned) and the day's close (VWAP of its listing trades) becomes the
    reference price, as the --as exchange key. A re-run sends nothing; refused before the close."""
    ctx = context()
    parsed = _day(day)
    closed = _service().close_market(parsed, ctx.signer(as_, keystore))
    rows = [] if closed is None else [vars(t) for t in closed.tokens]
    if as_json:
        ctx.print_json({"trading_day": parsed.isoformat(), "tokens": rows})
        return
    if closed is None:
        ctx.console.print("no Market in this deployment")
    for t in closed.tokens if closed is not None else ():
        close = "no listing trade, reference kept" if t.close is None else f"close {t.close} fen/t"
        posted = " posted as the reference price" if t.posted else ""
        ctx.console.print(
            f"{parsed} token {t.token_id}: {close}{posted}; {t.expired_orders} order(s) and "
            f"{t.expired_blocks} block proposal(s) expired; {t.transactions} transaction(s)"
        )


@settle_app.command("statement")
@cli_errors
def settle_statement(
    day: DayOption,
    account: Annotated[str, typer.Option("--account", help="The account's address.")],
    out: OutOption = None,
) -> None:
    """An account's statement of a settled day (CSV and PDF under the day's report directory)."""
    from settlement.bulletin import fills
    from settlement.report import write_statement
    from settlement.run import day_bounds, journal, settle

    service = _service(out)
    calendar = service.settings.calendar()
    bounds = day_bounds(service.engine, calendar, _day(day), chain=service.ledger)
    settled = settle(service.engine, bounds, system=service.system, fees=dict(service.settings.fees))
    for path in write_statement(
        settled,
        journal(service.engine, bounds, service.system),
        account,
        service.settings.reports_dir,
        calendar,
        fills(service.engine, bounds),
    ):
        context().console.print(str(path))


@settle_app.command("bulletin")
@cli_errors
def settle_bulletin(day: DayOption, out: OutOption = None, as_json: JsonOption = False) -> None:
    """The daily settlement bulletin of a settled day (per token id and mode: volume, turnover,
    open, high, low, VWAP, close, trades and the year's running totals) and its large holders,
    read from the day's report after checking it against its manifest."""
    from rich.table import Table

    from domain.bulletin import COLUMNS
    from domain.tokens import token_label
    from settlement.bulletin import read_bulletin
    from settlement.config import SettlementSettings

    ctx = context()
    parsed = _day(day)
    bulletin = read_bulletin(out or SettlementSettings.load().reports_dir, parsed)
    if as_json:
        ctx.print_json(
            {
                "day": parsed.isoformat(),
                "report_hash": bulletin.report_hash,
                "rows": [dict(zip(COLUMNS, r.values(), strict=True)) for r in bulletin.rows],
                "threshold_bps": bulletin.threshold_bps,
                "large_holders": [vars(h) for h in bulletin.large_holders],
            }
        )
        return
    table = Table(
        "token",
        *COLUMNS[1:],
        title=f"daily settlement bulletin {parsed} (report {bulletin.report_hash[:18]}…)",
    )
    for r in bulletin.rows:
        table.add_row(token_label(r.token_id), *("" if v is None else f"{v:,}" if isinstance(v, int) else v
                                                  for v in r.values()[1:]))  # fmt: skip
    ctx.console.print(table)
    holders = Table("token", "account", "name", "balance", "issued", "share_bps",
                    title=f"large holders (≥ {bulletin.threshold_bps} bps)")  # fmt: skip
    for h in bulletin.large_holders:
        holders.add_row(
            token_label(h.token_id), h.account, h.name, f"{h.balance:,}", f"{h.issued:,}", str(h.share_bps)
        )
    ctx.console.print(holders)


@settle_app.command("verify")
@cli_errors
def settle_verify(day: DayOption, out: OutOption = None) -> None:
    """Check a day's report files against their manifest and the hash anchored on-chain."""
    parsed = _day(day)
    check = _service(out).verify(parsed)
    published = check.published
    context().print_json(
        {
            "trading_day": parsed.isoformat(),
            "report_hash": "0x" + check.report_hash.hex(),
            "altered_files": check.altered,
            "anchored_hash": None if published is None else "0x" + published.report_hash.hex(),
            "signer": check.signer,
            "revision": None if published is None else published.revision,
            "valid": check.verified,
        }
    )
    if not check.verified:
        raise typer.Exit(1)


@settle_app.command("correct")
@cli_errors
def settle_correct(
    day: DayOption,
    out: OutOption = None,
    description: Annotated[str, typer.Option(help="Why the report changes, for the approving members.")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose the governed correction of an anchored day: the day's report files as they are now,
    signed by the --as exchange key (a governance member, who proposes); the other members approve
    and execute it (``ets governance approve/execute``). Every revision stays readable on-chain."""
    from settlement.calendar import day_code
    from settlement.errors import ReportCorrectionError
    from settlement.verify import read_report

    ctx = context()
    service = _service(out)
    parsed = _day(day)
    code = day_code(parsed)
    report_hash, altered = read_report(service.settings.reports_dir / parsed.isoformat())
    if altered:
        raise ReportCorrectionError(
            f"{parsed}: files differ from the bundle's manifest: {', '.join(altered)}"
        )
    client = service.reports()
    published = client.report(code)
    if published is None:
        raise ReportCorrectionError(f"{parsed} has no anchored report: publish it (ets settle --day)")
    if published.report_hash == report_hash:
        raise ReportCorrectionError(
            f"{parsed}: the bundle is the report already anchored (0x{report_hash.hex()})"
        )
    signer = ctx.signer(as_, keystore)
    data = client.encode_correct(code, report_hash, client.sign(signer, code, report_hash))
    text = (
        description
        or f"correct settlement report {parsed}: 0x{published.report_hash.hex()} -> 0x{report_hash.hex()}"
    )
    proposal_id = service.registry().propose(signer, data, text, target=client.address)
    ctx.print_json(
        {
            "proposal": proposal_id,
            "trading_day": parsed.isoformat(),
            "anchored_hash": "0x" + published.report_hash.hex(),
            "report_hash": "0x" + report_hash.hex(),
            "revision": published.revision + 1,
        }
    )


@bank_app.command("generate")
@cli_errors
def bank_generate(
    day: DayOption,
    out: Annotated[Path, typer.Option("--out", help="Statement file to write.")],
    count: Annotated[int, typer.Option("--count", help="Lines.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    withdrawals: Annotated[float, typer.Option(help="Share of withdrawals (0-1).")] = 0.0,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="Accounts to draw from (default: registered enterprises)."),
    ] = None,
) -> None:
    """Write a synthetic bank statement (for tests and demos; apply it with ``ets settle bank apply``)."""
    from settlement.bank import generate_statement, write_statement

    accounts = list(account or []) or _service().enterprises()
    movements = generate_statement(_day(day), accounts, count, seed=seed, withdrawal_share=withdrawals)
    context().console.print(f"{len(movements)} lines → {write_statement(out, movements)}")


@bank_app.command("apply")
@cli_errors
def bank_apply(
    path: Annotated[Path, typer.Argument(help="Bank statement CSV.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Execute a statement's lines on-chain as the exchange: deposits issue cash; withdrawals burn
    cash the holder approved. Lines already applied (bank reference used) are skipped."""
    from chain.allowance import SettlementClient, bank_reference
    from settlement.bank import parse_statement

    ctx = context()
    cash = ctx.contract(SettlementClient)
    exchange = ctx.signer(as_, keystore)
    done = skipped = 0
    for line in parse_statement(path):
        if cash.contract.functions.bankRefUsed(bank_reference(line.bank_ref)).call():
            skipped += 1
            continue
        action = cash.deposit if line.direction == "deposit" else cash.withdraw
        action(exchange, line.account, line.amount, line.bank_ref)
        done += 1
    ctx.console.print(f"{done} line(s) applied, {skipped} already on-chain")


@settle_app.command("serve")
@cli_errors
def settle_serve(as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Run the scheduler with the settlement job (each trading day at the close + margin)."""
    from settlement.schedule import blocking

    ctx = context()
    service = _service()
    anchor = service.anchor(lambda: ctx.signer(as_, keystore))
    scheduler = blocking(service.runner(anchor), service.settings.calendar(), service.settings.margin_minutes)
    ctx.console.print("settlement scheduler running (Ctrl-C stops)")
    try:
        scheduler.start()
    except KeyboardInterrupt:
        scheduler.shutdown(wait=False)
