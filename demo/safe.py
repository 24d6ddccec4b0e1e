"""The demo's four-eyes account and trusted counterparties: the Safe{Wallet} contracts deployed into
the demo deployment; a new demo enterprise (a joint-venture plant) whose account is a 2-of-2 Safe of
two representatives (enterprise-15 and enterprise-16, in the dashboard's sign-in list), registered
by governance and funded by a plain transfer from the demo enterprise holding the most CO2; a
four-eyes transfer (both representatives sign the SafeTx, one relays); then TrustedCounterparties
deployed and wired by governance, the Safe adding a counterparty (in effect after the 4-day delay)
and a transfer above the limit to an untrusted account refused (``AllowanceUntrustedCounterparty``).
Runs after the demo's other on-chain steps: once wired, every later direct transfer above the
limit needs a trusted counterparty. A re-run finds the Safe and the wiring and sends nothing but
the refused call (which changes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient
from chain.deploy import Manifest, SuiteConfig
from chain.errors import ContractRevertError
from chain.registry import EnterpriseProfile, RegistryClient
from chain.safe import SafeClient, SafeFactoryClient, deploy_safe_contracts, sign_safe_tx
from chain.trusted import TrustedClient, deploy_trusted, wire_trusted
from chain.tx import ChainClient
from domain.codes import credit_code_check_char
from domain.tokens import Kind, encode_id
from domain.trusted import DEFAULT_DELAY_SECONDS, DEFAULT_LIMIT

#: The Safe's representatives (demo accounts offered in the dashboard's sign-in): this step's own
#: wallets, no other step's enterprise, device or applicant.
REPRESENTATIVES = ("enterprise-15", "enterprise-16")
#: The demo enterprises whose CO2 may fund the Safe and make the refused transfer.
HOLDERS = tuple(f"enterprise-{i}" for i in range(1, 7))
_BODY = "91331000MA2JW0TAF"
#: The Safe-held enterprise's profile (a joint-venture plant in Taizhou, Zhejiang).
SAFE_PROFILE = EnterpriseProfile(
    credit_code=_BODY + credit_code_check_char(_BODY), name="Taizhou Joint-Venture Power Co. (Safe 2-of-2)",
    region_code=331000, industry_code="D4411", latitude=28_660_000, longitude=121_430_000,
)  # fmt: skip
FUNDING = 500
FOUR_EYES = 100
SALT = 2027


@dataclass
class SafeDemoReport:
    """What the step did: the Safe, the gas of the four-eyes transfer, the refusal, report lines."""

    safe: str = ""
    four_eyes_gas: int | None = None
    refused: str = ""
    lines: list[str] = field(default_factory=list)
    manifest: Manifest | None = None


def _co2_holding(allowance: AllowanceClient) -> tuple[str, int, int]:
    """(holder name, CO2 token id, balance) of the demo enterprise holding the most CO2 of a vintage."""
    best = ("", 0, -1)
    for name in HOLDERS:
        for vintage in range(2023, 2029):
            token_id = int(encode_id(Kind.ALLOWANCE, "CO2", vintage))
            balance = int(allowance.balance(demo_account(name).address, token_id))
            if balance > best[2]:
                best = (name, token_id, balance)
    return best


def _safe_execute(safe: SafeClient, to: str, data: str, relayer: Signer) -> int:
    """Both representatives sign ``data`` sent to ``to`` as a SafeTx; ``relayer`` executes it."""
    tx = safe.transaction(to, bytes.fromhex(data[2:]))
    chain_id = safe.chain.chain_id
    signatures = {
        a.address: sign_safe_tx(a, chain_id, safe.address, tx) for a in map(demo_account, REPRESENTATIVES)
    }
    return int(safe.execute(relayer, tx, signatures)["gasUsed"])


def demo_safe(
    chain: ChainClient, manifest_path: Path, registry: RegistryClient, members: Sequence[Signer]
) -> SafeDemoReport:
    """Deploy the Safe contracts, create and register the Safe-held enterprise, fund it, make a
    four-eyes transfer, wire trusted counterparties and show the refusal; each done once."""
    report = SafeDemoReport()
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    deployer = demo_account("deployer")
    manifest, contracts = deploy_safe_contracts(chain, deployer, config, manifest_path)
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    reps = [demo_account(n) for n in REPRESENTATIVES]
    address = registry.enterprise_by_credit_code(SAFE_PROFILE.credit_code)
    if address is None:
        safe = SafeFactoryClient(chain, contracts).create(reps[0], [r.address for r in reps], 2, salt=SALT)
        registry.govern(
            members, registry.encode_register_enterprise(safe.address, SAFE_PROFILE), "Safe enterprise"
        )
        report.lines.append(f"safe: {SAFE_PROFILE.name} registered, account {safe.address} (2 of 2: "
                            f"{', '.join(REPRESENTATIVES)})")  # fmt: skip
    else:
        safe = SafeClient(chain, address)
    report.safe = safe.address
    holder, token_id, balance = _co2_holding(allowance)
    if safe.nonce() == 0 and balance >= FUNDING:
        allowance.transfer(demo_account(holder), safe.address, token_id, FUNDING)
        data = allowance.contract.encode_abi(
            "safeTransferFrom", args=[safe.address, demo_account(holder).address, token_id, FOUR_EYES, b""]
        )
        report.four_eyes_gas = _safe_execute(safe, allowance.address, data, reps[1])
        report.lines.append(
            f"safe: funded with {FUNDING} t by {holder}; four-eyes transfer of {FOUR_EYES} t back to "
            f"{holder}: signed by both representatives, relayed by {REPRESENTATIVES[1]} "
            f"({report.four_eyes_gas:,} gas)"
        )

    manifest, trusted = deploy_trusted(chain, deployer, config, manifest_path)
    wired = wire_trusted(registry, members, trusted, allowance.address)
    report.lines += [f"trusted: {line} (2-of-3 governance)" for line in wired]
    report.manifest = manifest
    _trusted_steps(safe, trusted, allowance, holder, token_id, reps, report)
    return report


def _trusted_steps(
    safe: SafeClient, trusted: TrustedClient, allowance: AllowanceClient, holder: str, token_id: int,
    reps: list[Signer], report: SafeDemoReport,
) -> None:  # fmt: skip
    counterparty = demo_account(holder).address
    if trusted.active_from(safe.address, counterparty) == 0:
        data = trusted.contract.encode_abi("addCounterparty", args=[safe.address, counterparty])
        _safe_execute(safe, trusted.address, data, reps[0])
    since = trusted.active_from(safe.address, counterparty)
    days = DEFAULT_DELAY_SECONDS // 86_400
    report.lines.append(
        f"trusted: the Safe added {holder} (four eyes); in effect from {since} (delay {days} days)"
    )
    untrusted = demo_account("enterprise-5" if holder != "enterprise-5" else "enterprise-4")
    amount = DEFAULT_LIMIT + 1
    try:
        allowance.transfer(demo_account(holder), untrusted.address, token_id, amount)
    except ContractRevertError as exc:
        report.refused = exc.error
        report.lines.append(
            f"trusted: {holder} -> untrusted {untrusted.address}, {amount:,} t refused: {exc.error}"
        )
    else:
        raise RuntimeError(f"a {amount} t transfer to an untrusted account went through")
