"""``ets network``: Besu QBFT consortium network configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

network_app: typer.Typer = typer.Typer(
    help="Consortium network (Besu QBFT): generate, encode extraData, sync allowlists.", no_args_is_help=True
)


def _password() -> str:
    settings = context().settings
    if settings.keystore_password is not None:
        return str(settings.keystore_password.get_secret_value())
    return str(
        typer.prompt("Password for the generated keystores", hide_input=True, confirmation_prompt=True)
    )


@network_app.command("init")
@cli_errors
def init(
    out: Annotated[
        Path, typer.Option("--out", help="New directory for the network (keys: keep it private).")
    ],
    validators: Annotated[int, typer.Option("--validators", help="Validator nodes (one per member).")] = 4,
    chain_id: Annotated[int, typer.Option(help="Chain id.")] = 1337,
    block_period: Annotated[int, typer.Option(help="Seconds between blocks (QBFT blockperiodseconds).")] = 2,
    epoch: Annotated[int, typer.Option(help="Blocks per epoch (votes reset).")] = 30_000,
    request_timeout: Annotated[int, typer.Option(help="Round timeout in seconds.")] = 4,
    accounts: Annotated[int, typer.Option(help="Pre-funded accounts to generate (keystores).")] = 0,
    fund: Annotated[
        list[str] | None, typer.Option("--fund", help="Existing address to pre-fund (repeat).")
    ] = None,
    host: Annotated[str, typer.Option(help="P2P host of the nodes.")] = "127.0.0.1",
    p2p_port: Annotated[int, typer.Option(help="First P2P port.")] = 30303,
    rpc_port: Annotated[int, typer.Option(help="First JSON-RPC port.")] = 8545,
) -> None:
    """Generate keys, QBFT genesis.json and each node's config.toml, static-nodes.json and
    permissions_config.toml. Keystore password: ETS_KEYSTORE_PASSWORD or a prompt."""
    from chain.network.generate import NetworkSpec, init_network
    from chain.network.genesis import QbftParams

    ctx = context()
    spec = NetworkSpec(
        validators=validators, chain_id=chain_id,
        qbft=QbftParams(block_period, epoch, request_timeout),
        accounts=accounts, fund=tuple(fund or ()), host=host, p2p_port=p2p_port, rpc_port=rpc_port,
    )  # fmt: skip
    network = init_network(out, spec, _password())
    ctx.console.print(f"network in {network.directory} (chain id {network.chain_id})")
    for node in network.nodes:
        ctx.console.print(f"  {node.name}: validator {node.validator}  rpc {node.rpc_url}")
    ctx.console.print(f"extraData validators (ascending): {', '.join(network.validators)}")


@network_app.command("extradata")
@cli_errors
def extradata(
    addresses: Annotated[list[str], typer.Argument(help="Validator addresses.")],
    sort: Annotated[bool, typer.Option("--sort", help="Sort ascending first (as genesis needs).")] = False,
) -> None:
    """Print QBFT genesis extraData for the validators in the order given (as `besu rlp encode
    --type=QBFT_EXTRA_DATA` does)."""
    from chain.network.qbft import genesis_extra_data, sort_validators

    typer.echo(genesis_extra_data(sort_validators(addresses) if sort else addresses))


@network_app.command("decode-extradata")
@cli_errors
def decode_extradata(extra: Annotated[str, typer.Argument(help="0x-hex QBFT extraData.")]) -> None:
    """Decode QBFT extraData: validators, vote, round, seals."""
    from chain.network.qbft import decode

    data = decode(extra)
    vote: dict[str, Any] | None = None
    if data.vote is not None:
        vote = {"recipient": data.vote.recipient, "add": data.vote.add}
    context().print_json({
        "vanity": "0x" + data.vanity.hex(), "validators": list(data.validators), "vote": vote,
        "round": data.round, "seals": ["0x" + s.hex() for s in data.seals],
    })  # fmt: skip


@network_app.command("sync-allowlist")
@cli_errors
def sync_allowlist(
    node: Annotated[
        list[str] | None, typer.Option("--node", help="JSON-RPC URL of a Besu node (repeat).")
    ] = None,
    permissions_file: Annotated[
        list[Path] | None,
        typer.Option("--permissions-file", help="permissions_config.toml to write (repeat)."),
    ] = None,
    network: Annotated[Path | None, typer.Option(help="Generated network: every node's RPC URL.")] = None,
    extra_account: Annotated[list[str] | None, typer.Option(help="Account always allowed (repeat).")] = None,
    extra_node: Annotated[list[str] | None, typer.Option(help="Enode always allowed (repeat).")] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between polls.")] = 2.0,
) -> None:
    """Keep Besu 25.6+ nodes' local allowlists in step with the registry and the NodeAllowlist."""
    from chain.network.allowlist import AllowlistSync, NodeAllowlistClient, SyncReport, SyncTarget
    from chain.network.errors import NetworkConfigError
    from chain.network.generate import load_network

    ctx = context()
    targets = [SyncTarget(rpc_url=url) for url in node or ()]
    targets += [SyncTarget(permissions_file=p) for p in permissions_file or ()]
    if network is not None:
        targets += [SyncTarget(rpc_url=n["rpc_url"]) for n in load_network(network)["nodes"]]
    if not targets:
        raise NetworkConfigError("nothing to sync: give --node, --permissions-file or --network")
    _, manifest = ctx.deployment()
    nodes_client = ctx.contract(NodeAllowlistClient) if "NodeAllowlist" in manifest.contracts else None
    sync = AllowlistSync(
        ctx.registry(), nodes_client, targets,
        extra_accounts=[manifest.deployer, *(extra_account or ())], extra_nodes=extra_node or (),
    )  # fmt: skip

    def show(report: SyncReport) -> None:
        desired = report.desired
        ctx.console.print(
            f"block {report.block}: {len(desired.accounts)} accounts, {len(desired.nodes)} nodes"
        )
        for name, diff in report.changes.items():
            if not diff.empty:
                ctx.console.print(
                    f"  {name}: +{len(diff.add_accounts)}/-{len(diff.remove_accounts)} accounts, "
                    f"+{len(diff.add_nodes)}/-{len(diff.remove_nodes)} nodes"
                )
        for path in report.files_written:
            ctx.console.print(f"  wrote {path}")
        for name, problem in report.failures.items():
            ctx.console.print(f"  [red]failed[/] {name}: {problem}")

    if once:
        report = sync.sync_once(force=True)
        if report is not None:
            show(report)
            if report.failures:
                raise typer.Exit(1)
        return
    try:
        sync.run(interval=interval, on_report=show)
    except KeyboardInterrupt:
        ctx.console.print("stopped")


@network_app.command("onchain-config")
@cli_errors
def onchain_config(
    network: Annotated[Path, typer.Argument(help="Generated network directory.")],
    write: Annotated[bool, typer.Option("--write", help="Rewrite each node's config.toml.")] = False,
) -> None:
    """Besu <= 25.5.x only: the on-chain permissioning flags for the deployed registry and
    NodeAllowlist (printed; with --write, put into every node's config.toml)."""
    from chain.network.besu import enable_onchain_permissioning, onchain_flags
    from chain.network.generate import load_network

    ctx = context()
    _, manifest = ctx.deployment()
    registry, nodes = manifest.address("ConsortiumRegistry"), manifest.address("NodeAllowlist")
    typer.echo(" ".join(onchain_flags(registry, nodes)))
    if write:
        for node in load_network(network)["nodes"]:
            path = enable_onchain_permissioning(network / node["name"], registry, nodes)
            ctx.console.print(f"updated {path}")


@network_app.command("show")
@cli_errors
def show(network: Annotated[Path, typer.Argument(help="Generated network directory.")]) -> None:
    """Print a generated network's public description (validators, enodes, RPC URLs)."""
    from chain.network.generate import load_network

    typer.echo(json.dumps(load_network(network), indent=2))


@network_app.command("demo")
@cli_errors
def demo(
    network: Annotated[Path, typer.Argument(help="Generated network directory (nodes running).")],
    files: Annotated[
        bool, typer.Option("--files", help="Write permissions files instead of calling perm_* RPC.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the validators' first blocks.")] = 120.0,
) -> None:
    """On a running generated network (ETS_RPC_URL: one of its nodes): wait for blocks, deploy,
    allow the nodes and register the demo consortium by governance, sync every node's allowlists."""
    from chain.errors import ConfigError
    from demo.network import run_network_demo, wait_for_blocks

    ctx = context()
    settings = ctx.settings
    if not settings.demo:
        raise ConfigError("the network demo signs with public demo keys: run it with ETS_DEMO=1")
    chain = ctx.chain
    head = wait_for_blocks(chain, timeout=timeout)
    ctx.console.print(f"[green]✓[/] chain {chain.chain_id} producing blocks (head {head})")
    report = run_network_demo(
        chain, network, settings.manifest_path, sync_rpc=not files,
        say=lambda text: ctx.console.print(f"[green]✓[/] {text}"),
    )  # fmt: skip
    ctx.console.print(f"manifest: {settings.manifest_path}")
    ctx.console.print(
        f"Besu <= 25.5.x on-chain permissioning: `ets network onchain-config {network} --write`"
    )
    for name, record in report.manifest.contracts.items():
        ctx.console.print(f"  {name:20s} {record.address}")


@network_app.command("node")
@cli_errors
def node_proposal(
    action: Annotated[str, typer.Argument(help="allow | disallow")],
    enode: Annotated[str, typer.Argument(help="enode://ID@IP:PORT")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose allowing or disallowing a node in the NodeAllowlist (members then approve and
    execute with `ets governance approve|execute`)."""
    from chain.network.allowlist import NodeAllowlistClient
    from chain.network.keys import Enode
    from domain.errors import InvalidInputError

    ctx = context()
    if action not in ("allow", "disallow"):
        raise InvalidInputError(f"action must be allow or disallow, got {action!r}")
    registry = ctx.registry()
    nodes = ctx.contract(NodeAllowlistClient)
    parsed = Enode.parse(enode)
    data = nodes.encode_allow(parsed) if action == "allow" else nodes.encode_disallow(parsed)
    proposal_id = registry.propose(
        ctx.signer(as_, keystore), data, f"{action} node {parsed.url}", target=nodes.address
    )
    ctx.console.print(f"proposal {proposal_id}: {action} {parsed.url}")


@network_app.command("nodes")
@cli_errors
def nodes_list() -> None:
    """List the nodes the NodeAllowlist allows."""
    from chain.network.allowlist import NodeAllowlistClient

    for enode in context().contract(NodeAllowlistClient).nodes():
        typer.echo(enode.url)
