"""The ``ets`` command: the root callback builds the invocation's :class:`~ets.cli.context.Context`;
each command group lives in its own module of this package."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from ets.cli.accounts import accounts_app
from ets.cli.alarms import alarms_app
from ets.cli.allocate import allocate_app
from ets.cli.api import api, index_app
from ets.cli.attest import attest_app
from ets.cli.auction import auction_app
from ets.cli.cards import cards_app
from ets.cli.compliance import compliance_app
from ets.cli.context import Context
from ets.cli.demo import demo
from ets.cli.deploy import deploy
from ets.cli.governance import governance_app
from ets.cli.market import market_app
from ets.cli.network import network_app
from ets.cli.node import node_app
from ets.cli.oracle import oracle_app
from ets.cli.permits import permits_app
from ets.cli.plans import plans_app
from ets.cli.registry import registry_app
from ets.cli.report import report_app
from ets.cli.reserve import reserve_app
from ets.cli.review import review_app
from ets.cli.safe import safe_app, trusted_app
from ets.cli.sample import sample_app
from ets.cli.settle import settle_app

app = typer.Typer(help="ETS Chain: emission-rights trading and compliance.", no_args_is_help=True)


@app.callback()
def _main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context()


app.add_typer(node_app, name="node")
app.add_typer(registry_app, name="registry")
app.add_typer(governance_app, name="governance")
app.command("deploy")(deploy)
app.command("demo")(demo)
app.add_typer(sample_app, name="sample")
app.add_typer(allocate_app, name="allocate")
app.add_typer(auction_app, name="auction")
app.add_typer(market_app, name="market")
app.add_typer(oracle_app, name="oracle")
app.add_typer(compliance_app, name="compliance")
app.add_typer(plans_app, name="plans")
app.add_typer(permits_app, name="permits")
app.add_typer(reserve_app, name="reserve")
app.add_typer(cards_app, name="cards")
app.add_typer(accounts_app, name="accounts")
app.add_typer(safe_app, name="safe")
app.add_typer(trusted_app, name="trusted")
app.add_typer(attest_app, name="attest")
app.add_typer(review_app, name="review")
app.add_typer(report_app, name="report")
app.add_typer(alarms_app, name="alarms")
app.add_typer(index_app, name="index")
app.add_typer(network_app, name="network")
app.add_typer(settle_app, name="settle")
app.command("api")(api)
