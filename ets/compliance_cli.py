"""``ets compliance`` and ``ets attest``: the compliance cycle and auditor attestations."""

from __future__ import annotations

import typer

compliance_app = typer.Typer(
    help="The compliance cycle: notices, applications, review.", no_args_is_help=True
)
attest_app = typer.Typer(help="Auditor attestations of verified emissions.", no_args_is_help=True)
