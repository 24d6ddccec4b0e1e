"""``ets deploy``: the contract suite, deployed once per manifest."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from chain.errors import ConfigError
from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors


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

    ctx = context()
    settings = ctx.settings
    deployer = ctx.signer(as_ if settings.demo and keystore is None else None, keystore)
    members = tuple(member or ())
    if not members:
        if not settings.demo:
            raise ConfigError("give the governance members with --member (repeat)")
        members = tuple(demo_account(n).address for n in ("regulator", "exchange", "industry-body"))
    config = SuiteConfig(members=members, threshold=threshold or len(members) // 2 + 1)
    manifest = deploy_suite(ctx.chain, deployer, config, settings.manifest_path)
    table = Table("contract", "address", "block", title=f"chain {manifest.chain_id}")
    for name, record in manifest.contracts.items():
        table.add_row(name, record.address, str(record.block))
    ctx.console.print(table)
    ctx.console.print(f"manifest: {settings.manifest_path}")
