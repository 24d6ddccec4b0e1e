"""Factories for compliance tests: a configured year with notices issued, funded enterprises,
attestations, and the conservation check of escrowed / retired / held tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.accounts import dev_account
from chain.compliance import Surrender
from chain.onboarding import register_enterprises
from domain.compliance import YearConfig
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.attestations import attestation
from tests.utils.chain import profile

YEAR = 2024
CO2 = 1
CO2_2023 = encode_id(Kind.ALLOWANCE, "CO2", 2023)
CO2_2024 = encode_id(Kind.ALLOWANCE, "CO2", 2024)
CO2_2025 = encode_id(Kind.ALLOWANCE, "CO2", 2025)
OFF_2024 = encode_id(Kind.OFFSET, "CO2", 2024)
SO2_2024 = encode_id(Kind.ALLOWANCE, "SO2", 2024)
IDS = (CO2_2023, CO2_2024, CO2_2025, OFF_2024, SO2_2024)

#: What each enterprise is allocated at set-up, per id.
HOLDINGS = {CO2_2023: 200, CO2_2024: 1000, CO2_2025: 100, OFF_2024: 100, SO2_2024: 50}
CASH = 10**9  # fen per enterprise

#: Enterprises: E0..E2 get a notice, E3 is registered without one.
ENTERPRISES = [dev_account(10 + i) for i in range(4)]
RULES = bytes(keccak(text="ETS compliance rules 2024"))
RULES_URI = "ipfs://rules-2024"
CONFIG = YearConfig(offset_cap_bps=1_000, fine_per_tonne=5_000, make_good_bps=12_000, no_report_fine=777_000)
DAY = 24 * 3600


@dataclass
class Cycle:
    """A compliance year in progress: notices to E0..E2, deadlines, the consortium."""

    c: Consortium
    submission_deadline: int
    ack_deadline: int

    def attest(self, enterprise: str, verified: int, eligible: int = 0, *, year: int = YEAR,
               pollutant: int = CO2, auditor: LocalAccount | None = None,
               supersedes: bytes | None = None) -> bytes:  # fmt: skip
        """An Active attestation of ``enterprise`` by ``auditor`` (default: the consortium's, which
        supersedes the latest one); returns its id."""
        ledger = self.c.ledger
        if auditor is None:
            auditor = self.c.auditor
            if supersedes is None:
                supersedes = ledger.latest_attestation(enterprise, pollutant, year)
        a = attestation(auditor.address, enterprise, nonce=ledger.nonce(auditor.address), year=year,
                        pollutant=pollutant, verified_emissions=verified, offsets_eligible=eligible,
                        supersedes=supersedes or bytes(32))  # fmt: skip
        return ledger.attest(auditor, a).id

    def to_deadline_passed(self) -> None:
        self.c.chain.advance_time(self.submission_deadline - self.c.chain.timestamp() + 1)


def setup_cycle(c: Consortium) -> Cycle:
    """Register E0..E3 (the consortium's auditor assigned to each), allocate them every id of
    :data:`HOLDINGS`, fund them with cash, configure :data:`YEAR` and issue notices to E0..E2."""
    rows = [(e.address, profile(900 + i)) for i, e in enumerate(ENTERPRISES)]
    register_enterprises(c.registry, c.members, rows, batch_size=8)
    for e in ENTERPRISES:
        c.registry.assign_auditor(c.regulator, c.auditor.address, e.address)
    for n, token_id in enumerate(IDS):
        c.allowance.set_cap(c.regulator, token_id, 10**9)
        c.allowance.allocate(c.regulator, token_id, [e.address for e in ENTERPRISES],
                             [HOLDINGS[token_id]] * len(ENTERPRISES), bytes([0xC0, n]) * 16)  # fmt: skip
    for i, e in enumerate(ENTERPRISES):
        c.cash.deposit(c.exchange, e.address, CASH, f"compliance-test-{i}")
    c.compliance.configure_year(c.regulator, YEAR, CONFIG)
    now = c.chain.timestamp()
    cycle = Cycle(c, submission_deadline=now + 30 * DAY, ack_deadline=now + 7 * DAY)
    issue(cycle, ENTERPRISES[:3])
    return cycle


def issue(cycle: Cycle, enterprises: Sequence[LocalAccount], regulator: LocalAccount | None = None,
          year: int = YEAR) -> None:  # fmt: skip
    c = cycle.c
    c.compliance.issue_notices(
        regulator or c.regulator, year, CO2, [(e.address, 1000) for e in enterprises], rules_hash=RULES,
        rules_uri=RULES_URI, submission_deadline=cycle.submission_deadline, ack_deadline=cycle.ack_deadline,
    )  # fmt: skip


def surrender(attestation_id: bytes, allowances: dict[int, int] | None = None,
              offsets: dict[int, int] | None = None) -> Surrender:  # fmt: skip
    return Surrender(attestation_id, tuple((allowances or {}).items()), tuple((offsets or {}).items()))


def holdings(c: Consortium, accounts: Sequence[str]) -> dict[int, tuple[int, int, int]]:
    """Per id: (held by ``accounts``, held by the manager, retired)."""
    return {
        token_id: (
            sum(c.allowance.balance(a, token_id) for a in accounts),
            c.allowance.balance(c.compliance.address, token_id),
            c.allowance.retired(token_id),
        )
        for token_id in IDS
    }
