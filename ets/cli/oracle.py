"""``ets oracle``: the field oracle gateway and its site simulation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from chain.errors import ConfigError
from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from oracle.service import OracleSettings
    from sim.site import SimulationResult

oracle_app = typer.Typer(
    help="Field oracle: HJ 212 controllers, signed readings, anchoring.", no_args_is_help=True
)


def _oracle_settings(**overrides: Any) -> OracleSettings:
    from oracle.service import OracleSettings

    settings = OracleSettings()
    changes = {k: v for k, v in overrides.items() if v is not None and v != []}
    return settings.model_copy(update=changes) if changes else settings


@oracle_app.command("run")
@cli_errors
def oracle_run(
    port: Annotated[list[str], typer.Option("--port", help="Serial port or pyserial URL (repeatable).")] = [],  # noqa: B006
    tcp_port: Annotated[int | None, typer.Option(help="TCP platform port for controllers that push.")] = None,
    tcp_host: Annotated[str | None, typer.Option(help="Address of the TCP port (0.0.0.0: network).")] = None,
    site: Annotated[Path | None, typer.Option(help="Site file (devices, quotas, cards).")] = None,
    queue: Annotated[Path | None, typer.Option(help="Durable queue file.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Most readings per anchored batch.")] = None,
    batch_age: Annotated[float | None, typer.Option(help="Longest wait of a reading (seconds).")] = None,
    baudrate: Annotated[int | None, typer.Option(help="Serial speed.")] = None,
    status_every: Annotated[float, typer.Option(help="Seconds between status lines (0: none).")] = 10.0,
) -> None:
    """Run the gateway against real controllers until interrupted (Ctrl-C: anchors what is left)."""
    import signal
    import threading

    from oracle.service import OracleService

    ctx = context()
    settings = _oracle_settings(
        serial_ports=port, tcp_port=tcp_port, tcp_host=tcp_host, site=site, queue=queue,
        batch_size=batch_size, batch_age_seconds=batch_age, baudrate=baudrate,
    )  # fmt: skip
    if not settings.serial_ports and settings.tcp_port is None:
        raise ConfigError("nothing to listen on: give --port and/or --tcp-port")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with OracleService.from_settings(settings, ctx.settings) as service:
        address = service.tcp_address
        where = [*settings.serial_ports, *([f"tcp://{address[0]}:{address[1]}"] if address else [])]
        ctx.err_console.print(
            f"oracle gateway listening on {', '.join(where)}; devices: {len(service.gateway.devices)}"
        )
        while not stop.wait(status_every if status_every > 0 else None):
            s = service.status()
            ctx.err_console.print(
                f"frames {s['gateway']['frames']}  readings {s['gateway']['readings_signed']}  "
                f"anchored {s['anchoring']['readings_anchored']}  queue {s['queue']['readings']}"
            )
    ctx.print_json(service.final_status)


@oracle_app.command("backfill")
@cli_errors
def oracle_backfill(
    mn: Annotated[str, typer.Argument(help="Device code (MN) of the controller.")],
    begin: Annotated[str, typer.Option(help="First DataTime wanted, station local time (2027-01-01T08:00).")],
    end: Annotated[str, typer.Option(help="Last DataTime wanted, station local time.")],
    cn: Annotated[str, typer.Option(help="2051 minute, 2061 hourly, 2031 daily data.")] = "2051",
    queue: Annotated[Path | None, typer.Option(help="The running gateway's queue file.")] = None,
) -> None:
    """Ask a controller for its stored data of a window (HJ 212-2017 history request, back-fill).

    The running gateway reads the window from its queue within seconds and sends the request
    after the device's next frame; what comes back is signed, anchored and marked back-filled.
    """
    from datetime import datetime

    from oracle.gateway import ask_history
    from oracle.queue import Queue

    ctx = context()
    settings = _oracle_settings(queue=queue)
    path = settings.queue or ctx.settings.state_dir / "oracle" / "queue.db"
    if not path.exists():
        raise ConfigError(f"no gateway queue at {path}: give --queue")
    try:
        first, last = datetime.fromisoformat(begin), datetime.fromisoformat(end)
    except ValueError as error:
        raise typer.BadParameter(f"--begin/--end: {error}") from None
    with Queue(path) as store:
        number = ask_history(store, mn, cn, first, last)
    window = {"begin": first.isoformat(), "end": last.isoformat()}
    ctx.print_json({"device": mn, "cn": cn, **window, "ask": number})


@oracle_app.command("valve")
@cli_errors
def oracle_valve(
    action: Annotated[str, typer.Argument(help="close or open.")],
    mn: Annotated[str, typer.Argument(help="Device code (MN) of the controller.")],
    reason: Annotated[str, typer.Option(help="The regulator's reason (停产整顿 ...); its hash is signed.")],
    nonce: Annotated[int | None, typer.Option(help="Order nonce (default: now in milliseconds).")] = None,
    valid_for: Annotated[int, typer.Option(help="Seconds the order stays valid.")] = 3600,
    queue: Annotated[Path | None, typer.Option(help="The running gateway's queue file.")] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Order a controller's valve closed or reopened (停产整顿), signed with the regulator's key.

    The EIP-712 order is left in the gateway's queue; the gateway checks the signer against the
    registry's REGULATOR role, expiry, nonce and device code, then commands the controller
    (CN=3098) after its next frame. A refused order is logged by the gateway and never sent.
    """
    import time

    from chain.valve import ValveOrder, sign_valve_order
    from oracle.queue import Queue
    from oracle.valve import SignedValveOrder, leave_valve_order

    if action not in ("close", "open"):
        raise typer.BadParameter(f"action {action!r} is not close or open")
    ctx = context()
    settings = _oracle_settings(queue=queue)
    path = settings.queue or ctx.settings.state_dir / "oracle" / "queue.db"
    if not path.exists():
        raise ConfigError(f"no gateway queue at {path}: give --queue")
    signer = ctx.signer(as_, keystore)
    registry = ctx.registry()
    now = int(time.time())
    order = ValveOrder(
        signer.address, mn, "close" if action == "close" else "open",
        nonce if nonce is not None else time.time_ns() // 1_000_000, now + valid_for, reason,
    )  # fmt: skip
    signature = sign_valve_order(signer, registry.chain.chain_id, registry.address, order)
    with Queue(path) as store:
        number = leave_valve_order(store, SignedValveOrder(order, signature))
    ctx.print_json({**order.as_json(), "signature": "0x" + signature.hex(), "order": number})


@oracle_app.command("simulate")
@cli_errors
def oracle_simulate(
    devices: Annotated[int, typer.Option(help="Virtual controllers.", min=1, max=500)] = 6,
    minutes: Annotated[int, typer.Option(help="Minute frames per controller.", min=1)] = 720,
    tcp: Annotated[bool, typer.Option("--tcp", help="Push over TCP instead of pseudo-terminals.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the first controller.")] = 2027,
    fault_rate: Annotated[float, typer.Option(help="Per-minute chance of a fault or gap event.")] = 0.002,
    batch_size: Annotated[int, typer.Option(help="Readings per anchored batch.")] = 256,
    drop_rate: Annotated[
        float, typer.Option(help="Chance a minute frame is lost in transit (then back-filled).", min=0, max=1)
    ] = 0.0,
) -> None:
    """Run virtual card-swipe controllers against the gateway and anchor their readings (demo mode)."""
    from rich.progress import Progress

    from sim.site import run_site_simulation

    ctx = context()
    with Progress(console=ctx.err_console, transient=True) as bar:
        task = bar.add_task("frames answered", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        settings = ctx.settings
        result = run_site_simulation(
            settings, devices=devices, minutes=minutes, transport="tcp" if tcp else "pty", seed=seed,
            fault_rate=fault_rate, batch_size=batch_size, progress=progress, drop_rate=drop_rate,
        )  # fmt: skip
    _print_simulation(result)


def _print_simulation(result: SimulationResult) -> None:
    ctx = context()
    title = f"Simulated site from {result.start:%Y-%m-%d %H:%M} ({result.transport})"
    table = Table("device", "frames answered", "re-sent", "card swipes", "discharge (kg)", title=title)
    for mn, d in result.per_device.items():
        kg = ", ".join(f"{code} {v:.1f}" for code, v in d["totals"].items() if not code.endswith("00000"))
        table.add_row(mn, str(d["answered"]), str(d["resent"]), str(d["swipes"]), kg)
    ctx.console.print(table)
    ctx.console.print(
        f"readings signed {result.readings_signed:,}; anchored {result.readings_anchored:,} in "
        f"{result.batches_anchored:,} batches; queue {result.queue}; {result.seconds:.1f} s"
    )
    ctx.console.print(f"events: {result.events}; rejected: {result.rejected or 'none'}")
    if result.frames_dropped or result.frames_backfilled:
        ctx.console.print(
            f"back-fill: {result.frames_dropped} frames lost in transit, {result.frames_backfilled} "
            f"recovered ({result.readings_backfilled:,} readings) by history requests; "
            f"{result.gaps_closed} gaps closed"
        )
    if result.anchor_refused:
        ctx.console.print(f"[red]ledger refused batches[/]: {result.anchor_refused}")
    for mn, code, threshold in result.alarms:
        ctx.console.print(f"[yellow]quota alarm[/] {mn} {code} {threshold * 100:.0f} %")
    for mn in result.valves_closed:
        ctx.console.print(f"[red]valve closed[/] {mn}: monthly quota spent")
    if result.chart is not None:
        ctx.console.print(f"chart: {result.chart}")
