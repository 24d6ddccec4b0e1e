"""``ets accounts``: enterprise account applications and statements through the API (apply or
resubmit from JSON signed by the applicant's key, review, status, list; a daily or monthly
statement as JSON, CSV or PDF). Keys sign locally; the API at ``--api`` stores and checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from api.accounts_client import AccountsClient

accounts_app = typer.Typer(
    help="Enterprise accounts: registration and profile-change applications, review, statements.",
    no_args_is_help=True,
)

ApiOption = Annotated[str, typer.Option("--api", help="Base URL of the ETS Chain API.")]
DEFAULT_API = "http://127.0.0.1:8000"


@contextmanager
def _client(api: str, as_: str | None, keystore: Path | None) -> Iterator[AccountsClient]:
    import httpx

    from api.accounts_client import AccountsClient

    signer = context().signer(as_, keystore)
    with httpx.Client(base_url=api, timeout=60) as http:
        yield AccountsClient(http, signer)


def _read(file: Path) -> dict[str, Any]:
    """An application file: the fields of ``POST /accounts/applications`` (kind, credit_code,
    name, region_code, industry_code, latitude_e6, longitude_e6, contacts, documents;
    ``issued_at`` defaults to now)."""
    import time

    from domain.errors import InvalidInputError

    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{file}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{file}: an application is a JSON object")
    data.setdefault("kind", "register")
    data.setdefault("issued_at", int(time.time()))
    return data


def _show(app: dict[str, Any]) -> str:
    proposal = (
        f", proposal {app['proposal_id']} ({app['approvals']} approvals)" if app.get("proposal_id") else ""
    )
    reason = f": {app['reason']}" if app.get("reason") else ""
    head = f"{app['application_id']} {app['kind']} {app['credit_code']} {app['name']!r}"
    return f"{head} {app['status']}{reason}{proposal}"


@accounts_app.command("apply")
@cli_errors
def accounts_apply(
    file: Annotated[Path, typer.Argument(help="Application JSON (see `ets accounts apply --help`).")],
    api: ApiOption = DEFAULT_API,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Sign an application with the account's own key (the wallet that will hold the account) and
    submit it; prints its id and status."""
    with _client(api, as_, keystore) as client:
        context().console.print(_show(client.apply(_read(file))))


@accounts_app.command("resubmit")
@cli_errors
def accounts_resubmit(
    application_id: str, file: Path, api: ApiOption = DEFAULT_API, as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:  # fmt: skip
    """Answer a request for information: the application signed again from ``file``."""
    with _client(api, as_, keystore) as client:
        context().console.print(_show(client.resubmit(application_id, _read(file))))


@accounts_app.command("review")
@cli_errors
def accounts_review(
    application_id: str,
    decision: Annotated[Literal["accept", "request_info", "refuse"], typer.Option("--decision")],
    reason: Annotated[str, typer.Option("--reason", help="Required to refuse or ask for information.")] = "",
    api: ApiOption = DEFAULT_API,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Review an application (exchange or regulator); an acceptance signs and relays the
    governance proposal (registerEnterprise or updateEnterprise) with the reviewer's key."""
    with _client(api, as_, keystore) as client:
        done = client.review(application_id, decision, reason)
        ctx = context()
        ctx.console.print(_show(done["application"]))
        outcome = done.get("outcome")
        if outcome:
            ids = [e["args"]["proposalId"] for e in outcome["events"] if e["name"] == "ProposalCreated"]
            ctx.console.print(
                f"proposal {ids[0] if ids else '?'} sent: {outcome['status']} ({outcome['tx_hash']})"
            )


@accounts_app.command("status")
@cli_errors
def accounts_status(
    application_id: str, api: ApiOption = DEFAULT_API, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """An application's status (up to the executed proposal) and history."""
    with _client(api, as_, keystore) as client:
        app = client.application(application_id)
        ctx = context()
        ctx.console.print(_show(app))
        for step in app["history"]:
            ctx.console.print(
                f"  {step['time']} {step['action']} by {step['actor']}"
                + (f": {step['reason']}" if step["reason"] else "")
            )


@accounts_app.command("list")
@cli_errors
def accounts_list(
    status: Annotated[
        str | None, typer.Option("--status", help="submitted, info_requested, refused, accepted")
    ] = None,
    api: ApiOption = DEFAULT_API,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """The signer's own applications; every application for the exchange and the regulator."""
    with _client(api, as_, keystore) as client:
        for app in client.applications(status):
            context().console.print(_show(app))


@accounts_app.command("statement")
@cli_errors
def accounts_statement(
    account: str,
    day: Annotated[str | None, typer.Option("--day", help="A settled day, YYYY-MM-DD.")] = None,
    month: Annotated[str | None, typer.Option("--month", help="A month, YYYY-MM.")] = None,
    fmt: Annotated[Literal["json", "csv", "pdf"], typer.Option("--format")] = "json",
    out: Annotated[Path | None, typer.Option("--out", help="Write the file here (CSV, PDF).")] = None,
    api: ApiOption = DEFAULT_API,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """An account's daily (``--day``) or monthly (``--month``) statement from the settled reports."""
    from domain.errors import InvalidInputError

    if (day is None) == (month is None):
        raise InvalidInputError("give exactly one of --day or --month")
    period, label = ("daily", day) if day is not None else ("monthly", month)
    assert label is not None
    with _client(api, as_, keystore) as client:
        ctx = context()
        if fmt == "json":
            ctx.print_json(client.statement(account, period, label))
            return
        data = client.statement_file(account, period, label, fmt)
        target = out or Path(f"statement-{period}-{account}-{label}.{fmt}")
        target.write_bytes(data)
        ctx.console.print(f"{target} ({len(data):,} bytes)")
