"""``ets review``: review of doubtful monitoring data (the queue, decisions signed and recorded
on the EmissionsLedger, the decisions recorded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.inputs import hex32, input_error, ledger_client
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

review_app = typer.Typer(help="Review of doubtful monitoring data.", no_args_is_help=True)

MonthOption = Annotated[int, typer.Option(help="The data's month, YYYYMM (UTC).")]


def _read_model() -> Engine:
    from readmodel.config import ReadModelSettings
    from readmodel.session import make_engine, require_schema

    engine = make_engine(ReadModelSettings().url(context().settings))
    require_schema(engine)
    return engine


@review_app.command("queue")
@cli_errors
def review_queue(
    enterprise: Annotated[str, typer.Option(help="The enterprise's address.")],
    month: MonthOption,
    open_only: Annotated[bool, typer.Option("--open", help="Only items without a decision.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List an enterprise's doubtful data of a month (excluded readings, readings a field alarm
    marked, sequence gaps) from the read model, with the decision recorded on each."""
    from sqlalchemy.orm import Session

    from api.review import review_queue as queue_of

    ctx = context()
    with Session(_read_model()) as db:
        items = queue_of(db, enterprise=enterprise, month=month, open_only=open_only)
    rows = [
        {
            "kind": i.kind, "subject": i.subject, "device": i.device, "pollutant": i.pollutant,
            "unit": i.unit, "time": i.time, "value": i.value, "flag": i.flag, "exclusion": i.exclusion,
            "missing": i.missing, "reason": i.reason, "alarm": i.alarm,
            "decision": None if i.decision is None else i.decision.action,
        }
        for i in items
    ]  # fmt: skip
    if as_json:
        ctx.print_json(rows)
        return
    table = Table("kind", "subject", "pollutant", "value", "why", "decision", title=f"review queue {month}")
    for r in rows:
        why = ", ".join(str(w) for w in (r["exclusion"], r["reason"]) if w) or f"{r['missing']} missing"
        table.add_row(str(r["kind"]), str(r["subject"]), str(r["pollutant"]), str(r["value"] or ""), str(why),
                      str(r["decision"] or "open"))  # fmt: skip
    ctx.console.print(table)


@review_app.command("decide")
@cli_errors
def review_decide(
    enterprise: Annotated[str, typer.Option(help="The enterprise whose data it is.")],
    subject: Annotated[str, typer.Option(help="The queue item's subject (0x, 32 bytes).")],
    month: MonthOption,
    action: Annotated[str, typer.Option(help="accept, reject or substitute.")],
    pollutant: Annotated[str, typer.Option(help="HJ 212 factor code ('' for a gap).")] = "",
    method: Annotated[str, typer.Option(help="Substitution method: prevhour, permmax, linear, manual.")] = "",
    value: Annotated[
        str | None, typer.Option(help="Substituted value (decimal); computed for prevhour when omitted.")
    ] = None,
    note: Annotated[str, typer.Option(help="The reviewer's reasons (their hash is signed).")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Sign a review decision with the reviewer's key (the regulator, or an auditor assigned to
    the enterprise) and record it on the EmissionsLedger."""
    from decimal import Decimal, InvalidOperation

    from sqlalchemy.orm import Session

    from api.review import substitution
    from chain.attestations import document_hash
    from chain.review import ReviewDecision, sign_review
    from domain.review import Action, check_decision

    ctx = context()
    try:
        chosen = Action[action.upper()]
    except KeyError:
        raise input_error(f"action {action!r} is not accept, reject or substitute") from None
    scaled, decimals = 0, 0
    if chosen is Action.SUBSTITUTE:
        check_decision(chosen, method, 1)
        try:
            stated = None if value is None else Decimal(value)
        except InvalidOperation:
            raise input_error(f"value {value!r} is not a decimal number") from None
        if stated is None and method == "prevhour":
            with Session(_read_model()) as db:
                stated = substitution(db, subject=subject, method=method, value=None)
        else:
            from domain.review import substitute_value

            stated = substitute_value(method, permitted_max=stated, estimate=stated, stated=stated)
        stated = stated.quantize(Decimal("0.000001")).normalize()
        decimals = max(0, -int(stated.as_tuple().exponent))
        scaled = int(stated.scaleb(decimals))
    else:
        check_decision(chosen, method, 0 if value is None else 1)
    signer = ctx.signer(as_, keystore)
    ledger = ledger_client()
    decision = ReviewDecision(
        reviewer=signer.address, enterprise=enterprise, subject=hex32(subject, "subject"),
        pollutant=pollutant, month=month, action=chosen, method=method, value=scaled, decimals=decimals,
        note_hash=document_hash(note) if note else bytes(32),
    )  # fmt: skip
    signature = sign_review(signer, ledger.chain.chain_id, ledger.address, decision)
    event = ledger.record_review(signer, decision, signature)
    role = {1: "regulator", 2: "auditor"}.get(event.reviewer_role, "?")
    shown = "" if chosen is not Action.SUBSTITUTE else f" {method} = {Decimal(scaled).scaleb(-decimals)}"
    ctx.console.print(
        f"review decision 0x{event.id.hex()} recorded: {chosen.name.lower()}{shown} by {event.reviewer} "
        f"({role}) on {subject} of {enterprise} (tx {event.tx_hash})"
    )


@review_app.command("decisions")
@cli_errors
def review_decisions(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's.")] = None,
    month: Annotated[int | None, typer.Option(help="Only this month, YYYYMM.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recorded review decisions from the read model, newest first."""
    from sqlalchemy.orm import Session

    from api.review import decisions

    ctx = context()
    only = None if enterprise is None else frozenset({enterprise})
    with Session(_read_model()) as db:
        rows = [
            {"decision_id": d.decision_id, "reviewer": d.reviewer, "reviewer_role": d.reviewer_role,
             "enterprise": d.enterprise, "subject": d.subject, "month": d.month, "action": d.action,
             "method": d.method, "value": d.value, "decimals": d.decimals, "tx_hash": d.tx_hash}
            for d in decisions(db, enterprises=only, month=month)
        ]  # fmt: skip
    if as_json:
        ctx.print_json(rows)
        return
    table = Table("decision", "enterprise", "month", "action", "method", "reviewer", title="review decisions")
    for r in rows:
        table.add_row(str(r["decision_id"]), str(r["enterprise"]), str(r["month"]), str(r["action"]),
                      str(r["method"]), str(r["reviewer"]))  # fmt: skip
    ctx.console.print(table)
