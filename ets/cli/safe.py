"""``ets safe``: Safe multisig enterprise accounts (deploy the Safe contracts, create a Safe with its
representatives and threshold, propose a transaction into a proposal file, sign it, execute it once
the threshold is met, list a Safe), and ``ets trusted``: trusted counterparties (deploy and propose
the wiring, add, remove, list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.deploy import SuiteConfig
    from chain.safe import SafeContracts, SafeProposal
    from chain.trusted import TrustedClient

safe_app = typer.Typer(help="Safe multisig enterprise accounts (four eyes).", no_args_is_help=True)
trusted_app = typer.Typer(help="Trusted counterparties: each enterprise's list.", no_args_is_help=True)

ProposalFile = Annotated[
    Path, typer.Argument(help="The proposal file (JSON) passed between representatives.")
]


def _contracts() -> SafeContracts:
    from chain.safe import SafeContracts

    _, manifest = context().deployment()
    return SafeContracts.of(manifest)


def _governance() -> SuiteConfig:
    """The deployed registry's members and threshold: what an added contract is deployed with."""
    from chain.deploy import SuiteConfig

    registry = context().registry()
    return SuiteConfig(members=tuple(registry.members()), threshold=registry.threshold())


def _read(file: Path) -> SafeProposal:
    from chain.safe import SafeProposal
    from domain.errors import InvalidInputError

    try:
        return SafeProposal.from_json(json.loads(file.read_text()))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{file}: {exc}") from None


def _write(file: Path, proposal: SafeProposal) -> None:
    file.write_text(json.dumps(proposal.to_json(), indent=2) + "\n")


@safe_app.command("deploy")
@cli_errors
def safe_deploy(as_: AsOption = "deployer", keystore: KeystoreOption = None) -> None:
    """Deploy the Safe singleton, proxy factory and fallback handler (compiled from npm
    ``@safe-global/safe-contracts`` 1.4.1) into the manifest; nothing twice."""
    from chain.safe import deploy_safe_contracts

    ctx = context()
    chain, _ = ctx.deployment()
    signer = ctx.signer(as_, keystore)
    _, contracts = deploy_safe_contracts(chain, signer, _governance(), ctx.settings.manifest_path)
    ctx.print_json({"singleton": contracts.singleton, "factory": contracts.factory,
                    "fallback_handler": contracts.fallback_handler})  # fmt: skip


@safe_app.command("create")
@cli_errors
def safe_create(
    owner: Annotated[list[str], typer.Option(help="A representative's address (repeat).")],
    threshold: Annotated[int, typer.Option(help="Signatures needed.")] = 2,
    salt: Annotated[int, typer.Option(help="Salt nonce (another Safe with the same owners).")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Create a Safe with its representatives and threshold; prints its address (register it as the
    enterprise's account through governance: ``ets registry`` / an account application)."""
    from chain.safe import SafeFactoryClient

    ctx = context()
    safe = SafeFactoryClient(ctx.chain, _contracts()).create(
        ctx.signer(as_, keystore), owner, threshold, salt=salt
    )
    ctx.console.print(f"Safe {safe.address}: {threshold} of {len(owner)}")


@safe_app.command("propose")
@cli_errors
def safe_propose(
    safe: Annotated[str, typer.Argument(help="The Safe's address.")],
    contract: Annotated[str, typer.Argument(help="The inner call's contract (manifest name).")],
    function: Annotated[str, typer.Argument(help="Its function (name or full signature).")],
    args: Annotated[str, typer.Argument(help="JSON arguments: an object by name or a list in order.")],
    out: Annotated[Path, typer.Option(help="Proposal file to write.")] = Path("safe-tx.json"),
) -> None:
    """Write a proposal file for a Safe transaction calling CONTRACT.FUNCTION(ARGS), at the Safe's
    nonce (checked against the ABI and simulated from the Safe: refused now if it would revert)."""
    from chain.calls import CallCatalog
    from chain.safe import SafeClient, SafeProposal
    from domain.errors import InvalidInputError

    ctx = context()
    chain, manifest = ctx.deployment()
    try:
        parsed: Any = json.loads(args)
    except ValueError as exc:
        raise InvalidInputError(f"args: {exc}") from None
    calls = CallCatalog(chain, {n: r.address for n, r in manifest.contracts.items()})
    call = calls.encode(contract, function, parsed)
    client = SafeClient(chain, safe)
    calls.build(call, client.address)
    tx = client.transaction(call.to, call.data)
    proposal = SafeProposal(client.address, chain.chain_id, tx, description=f"{contract}.{call.signature}")
    _write(out, proposal)
    ctx.console.print(f"{out}: nonce {tx.nonce}, SafeTx {proposal.to_json()['safe_tx_hash']}")


@safe_app.command("sign")
@cli_errors
def safe_sign(file: ProposalFile, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Sign a proposal file as a representative (EIP-712); the signature is checked and added."""
    from chain.safe import SafeClient, sign_safe_tx

    ctx = context()
    proposal = _read(file)
    client = SafeClient(ctx.chain, proposal.safe)
    signature = sign_safe_tx(ctx.signer(as_, keystore), proposal.chain_id, proposal.safe, proposal.tx)
    signer, _ = client.check_signature(proposal.tx, signature)
    proposal.signatures[signer] = "0x" + signature.hex()
    _write(file, proposal)
    ctx.console.print(f"{file}: signed by {signer} ({len(proposal.signatures)} of {client.threshold()})")


@safe_app.command("execute")
@cli_errors
def safe_execute(file: ProposalFile, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Execute a proposal once it holds the threshold's signatures (any account sends it)."""
    from chain.safe import SafeClient

    ctx = context()
    proposal = _read(file)
    client = SafeClient(ctx.chain, proposal.safe)
    receipt = client.execute(ctx.signer(as_, keystore), proposal.tx, proposal.signature_bytes())
    ctx.console.print(f"executed nonce {proposal.tx.nonce}: tx {receipt['transactionHash'].hex()}, "
                      f"gas {receipt['gasUsed']:,}")  # fmt: skip


@safe_app.command("list")
@cli_errors
def safe_list(safe: Annotated[str, typer.Argument(help="The Safe's address.")]) -> None:
    """A Safe's representatives, threshold, nonce and executed transactions (from its events)."""
    from chain.safe import SafeClient

    ctx = context()
    client = SafeClient(ctx.chain, safe)
    ctx.print_json({"safe": client.address, "owners": client.owners(), "threshold": client.threshold(),
                    "nonce": client.nonce(), "executed": client.executed()})  # fmt: skip


# ---------------------------------------------------------------------- trusted counterparties


def _trusted() -> TrustedClient:
    from chain.trusted import TrustedClient

    return context().contract(TrustedClient)


@trusted_app.command("deploy")
@cli_errors
def trusted_deploy(
    delay: Annotated[int, typer.Option(help="Seconds an addition waits (EU: 4 business days).")] = 4 * 86_400,
    limit: Annotated[int, typer.Option(help="Largest amount (t) to an untrusted account.")] = 1_000,
    as_: AsOption = "deployer",
    keystore: KeystoreOption = None,
) -> None:
    """Deploy TrustedCounterparties and propose its wiring into the AllowanceToken (a governance
    member: the others approve and execute with ``ets governance``)."""
    from chain.trusted import deploy_trusted, wiring_call

    ctx = context()
    chain, manifest = ctx.deployment()
    signer = ctx.signer(as_, keystore)
    _, trusted = deploy_trusted(
        chain, signer, _governance(), ctx.settings.manifest_path, delay=delay, limit=limit
    )
    ctx.console.print(f"TrustedCounterparties at {trusted.address} (delay {delay} s, limit {limit:,} t)")
    wiring = wiring_call(trusted, manifest.address("AllowanceToken"))
    if wiring is not None:
        target, data = wiring
        proposal = ctx.registry().propose(signer, data, "wire trusted counterparties", target=target)
        ctx.console.print(f"proposal {proposal}: AllowanceToken.setTrustedCounterparties")


@trusted_app.command("add")
@cli_errors
def trusted_add(
    counterparty: Annotated[str, typer.Argument(help="The account to trust (in effect after the delay).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Add a counterparty to the signing enterprise's list (a Safe adds through ``ets safe propose``)."""
    ctx = context()
    trusted = _trusted()
    signer = ctx.signer(as_, keystore)
    trusted.add(signer, counterparty)
    ctx.console.print(
        f"{counterparty} trusted by {signer.address} from {trusted.active_from(signer.address, counterparty)}"
    )


@trusted_app.command("remove")
@cli_errors
def trusted_remove(counterparty: str, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Remove a counterparty from the signing enterprise's list (at once)."""
    ctx = context()
    signer = ctx.signer(as_, keystore)
    _trusted().remove(signer, counterparty)
    ctx.console.print(f"{counterparty} no longer trusted by {signer.address}")


@trusted_app.command("list")
@cli_errors
def trusted_list(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's (or its Safe's) address.")],
) -> None:
    """An enterprise's trusted counterparties, each with the time it takes effect; the delay and limit."""
    ctx = context()
    trusted = _trusted()
    rows = [
        {"counterparty": a, "active_from": trusted.active_from(enterprise, a),
         "trusted_now": trusted.is_trusted(enterprise, a)}
        for a in trusted.counterparties(enterprise)
    ]  # fmt: skip
    ctx.print_json({"enterprise": enterprise, "delay_seconds": trusted.delay(), "limit": trusted.limit(),
                    "counterparties": rows})  # fmt: skip
