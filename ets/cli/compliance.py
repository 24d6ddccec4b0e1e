"""``ets compliance``: the compliance cycle (notices, applications, review, outcomes)."""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.inputs import (
    ADDRESS,
    JsonOption,
    compliance_client,
    hex32,
    input_error,
    keccak_file,
    parse_deadline,
    token_amounts,
)
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.compliance import ComplianceClient, NoticeView

#: ``--pollutant`` of the commands acting on one obligation: needed only when the enterprise owes
#: several pollutants in the year.
PollutantOption = Annotated[
    str | None,
    typer.Option(help="Pollutant symbol of the obligation (needed when several are owed in the year)."),
]

compliance_app = typer.Typer(
    help="The compliance cycle: notices, applications, review.", no_args_is_help=True
)


def _notice_rows(enterprises: list[str], from_csv: Path | None) -> list[tuple[str, int]]:
    """``(enterprise, allocated)`` rows from ``ADDR:ALLOCATED`` options and/or a CSV file
    (two columns, an optional header)."""
    rows: list[tuple[str, str, str]] = [(e, *e.rpartition(":")[::2]) for e in enterprises]
    if from_csv is not None:
        try:
            with from_csv.open(newline="") as handle:
                lines = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
        except OSError as exc:
            raise input_error(f"{from_csv}: {exc.strerror}") from None
        for n, r in enumerate(lines, start=1):
            if n == 1 and len(r) >= 2 and not r[1].strip().isdigit():
                continue  # header
            rows.append((f"{from_csv} line {n}", r[0].strip(), r[1].strip() if len(r) > 1 else ""))
    out: list[tuple[str, int]] = []
    problems = []
    for where, address, allocated in rows:
        if not ADDRESS.match(address) or not allocated.isdigit():
            problems.append(f"{where!r}: not ADDRESS:ALLOCATED")
        else:
            out.append((address, int(allocated)))
    if problems:
        raise input_error("; ".join(problems))
    if not out:
        raise input_error("no enterprise: give --enterprise ADDR:ALLOCATED (repeat) or --from-csv FILE")
    return out


def _rules_hash(rules: str) -> bytes:
    path = Path(rules)
    try:
        is_file = path.is_file()
    except OSError:  # text too long to be a file name
        is_file = False
    if is_file:
        return keccak_file(path, "rules")
    from chain.attestations import document_hash

    return document_hash(rules)


def _pollutant_of(client: ComplianceClient, enterprise: str, year: int, pollutant: str | None) -> int:
    """The pollutant code of ``enterprise``'s obligation of ``year``: ``pollutant`` when given,
    else the only one it has (several, or none: refused by name)."""
    from chain.compliance import ObligationStatus
    from domain.tokens import POLLUTANTS, pollutant_code

    if pollutant is not None:
        return pollutant_code(pollutant)
    owed = [symbol for symbol, code in POLLUTANTS.items()
            if client.notice(enterprise, code, year).status is not ObligationStatus.NONE]  # fmt: skip
    if not owed:
        raise input_error(f"{enterprise} has no notice of {year}")
    if len(owed) > 1:
        raise input_error(f"{enterprise} owes {', '.join(owed)} in {year}: give --pollutant")
    return POLLUTANTS[owed[0]]


def _symbol(code: int) -> str:
    from domain.tokens import POLLUTANT_SYMBOLS

    return POLLUTANT_SYMBOLS.get(code, f"P{code}")


# ---------------------------------------------------------------------- compliance


@compliance_app.command("simulate")
@cli_errors
def compliance_simulate(
    case: Annotated[
        Path,
        typer.Argument(
            help='Case JSON: verified_emissions, allowances_held ...; or {"year": 2027, "obligations": '
            '[{"pollutant": "SO2", ...}, ...]} for several pollutants (printed keyed by pollutant).'
        ),
    ],
) -> None:
    """Run one enterprise's compliance year on a fresh local chain and print the outcome as JSON
    (one object per pollutant, keyed by it, for a file of several obligations)."""
    from sim.compliance import load_case, simulate_file

    ctx = context()
    result = simulate_file(load_case(case), say=lambda m: ctx.err_console.print(f"[dim]{m}[/]"))
    ctx.print_json(result)


@compliance_app.command("configure")
@cli_errors
def compliance_configure(
    year: int,
    offset_cap_bps: Annotated[int, typer.Option(help="Offsets may cover at most this share of V (bps).")],
    fine_per_tonne: Annotated[int, typer.Option(help="Fine per tonne of shortfall (fen).")] = 0,
    make_good_bps: Annotated[int, typer.Option(help="Make-good units per tonne of shortfall (bps).")] = 0,
    no_report_fine: Annotated[int, typer.Option(help="Flat fine of outcome C (fen).")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Set the rules of a compliance year (regulator; fixed once its first notice is out)."""
    from domain.compliance import YearConfig

    ctx = context()
    config = YearConfig(offset_cap_bps, fine_per_tonne, make_good_bps, no_report_fine)
    compliance_client().configure_year(ctx.signer(as_, keystore), year, config)
    ctx.console.print(
        f"year {year} configured: offset cap {offset_cap_bps} bps, fine {fine_per_tonne:,} fen/t, "
        f"make-good {make_good_bps} bps, no-report fine {no_report_fine:,} fen"
    )


@compliance_app.command("notice")
@cli_errors
def compliance_notice(
    year: int,
    deadline: Annotated[str, typer.Option(help="Submission deadline: unix seconds, YYYY-MM-DD or ISO.")],
    rules: Annotated[str, typer.Option(help="Rules document: a file (hashed) or its text.")],
    enterprise: Annotated[
        list[str] | None, typer.Option("--enterprise", help="ADDRESS:ALLOCATED (repeat).")
    ] = None,
    from_csv: Annotated[Path | None, typer.Option(help="CSV of enterprise,allocated rows.")] = None,
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    ack_hours: Annotated[
        float | None,
        typer.Option(help="Acknowledgement window from now, hours (default ETS_SCHEDULER_ACK_HOURS, 72)."),
    ] = None,
    rules_uri: Annotated[str, typer.Option(help="Where the rules document is published.")] = "",
    batch_size: Annotated[int, typer.Option(help="Notices per transaction.", min=1)] = 100,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Issue notices (regulator), in batches; enterprises that already have one are skipped."""
    from rich.progress import Progress

    from chain.compliance import ObligationStatus
    from domain.tokens import pollutant_code

    ctx = context()
    rows = _notice_rows(enterprise or [], from_csv)
    submission_deadline = parse_deadline(deadline)
    rules_hash = _rules_hash(rules)
    code = pollutant_code(pollutant)
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    todo = [r for r in rows if client.notice(r[0], code, year).status is ObligationStatus.NONE]
    if ack_hours is None:
        from scheduler.config import SchedulerSettings

        ack_hours = SchedulerSettings.load().ack_hours
    ack_deadline = min(client.chain.timestamp() + int(ack_hours * 3600), submission_deadline)
    with Progress(console=ctx.err_console, transient=True, disable=len(todo) <= batch_size) as progress:
        task = progress.add_task("issuing notices", total=len(todo))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            client.issue_notices(
                signer, year, code, chunk, rules_hash=rules_hash, rules_uri=rules_uri,
                submission_deadline=submission_deadline, ack_deadline=ack_deadline,
            )  # fmt: skip
            progress.advance(task, len(chunk))
    skipped = len(rows) - len(todo)
    ctx.console.print(
        f"{len(todo)} notices of {year} issued ({skipped} already had one); "
        f"rules 0x{rules_hash.hex()}; deadline {_when(submission_deadline)}, "
        f"acknowledge by {_when(ack_deadline)}"
    )


@compliance_app.command("ack")
@cli_errors
def compliance_ack(
    year: int, pollutant: PollutantOption = None, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """Acknowledge one's notice of a year (enterprise)."""
    ctx = context()
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    code = _pollutant_of(client, signer.address, year, pollutant)
    client.acknowledge(signer, code, year)
    late = client.notice(signer.address, code, year).acknowledged_late
    ctx.console.print(
        f"notice {_symbol(code)} {year} of {signer.address} acknowledged{' (late)' if late else ''}"
    )


@compliance_app.command("apply")
@cli_errors
def compliance_apply(
    year: int,
    attestation: Annotated[
        str | None, typer.Option(help="Attestation id (default: the latest Active one).")
    ] = None,
    allowance: Annotated[
        list[str] | None, typer.Option("--allowance", help="TOKEN=AMOUNT, TOKEN as an id or CO2:2027.")
    ] = None,
    offset: Annotated[
        list[str] | None, typer.Option("--offset", help="TOKEN=AMOUNT, TOKEN as an id or offset:CO2:2027.")
    ] = None,
    pollutant: PollutantOption = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Apply for compliance (enterprise): escrow the tokens surrendered; prints the application id."""
    from chain.compliance import ObligationStatus, Surrender
    from chain.ledger import LedgerClient

    ctx = context()
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    code = _pollutant_of(client, signer.address, year, pollutant)
    if attestation is not None:
        attestation_id = hex32(attestation, "attestation id")
    else:
        ledger = ctx.contract(LedgerClient)
        notice = client.notice(signer.address, code, year)
        if notice.status is ObligationStatus.NONE:
            raise input_error(f"{signer.address} has no notice of {_symbol(code)} {year}")
        found = ledger.latest_attestation(signer.address, code, year)
        if found is None:
            raise input_error(
                f"no Active attestation of {signer.address} for {_symbol(code)} {year}: give --attestation"
            )
        attestation_id = found
    surrender = Surrender(
        attestation_id,
        token_amounts(allowance or [], "--allowance"),
        token_amounts(offset or [], "--offset"),
    )
    application_id = client.apply(signer, code, year, surrender)
    view = client.application(application_id)
    ctx.console.print(
        f"application {application_id} submitted: {view.offsets:,} offsets + {view.allowances:,} allowances "
        f"against verified {view.verified:,} t (attestation 0x{attestation_id.hex()})"
    )


@compliance_app.command("review")
@cli_errors
def compliance_review(
    application_id: int,
    approve: Annotated[bool, typer.Option("--approve", help="Approve: retire the escrow.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject: return the escrow.")] = False,
    reason_code: Annotated[int, typer.Option(help="Rejection reason code (> 0).")] = 1,
    reason: Annotated[str, typer.Option(help="Rejection reason.")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Approve or reject an application (regulator)."""
    ctx = context()
    if approve == reject:
        raise input_error("give exactly one of --approve or --reject")
    if reject and not reason.strip():
        raise input_error("a rejection needs --reason")
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    if approve:
        client.approve(signer, application_id)
        view = client.application(application_id)
        left = client.notice(view.enterprise, view.pollutant, view.year)
        ctx.console.print(
            f"application {application_id} approved: {view.offsets + view.allowances:,} retired; "
            f"{left.surrendered:,} of {left.verified:,} t covered ({left.status.name.lower()})"
        )
    else:
        client.reject(signer, application_id, reason_code, reason)
        ctx.console.print(
            f"application {application_id} rejected ({reason_code}: {reason}); escrow credited back "
            f"(the enterprise withdraws it: ets compliance withdraw {application_id})"
        )


@compliance_app.command("withdraw")
@cli_errors
def compliance_withdraw(application_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Withdraw the escrow a rejection credited back to one (enterprise): the tokens of a rejected
    application still credited to the caller."""
    ctx = context()
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    escrowed = dict.fromkeys(client.application(application_id).ids)
    ids = [i for i in escrowed if client.returned(signer.address, i)]
    if not ids:
        raise input_error(f"nothing of application {application_id} is credited to {signer.address}")
    client.withdraw_returned(signer, ids)
    ctx.console.print(f"withdrew the escrow credited back of {len(ids)} token id(s) to {signer.address}")


@compliance_app.command("finalize")
@cli_errors
def compliance_finalize(
    enterprise: str,
    year: int,
    pollutant: PollutantOption = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Record an obligation's outcome after its deadline (anyone)."""
    ctx = context()
    client = compliance_client()
    code = _pollutant_of(client, enterprise, year, pollutant)
    client.finalize(ctx.signer(as_, keystore), enterprise, code, year)
    n = client.notice(enterprise, code, year)
    ctx.console.print(
        f"{n.enterprise} {_symbol(code)} {year}: outcome {n.outcome.code}, shortfall {n.shortfall:,} t, "
        f"fine {n.fine:,} fen, make-good {n.make_good:,}"
    )


@compliance_app.command("pay")
@cli_errors
def compliance_pay(
    year: int, pollutant: PollutantOption = None, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """Pay one's fine of a year to the treasury (enterprise)."""
    ctx = context()
    client = compliance_client()
    signer = ctx.signer(as_, keystore)
    code = _pollutant_of(client, signer.address, year, pollutant)
    client.pay_penalty(signer, code, year)
    fine = client.notice(signer.address, code, year).fine
    ctx.console.print(f"fine of {fine:,} fen for {_symbol(code)} {year} paid")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def _obligation(n: NoticeView) -> dict[str, Any]:
    known = n.outcome.code != "C"
    return {
        "enterprise": n.enterprise,
        "pollutant": _symbol(n.pollutant),
        "status": n.status.name,
        "outcome": n.outcome.code,
        "acknowledged": n.acknowledged_at > 0,
        "late": n.acknowledged_at > 0 and n.acknowledged_late,
        "allocated": n.allocated,
        "verified": n.verified,
        "surrendered": n.surrendered,
        "offsets_surrendered": n.offsets_surrendered,
        "shortfall": n.shortfall if known else None,
        "fine": n.fine,
        "fine_paid": n.fine_paid,
        "make_good": n.make_good,
        "pending_application": n.pending,
        "submission_deadline": n.submission_deadline,
    }


@compliance_app.command("status")
@cli_errors
def compliance_status(
    year: int,
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's obligations.")] = None,
    pollutant: Annotated[str | None, typer.Option(help="Only obligations of this pollutant.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A year's rules, counters and compliance rate, and its obligations (one per enterprise and
    pollutant)."""
    from chain.compliance import ObligationStatus
    from domain.tokens import POLLUTANTS, pollutant_code

    ctx = context()
    client = compliance_client()
    code = None if pollutant is None else pollutant_code(pollutant)
    if enterprise is not None:
        keys = [(enterprise, p) for p in POLLUTANTS.values() if code in (None, p)]
    else:
        events = client.events(year=year, pollutant=code)
        keys = list(dict.fromkeys((str(e["args"]["enterprise"]), int(e["args"]["pollutant"]))
                                  for e in events if e["event"] == "NoticeIssued"))  # fmt: skip
    notices = [client.notice(a, p, year) for a, p in keys]
    rows = [_obligation(n) for n in notices if n.status is not ObligationStatus.NONE]
    stats = client.year_stats(year)
    rate = client.compliance_rate_bps(year)
    config = client.year_config(year)
    if as_json:
        ctx.print_json({"year": year, "config": asdict(config), "stats": asdict(stats),
                     "compliance_rate_bps": rate, "obligations": rows})  # fmt: skip
        return
    from rich.table import Table

    ctx.console.print(
        f"year {year}: {stats.notices} notices, {stats.acknowledged} acknowledged "
        f"({stats.late_acknowledgements} late), {stats.applications} applications, {stats.finalized} "
        f"finalized (A {stats.covered}, B {stats.shortfall}, C {stats.no_verified_emissions}); "
        f"compliance rate {rate / 100:.2f} %"
    )
    table = Table(title=f"obligations {year}")
    table.add_column("enterprise", overflow="fold")
    table.add_column("pollutant")
    for header in ("status", "outcome", "verified", "surrendered (offsets)", "shortfall", "fine (fen)",
                   "make-good"):  # fmt: skip
        table.add_column(header, overflow="fold")
    for r in rows:
        fine = f"{r['fine']:,}{' paid' if r['fine_paid'] else ''}"
        shortfall = "-" if r["shortfall"] is None else f"{r['shortfall']:,}"
        table.add_row(r["enterprise"], r["pollutant"], r["status"].lower(), r["outcome"],
                      f"{r['verified']:,}", f"{r['surrendered']:,} ({r['offsets_surrendered']:,})",
                      shortfall, fine, f"{r['make_good']:,}")  # fmt: skip
    ctx.console.print(table)
