"""``ets compliance`` and ``ets attest`` end to end on the session chain: a whole compliance year
through the CLI, every refusal printed by its error name, and ``ets compliance simulate``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.attestations import AttestationStatus
from chain.compliance import ObligationStatus
from domain.compliance import Outcome
from domain.tokens import Kind, encode_id
from ets.cli import main as cli
from ets.cli.inputs import parse_deadline, parse_token
from tests.conftest import Consortium
from tests.utils.attestations import anchored_batch
from tests.utils.chain import register
from tests.utils.readings import signer

Run = Callable[..., tuple[int, str]]
YEAR = 2027
DAY = 24 * 3600
CO2 = encode_id(Kind.ALLOWANCE, "CO2", YEAR)
OFFSET = encode_id(Kind.OFFSET, "CO2", YEAR)
E1, E2 = demo_account("enterprise-1"), demo_account("enterprise-2")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "compliance"


def flat(text: str) -> str:
    """Output with its whitespace collapsed: rich wraps long messages at the terminal width."""
    return " ".join(text.split())


def refused(result: tuple[int, str], error: str) -> bool:
    code, out = result
    return code == 1 and error in flat(out)


@pytest.fixture
def ets(fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    monkeypatch.setenv("ETS_RPC_URL", fresh.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(fresh.manifest_path))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    yield run


@pytest.fixture
def holders(fresh: Consortium) -> Consortium:
    """Enterprises 1 and 2 registered; enterprise 1 holds 1,000 CO2 2027 allowances, 100 offsets
    and cash for its fine."""
    for i, e in enumerate((E1, E2)):
        register(fresh.registry, fresh.members, e.address, seed=950 + i)
        fresh.registry.assign_auditor(fresh.regulator, fresh.auditor.address, e.address)  # may attest
    for token_id, amount in ((CO2, 1000), (OFFSET, 100)):
        fresh.allowance.set_cap(fresh.regulator, token_id, 10_000)
        fresh.allowance.allocate(
            fresh.regulator, token_id, [E1.address], [amount], token_id.to_bytes(32, "big")
        )
    fresh.cash.deposit(fresh.exchange, E1.address, 10**9, "compliance-cli")
    return fresh


def _sign(ets: Run, out: Path, report: Path, *extra: str, who: str = "auditor") -> tuple[int, str]:
    return ets("attest", "sign", "--enterprise", E1.address, "--year", str(YEAR), "--verified", "1000",
               "--offsets-eligible", "100", "--evidence", "0x" + "ab" * 32, "--report", str(report),
               "--out", str(out), "--as", who, *extra)  # fmt: skip


def _application_id(out: str) -> str:
    found = re.search(r"application (\d+) submitted", flat(out))
    assert found, out
    return found.group(1)


def test_cli_runs_a_compliance_year_and_refuses_each_bad_step_by_name(
    ets: Run, holders: Consortium, tmp_path: Path
) -> None:
    c = holders
    deadline = c.chain.timestamp() + 30 * DAY
    code, out = ets("compliance", "configure", str(YEAR), "--offset-cap-bps", "500", "--fine-per-tonne",
                    "30000", "--make-good-bps", "10000", "--as", "regulator")  # fmt: skip
    assert code == 0 and "year 2027 configured" in flat(out), out
    roster = tmp_path / "notices.csv"
    roster.write_text(f"enterprise,allocated\n{E2.address},500\n")
    code, out = ets("compliance", "notice", str(YEAR), "--enterprise", f"{E1.address}:1000", "--from-csv",
                    str(roster), "--deadline", str(deadline), "--rules", "CO2 rules 2027", "--rules-uri",
                    "ipfs://rules-2027", "--batch-size", "1", "--as", "regulator")  # fmt: skip
    assert code == 0 and "2 notices of 2027 issued (0 already had one)" in flat(out), out
    assert refused(ets("compliance", "configure", str(YEAR), "--offset-cap-bps", "100", "--as", "regulator"),
                   "ComplianceYearConfigLocked")  # fmt: skip
    code, out = ets("compliance", "notice", str(YEAR), "--enterprise", f"{E1.address}:1000", "--deadline",
                    str(deadline), "--rules", "CO2 rules 2027", "--as", "regulator")  # a re-run  # fmt: skip
    assert code == 0 and "0 notices of 2027 issued (1 already had one)" in flat(out), out
    code, out = ets("compliance", "ack", str(YEAR), "--as", "enterprise-1")
    assert code == 0 and "acknowledged" in out and "late" not in out, out

    # the auditor signs offline (nonce given, chain id and ledger from the manifest); anyone relays
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF audit report 2027")
    signed = tmp_path / "attestation.json"
    code, out = _sign(ets, signed, report, "--nonce", str(c.ledger.nonce(c.auditor.address)))
    assert code == 0, out
    data = json.loads(signed.read_text())
    assert (data["chain_id"], data["ledger"], data["auditor"]) == (c.chain.chain_id, c.ledger.address,
                                                                   c.auditor.address)  # fmt: skip
    code, out = ets("attest", "verify", str(signed), "--json")
    assert code == 1 and json.loads(out)["status"] == "NOT_SUBMITTED", out
    code, out = ets("attest", "submit", str(signed), "--as", "enterprise-2")
    assert code == 0 and data["id"] in out, out
    code, out = ets("attest", "verify", str(signed), "--json")
    shown = json.loads(out)
    assert code == 0 and shown["ok"] and shown["status"] == "ACTIVE" and shown["latest"], out
    assert shown["checks"] == {"domain_matches_ledger": True, "id_matches_digest": True,
                               "signed_by_auditor": True, "active": True}  # fmt: skip
    assert shown["stored"]["verified_emissions"] == 1000
    attestation_id = data["id"]

    # refused attestations: a replay, a signature over other data, a non-auditor's signature
    assert refused(ets("attest", "submit", str(signed), "--as", "enterprise-2"), "LedgerInvalidNonce")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**data, "verified_emissions": 10, "nonce": data["nonce"] + 1}))
    assert refused(ets("attest", "submit", str(tampered), "--as", "enterprise-2"),
                   "LedgerAttestationSignerMismatch")  # fmt: skip
    code, out = ets("attest", "verify", str(tampered), "--json")
    assert code == 1 and json.loads(out)["checks"]["signed_by_auditor"] is False, out
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({**data, "signature": "0x1234"}))
    code, out = ets("attest", "submit", str(malformed), "--as", "enterprise-2")
    assert code == 1 and "ComplianceInputError" in flat(out) and "signature" in flat(out), out
    forged = tmp_path / "forged.json"
    assert _sign(ets, forged, report, "--nonce", "0", who="enterprise-2")[0] == 0  # offline: anyone can sign
    assert refused(ets("attest", "submit", str(forged), "--as", "enterprise-2"), "LedgerNotAuditor")

    # applications: over the offset cap, tokens not held, then rejected, resubmitted and approved
    apply = ("compliance", "apply", str(YEAR), "--attestation", attestation_id, "--as", "enterprise-1")
    assert refused(ets(*apply, "--offset", "offset:CO2:2027=60"), "ComplianceOffsetsOverCap")
    assert refused(ets(*apply, "--allowance", "CO2:2026=10"), "ERC1155InsufficientBalance")
    code, out = ets(*apply, "--allowance", "CO2:2027=900", "--offset", "offset:CO2:2027=50")
    assert code == 0, out
    first = _application_id(out)
    assert refused(
        ets("compliance", "review", first, "--approve", "--as", "enterprise-1"), "UnauthorizedRole"
    )
    code, out = ets("compliance", "review", first, "--reject", "--reason-code", "3", "--reason",
                    "offset serials unreadable", "--as", "regulator")  # fmt: skip
    assert code == 0 and "rejected" in out, out
    assert c.allowance.balance(E1.address, CO2) == 100  # escrow credited back, not pushed
    assert refused(ets("compliance", "withdraw", first, "--as", "enterprise-2"), "nothing")
    code, out = ets("compliance", "withdraw", first, "--as", "enterprise-1")
    assert code == 0 and "withdrew" in out, out
    assert c.allowance.balance(E1.address, CO2) == 1000  # escrow returned
    code, out = ets("compliance", "apply", str(YEAR), "--allowance", f"{CO2}=900", "--offset", f"{OFFSET}=50",
                    "--as", "enterprise-1")  # default: the latest Active attestation  # fmt: skip
    assert code == 0 and attestation_id in out, out
    second = _application_id(out)
    code, out = ets("compliance", "review", second, "--approve", "--as", "regulator")
    assert code == 0 and "950 of 1,000 t covered" in flat(out), out
    assert refused(ets("compliance", "review", second, "--approve", "--as", "regulator"),
                   "ComplianceAlreadyApproved")  # fmt: skip
    assert refused(ets("compliance", "review", second, "--as", "regulator"), "exactly one of")

    # a revoked attestation cannot be cited; after the deadline nothing can be applied for
    code, out = ets("attest", "revoke", attestation_id, "--reason", "recount", "--as", "auditor")
    assert code == 0 and "revoked" in out, out
    code, out = ets("attest", "verify", attestation_id, "--json")
    assert code == 1 and json.loads(out)["status"] == "REVOKED", out
    assert c.ledger.attestation(attestation_id).status is AttestationStatus.REVOKED
    assert refused(ets(*apply, "--allowance", "CO2:2027=10"), "ComplianceAttestationNotActive")
    assert refused(ets("compliance", "finalize", E1.address, str(YEAR), "--as", "auditor"),
                   "ComplianceDeadlineNotPassed")  # fmt: skip
    c.chain.advance_time(deadline - c.chain.timestamp() + 1)
    assert refused(ets(*apply, "--allowance", "CO2:2027=10"), "ComplianceDeadlinePassed")

    # finalize (anyone), pay the fine, and read the year
    code, out = ets("compliance", "finalize", E1.address, str(YEAR), "--as", "auditor")
    assert code == 0 and "outcome B, shortfall 50 t, fine 1,500,000 fen, make-good 50" in flat(out), out
    assert ets("compliance", "finalize", E2.address, str(YEAR), "--as", "auditor")[0] == 0
    assert refused(ets("compliance", "pay", str(YEAR), "--as", "enterprise-2"), "CompliancePenaltyNotDue")
    code, out = ets("compliance", "pay", str(YEAR), "--as", "enterprise-1")
    assert code == 0 and "1,500,000 fen" in out, out
    notice = c.compliance.notice(E1.address, 1, YEAR)  # CO2
    assert (notice.status, notice.outcome, notice.fine_paid) == (ObligationStatus.NON_COMPLIANT,
                                                                 Outcome.SHORTFALL, True)  # fmt: skip
    code, out = ets("compliance", "status", str(YEAR), "--json")
    assert code == 0, out
    status = json.loads(out)
    assert status["stats"]["notices"] == 2 and status["stats"]["shortfall"] == 1
    assert status["compliance_rate_bps"] == 0
    rows = {r["enterprise"]: r for r in status["obligations"]}
    assert (rows[E1.address]["outcome"], rows[E1.address]["shortfall"], rows[E1.address]["make_good"],
            rows[E1.address]["fine_paid"]) == ("B", 50, 50, True)  # fmt: skip
    assert (rows[E2.address]["outcome"], rows[E2.address]["shortfall"]) == ("C", None)
    code, out = ets("compliance", "status", str(YEAR), "--enterprise", E1.address)
    assert code == 0 and "compliance rate 0.00 %" in flat(out) and "paid" in out, out


def test_cli_names_the_pollutant_when_an_enterprise_owes_several_in_a_year(
    ets: Run, holders: Consortium
) -> None:
    deadline = str(holders.chain.timestamp() + 30 * DAY)
    assert ets("compliance", "configure", str(YEAR), "--offset-cap-bps", "500", "--as", "regulator")[0] == 0
    for pollutant, allocated in (("CO2", 1000), ("SO2", 40)):
        code, out = ets("compliance", "notice", str(YEAR), "--pollutant", pollutant, "--enterprise",
                        f"{E1.address}:{allocated}", "--deadline", deadline, "--rules", "rules 2027",
                        "--as", "regulator")  # fmt: skip
        assert code == 0 and "1 notices of 2027 issued (0 already had one)" in flat(out), out
    code, out = ets("compliance", "ack", str(YEAR), "--as", "enterprise-1")
    assert (
        code == 1
        and "ComplianceInputError" in flat(out)
        and "owes CO2, SO2 in 2027: give --pollutant" in flat(out)
    )
    code, out = ets("compliance", "ack", str(YEAR), "--pollutant", "SO2", "--as", "enterprise-1")
    assert code == 0 and "notice SO2 2027" in flat(out) and "acknowledged" in out, out
    assert refused(ets("compliance", "ack", str(YEAR), "--pollutant", "SO2", "--as", "enterprise-1"),
                   "ComplianceAlreadyAcknowledged")  # fmt: skip
    assert refused(ets("compliance", "ack", str(YEAR), "--pollutant", "NOx", "--as", "enterprise-1"),
                   "ComplianceNoNotice")  # fmt: skip
    code, out = ets("compliance", "status", str(YEAR), "--json")
    rows = [(r["enterprise"], r["pollutant"], r["acknowledged"]) for r in json.loads(out)["obligations"]]
    assert rows == [(E1.address, "CO2", False), (E1.address, "SO2", True)]
    code, out = ets("compliance", "status", str(YEAR), "--pollutant", "SO2", "--json")
    assert [r["pollutant"] for r in json.loads(out)["obligations"]] == ["SO2"]
    code, out = ets("compliance", "status", str(YEAR), "--enterprise", E1.address, "--json")
    assert [r["pollutant"] for r in json.loads(out)["obligations"]] == ["CO2", "SO2"]


def test_attest_verify_checks_a_cited_reading_against_its_batch(
    ets: Run, fresh: Consortium, tmp_path: Path
) -> None:
    from oracle.signing.eip712 import ReadingDomain

    register(fresh.registry, fresh.members, E1.address, seed=960)
    device = signer(961, domain=ReadingDomain(fresh.chain.chain_id, fresh.ledger.address))
    oracle = fresh.oracle.address  # the device's site gateway key anchors its readings
    fresh.registry.bind_device(fresh.regulator, device.address, E1.address, "CLIATTEST0001", oracle=oracle)
    fresh.registry.assign_auditor(fresh.regulator, fresh.auditor.address, E1.address)
    batch, proven = anchored_batch(fresh.ledger, fresh.oracle, device)
    report = tmp_path / "report.pdf"
    report.write_bytes(b"report")
    signed = tmp_path / "a.json"
    code, out = ets("attest", "sign", "--enterprise", E1.address, "--year", str(YEAR), "--verified", "5",
                    "--evidence", "0x" + batch.batch_id.hex(), "--report", str(report), "--out", str(signed),
                    "--as", "auditor")  # nonce asked of the chain  # fmt: skip
    assert code == 0, out
    assert ets("attest", "submit", str(signed), "--as", "auditor")[0] == 0
    reading, proof = proven[0]
    r, w = reading.reading, reading.witness
    proof_file = tmp_path / "reading.json"
    proof_file.write_text(json.dumps({
        "reading": {"device": r.device, "sequence": r.sequence, "time": r.time, "pollutant": r.pollutant,
                    "value": r.value, "decimals": r.decimals, "unit": r.unit, "flag": r.flag},
        "witness": {"hashes": ["0x" + h.hex() for h in w.hashes], "index": w.index,
                    "signature": "0x" + w.signature.hex()},
        "proof": ["0x" + bytes(p).hex() for p in proof],
    }))  # fmt: skip
    attestation_id = json.loads(signed.read_text())["id"]
    code, out = ets("attest", "verify", attestation_id, "--batch", "0x" + batch.batch_id.hex(),
                    "--reading-proof", str(proof_file), "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["checks"]["reading_in_cited_batch"] is True, out
    other_reading = proven[1][0].reading
    wrong = json.loads(proof_file.read_text())
    wrong["reading"]["value"] = other_reading.value + 1
    proof_file.write_text(json.dumps(wrong))
    code, out = ets("attest", "verify", attestation_id, "--batch", "0x" + batch.batch_id.hex(),
                    "--reading-proof", str(proof_file), "--json")  # fmt: skip
    assert code == 1 and json.loads(out)["checks"]["reading_in_cited_batch"] is False, out
    code, out = ets(
        "attest", "reject", attestation_id, "--reason", "evidence incomplete", "--as", "regulator"
    )
    assert code == 0 and "rejected" in out, out
    assert refused(ets("attest", "reject", attestation_id, "--reason", "again", "--as", "regulator"),
                   "LedgerAttestationNotActive")  # fmt: skip


# ---------------------------------------------------------------------- simulate and parsing


def test_compliance_simulate_prints_only_json_on_stdout_for_a_shortfall_case() -> None:
    result = CliRunner().invoke(cli.app, ["compliance", "simulate", str(EXAMPLES / "case-b.json")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"surrendered_allowances": 100_000, "surrendered_offsets": 6000,
                                         "shortfall": 14_000, "penalty_total": 420_000_000,
                                         "make_good_units": 14_000, "status": "B"}  # fmt: skip


def test_compliance_simulate_prints_one_object_per_pollutant_for_a_year_of_several() -> None:
    result = CliRunner().invoke(cli.app, ["compliance", "simulate", str(EXAMPLES / "year-so2-nox.json")])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert list(printed) == ["SO2", "NOx"]
    assert printed["SO2"]["status"] == "B" and printed["SO2"]["shortfall"] == 2000
    assert printed["NOx"] == {"surrendered_allowances": 2850, "surrendered_offsets": 150, "shortfall": 0,
                              "penalty_total": 0, "make_good_units": 0, "status": "A"}  # fmt: skip


def test_compliance_simulate_refuses_a_bad_case_by_error_name(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps({"verified_emissions": 10, "allowances_held": 1, "offsets_held": 0,
                                "offset_cap_bps": 20_000, "penalty_per_ton": 1}))  # fmt: skip
    result = CliRunner().invoke(cli.app, ["compliance", "simulate", str(path)])
    assert result.exit_code == 1
    assert "ComplianceInputError" in flat(result.output) and "offset_cap_bps" in flat(result.output)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("CO2:2027", CO2), ("allowance:co2:2027", CO2), ("offset:CO2:2027", OFFSET), (str(OFFSET), OFFSET),
     (hex(CO2), CO2)],
)  # fmt: skip
def test_parse_token_accepts_ids_and_shorthand(text: str, expected: int) -> None:
    assert parse_token(text) == expected


@pytest.mark.parametrize("text", ["CO2", "CH4:2027", "offset:CO2:1999", "swap:CO2:2027", "7"])
def test_parse_token_refuses_unknown_forms(text: str) -> None:
    from domain.errors import ComplianceInputError

    with pytest.raises(ComplianceInputError):
        parse_token(text)


def test_parse_deadline_reads_unix_dates_and_iso_times() -> None:
    assert parse_deadline("1830297600") == 1830297600
    assert parse_deadline("2028-01-01") == 1830383999  # the day's last second, UTC
    assert parse_deadline("2028-01-01T08:00:00+08:00") == 1830297600
