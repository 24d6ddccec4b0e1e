"""``ets compliance simulate``: one enterprise's compliance year from a JSON case on a fresh local chain.

A case file is either one obligation (:class:`Case`) or a year of several pollutants
(:class:`YearCase`: ``{"year": 2027, "obligations": [{"pollutant": "SO2", ...}, ...]}``), each
obligation settled on its own on the same chain, exactly as it would be alone: allowances and
offsets of one pollutant never cover another."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chain.accounts import demo_account
from chain.attestations import Attestation
from chain.compile import compile_contracts
from chain.compliance import NoticeView, Surrender
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


class YearCase(BaseModel):
    """One enterprise's compliance year with several obligations, one per pollutant.

    Attributes:
        year: the compliance year (an obligation may repeat it, never differ from it).
        obligations: :class:`Case` fields per obligation, pollutants distinct; the year's rules
            (``offset_cap_bps``, ``penalty_per_ton``) are the year's, on chain as in the file: every
            obligation gives the same.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    year: int = Field(ge=2000, le=2199)
    obligations: list[Case] = Field(min_length=1, max_length=len(POLLUTANTS))

    @model_validator(mode="after")
    def _one_year_one_rulebook(self) -> YearCase:
        symbols = [o.pollutant for o in self.obligations]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"one obligation per pollutant, got {', '.join(symbols)}")
        for o in self.obligations:
            if "year" in o.model_fields_set and o.year != self.year:
                raise ValueError(
                    f"obligation {o.pollutant}: year {o.year} is not the file's year {self.year}"
                )
        rules = {(o.offset_cap_bps, o.penalty_per_ton) for o in self.obligations}
        if len(rules) != 1:
            raise ValueError(
                "offset_cap_bps and penalty_per_ton are the year's rules: every obligation gives the same"
            )
        return self

    @property
    def cases(self) -> tuple[Case, ...]:
        """The obligations as single cases of the file's year."""
        return tuple(o.model_copy(update={"year": self.year}) for o in self.obligations)


def load_case(path: Path) -> Case | YearCase:
    """Read and check a case file: one obligation, or a year of several (``"obligations"``).

    Raises:
        ComplianceInputError: unreadable, not JSON, or not a valid case (every problem listed).
    """
    try:
        several = "obligations" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        several = False  # load_model names the problem
    if several:
        return load_model(path, YearCase, ComplianceInputError, "case")
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
    return _run((case,), say)[case.pollutant]


def simulate_year(case: YearCase, *, say: Callable[[str], None] = logger.info) -> dict[str, dict[str, Any]]:
    """Run one enterprise's obligations of a year, one per pollutant, on one fresh Anvil: each
    steps through the cycle of :func:`simulate`, the obligations' steps interleaved, and must end
    as :func:`reference` says for it alone.

    Returns:
        Per pollutant symbol (the file's order), :func:`simulate`'s result of that obligation.

    Raises:
        ChainError: an obligation's outcome differs from its :func:`reference`, or holdings or
            fine payments do not add up.
    """
    return _run(case.cases, say)


def simulate_file(case: Case | YearCase, *, say: Callable[[str], None] = logger.info) -> dict[str, Any]:
    """:func:`simulate` of a single case, :func:`simulate_year` of a year of several."""
    if isinstance(case, YearCase):
        return simulate_year(case, say=say)
    return simulate(case, say=say)


def _run(cases: Sequence[Case], say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """One enterprise's obligations ``cases`` (one year, one rulebook, distinct pollutants) on a
    fresh chain; their results by pollutant symbol."""
    year, first = cases[0].year, cases[0]
    plans = {c.pollutant: plan_surrender(c) for c in cases}
    codes = {c.pollutant: pollutant_code(c.pollutant) for c in cases}
    ids = {c.pollutant: (encode_id(Kind.ALLOWANCE, codes[c.pollutant], year),
                         encode_id(Kind.OFFSET, codes[c.pollutant], year)) for c in cases}  # fmt: skip
    expected = {c.pollutant: reference(c) for c in cases}
    views: dict[str, NoticeView] = {}
    remaining: dict[str, tuple[int, int]] = {}

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
        for case in cases:
            allowance_id, offset_id = ids[case.pollutant]
            for token_id, held, ref in ((allowance_id, case.allowances_held, "allowances"),
                                        (offset_id, case.offsets_held, "offsets")):  # fmt: skip
                if held:
                    allowance.set_cap(regulator, token_id, held)
                    tag = ref if len(cases) == 1 else f"{ref} {case.pollutant}"
                    allowance.allocate(regulator, token_id, [enterprise.address], [held],
                                       bytes(keccak(f"compliance-sim {tag}".encode())))  # fmt: skip
            say(f"enterprise {enterprise.address}: {case.allowances_held} allowances, "
                f"{case.offsets_held} offsets{_of(case, cases)}")  # fmt: skip
        fines = sum(e["penalty_total"] or 0 for e in expected.values())
        if fines:
            cash.deposit(exchange, enterprise.address, fines, "compliance-sim fine")

        rules = YearConfig(offset_cap_bps=first.offset_cap_bps, fine_per_tonne=first.penalty_per_ton,
                           make_good_bps=BPS, no_report_fine=0)  # fmt: skip
        compliance.configure_year(regulator, year, rules)
        now = chain.timestamp()
        deadline = now + 30 * DAY
        for case in cases:
            compliance.issue_notices(
                regulator, year, codes[case.pollutant], [(enterprise.address, case.allowances_held)],
                rules_hash=bytes(keccak(f"compliance-sim rules {year}".encode())), rules_uri="sim://rules",
                submission_deadline=deadline, ack_deadline=now + 7 * DAY,
            )  # fmt: skip
            compliance.acknowledge(enterprise, codes[case.pollutant], year)
            say(f"notice {year}{_of(case, cases)} issued and acknowledged")

        for case in cases:
            if case.verified_emissions is None:
                continue
            pollutant = codes[case.pollutant]
            offsets, allowances = plans[case.pollutant]
            allowance_id, offset_id = ids[case.pollutant]
            attestation = Attestation(
                auditor=auditor.address, enterprise=enterprise.address, pollutant=pollutant,
                year=year, verified_emissions=case.verified_emissions,
                offsets_eligible=case.offsets_held, evidence=(bytes(keccak(b"compliance-sim evidence")),),
                report_hash=bytes(keccak(b"compliance-sim report")), nonce=ledger.nonce(auditor.address),
            )  # fmt: skip
            attestation_id = ledger.attest(auditor, attestation).id
            say(f"auditor attested {case.verified_emissions} t{_of(case, cases)}")
            if offsets + allowances:
                surrender = Surrender(
                    attestation_id,
                    ((allowance_id, allowances),) if allowances else (),
                    ((offset_id, offsets),) if offsets else (),
                )
                application_id = compliance.apply(enterprise, pollutant, year, surrender)
                compliance.approve(regulator, application_id)
                say(f"application {application_id} approved: {offsets} offsets, {allowances} allowances"
                    f"{_of(case, cases)}")  # fmt: skip

        chain.advance_time(deadline - chain.timestamp() + 1)
        for case in cases:
            pollutant = codes[case.pollutant]
            if compliance.notice(enterprise.address, pollutant, year).outcome is Outcome.NONE:
                compliance.finalize(regulator, enterprise.address, pollutant, year)
            view = compliance.notice(enterprise.address, pollutant, year)
            say(f"obligation finalized: outcome {view.outcome.code}{_of(case, cases)}")
            if view.fine:
                compliance.pay_penalty(enterprise, pollutant, year)
                if not compliance.notice(enterprise.address, pollutant, year).fine_paid:
                    raise ChainError(f"the fine of {view.fine} was not recorded as paid")
            views[case.pollutant] = view
        for case in cases:
            allowance_id, offset_id = ids[case.pollutant]
            remaining[case.pollutant] = (
                allowance.balance(enterprise.address, allowance_id),
                allowance.balance(enterprise.address, offset_id),
            )

    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        view = views[case.pollutant]
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
        if result != expected[case.pollutant]:
            raise ChainError(f"contract and reference disagree{_of(case, cases)}: chain {result}, "
                             f"reference {expected[case.pollutant]}")  # fmt: skip
        offsets, allowances = plans[case.pollutant]
        banked = (case.allowances_held - allowances, case.offsets_held - offsets)
        if remaining[case.pollutant] != banked:
            raise ChainError(
                f"the enterprise holds {remaining[case.pollutant]} (allowances, offsets){_of(case, cases)} "
                f"after surrender, expected {banked}"
            )
        results[case.pollutant] = result
    return results


def _of(case: Case, cases: Sequence[Case]) -> str:
    """`` (SO2)`` when the run has several obligations (the single case's lines stay as they were)."""
    return "" if len(cases) == 1 else f" ({case.pollutant})"


__all__ = [
    "Case",
    "YearCase",
    "load_case",
    "plan_surrender",
    "reference",
    "simulate",
    "simulate_file",
    "simulate_year",
]
