"""``ets alarms``: the compliance alarm scheduler and its stored alarms."""

from __future__ import annotations

import typer

alarms_app = typer.Typer(help="Compliance alarms and reminders (scheduler).", no_args_is_help=True)
