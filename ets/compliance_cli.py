"""``ets compliance`` and ``ets attest``: the compliance cycle and auditor attestations."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from chain.compliance import ComplianceClient, NoticeView
    from chain.ledger import Attestation, LedgerClient
    from oracle.signing import FrameWitness, Reading

compliance_app = typer.Typer(
    help="The compliance cycle: notices, applications, review.", no_args_is_help=True
)
attest_app = typer.Typer(help="Auditor attestations of verified emissions.", no_args_is_help=True)

# ets.cli imports this module at its end: the apps above exist by then, whichever is imported first.
from ets.cli import (  # noqa: E402
    AsOption,
    KeystoreOption,
    _deployment,
    _print_json,
    _settings,
    _signer,
    cli_errors,
    console,
    err_console,
)

HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


# ---------------------------------------------------------------------- clients and parsing


def _compliance() -> ComplianceClient:
    from chain.allowance import AllowanceClient, SettlementClient
    from chain.compliance import ComplianceClient

    chain, manifest = _deployment()
    address = manifest.address("ComplianceManager")
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    block = manifest.contracts["ComplianceManager"].block
    return ComplianceClient(chain, address, allowance, cash, from_block=block)


def _ledger() -> LedgerClient:
    from chain.ledger import LedgerClient

    chain, manifest = _deployment()
    address = manifest.address("EmissionsLedger")
    return LedgerClient(chain, address, from_block=manifest.contracts["EmissionsLedger"].block)


def _input_error(message: str) -> Exception:
    from domain.errors import ComplianceInputError

    return ComplianceInputError(message)


def _hex32(text: str, what: str) -> bytes:
    if not HEX32.match(text.strip()):
        raise _input_error(f"{what} {text!r} is not 32 bytes of 0x-hex")
    return bytes.fromhex(text.strip()[2:])


def _keccak_file(path: Path, what: str) -> bytes:
    from chain.ledger import document_hash

    try:
        return document_hash(path.read_bytes())
    except OSError as exc:
        raise _input_error(f"{what} {path}: {exc.strerror}") from None


def parse_token(text: str) -> int:
    """A token id given as an integer (``16842747`` / ``0x1010...``) or as ``[allowance:]CO2:2027``
    / ``offset:CO2:2027``.

    Raises:
        ComplianceInputError: neither form, or an unknown pollutant or vintage.
    """
    from chain.allowance import Kind, decode_id, encode_id
    from domain.errors import InvalidInputError

    value = text.strip()
    try:
        if re.fullmatch(r"\d+|0x[0-9a-fA-F]+", value):
            token_id = int(value, 0)
            decode_id(token_id)
            return token_id
        parts = value.split(":")
        kind = Kind.ALLOWANCE
        if len(parts) == 3 and parts[0].lower() in ("allowance", "offset"):
            kind = Kind.OFFSET if parts[0].lower() == "offset" else Kind.ALLOWANCE
            parts = parts[1:]
        if len(parts) != 2 or not parts[1].isdigit():
            raise _input_error(f"token {text!r} is not an id, POLLUTANT:VINTAGE or offset:POLLUTANT:VINTAGE")
        return encode_id(kind, parts[0], int(parts[1]))
    except InvalidInputError as exc:
        raise _input_error(f"token {text!r}: {exc}") from None


def _token_amounts(values: list[str], what: str) -> tuple[tuple[int, int], ...]:
    rows = []
    for value in values:
        token, sep, amount = value.rpartition("=")
        if not sep or not amount.strip().isdigit():
            raise _input_error(f"{what} {value!r} is not TOKEN=AMOUNT (e.g. CO2:2027=1500)")
        rows.append((parse_token(token), int(amount)))
    return tuple(rows)


def parse_deadline(text: str) -> int:
    """A deadline as unix seconds: an integer, an ISO date (its last second, UTC) or an ISO
    date-time (UTC unless it gives an offset).

    Raises:
        ComplianceInputError: none of these.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            moment = datetime.combine(date.fromisoformat(value), time(23, 59, 59), UTC)
        else:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise _input_error(f"deadline {text!r} is not unix seconds, YYYY-MM-DD or an ISO date-time") from None
    return int(moment.timestamp())


def _notice_rows(enterprises: list[str], from_csv: Path | None) -> list[tuple[str, int]]:
    """``(enterprise, allocated)`` rows from ``ADDR:ALLOCATED`` options and/or a CSV file
    (two columns, an optional header)."""
    rows: list[tuple[str, str, str]] = [(e, *e.rpartition(":")[::2]) for e in enterprises]
    if from_csv is not None:
        try:
            with from_csv.open(newline="") as handle:
                lines = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
        except OSError as exc:
            raise _input_error(f"{from_csv}: {exc.strerror}") from None
        for n, r in enumerate(lines, start=1):
            if n == 1 and len(r) >= 2 and not r[1].strip().isdigit():
                continue  # header
            rows.append((f"{from_csv} line {n}", r[0].strip(), r[1].strip() if len(r) > 1 else ""))
    out: list[tuple[str, int]] = []
    problems = []
    for where, address, allocated in rows:
        if not ADDRESS.match(address) or not allocated.isdigit():
            problems.append(f"{where!r}: not ADDRESS:ALLOCATED")
        else:
            out.append((address, int(allocated)))
    if problems:
        raise _input_error("; ".join(problems))
    if not out:
        raise _input_error("no enterprise: give --enterprise ADDR:ALLOCATED (repeat) or --from-csv FILE")
    return out


def _rules_hash(rules: str) -> bytes:
    path = Path(rules)
    try:
        is_file = path.is_file()
    except OSError:  # text too long to be a file name
        is_file = False
    if is_file:
        return _keccak_file(path, "rules")
    from chain.ledger import document_hash

    return document_hash(rules)


# ---------------------------------------------------------------------- compliance


@compliance_app.command("simulate")
@cli_errors
def compliance_simulate(
    case: Annotated[Path, typer.Argument(help="Case JSON: verified_emissions, allowances_held ...")],
) -> None:
    """Run one enterprise's compliance year on a fresh local chain and print the outcome as JSON."""
    from sim.compliance import load_case, simulate

    result = simulate(load_case(case), say=lambda m: err_console.print(f"[dim]{m}[/]"))
    _print_json(result)


@compliance_app.command("configure")
@cli_errors
def compliance_configure(
    year: int,
    offset_cap_bps: Annotated[int, typer.Option(help="Offsets may cover at most this share of V (bps).")],
    fine_per_tonne: Annotated[int, typer.Option(help="Fine per tonne of shortfall (fen).")] = 0,
    make_good_bps: Annotated[int, typer.Option(help="Make-good units per tonne of shortfall (bps).")] = 0,
    no_report_fine: Annotated[int, typer.Option(help="Flat fine of outcome C (fen).")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Set the rules of a compliance year (regulator; fixed once its first notice is out)."""
    from chain.compliance import YearConfig

    config = YearConfig(offset_cap_bps, fine_per_tonne, make_good_bps, no_report_fine)
    _compliance().configure_year(_signer(as_, keystore), year, config)
    console.print(
        f"year {year} configured: offset cap {offset_cap_bps} bps, fine {fine_per_tonne:,} fen/t, "
        f"make-good {make_good_bps} bps, no-report fine {no_report_fine:,} fen"
    )


@compliance_app.command("notice")
@cli_errors
def compliance_notice(
    year: int,
    deadline: Annotated[str, typer.Option(help="Submission deadline: unix seconds, YYYY-MM-DD or ISO.")],
    rules: Annotated[str, typer.Option(help="Rules document: a file (hashed) or its text.")],
    enterprise: Annotated[
        list[str] | None, typer.Option("--enterprise", help="ADDRESS:ALLOCATED (repeat).")
    ] = None,
    from_csv: Annotated[Path | None, typer.Option(help="CSV of enterprise,allocated rows.")] = None,
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    ack_hours: Annotated[
        float | None,
        typer.Option(help="Acknowledgement window from now, hours (default ETS_SCHEDULER_ACK_HOURS, 72)."),
    ] = None,
    rules_uri: Annotated[str, typer.Option(help="Where the rules document is published.")] = "",
    batch_size: Annotated[int, typer.Option(help="Notices per transaction.", min=1)] = 100,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Issue notices (regulator), in batches; enterprises that already have one are skipped."""
    from rich.progress import Progress

    from chain.allowance import pollutant_code
    from chain.compliance import ObligationStatus

    rows = _notice_rows(enterprise or [], from_csv)
    submission_deadline = parse_deadline(deadline)
    rules_hash = _rules_hash(rules)
    code = pollutant_code(pollutant)
    client = _compliance()
    signer = _signer(as_, keystore)
    todo = [r for r in rows if client.notice(r[0], year).status is ObligationStatus.NONE]
    if ack_hours is None:
        from scheduler.config import SchedulerSettings

        ack_hours = SchedulerSettings.load().ack_hours
    ack_deadline = min(client.chain.timestamp() + int(ack_hours * 3600), submission_deadline)
    with Progress(console=err_console, transient=True, disable=len(todo) <= batch_size) as progress:
        task = progress.add_task("issuing notices", total=len(todo))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            client.issue_notices(
                signer, year, code, chunk, rules_hash=rules_hash, rules_uri=rules_uri,
                submission_deadline=submission_deadline, ack_deadline=ack_deadline,
            )  # fmt: skip
            progress.advance(task, len(chunk))
    skipped = len(rows) - len(todo)
    console.print(
        f"{len(todo)} notices of {year} issued ({skipped} already had one); rules 0x{rules_hash.hex()}; "
        f"deadline {_when(submission_deadline)}, acknowledge by {_when(ack_deadline)}"
    )


@compliance_app.command("ack")
@cli_errors
def compliance_ack(year: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Acknowledge one's notice of a year (enterprise)."""
    client = _compliance()
    signer = _signer(as_, keystore)
    client.acknowledge(signer, year)
    late = client.notice(signer.address, year).acknowledged_late
    console.print(f"notice {year} of {signer.address} acknowledged{' (late)' if late else ''}")


@compliance_app.command("apply")
@cli_errors
def compliance_apply(
    year: int,
    attestation: Annotated[
        str | None, typer.Option(help="Attestation id (default: the latest Active one).")
    ] = None,
    allowance: Annotated[
        list[str] | None, typer.Option("--allowance", help="TOKEN=AMOUNT, TOKEN as an id or CO2:2027.")
    ] = None,
    offset: Annotated[
        list[str] | None, typer.Option("--offset", help="TOKEN=AMOUNT, TOKEN as an id or offset:CO2:2027.")
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Apply for compliance (enterprise): escrow the tokens surrendered; prints the application id."""
    from chain.compliance import ObligationStatus, Surrender
    from chain.ledger import LedgerClient

    client = _compliance()
    signer = _signer(as_, keystore)
    if attestation is not None:
        attestation_id = _hex32(attestation, "attestation id")
    else:
        _, manifest = _deployment()
        ledger = LedgerClient(client.chain, manifest.address("EmissionsLedger"))
        notice = client.notice(signer.address, year)
        if notice.status is ObligationStatus.NONE:
            raise _input_error(f"{signer.address} has no notice of {year}")
        found = ledger.latest_attestation(signer.address, notice.pollutant, year)
        if found is None:
            raise _input_error(f"no Active attestation of {signer.address} for {year}: give --attestation")
        attestation_id = found
    surrender = Surrender(
        attestation_id,
        _token_amounts(allowance or [], "--allowance"),
        _token_amounts(offset or [], "--offset"),
    )
    application_id = client.apply(signer, year, surrender)
    view = client.application(application_id)
    console.print(
        f"application {application_id} submitted: {view.offsets:,} offsets + {view.allowances:,} allowances "
        f"against verified {view.verified:,} t (attestation 0x{attestation_id.hex()})"
    )


@compliance_app.command("review")
@cli_errors
def compliance_review(
    application_id: int,
    approve: Annotated[bool, typer.Option("--approve", help="Approve: retire the escrow.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject: return the escrow.")] = False,
    reason_code: Annotated[int, typer.Option(help="Rejection reason code (> 0).")] = 1,
    reason: Annotated[str, typer.Option(help="Rejection reason.")] = "",
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Approve or reject an application (regulator)."""
    if approve == reject:
        raise _input_error("give exactly one of --approve or --reject")
    if reject and not reason.strip():
        raise _input_error("a rejection needs --reason")
    client = _compliance()
    signer = _signer(as_, keystore)
    if approve:
        client.approve(signer, application_id)
        view = client.application(application_id)
        left = client.notice(view.enterprise, view.year)
        console.print(
            f"application {application_id} approved: {view.offsets + view.allowances:,} retired; "
            f"{left.surrendered:,} of {left.verified:,} t covered ({left.status.name.lower()})"
        )
    else:
        client.reject(signer, application_id, reason_code, reason)
        console.print(
            f"application {application_id} rejected ({reason_code}: {reason}); escrow credited back "
            f"(the enterprise withdraws it: ets compliance withdraw {application_id})"
        )


@compliance_app.command("withdraw")
@cli_errors
def compliance_withdraw(application_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Withdraw the escrow a rejection credited back to one (enterprise): the tokens of a rejected
    application still credited to the caller."""
    client = _compliance()
    signer = _signer(as_, keystore)
    escrowed = dict.fromkeys(client.application(application_id).ids)
    ids = [i for i in escrowed if client.returned(signer.address, i)]
    if not ids:
        raise _input_error(f"nothing of application {application_id} is credited to {signer.address}")
    client.withdraw_returned(signer, ids)
    console.print(f"withdrew the escrow credited back of {len(ids)} token id(s) to {signer.address}")


@compliance_app.command("finalize")
@cli_errors
def compliance_finalize(
    enterprise: str, year: int, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """Record an obligation's outcome after its deadline (anyone)."""
    client = _compliance()
    client.finalize(_signer(as_, keystore), enterprise, year)
    n = client.notice(enterprise, year)
    console.print(
        f"{n.enterprise} {year}: outcome {n.outcome.code}, shortfall {n.shortfall:,} t, "
        f"fine {n.fine:,} fen, make-good {n.make_good:,}"
    )


@compliance_app.command("pay")
@cli_errors
def compliance_pay(year: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Pay one's fine of a year to the treasury (enterprise)."""
    client = _compliance()
    signer = _signer(as_, keystore)
    client.pay_penalty(signer, year)
    console.print(f"fine of {client.notice(signer.address, year).fine:,} fen for {year} paid")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def _obligation(n: NoticeView) -> dict[str, Any]:
    known = n.outcome.code != "C"
    return {
        "enterprise": n.enterprise,
        "status": n.status.name,
        "outcome": n.outcome.code,
        "acknowledged": n.acknowledged_at > 0,
        "late": n.acknowledged_at > 0 and n.acknowledged_late,
        "allocated": n.allocated,
        "verified": n.verified,
        "surrendered": n.surrendered,
        "offsets_surrendered": n.offsets_surrendered,
        "shortfall": n.shortfall if known else None,
        "fine": n.fine,
        "fine_paid": n.fine_paid,
        "make_good": n.make_good,
        "pending_application": n.pending,
        "submission_deadline": n.submission_deadline,
    }


@compliance_app.command("status")
@cli_errors
def compliance_status(
    year: int,
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's obligation.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A year's rules, counters and compliance rate, and its obligations."""
    from chain.compliance import ObligationStatus

    client = _compliance()
    if enterprise is not None:
        accounts = [enterprise]
    else:
        events = client.events(year=year)
        accounts = list(
            dict.fromkeys(str(e["args"]["enterprise"]) for e in events if e["event"] == "NoticeIssued")
        )
    notices = [client.notice(a, year) for a in accounts]
    rows = [_obligation(n) for n in notices if n.status is not ObligationStatus.NONE]
    stats = client.year_stats(year)
    rate = client.compliance_rate_bps(year)
    config = client.year_config(year)
    if as_json:
        _print_json({"year": year, "config": asdict(config), "stats": asdict(stats),
                     "compliance_rate_bps": rate, "obligations": rows})  # fmt: skip
        return
    from rich.table import Table

    console.print(
        f"year {year}: {stats.notices} notices, {stats.acknowledged} acknowledged "
        f"({stats.late_acknowledgements} late), {stats.applications} applications, {stats.finalized} "
        f"finalized (A {stats.covered}, B {stats.shortfall}, C {stats.no_verified_emissions}); "
        f"compliance rate {rate / 100:.2f} %"
    )
    table = Table(title=f"obligations {year}")
    table.add_column("enterprise", overflow="fold")
    for header in ("status", "outcome", "verified", "surrendered (offsets)", "shortfall", "fine (fen)",
                   "make-good"):  # fmt: skip
        table.add_column(header, overflow="fold")
    for r in rows:
        fine = f"{r['fine']:,}{' paid' if r['fine_paid'] else ''}"
        shortfall = "-" if r["shortfall"] is None else f"{r['shortfall']:,}"
        table.add_row(r["enterprise"], r["status"].lower(), r["outcome"], f"{r['verified']:,}",
                      f"{r['surrendered']:,} ({r['offsets_surrendered']:,})", shortfall, fine,
                      f"{r['make_good']:,}")  # fmt: skip
    console.print(table)


# ---------------------------------------------------------------------- attestations


def _check_hex32(value: str) -> str:
    if not HEX32.match(value):
        raise ValueError(f"{value!r} is not 32 bytes of 0x-hex")
    return value.lower()


def _check_address(value: str) -> str:
    if not ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a 0x address")
    return value


class SignedAttestation(BaseModel):
    """A signed attestation file: the EIP-712 ``Attestation``, its domain, id and signature.

    The auditor writes it offline (``ets attest sign``); anyone relays it (``ets attest submit``).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    version: Literal[1] = 1
    chain_id: int = Field(ge=1)
    ledger: str
    id: str
    auditor: str
    enterprise: str
    pollutant: int = Field(ge=1, le=255)
    year: int = Field(ge=0, le=2**16 - 1)
    verified_emissions: int = Field(ge=0)
    offsets_eligible: int = Field(ge=0)
    evidence: list[str]
    report_hash: str
    supersedes: str
    nonce: int = Field(ge=0)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")

    _hex32 = field_validator("id", "report_hash", "supersedes")(_check_hex32)
    _addresses = field_validator("ledger", "auditor", "enterprise")(_check_address)

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, values: list[str]) -> list[str]:
        return [_check_hex32(v) for v in values]

    def attestation(self) -> Attestation:
        """The attestation's fields as :class:`chain.ledger.Attestation`."""
        from chain.ledger import Attestation

        return Attestation(
            auditor=self.auditor, enterprise=self.enterprise, pollutant=self.pollutant, year=self.year,
            verified_emissions=self.verified_emissions, offsets_eligible=self.offsets_eligible,
            evidence=tuple(bytes.fromhex(e[2:]) for e in self.evidence),
            report_hash=bytes.fromhex(self.report_hash[2:]), supersedes=bytes.fromhex(self.supersedes[2:]),
            nonce=self.nonce,
        )  # fmt: skip

    @property
    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])

    @classmethod
    def load(cls, path: Path) -> SignedAttestation:
        """Read a signed attestation file.

        Raises:
            ComplianceInputError: unreadable or not a valid signed attestation (problems listed).
        """
        from chain.jsonfile import load_model
        from domain.errors import ComplianceInputError

        return load_model(path, cls, ComplianceInputError, "signed attestation")


def recover_signer(signed: SignedAttestation) -> str | None:
    """The address the file's signature recovers to over its typed data (None: malformed)."""
    from chain.ledger import recover_attestation_signer

    return recover_attestation_signer(
        signed.chain_id, signed.ledger, signed.attestation(), signed.signature_bytes
    )


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
    from chain.allowance import pollutant_code
    from chain.deploy import Manifest
    from chain.ledger import ZERO_ID, Attestation, attestation_digest, sign_attestation

    if (report is None) == (report_hash is None):
        raise _input_error("give exactly one of --report FILE or --report-hash 0x...")
    signer = _signer(as_, keystore)
    if chain_id is None or ledger is None:
        manifest = Manifest.load(_settings().manifest_path)
        chain_id = manifest.chain_id if chain_id is None else chain_id
        ledger = manifest.address("EmissionsLedger") if ledger is None else ledger
    if nonce is None:
        nonce = _ledger().nonce(signer.address)
    items = [_hex32(e, "evidence") for e in evidence or []]
    items += [_keccak_file(p, "evidence file") for p in evidence_file or []]
    attestation = Attestation(
        auditor=signer.address, enterprise=enterprise, pollutant=pollutant_code(pollutant), year=year,
        verified_emissions=verified, offsets_eligible=offsets_eligible, evidence=tuple(items),
        report_hash=_keccak_file(report, "report") if report else _hex32(str(report_hash), "report hash"),
        supersedes=_hex32(supersedes, "supersedes") if supersedes else ZERO_ID, nonce=nonce,
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
    console.print(f"attestation {signed.id} signed by {a.auditor} (nonce {nonce}): {out}")


@attest_app.command("submit")
@cli_errors
def attest_submit(
    file: Annotated[Path, typer.Argument(help="Signed attestation file from `ets attest sign`.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Relay a signed attestation to the ledger (anyone may)."""
    signed = SignedAttestation.load(file)
    event = _ledger().attest_by_sig(_signer(as_, keystore), signed.attestation(), signed.signature_bytes)
    console.print(
        f"attestation 0x{event.id.hex()} recorded: {event.enterprise} {event.year}, verified "
        f"{event.verified_emissions:,} t, offsets eligible {event.offsets_eligible:,} (tx {event.tx_hash})"
    )


class ReadingProofFile(BaseModel):
    """A reading with what proves it is in an anchored batch: its fields, its frame signature
    (the frame's reading hashes, its index, the device's signature) and its Merkle proof."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    class ReadingFields(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

        device: str
        sequence: int = Field(ge=0)
        time: int = Field(ge=0)
        pollutant: str
        value: int
        decimals: int = Field(ge=0, le=255)
        unit: str
        flag: str

    class Witness(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

        hashes: list[str]
        index: int = Field(ge=0)
        signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$")

    reading: ReadingFields
    witness: Witness
    proof: list[str]

    @classmethod
    def load(cls, path: Path) -> ReadingProofFile:
        """Read a reading proof file.

        Raises:
            ComplianceInputError: unreadable or not valid.
        """
        from chain.jsonfile import load_model
        from domain.errors import ComplianceInputError

        return load_model(path, cls, ComplianceInputError, "reading proof")

    def parts(self) -> tuple[Reading, FrameWitness, list[bytes]]:
        """The reading, its frame witness and its Merkle proof.

        Raises:
            ReadingValueError, ReadingSignatureError: a field does not fit (oracle.signing).
        """
        from oracle.signing import FrameWitness, Reading

        w = self.witness
        witness = FrameWitness(
            tuple(_hex32(h, "frame hash") for h in w.hashes), w.index, bytes.fromhex(w.signature[2:])
        )
        return Reading(**self.reading.model_dump()), witness, [_hex32(p, "proof node") for p in self.proof]


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
    from chain.errors import ContractRevertError
    from chain.ledger import AttestationStatus, attestation_digest

    ledger = _ledger()
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
        signer = recover_signer(signed)
        checks["signed_by_auditor"] = signer is not None and signer.lower() == signed.auditor.lower()
        attestation_id = on_chain
    else:
        attestation_id = _hex32(target, "attestation id")
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
            raise _input_error("--batch and --reading-proof go together")
        batch_id = _hex32(batch, "batch id")
        evidence = (
            [bytes.fromhex(e[2:]) for e in signed.evidence]
            if signed
            else ledger.attestation_evidence(attestation_id)
        )
        index = evidence.index(batch_id) if batch_id in evidence else 0
        reading, witness, proof = ReadingProofFile.load(reading_proof).parts()
        checks["reading_in_cited_batch"] = batch_id in evidence and ledger.verify_cited_reading(
            attestation_id, evidence, index, batch_id, reading, witness, proof
        )
    report["checks"] = checks
    report["ok"] = record is not None and all(checks.values())
    if as_json:
        _print_json(report)
    else:
        from rich.table import Table

        table = Table("field", "value", title=f"attestation {report['id']}")
        for key, value in (report["stored"] or {}).items():
            table.add_row(key, str(value))
        console.print(table)
        console.print(f"status: {report['status']}" + (" (latest)" if report.get("latest") else ""))
        for name, passed in checks.items():
            console.print(f"{'[green]✓' if passed else '[red]✗'}[/] {name.replace('_', ' ')}")
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
    key = _hex32(attestation_id, "attestation id")
    event = _ledger().revoke_attestation(_signer(as_, keystore), key, reason_code, reason)
    console.print(f"attestation 0x{event.id.hex()} revoked by {event.by} ({reason_code}: {reason})")


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
    key = _hex32(attestation_id, "attestation id")
    event = _ledger().reject_attestation(_signer(as_, keystore), key, reason_code, reason)
    console.print(f"attestation 0x{event.id.hex()} rejected by {event.by} ({reason_code}: {reason})")
