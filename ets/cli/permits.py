"""``ets permits``: discharge permits (apply from JSON signed by the enterprise key, review,
issue, change, renew, revoke, cancel, annual review, show, list, stats)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.permits import Outlet, PermitsClient, Term

permits_app = typer.Typer(
    help="Discharge permits: applications, issue, change, renewal, review.", no_args_is_help=True
)


def permits_client() -> PermitsClient:
    from chain.permits import PermitsClient

    return context().contract(PermitsClient)


def _read(file: Path) -> tuple[list[Outlet], list[Term], bytes]:
    from chain.permits import application_from_json
    from domain.errors import InvalidInputError

    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{file}: {exc}") from None
    return application_from_json(data)


def _permit_row(permits: PermitsClient, permit_id: int) -> dict[str, Any]:
    permit = permits.permit(permit_id)
    row = asdict(permit)
    row["state"] = permit.state.name.lower()
    return row


@permits_app.command("apply")
@cli_errors
def permits_apply(
    file: Annotated[Path, typer.Argument(help="Application JSON: outlets, terms, document_hash.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Apply for a permit (signed by the enterprise's key, for itself); prints the application id."""
    outlets, terms, document_hash = _read(file)
    ctx = context()
    app_id = permits_client().apply(ctx.signer(as_, keystore), outlets, terms, document_hash)
    ctx.console.print(f"application {app_id} submitted")


@permits_app.command("resubmit")
@cli_errors
def permits_resubmit(
    application_id: int, file: Path, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """Resubmit a returned application with a new file (the applicant)."""
    outlets, terms, document_hash = _read(file)
    ctx = context()
    permits_client().resubmit(ctx.signer(as_, keystore), application_id, outlets, terms, document_hash)
    ctx.console.print(f"application {application_id} resubmitted")


@permits_app.command("review")
@cli_errors
def permits_review(
    application_id: int,
    reason: Annotated[str, typer.Option("--reason", help="What is missing, or why refused.")],
    refuse: Annotated[bool, typer.Option("--refuse", help="Refuse instead of returning.")] = False,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Return an application for more information, or refuse it with ``--refuse`` (regulator)."""
    ctx = context()
    permits = permits_client()
    signer = ctx.signer(as_, keystore)
    if refuse:
        permits.refuse(signer, application_id, reason)
    else:
        permits.review_return(signer, application_id, reason)
    ctx.console.print(f"application {application_id} {'refused' if refuse else 'returned'}")


@permits_app.command("issue")
@cli_errors
def permits_issue(
    application_id: int,
    number: Annotated[str, typer.Option("--number", help="Permit number.")],
    granted: Annotated[
        str, typer.Option("--granted", help="Granted t/yr per requested pollutant, e.g. 900,500.")
    ],
    valid_from: Annotated[int, typer.Option(help="Start (unix s); 0: now.")] = 0,
    valid_until: Annotated[int, typer.Option(help="End (unix s); 0: five years.")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Issue a permit from a submitted application (regulator); prints the permit id."""
    from domain.errors import InvalidInputError

    try:
        amounts = [int(x) for x in granted.split(",")]
    except ValueError:
        raise InvalidInputError(f"--granted {granted!r}: comma-separated whole tonnes") from None
    ctx = context()
    permit_id = permits_client().issue(
        ctx.signer(as_, keystore), application_id, number, amounts,
        valid_from=valid_from, valid_until=valid_until,
    )  # fmt: skip
    ctx.console.print(f"permit {permit_id} issued ({number})")


@permits_app.command("change")
@cli_errors
def permits_change(permit_id: int, file: Path, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Change a permit's outlets and terms from a file: a new revision (regulator)."""
    outlets, terms, _ = _read(file)
    ctx = context()
    permits_client().change(ctx.signer(as_, keystore), permit_id, outlets, terms)
    ctx.console.print(f"permit {permit_id} changed")


@permits_app.command("renew")
@cli_errors
def permits_renew(
    permit_id: int,
    until: Annotated[int, typer.Option("--until", help="New end of validity (unix s).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Extend a valid or expired permit (regulator)."""
    ctx = context()
    permits_client().renew(ctx.signer(as_, keystore), permit_id, until)
    ctx.console.print(f"permit {permit_id} valid until {until}")


@permits_app.command("revoke")
@cli_errors
def permits_revoke(
    permit_id: int,
    reason: Annotated[str, typer.Option("--reason")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Revoke a permit (regulator): allocation and trading of its pollutants stop."""
    ctx = context()
    permits_client().revoke(ctx.signer(as_, keystore), permit_id, reason)
    ctx.console.print(f"permit {permit_id} revoked")


@permits_app.command("cancel")
@cli_errors
def permits_cancel(
    permit_id: int,
    reason: Annotated[str, typer.Option("--reason")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Cancel a permit (regulator; governance may too, e.g. at a closure)."""
    ctx = context()
    permits_client().cancel(ctx.signer(as_, keystore), permit_id, reason)
    ctx.console.print(f"permit {permit_id} cancelled")


@permits_app.command("annual-review")
@cli_errors
def permits_annual_review(
    permit_id: int,
    year: int,
    passed: Annotated[bool, typer.Option("--passed/--failed", help="Outcome of the review.")],
    note: Annotated[str, typer.Option("--note")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Record the annual review (年审) of a year (regulator)."""
    ctx = context()
    permits_client().annual_review(ctx.signer(as_, keystore), permit_id, year, passed, note)
    ctx.console.print(f"permit {permit_id}: review {year} {'passed' if passed else 'failed'}")


@permits_app.command("show")
@cli_errors
def permits_show(
    permit_id: int,
    application: Annotated[bool, typer.Option("--application", help="Show application ID instead.")] = False,
) -> None:
    """One permit (or application) as JSON."""
    permits = permits_client()
    if application:
        a = permits.application(permit_id)
        row = asdict(a)
        row.update(state=a.state.name.lower(), document_hash="0x" + a.document_hash.hex())
        context().print_json(row)
        return
    context().print_json(_permit_row(permits, permit_id))


@permits_app.command("list")
@cli_errors
def permits_list() -> None:
    """Every permit as JSON."""
    permits = permits_client()
    context().print_json([_permit_row(permits, i) for i in range(1, permits.permit_count() + 1)])


@permits_app.command("stats")
@cli_errors
def permits_stats() -> None:
    """Permits by state, and valid permits by region and industry (from the registry's profiles)."""
    permits = permits_client()
    registry = context().registry()
    by_state: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_industry: Counter[str] = Counter()
    for i in range(1, permits.permit_count() + 1):
        p = permits.permit(i)
        by_state[p.state.name.lower()] += 1
        if p.state.name == "VALID":
            profile = registry.enterprise(p.enterprise).profile
            by_region[str(profile.region_code)] += 1
            by_industry[profile.industry_code] += 1
    context().print_json({
        "total": sum(by_state.values()), "by_state": dict(by_state), "by_region": dict(by_region),
        "by_industry": dict(by_industry), "applications": permits.application_count(),
    })  # fmt: skip
