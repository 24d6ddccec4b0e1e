"""``ets registry``: enterprises and devices in the consortium registry."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

registry_app = typer.Typer(help="Consortium registry: enterprises and devices.", no_args_is_help=True)
enterprise_app = typer.Typer(help="Enterprises (changes go through governance).", no_args_is_help=True)
device_app = typer.Typer(help="Monitoring devices (bound by the regulator).", no_args_is_help=True)
registry_app.add_typer(enterprise_app, name="enterprise")
registry_app.add_typer(device_app, name="device")


@enterprise_app.command("add")
@cli_errors
def enterprise_add(
    account: Annotated[str, typer.Argument(help="The enterprise's account address.")],
    code: Annotated[str, typer.Option(help="Unified social credit code (18 characters).")],
    name: Annotated[str, typer.Option(help="Registered name.")],
    region: Annotated[int, typer.Option(help="GB/T 2260 region code, 6 digits.")],
    industry: Annotated[str, typer.Option(help="GB/T 4754 industry code, e.g. D4411.")],
    lat: Annotated[float, typer.Option(help="Latitude, decimal degrees.")],
    lon: Annotated[float, typer.Option(help="Longitude, decimal degrees.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose registering an enterprise (checked first, then approved by other members)."""
    from chain.registry import EnterpriseProfile

    ctx = context()
    profile = EnterpriseProfile.from_degrees(
        credit_code=code, name=name, region_code=region, industry_code=industry,
        latitude=lat, longitude=lon,
    )  # fmt: skip
    registry = ctx.registry()
    data = registry.encode_register_enterprise(account, profile)
    proposal_id = registry.propose(ctx.signer(as_, keystore), data, f"register {name} ({code})")
    ctx.console.print(f"proposal {proposal_id}: register {name}; needs {registry.threshold()} approvals")


@enterprise_app.command("suspend")
@cli_errors
def enterprise_suspend(
    account: str,
    reason: Annotated[int, typer.Option(help="Reason code.")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose suspending a participant."""
    ctx = context()
    registry = ctx.registry()
    data = registry.encode_suspend(account, reason)
    proposal_id = registry.propose(ctx.signer(as_, keystore), data, f"suspend {account}")
    ctx.console.print(f"proposal {proposal_id}: suspend {account}")


@enterprise_app.command("list")
@cli_errors
def enterprise_list(
    start: int = 0,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered enterprises."""
    ctx = context()
    registry = ctx.registry()
    rows = registry.enterprises(start, limit)
    if as_json:
        ctx.print_json([{"account": e.account, "status": e.status.name, **e.profile.__dict__} for e in rows])
        return
    table = Table("account", "credit code", "name", "region", "industry", "status",
                  title=f"{registry.enterprise_count()} enterprises")  # fmt: skip
    for e in rows:
        p = e.profile
        table.add_row(e.account, p.credit_code, p.name, str(p.region_code), p.industry_code, e.status.name)
    ctx.console.print(table)


@device_app.command("add")
@cli_errors
def device_add(
    device: Annotated[str, typer.Argument(help="The device's signing address.")],
    enterprise: Annotated[str, typer.Option(help="Enterprise account it belongs to.")],
    mn: Annotated[str, typer.Option(help="HJ 212 MN code.")],
    oracle: Annotated[
        str | None, typer.Option(help="Oracle (site gateway key) that alone may anchor its readings.")
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Bind a device to an enterprise, and with --oracle set the oracle that anchors it (regulator)."""
    ctx = context()
    receipt = ctx.registry().bind_device(ctx.signer(as_, keystore), device, enterprise, mn, oracle=oracle)
    shown = f", oracle {oracle}" if oracle else ""
    ctx.console.print(f"device {device} bound (gas {receipt['gasUsed']}){shown}")


@device_app.command("set-oracle")
@cli_errors
def device_set_oracle(
    device: Annotated[str, typer.Argument(help="The device's signing address.")],
    oracle: Annotated[str, typer.Option(help="Oracle (site gateway key) that alone may anchor it.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Set (or move) the oracle that may anchor a bound device's readings (regulator)."""
    ctx = context()
    ctx.registry().set_device_oracle(ctx.signer(as_, keystore), device, oracle)
    ctx.console.print(f"device {device}: oracle {oracle}")


@enterprise_app.command("assign-auditor")
@cli_errors
def enterprise_assign_auditor(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's account.")],
    auditor: Annotated[str, typer.Option(help="Auditor account (holds AUDITOR_ROLE).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Assign an auditor to an enterprise: it may then attest and read its records (regulator)."""
    ctx = context()
    ctx.registry().assign_auditor(ctx.signer(as_, keystore), auditor, enterprise)
    ctx.console.print(f"auditor {auditor} assigned to {enterprise}")


@enterprise_app.command("unassign-auditor")
@cli_errors
def enterprise_unassign_auditor(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's account.")],
    auditor: Annotated[str, typer.Option(help="The assigned auditor's account.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """End an auditor's assignment to an enterprise (regulator)."""
    ctx = context()
    ctx.registry().unassign_auditor(ctx.signer(as_, keystore), auditor, enterprise)
    ctx.console.print(f"auditor {auditor} no longer assigned to {enterprise}")


@device_app.command("list")
@cli_errors
def device_list(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's devices.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List bound devices."""
    ctx = context()
    rows = ctx.registry().devices(enterprise)
    if as_json:
        ctx.print_json([d.__dict__ for d in rows])
        return
    table = Table("device", "enterprise", "MN", title=f"{len(rows)} devices")
    for d in rows:
        table.add_row(d.address, d.enterprise, d.mn)
    ctx.console.print(table)
