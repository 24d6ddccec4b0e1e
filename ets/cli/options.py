"""What every command group shares: the signer options and the error presentation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from pydantic import ValidationError

from chain.errors import ContractRevertError
from domain.errors import EtsError
from ets.cli.context import context

P = ParamSpec("P")
R = TypeVar("R")

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Demo account name (regulator, exchange, enterprise-1 ...); demo mode only."),
]
KeystoreOption = Annotated[
    Path | None,
    typer.Option("--keystore", help="Encrypted V3 keystore of the signing account."),
]


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print an ETS error's name and meaning and exit non-zero instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ContractRevertError as exc:
            context().err_console.print(f"[bold red]{exc.error}[/]: {exc.explain()}")
            raise typer.Exit(1) from None
        except EtsError as exc:
            context().err_console.print(f"[bold red]{type(exc).__name__}[/]: {exc}")
            raise typer.Exit(1) from None
        except ValidationError as exc:
            # Settings refused (e.g. an empty keystore password): name the field and the rule,
            # never the value, which may be a secret.
            for error in exc.errors(include_input=False, include_url=False):
                field = ".".join(str(part) for part in error["loc"]) or exc.title
                context().err_console.print(f"[bold red]{exc.title} refused[/]: {field}: {error['msg']}")
            raise typer.Exit(1) from None

    return wrapper
