"""DischargePermits on a real Anvil: every function with its allowed caller and every refused one
(suspended enterprise and regulator included), the application and permit state machines, wrong
states and bad input refused by name with nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain.compile import Artifact
from chain.node import AnvilNode
from chain.permits import ApplicationState, Outlet, PermitState, Term
from chain.registry import ROLES
from chain.tx import ChainClient
from domain.errors import InvalidInputError
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.permits import (
    CO2,
    DOC,
    ENTERPRISES,
    NOX,
    SO2,
    applied,
    deploy_permits_suite,
    issued,
    outlets,
    permits_of,
    terms,
)

E0, E1, E2, _ = ENTERPRISES
YEAR_S = 365 * 86_400


@pytest.fixture(scope="module")
def suite_module(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    chain = ChainClient.connect(anvil.url, artifacts)
    return deploy_permits_suite(anvil, chain, Path(tmp_path_factory.mktemp("permits")))


@pytest.fixture
def c(suite_module: Consortium) -> Iterator[Consortium]:
    snapshot = suite_module.snapshot()
    try:
        yield suite_module
    finally:
        suite_module.revert(snapshot)


def _roles(c: Consortium) -> dict[str, LocalAccount]:
    return {"regulator": c.regulator, "exchange": c.exchange, "auditor": c.auditor, "oracle": c.oracle,
            "enterprise": E1, "outsider": c.outsider}  # fmt: skip


def _suspend(c: Consortium, account: LocalAccount) -> None:
    c.registry.govern(c.members, c.registry.encode_suspend(account.address, 5), "suspend")


# ---------------------------------------------------------------------- wiring


def test_suite_wires_the_token_and_registry_gates(c: Consortium) -> None:
    p = permits_of(c)
    assert c.allowance.contract.functions.permits().call() == p.address
    assert c.registry.contract.functions.permits().call() == p.address
    assert [p.gates(code) for code in (CO2, SO2, NOX, 4, 5, 6)] == [False, True, True, True, True, True]


def test_wiring_is_governance_only(c: Consortium) -> None:
    p = permits_of(c)
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(c.allowance.contract.functions.setPermits(p.address), c.regulator)
    with reverts("GovernanceOnlySelf", caller=c.regulator.address):
        c.chain.transact(c.registry.contract.functions.setPermits(p.address), c.regulator)


# ---------------------------------------------------------------------- apply


def test_enterprise_applies_for_itself(c: Consortium) -> None:
    p = permits_of(c)
    app_id = applied(c, E0)
    a = p.application(app_id)
    assert (a.enterprise, a.state, a.document_hash) == (E0.address, ApplicationState.SUBMITTED, DOC)
    assert a.outlets == tuple(outlets(E0)) and a.terms == tuple(terms())
    assert p.application_count() == 1


@pytest.mark.parametrize("who", ["regulator", "exchange", "auditor", "oracle", "outsider"])
def test_apply_refused_for_other_roles(c: Consortium, who: str) -> None:
    caller = _roles(c)[who]
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["ENTERPRISE"]):
        permits_of(c).apply(caller, outlets(E0), terms(), DOC)


def test_apply_refused_for_a_suspended_enterprise(c: Consortium) -> None:
    _suspend(c, E0)
    with reverts("CallerNotActive", account=E0.address):
        applied(c, E0)
    assert permits_of(c).application_count() == 0


@pytest.mark.parametrize(
    ("outs", "ts", "error", "args"),
    [
        ([], [Term(SO2, 1, 0)], "PermitNoOutlets", {}),
        ([Outlet("DA001", "MN01")], [], "PermitNoTerms", {}),
        ([Outlet("", "MN01")], [Term(SO2, 1, 0)], "PermitInvalidOutletCode", {"code": ""}),
        ([Outlet("DA001", "MN-1")], [Term(SO2, 1, 0)], "PermitInvalidMn", {"mn": "MN-1"}),
        ([Outlet("A", "MN01"), Outlet("B", "MN01")], [Term(SO2, 1, 0)], "PermitOutletTaken", {"permitId": 0}),
        ([Outlet("A", "MN01")], [Term(CO2, 5, 0)], "PermitInvalidTerm", {"index": 0, "pollutant": CO2}),
        ([Outlet("A", "MN01")], [Term(SO2, 5, 0), Term(SO2, 6, 0)], "PermitInvalidTerm", {"index": 1}),
        ([Outlet("A", "MN01")], [Term(0, 5, 0)], "PermitInvalidTerm", {"index": 0, "pollutant": 0}),
    ],
)
def test_apply_refuses_bad_input_on_chain(
    c: Consortium, outs: list[Outlet], ts: list[Term], error: str, args: dict[str, object]
) -> None:
    p = permits_of(c)
    fn = p.contract.functions.applyForPermit(
        [(o.code, o.mn) for o in outs],
        [(t.pollutant, t.annual_amount, t.concentration_limit) for t in ts],
        DOC,
    )
    with reverts(error, **args):
        c.chain.transact(fn, E0)
    assert p.application_count() == 0


def test_client_refuses_bad_input_before_sending(c: Consortium) -> None:
    p = permits_of(c)
    with pytest.raises(InvalidInputError):
        p.apply(E0, [Outlet("DA001", "bad mn")], terms(), DOC)
    with pytest.raises(InvalidInputError):
        p.apply(E0, outlets(E0), [Term(SO2, 0, 0)], DOC)
    with pytest.raises(InvalidInputError):
        p.apply(E0, outlets(E0), terms(), b"short")
    assert isinstance(InvalidInputError("x"), ValueError)


# ---------------------------------------------------------------------- review, return, resubmit, refuse


def test_return_resubmit_issue(c: Consortium) -> None:
    p = permits_of(c)
    app = applied(c, E0)
    receipt = p.review_return(c.regulator, app, "monitoring plan missing")
    assert p.contract.events.ApplicationReturned().process_receipt(receipt, errors=DISCARD)[0]["args"][
        "reason"
    ] == ("monitoring plan missing")
    a = p.application(app)
    assert (a.state, a.reason) == (ApplicationState.RETURNED, "monitoring plan missing")
    with reverts("PermitApplicationWrongState", applicationId=app, state=int(ApplicationState.RETURNED)):
        p.issue(c.regulator, app, "N-1", [1_000, 500])
    with reverts("PermitNotApplicant", applicationId=app, caller=E1.address):
        p.resubmit(E1, app, outlets(E1), terms(), DOC)
    p.resubmit(E0, app, outlets(E0, 2), terms(so2=800), b"\x22" * 32)
    a = p.application(app)
    assert (a.state, len(a.outlets), a.terms[0].annual_amount, a.reason) == (
        ApplicationState.SUBMITTED,
        2,
        800,
        "",
    )
    with reverts("PermitApplicationWrongState", applicationId=app, state=int(ApplicationState.SUBMITTED)):
        p.resubmit(E0, app, outlets(E0), terms(), DOC)
    permit_id = p.issue(c.regulator, app, "N-1", [800, 500])
    assert p.application(app).state == ApplicationState.ISSUED and p.application(app).permit_id == permit_id


def test_refuse_from_submitted_or_returned_then_final(c: Consortium) -> None:
    p = permits_of(c)
    app = applied(c, E0)
    p.refuse(c.regulator, app, "outside the zone plan")
    assert p.application(app).state == ApplicationState.REFUSED
    for action in (
        lambda: p.refuse(c.regulator, app, "again"),
        lambda: p.review_return(c.regulator, app, "again"),
        lambda: p.issue(c.regulator, app, "N-2", [1, 1]),
    ):
        with reverts("PermitApplicationWrongState", applicationId=app, state=int(ApplicationState.REFUSED)):
            action()
    app2 = applied(c, E1)
    p.review_return(c.regulator, app2, "more")
    p.refuse(c.regulator, app2, "no")
    assert p.application(app2).state == ApplicationState.REFUSED
    with reverts("PermitApplicationUnknown", applicationId=99):
        p.refuse(c.regulator, 99, "none")


# ---------------------------------------------------------------------- issue


def test_issue_defaults_to_five_years_and_records_grants(c: Consortium) -> None:
    p = permits_of(c)
    app = applied(c, E0)
    now = c.chain.timestamp()
    permit_id = p.issue(c.regulator, app, "91331000MA001P", [900, 500])
    got = p.permit(permit_id)
    assert (got.enterprise, got.state, got.number, got.revision) == (
        E0.address,
        PermitState.VALID,
        "91331000MA001P",
        0,
    )
    assert got.valid_until - got.valid_from == 5 * YEAR_S and abs(got.valid_from - now) < 60
    assert [(t.pollutant, t.annual_amount) for t in got.terms] == [(SO2, 900), (NOX, 500)]
    assert p.permit_of(E0.address) == permit_id
    assert p.permitted_amount(E0.address, SO2, 2027) == 900 and p.permitted_amount(E0.address, CO2, 2027) == 0
    assert p.is_valid(E0.address, NOX, c.chain.timestamp()) and not p.is_valid(
        E0.address, CO2, c.chain.timestamp()
    )
    assert p.outlet_enterprise(outlets(E0)[0].mn) == E0.address


def test_issue_refusals(c: Consortium) -> None:
    p = permits_of(c)
    app = applied(c, E0)
    now = c.chain.timestamp()
    with reverts("PermitGrantAboveRequest", pollutant=SO2, requested=1_000, granted=1_001):
        p.issue(c.regulator, app, "N-1", [1_001, 500])
    with reverts("PermitGrantAboveRequest", pollutant=NOX, requested=500, granted=0):
        c.chain.transact(p.contract.functions.issue(app, "N-1", 0, 0, [10, 0]), c.regulator)
    with reverts("PermitGrantLengthMismatch", expected=2, got=1):
        p.issue(c.regulator, app, "N-1", [10])
    with reverts("PermitInvalidNumber", number=""):
        p.issue(c.regulator, app, "", [10, 10])
    with reverts("PermitInvalidValidity"):
        p.issue(c.regulator, app, "N-1", [10, 10], valid_from=now + 10, valid_until=now + 5)
    with reverts("PermitInvalidValidity"):
        p.issue(c.regulator, app, "N-1", [10, 10], valid_from=now + 2 * YEAR_S)
    assert p.permit_count() == 0 and p.application(app).state == ApplicationState.SUBMITTED
    p.issue(c.regulator, app, "N-1", [10, 10])
    # one enterprise, one permit; numbers are unique
    again = applied(c, E0)
    with reverts("PermitAlreadyHeld", enterprise=E0.address, permitId=1):
        p.issue(c.regulator, again, "N-2", [10, 10])
    other = applied(c, E1)
    with reverts("PermitInvalidNumber", number="N-1"):
        p.issue(c.regulator, other, "N-1", [10, 10])


def test_outlet_on_another_enterprises_valid_permit_is_taken(c: Consortium) -> None:
    p = permits_of(c)
    permit_id = issued(c, E0)
    mn = outlets(E0)[0].mn
    with reverts("PermitOutletTaken", mn=mn, permitId=permit_id):
        p.apply(E1, [Outlet("DA001", mn)], terms(), DOC)
    p.revoke(c.regulator, permit_id, "closed")
    p.apply(E1, [Outlet("DA001", mn)], terms(), DOC)  # free again once revoked


# ---------------------------------------------------------------------- regulator-only actions

REGULATOR_ACTIONS: dict[str, Callable[[Consortium, LocalAccount, int, int], object]] = {
    "reviewReturn": lambda c, a, app, pid: permits_of(c).review_return(a, app, "r"),
    "refuse": lambda c, a, app, pid: permits_of(c).refuse(a, app, "r"),
    "issue": lambda c, a, app, pid: permits_of(c).issue(a, app, "N-9", [1, 1]),
    "change": lambda c, a, app, pid: permits_of(c).change(a, pid, outlets(E0, 2), terms(so2=10)),
    "renew": lambda c, a, app, pid: permits_of(c).renew(a, pid, c.chain.timestamp() + 10 * YEAR_S),
    "revoke": lambda c, a, app, pid: permits_of(c).revoke(a, pid, "r"),
    "cancel": lambda c, a, app, pid: permits_of(c).cancel(a, pid, "r"),
    "annualReview": lambda c, a, app, pid: permits_of(c).annual_review(a, pid, 2027, True, "ok"),
}


def _ready(c: Consortium) -> tuple[int, int]:
    """A permit of E0 and a submitted application of E1."""
    return applied(c, E1), issued(c, E0)


@pytest.mark.parametrize("action", REGULATOR_ACTIONS)
def test_regulator_action_allowed_for_regulator(c: Consortium, action: str) -> None:
    app, pid = _ready(c)
    REGULATOR_ACTIONS[action](c, c.regulator, app, pid)


@pytest.mark.parametrize("action", REGULATOR_ACTIONS)
@pytest.mark.parametrize("who", ["exchange", "auditor", "oracle", "enterprise", "outsider"])
def test_regulator_action_refused_for_other_roles(c: Consortium, action: str, who: str) -> None:
    app, pid = _ready(c)
    caller = _roles(c)[who]
    if action == "cancel":
        with reverts("PermitNotRegulatorOrGovernance", caller=caller.address):
            REGULATOR_ACTIONS[action](c, caller, app, pid)
    else:
        with reverts("UnauthorizedRole", account=caller.address, role=ROLES["REGULATOR"]):
            REGULATOR_ACTIONS[action](c, caller, app, pid)
    assert permits_of(c).permit(pid).state == PermitState.VALID and permits_of(c).permit(pid).revision == 0


@pytest.mark.parametrize("action", REGULATOR_ACTIONS)
def test_regulator_action_refused_for_a_suspended_regulator(c: Consortium, action: str) -> None:
    app, pid = _ready(c)
    _suspend(c, c.regulator)
    error = "PermitNotRegulatorOrGovernance" if action == "cancel" else "CallerNotActive"
    with reverts(error):
        REGULATOR_ACTIONS[action](c, c.regulator, app, pid)


def test_cancel_by_governance(c: Consortium) -> None:
    p = permits_of(c)
    pid = issued(c, E0)
    c.registry.govern_call(c.members, p.contract.functions.cancel(pid, "closure"), "close E0")
    assert p.permit(pid).state == PermitState.CANCELLED and p.permit(pid).reason == "closure"


# ---------------------------------------------------------------------- change, renew, revoke, review


def test_change_makes_a_new_revision(c: Consortium) -> None:
    p = permits_of(c)
    pid = issued(c, E0)
    old_mn = outlets(E0)[0].mn
    receipt = p.change(c.regulator, pid, [Outlet("DA009", "MNNEW01")], [Term(SO2, 700, 30_000)])
    assert (
        p.contract.events.PermitChanged().process_receipt(receipt, errors=DISCARD)[0]["args"]["revision"] == 1
    )
    got = p.permit(pid)
    assert (got.revision, got.outlets, got.terms) == (
        1,
        (Outlet("DA009", "MNNEW01"),),
        (Term(SO2, 700, 30_000),),
    )
    assert p.permitted_amount(E0.address, NOX, 2027) == 0 and p.permitted_amount(E0.address, SO2, 2027) == 700
    assert p.outlet_enterprise(old_mn) is None and p.outlet_enterprise("MNNEW01") == E0.address


def test_expiry_renew_and_final_states(c: Consortium) -> None:
    p = permits_of(c)
    pid = issued(c, E0)
    until = p.permit(pid).valid_until
    c.chain.advance_time(until - c.chain.timestamp() + 1)
    assert p.permit(pid).state == PermitState.EXPIRED
    assert (
        not p.is_valid(E0.address, SO2, c.chain.timestamp())
        and p.permitted_amount(E0.address, SO2, 2031) == 0
    )
    for name in ("change", "annualReview"):
        with reverts("PermitWrongState", permitId=pid, state=int(PermitState.EXPIRED)):
            REGULATOR_ACTIONS[name](c, c.regulator, 0, pid)
    with reverts("PermitInvalidValidity"):
        p.renew(c.regulator, pid, until)
    p.renew(c.regulator, pid, c.chain.timestamp() + YEAR_S)
    assert p.permit(pid).state == PermitState.VALID
    p.revoke(c.regulator, pid, "violations")
    assert p.permit(pid).state == PermitState.REVOKED
    for name in ("change", "renew", "revoke", "cancel", "annualReview"):
        with reverts("PermitWrongState", permitId=pid, state=int(PermitState.REVOKED)):
            REGULATOR_ACTIONS[name](c, c.regulator, 0, pid)
    with reverts("PermitUnknown", permitId=42):
        p.revoke(c.regulator, 42, "none")
    # a new permit after the revoked one
    assert issued(c, E0, number="N-NEW") == pid + 1


def test_annual_review_once_a_year(c: Consortium) -> None:
    p = permits_of(c)
    pid = issued(c, E0)
    receipt = p.annual_review(c.regulator, pid, 2027, False, "exceedances in March")
    args = p.contract.events.AnnualReviewRecorded().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (args["year"], args["passed"], args["note"]) == (2027, False, "exceedances in March")
    assert p.annual_review_of(pid, 2027) == (True, False) and p.annual_review_of(pid, 2028) == (False, False)
    with reverts("PermitReviewYear", permitId=pid, year=2027):
        p.annual_review(c.regulator, pid, 2027, True, "again")
    with reverts("PermitReviewYear", permitId=pid, year=1999):
        p.annual_review(c.regulator, pid, 1999, True, "")
