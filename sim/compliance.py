"""``ets compliance simulate``: one enterprise's compliance year from a JSON case on a fresh local chain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chain.accounts import demo_account
from chain.attestations import Attestation
from chain.compile import compile_contracts
from chain.compliance import Surrender
from chain.errors import ChainError
from chain.jsonfile import load_model
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.suite import deploy_local_suite
from chain.tx import ChainClient
from domain.compliance import Outcome, YearConfig, outcome_of, penalty, shortfall_of, surrender_plan
from domain.errors import ComplianceInputError, InvalidInputError
from domain.tokens import POLLUTANTS, Kind, encode_id, pollutant_code
from domain.units import BPS
from oracle.signing.hashing import keccak
from sim.sample import generate_enterprises, sample_profile

logger = logging.getLogger(__name__)

#: Largest holding or emissions figure a case may give (tonnes; far beyond any real enterprise).
MAX_TONNES = 2**64 - 1
#: Largest fine per tonne (the contract's ``uint128 finePerTonne``).
MAX_FINE_PER_TONNE = 2**128 - 1
DAY = 24 * 3600
#: Keys of a simulation's result, in the order they are printed.
RESULT_KEYS = (
    "surrendered_allowances",
    "surrendered_offsets",
    "shortfall",
    "penalty_total",
    "make_good_units",
    "status",
)

Tonnes = Annotated[int, Field(ge=0, le=MAX_TONNES)]


class Case(BaseModel):
    """One enterprise's compliance year to simulate.

    Attributes:
        verified_emissions: verified emissions V (tonnes), or None when no verified figure was
            entered by the deadline (outcome C).
        allowances_held: allowances of the year's vintage the enterprise holds.
        offsets_held: offset credits the enterprise holds (all eligible: only the cap binds).
        offset_cap_bps: offsets may cover at most this share of V, in basis points.
        penalty_per_ton: fine per tonne of shortfall, settlement cash minor units (fen).
        year: the compliance year (also the vintage of the allowances and offsets held).
        pollutant: pollutant symbol (``CO2``, ``SO2`` ...).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    verified_emissions: Tonnes | None
    allowances_held: Tonnes
    offsets_held: Tonnes
    offset_cap_bps: int = Field(ge=0, le=BPS)
    penalty_per_ton: int = Field(ge=0, le=MAX_FINE_PER_TONNE)
    year: int = Field(default=2027, ge=2000, le=2199)
    pollutant: str = "CO2"

    @field_validator("pollutant")
    @classmethod
    def _known_pollutant(cls, value: str) -> str:
        try:
            pollutant_code(value)
        except InvalidInputError:
            raise ValueError(f"unknown pollutant {value!r}; known: {', '.join(POLLUTANTS)}") from None
        return value


def load_case(path: Path) -> Case:
    """Read and check a case file.

    Raises:
        ComplianceInputError: unreadable, not JSON, or not a valid case (every problem listed).
    """
    return load_model(path, Case, ComplianceInputError, "case")


def plan_surrender(case: Case) -> tuple[int, int]:
    """What the enterprise surrenders under the settlement rule: ``(offsets, allowances)``.

    Offsets first, up to ``floor(V × offset_cap_bps / 10,000)``; allowances cover the rest;
    nothing beyond V (any surplus stays banked). Nothing without verified emissions.
    """
    return surrender_plan(
        case.verified_emissions, case.allowances_held, case.offsets_held, case.offset_cap_bps
    )


def reference(case: Case) -> dict[str, Any]:
    """The result the settlement rule gives for ``case`` (what :func:`simulate` must print).

    Shortfall = V − surrendered; penalty = shortfall × penalty per tonne; make-good = shortfall
    (one unit per tonne); status A (covered), B (shortfall), or C (no verified emissions: the
    shortfall, penalty and make-good are unknown, None).
    """
    offsets, allowances = plan_surrender(case)
    verified = case.verified_emissions
    shortfall = shortfall_of(verified, offsets + allowances)
    outcome = outcome_of(verified, shortfall)
    if outcome is Outcome.NO_VERIFIED_EMISSIONS:
        return dict(zip(RESULT_KEYS, (0, 0, None, None, None, outcome.code), strict=True))
    rules = YearConfig(
        offset_cap_bps=case.offset_cap_bps, fine_per_tonne=case.penalty_per_ton, make_good_bps=BPS
    )
    fine, make_good = penalty(rules, outcome, shortfall)
    values = (allowances, offsets, shortfall, fine, make_good, outcome.code)
    return dict(zip(RESULT_KEYS, values, strict=True))


def simulate(case: Case, *, say: Callable[[str], None] = logger.info) -> dict[str, Any]:
    """Run the case's compliance year end to end on a fresh Anvil and report what the contract did.

    Deploys the suite and wires the compliance manager, registers one enterprise, allocates its
    allowances and offsets, funds the fine, configures the year (make-good one for one, no flat
    fine for C), issues and acknowledges the notice, has the auditor attest V (unless None),
    applies with :func:`plan_surrender`'s tokens (if any) and approves, moves past the deadline,
    finalizes, pays the fine, and reads the outcome back from the notice.

    Returns:
        ``surrendered_allowances``, ``surrendered_offsets``, ``shortfall``, ``penalty_total``,
        ``make_good_units`` and ``status`` (``"A"``, ``"B"`` or ``"C"``).

    Raises:
        ChainError: the contract's outcome differs from :func:`reference`, or the enterprise's
            remaining holdings or the fine payment do not add up.
    """
    offsets, allowances = plan_surrender(case)
    pollutant = pollutant_code(case.pollutant)
    allowance_id = encode_id(Kind.ALLOWANCE, pollutant, case.year)
    offset_id = encode_id(Kind.OFFSET, pollutant, case.year)
    expected = reference(case)

    with AnvilNode(accounts=10) as node, TemporaryDirectory() as tmp:
        suite = deploy_local_suite(
            ChainClient.connect(node.url, compile_contracts()), Path(tmp) / "deployment.json"
        )
        chain, registry, members = suite.chain, suite.registry, suite.members
        regulator, exchange, auditor = suite.regulator, suite.exchange, suite.auditor
        allowance, cash, ledger, compliance = suite.allowance, suite.cash, suite.ledger, suite.compliance
        say(f"suite deployed on a fresh chain at {node.url}")

        enterprise = demo_account("enterprise-1")
        [sample] = generate_enterprises(1, years=3, seed=7).enterprises
        register_enterprises(registry, members, [(enterprise.address, sample_profile(sample))])
        registry.assign_auditor(regulator, auditor.address, enterprise.address)  # it may then attest
        for token_id, held, ref in ((allowance_id, case.allowances_held, "allowances"),
                                    (offset_id, case.offsets_held, "offsets")):  # fmt: skip
            if held:
                allowance.set_cap(regulator, token_id, held)
                allowance.allocate(regulator, token_id, [enterprise.address], [held],
                                   bytes(keccak(f"compliance-sim {ref}".encode())))  # fmt: skip
        if expected["penalty_total"]:
            cash.deposit(exchange, enterprise.address, expected["penalty_total"], "compliance-sim fine")
        say(
            f"enterprise {enterprise.address}: {case.allowances_held} allowances, {case.offsets_held} offsets"
        )

        rules = YearConfig(offset_cap_bps=case.offset_cap_bps, fine_per_tonne=case.penalty_per_ton,
                           make_good_bps=BPS, no_report_fine=0)  # fmt: skip
        compliance.configure_year(regulator, case.year, rules)
        now = chain.timestamp()
        deadline = now + 30 * DAY
        compliance.issue_notices(
            regulator, case.year, pollutant, [(enterprise.address, case.allowances_held)],
            rules_hash=bytes(keccak(f"compliance-sim rules {case.year}".encode())), rules_uri="sim://rules",
            submission_deadline=deadline, ack_deadline=now + 7 * DAY,
        )  # fmt: skip
        compliance.acknowledge(enterprise, case.year)
        say(f"notice {case.year} issued and acknowledged")

        if case.verified_emissions is not None:
            attestation = Attestation(
                auditor=auditor.address, enterprise=enterprise.address, pollutant=pollutant,
                year=case.year, verified_emissions=case.verified_emissions,
                offsets_eligible=case.offsets_held, evidence=(bytes(keccak(b"compliance-sim evidence")),),
                report_hash=bytes(keccak(b"compliance-sim report")), nonce=ledger.nonce(auditor.address),
            )  # fmt: skip
            attestation_id = ledger.attest(auditor, attestation).id
            say(f"auditor attested {case.verified_emissions} t")
            if offsets + allowances:
                surrender = Surrender(
                    attestation_id,
                    ((allowance_id, allowances),) if allowances else (),
                    ((offset_id, offsets),) if offsets else (),
                )
                application_id = compliance.apply(enterprise, case.year, surrender)
                compliance.approve(regulator, application_id)
                say(f"application {application_id} approved: {offsets} offsets, {allowances} allowances")

        chain.advance_time(deadline - chain.timestamp() + 1)
        if compliance.notice(enterprise.address, case.year).outcome is Outcome.NONE:
            compliance.finalize(regulator, enterprise.address, case.year)
        view = compliance.notice(enterprise.address, case.year)
        say(f"obligation finalized: outcome {view.outcome.code}")
        if view.fine:
            compliance.pay_penalty(enterprise, case.year)
            if not compliance.notice(enterprise.address, case.year).fine_paid:
                raise ChainError(f"the fine of {view.fine} was not recorded as paid")
        remaining = (
            allowance.balance(enterprise.address, allowance_id),
            allowance.balance(enterprise.address, offset_id),
        )

    unknown = view.outcome is Outcome.NO_VERIFIED_EMISSIONS
    values = (
        view.surrendered - view.offsets_surrendered,
        view.offsets_surrendered,
        None if unknown else view.shortfall,
        None if unknown else view.fine,
        None if unknown else view.make_good,
        view.outcome.code,
    )
    result = dict(zip(RESULT_KEYS, values, strict=True))
    if result != expected:
        raise ChainError(f"contract and reference disagree: chain {result}, reference {expected}")
    banked = (case.allowances_held - allowances, case.offsets_held - offsets)
    if remaining != banked:
        raise ChainError(
            f"the enterprise holds {remaining} (allowances, offsets) after surrender, expected {banked}"
        )
    return result


__all__ = ["Case", "load_case", "plan_surrender", "reference", "simulate"]
