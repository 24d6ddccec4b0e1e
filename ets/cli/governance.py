"""``ets governance``: k-of-n governance proposals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

governance_app = typer.Typer(help="k-of-n governance proposals.", no_args_is_help=True)


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

    ctx = context()
    registry = ctx.registry()
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
    proposal_id = registry.propose(ctx.signer(as_, keystore), data, text)
    ctx.console.print(f"proposal {proposal_id}: {registry.describe_call(data)}")


@governance_app.command("approve")
@cli_errors
def governance_approve(proposal_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Approve a proposal."""
    ctx = context()
    registry = ctx.registry()
    registry.approve(ctx.signer(as_, keystore), proposal_id)
    ctx.console.print(f"proposal {proposal_id}: {registry.proposal(proposal_id).approvals} approvals")


@governance_app.command("execute")
@cli_errors
def governance_execute(proposal_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Execute a proposal that has enough approvals."""
    ctx = context()
    receipt = ctx.registry().execute(ctx.signer(as_, keystore), proposal_id)
    ctx.console.print(f"proposal {proposal_id}: executed (gas {receipt['gasUsed']})")


@governance_app.command("list")
@cli_errors
def governance_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List proposals with their approvals."""
    ctx = context()
    registry = ctx.registry()
    rows = registry.proposals()
    if as_json:
        ctx.print_json([{k: v for k, v in p.__dict__.items() if k != "data"} for p in rows])
        return
    table = Table("id", "call", "approvals", "executed", "deadline",
                  title=f"threshold {registry.threshold()} of {len(registry.members())}")  # fmt: skip
    for p in rows:
        table.add_row(
            str(p.id), p.call[:80], str(p.approvals), "yes" if p.executed else "no", str(p.deadline)
        )
    ctx.console.print(table)
