"""``ets node``: the local chain node (Anvil)."""

from __future__ import annotations

from typing import Annotated

import typer

from ets.cli.context import context
from ets.cli.options import cli_errors

node_app = typer.Typer(help="Local chain node (Anvil).", no_args_is_help=True)


@node_app.command("up")
@cli_errors
def node_up(port: Annotated[int, typer.Option(help="RPC port on 127.0.0.1.")] = 8545) -> None:
    """Start a detached local node whose state persists in the state directory."""
    from chain.node import node_up as up

    ctx = context()
    state = up(ctx.settings.state_dir / "node", port=port)
    ctx.console.print(f"node up: {state.url} (chain id {state.chain_id}, pid {state.pid}, log {state.log})")


@node_app.command("down")
@cli_errors
def node_down() -> None:
    """Stop the detached local node (its state is saved)."""
    from chain.node import node_down as down

    ctx = context()
    ctx.console.print("node stopped" if down(ctx.settings.state_dir / "node") else "no node running")


@node_app.command("status")
@cli_errors
def node_status() -> None:
    """Say whether the detached node is running; exit 1 when it is not."""
    from chain.node import node_status as status

    ctx = context()
    state = status(ctx.settings.state_dir / "node")
    if state is None:
        ctx.console.print("node: down")
        raise typer.Exit(1)
    ctx.console.print(f"node: up at {state.url} (chain id {state.chain_id}, pid {state.pid})")
