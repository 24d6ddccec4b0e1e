"""``ets attest``: auditor attestations of verified emissions (sign, submit, verify, revoke)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.inputs import (
    JsonOption,
    hex32,
    input_error,
    keccak_file,
    ledger_client,
)
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.anchoring import ReadingProofFile
    from chain.attestations import SignedAttestation
    from oracle.signing.proof import FrameWitness
    from oracle.signing.reading import Reading

attest_app = typer.Typer(help="Auditor attestations of verified emissions.", no_args_is_help=True)


# ---------------------------------------------------------------------- attestations


@attest_app.command("sign")
@cli_errors
def attest_sign(
    enterprise: Annotated[str, typer.Option(help="The attested enterprise's address.")],
    year: Annotated[int, typer.Option(help="Compliance year.")],
    verified: Annotated[int, typer.Option(help="Verified emissions, whole tonnes.")],
    out: Annotated[Path, typer.Option(help="Signed attestation file to write (JSON).")],
    offsets_eligible: Annotated[int, typer.Option(help="Offsets eligible, whole tonnes.")] = 0,
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="Anchored batch id or evidence hash (repeat).")
    ] = None,
    evidence_file: Annotated[
        list[Path] | None, typer.Option("--evidence-file", help="Evidence document, hashed (repeat).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Audit report file (its keccak256 is signed).")] = None,
    report_hash: Annotated[str | None, typer.Option(help="Audit report hash, instead of --report.")] = None,
    supersedes: Annotated[str | None, typer.Option(help="Id of the Active attestation replaced.")] = None,
    nonce: Annotated[
        int | None, typer.Option(help="The auditor's nonce (default: asked of the chain).")
    ] = None,
    chain_id: Annotated[int | None, typer.Option(help="Chain id (default: the manifest's).")] = None,
    ledger: Annotated[
        str | None, typer.Option(help="EmissionsLedger address (default: the manifest's).")
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Sign an attestation offline with the auditor's key and write it to a file for relaying.

    Offline when --nonce is given and the chain id and ledger come from the options or the
    deployment manifest.
    """
    from chain.abi import ZERO_ID
    from chain.attestations import Attestation, SignedAttestation, attestation_digest, sign_attestation
    from chain.deploy import Manifest
    from domain.tokens import pollutant_code

    ctx = context()
    if (report is None) == (report_hash is None):
        raise input_error("give exactly one of --report FILE or --report-hash 0x...")
    signer = ctx.signer(as_, keystore)
    if chain_id is None or ledger is None:
        manifest = Manifest.load(ctx.settings.manifest_path)
        chain_id = manifest.chain_id if chain_id is None else chain_id
        ledger = manifest.address("EmissionsLedger") if ledger is None else ledger
    if nonce is None:
        nonce = ledger_client().nonce(signer.address)
    items = [hex32(e, "evidence") for e in evidence or []]
    items += [keccak_file(p, "evidence file") for p in evidence_file or []]
    attestation = Attestation(
        auditor=signer.address, enterprise=enterprise, pollutant=pollutant_code(pollutant), year=year,
        verified_emissions=verified, offsets_eligible=offsets_eligible, evidence=tuple(items),
        report_hash=keccak_file(report, "report") if report else hex32(str(report_hash), "report hash"),
        supersedes=hex32(supersedes, "supersedes") if supersedes else ZERO_ID, nonce=nonce,
    )  # fmt: skip
    signature = sign_attestation(signer, chain_id, ledger, attestation)
    digest = attestation_digest(chain_id, ledger, attestation)
    a = attestation
    signed = SignedAttestation(
        chain_id=chain_id, ledger=ledger, id="0x" + digest.hex(), auditor=a.auditor, enterprise=a.enterprise,
        pollutant=a.pollutant, year=a.year, verified_emissions=a.verified_emissions,
        offsets_eligible=a.offsets_eligible, evidence=["0x" + e.hex() for e in a.evidence],
        report_hash="0x" + a.report_hash.hex(), supersedes="0x" + a.supersedes.hex(), nonce=a.nonce,
        signature="0x" + signature.hex(),
    )  # fmt: skip
    out.write_text(signed.model_dump_json(indent=2) + "\n")
    ctx.console.print(f"attestation {signed.id} signed by {a.auditor} (nonce {nonce}): {out}")


@attest_app.command("submit")
@cli_errors
def attest_submit(
    file: Annotated[Path, typer.Argument(help="Signed attestation file from `ets attest sign`.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Relay a signed attestation to the ledger (anyone may)."""
    from chain.attestations import SignedAttestation

    ctx = context()
    signed = SignedAttestation.load(file)
    event = ledger_client().attest_by_sig(
        ctx.signer(as_, keystore), signed.attestation(), signed.signature_bytes
    )
    ctx.console.print(
        f"attestation 0x{event.id.hex()} recorded: {event.enterprise} {event.year}, verified "
        f"{event.verified_emissions:,} t, offsets eligible {event.offsets_eligible:,} (tx {event.tx_hash})"
    )


def _proof_parts(proof: ReadingProofFile) -> tuple[Reading, FrameWitness, list[bytes]]:
    """The reading, its frame witness and its Merkle proof of a reading proof file.

    Raises:
        ReadingValueError, ReadingSignatureError: a field does not fit (oracle.signing).
        ComplianceInputError: a hash or proof node is not 32 bytes of 0x-hex.
    """
    from oracle.signing.proof import FrameWitness
    from oracle.signing.reading import Reading

    hashes, index, signature = proof.witness_fields()
    return Reading(**proof.reading.model_dump()), FrameWitness(hashes, index, signature), proof.proof_nodes()


@attest_app.command("verify")
@cli_errors
def attest_verify(
    target: Annotated[str, typer.Argument(help="Attestation id (0x...) or signed attestation file.")],
    batch: Annotated[str | None, typer.Option(help="A cited batch id, to check a reading in it.")] = None,
    reading_proof: Annotated[
        Path | None, typer.Option(help="Reading proof file (JSON) of a reading of --batch.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The attestation as stored and its status; for a file, whether its signature and id match the
    ledger's digest. Exits 1 unless it is Active and every check passes."""
    from chain.anchoring import ReadingProofFile
    from chain.attestations import AttestationStatus, SignedAttestation, attestation_digest
    from chain.errors import ContractRevertError

    ctx = context()
    ledger = ledger_client()
    checks: dict[str, bool] = {}
    signed: SignedAttestation | None = None
    path = Path(target)
    if path.is_file():
        signed = SignedAttestation.load(path)
        attestation = signed.attestation()
        on_chain = ledger.attestation_digest(attestation)
        local = attestation_digest(signed.chain_id, signed.ledger, attestation)
        checks["domain_matches_ledger"] = (signed.chain_id, signed.ledger.lower()) == (
            ledger.chain.chain_id, ledger.address.lower())  # fmt: skip
        checks["id_matches_digest"] = signed.id == "0x" + on_chain.hex() and local == on_chain
        signer = signed.signer()
        checks["signed_by_auditor"] = signer is not None and signer.lower() == signed.auditor.lower()
        attestation_id = on_chain
    else:
        attestation_id = hex32(target, "attestation id")
    report: dict[str, Any] = {"id": "0x" + attestation_id.hex()}
    try:
        record = ledger.attestation(attestation_id)
    except ContractRevertError as exc:
        if exc.error != "LedgerAttestationUnknown" or signed is None:
            raise
        record = None
    if record is None:
        report |= {"status": "NOT_SUBMITTED", "stored": None}
    else:
        stored = {k: ("0x" + v.hex() if isinstance(v, bytes) else v) for k, v in asdict(record).items()}
        stored["status"] = record.status.name
        report |= {"status": record.status.name, "stored": stored}
        latest = ledger.latest_attestation(record.enterprise, record.pollutant, record.year)
        report["latest"] = latest == attestation_id
        checks["active"] = record.status is AttestationStatus.ACTIVE
    if batch is not None or reading_proof is not None:
        if batch is None or reading_proof is None:
            raise input_error("--batch and --reading-proof go together")
        batch_id = hex32(batch, "batch id")
        evidence = (
            [bytes.fromhex(e[2:]) for e in signed.evidence]
            if signed
            else ledger.attestation_evidence(attestation_id)
        )
        index = evidence.index(batch_id) if batch_id in evidence else 0
        reading, witness, proof = _proof_parts(ReadingProofFile.load(reading_proof))
        checks["reading_in_cited_batch"] = batch_id in evidence and ledger.verify_cited_reading(
            attestation_id, evidence, index, batch_id, reading, witness, proof
        )
    report["checks"] = checks
    report["ok"] = record is not None and all(checks.values())
    if as_json:
        ctx.print_json(report)
    else:
        from rich.table import Table

        table = Table("field", "value", title=f"attestation {report['id']}")
        for key, value in (report["stored"] or {}).items():
            table.add_row(key, str(value))
        ctx.console.print(table)
        ctx.console.print(f"status: {report['status']}" + (" (latest)" if report.get("latest") else ""))
        for name, passed in checks.items():
            ctx.console.print(f"{'[green]✓' if passed else '[red]✗'}[/] {name.replace('_', ' ')}")
    if not report["ok"]:
        raise typer.Exit(1)


@attest_app.command("revoke")
@cli_errors
def attest_revoke(
    attestation_id: Annotated[str, typer.Argument(help="Attestation id (0x...).")],
    reason: Annotated[str, typer.Option(help="Why it is revoked.")],
    reason_code: Annotated[int, typer.Option(help="Reason code.")] = 1,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Revoke one's own Active attestation (its auditor)."""
    ctx = context()
    key = hex32(attestation_id, "attestation id")
    event = ledger_client().revoke_attestation(ctx.signer(as_, keystore), key, reason_code, reason)
    ctx.console.print(f"attestation 0x{event.id.hex()} revoked by {event.by} ({reason_code}: {reason})")


@attest_app.command("reject")
@cli_errors
def attest_reject(
    attestation_id: Annotated[str, typer.Argument(help="Attestation id (0x...).")],
    reason: Annotated[str, typer.Option(help="Why it is rejected.")],
    reason_code: Annotated[int, typer.Option(help="Reason code.")] = 1,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Reject an Active attestation (regulator)."""
    ctx = context()
    key = hex32(attestation_id, "attestation id")
    event = ledger_client().reject_attestation(ctx.signer(as_, keystore), key, reason_code, reason)
    ctx.console.print(f"attestation 0x{event.id.hex()} rejected by {event.by} ({reason_code}: {reason})")
