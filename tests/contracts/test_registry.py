"""ConsortiumRegistry on a real Anvil: every state-changing function, allowed and refused."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.registry import ROLES, RegistryClient, Status
from domain.errors import InvalidInputError
from tests.conftest import Consortium
from tests.utils.chain import credit_code, profile, register, reverts, self_call

ZERO = "0x" + "00" * 20


def _accounts(c: Consortium) -> dict[str, LocalAccount]:
    return {
        "regulator": c.regulator,
        "exchange": c.exchange,
        "industry_body": c.industry_body,
        "auditor": c.auditor,
        "oracle": c.oracle,
        "enterprise": dev_account(20),
        "outsider": c.outsider,
    }


def _events(registry: RegistryClient, receipt: object, name: str) -> list[dict[str, object]]:
    event = getattr(registry.contract.events, name)()
    return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]


def _mine_after(c: Consortium, seconds: int) -> None:
    c.chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    c.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- governance


def test_propose_counts_proposer_approval_when_member(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    p = r.proposal(pid)
    assert (p.approvals, p.executed, p.proposer) == (1, False, fresh.regulator.address)
    assert p.call.startswith("grantRole(")


@pytest.mark.parametrize("who", ["auditor", "oracle", "enterprise", "outsider"])
def test_propose_refused_when_caller_not_member(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    register(r, fresh.members, dev_account(20).address, seed=20)
    caller = _accounts(fresh)[who]
    with reverts("GovernanceNotMember", account=caller.address):
        r.propose(caller, r.encode_reinstate(dev_account(22).address), "x", preflight=False)


def test_propose_refused_when_data_empty(fresh: Consortium) -> None:
    with reverts("ProposalEmpty"):
        fresh.registry.propose(fresh.regulator, b"", "nothing", preflight=False)


def test_approve_and_execute_grant_role_when_threshold_met(fresh: Consortium) -> None:
    r = fresh.registry
    target = dev_account(21).address
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", target), "aud")
    receipt = r.approve(fresh.exchange, pid)
    assert _events(r, receipt, "ProposalApproved")[0]["approvals"] == 2
    receipt = r.execute(fresh.industry_body, pid)
    assert _events(r, receipt, "ProposalExecuted")[0]["executor"] == fresh.industry_body.address
    assert _events(r, receipt, "RoleGranted")[0]["account"] == target
    assert r.has_role("AUDITOR", target)
    assert r.proposal(pid).executed


@pytest.mark.parametrize("who", ["auditor", "oracle", "outsider"])
def test_approve_refused_when_caller_not_member(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    caller = _accounts(fresh)[who]
    with reverts("GovernanceNotMember", account=caller.address):
        r.approve(caller, pid)


def test_approve_refused_when_same_member_approves_twice(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    with reverts("ProposalAlreadyApproved", proposalId=pid, member=fresh.regulator.address):
        r.approve(fresh.regulator, pid)
    r.approve(fresh.exchange, pid)
    with reverts("ProposalAlreadyApproved", proposalId=pid, member=fresh.exchange.address):
        r.approve(fresh.exchange, pid)


@pytest.mark.parametrize("pid", [0, 99])
def test_approve_refused_when_proposal_unknown(fresh: Consortium, pid: int) -> None:
    with reverts("ProposalUnknown", proposalId=pid):
        fresh.registry.approve(fresh.exchange, pid)


def test_approve_and_execute_refused_when_proposal_expired(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    deadline = r.proposal(pid).deadline
    _mine_after(fresh, 7 * 24 * 3600 + 1)
    with reverts("ProposalExpired", proposalId=pid, deadline=deadline) as info:
        r.approve(fresh.exchange, pid)
    assert info.value.args_["now"] > deadline
    with reverts("ProposalExpired", proposalId=pid):
        r.execute(fresh.regulator, pid)
    assert not r.has_role("AUDITOR", dev_account(21).address)


def test_execute_refused_when_below_threshold(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    with reverts("ProposalThresholdNotMet", proposalId=pid, approvals=1, threshold=2):
        r.execute(fresh.regulator, pid)
    assert not r.has_role("AUDITOR", dev_account(21).address)


@pytest.mark.parametrize("who", ["auditor", "outsider"])
def test_execute_refused_when_caller_not_member(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    r.approve(fresh.exchange, pid)
    caller = _accounts(fresh)[who]
    with reverts("GovernanceNotMember", account=caller.address):
        r.execute(caller, pid)


def test_execute_refused_when_already_executed(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    r.approve(fresh.exchange, pid)
    r.execute(fresh.regulator, pid)
    with reverts("ProposalAlreadyExecuted", proposalId=pid):
        r.execute(fresh.regulator, pid)
    with reverts("ProposalAlreadyExecuted", proposalId=pid):
        r.approve(fresh.industry_body, pid)


def test_execute_passes_inner_error_through_and_changes_nothing(fresh: Consortium) -> None:
    r = fresh.registry
    first = dev_account(20).address
    p = register(r, fresh.members, first, seed=20)
    data = r.encode_register_enterprise(dev_account(21).address, p)  # same credit code
    pid = r.propose(fresh.regulator, data, "duplicate", preflight=False)
    r.approve(fresh.exchange, pid)
    with reverts("RegistryDuplicateEnterprise", creditCode=p.credit_code, existing=first):
        r.execute(fresh.regulator, pid)
    assert not r.proposal(pid).executed
    assert r.enterprise_count() == 1


def test_approvals_of_removed_member_stop_counting(fresh: Consortium) -> None:
    r = fresh.registry
    grant = r.encode_grant_role("GOVERNOR", dev_account(23).address)
    r.govern(fresh.members, grant, "add member")  # 4 members, threshold 2
    pid = r.propose(dev_account(23), r.encode_grant_role("AUDITOR", dev_account(21).address), "x")
    assert r.proposal(pid).approvals == 1
    r.govern(fresh.members, r.encode_revoke_role("GOVERNOR", dev_account(23).address), "remove")
    assert r.proposal(pid).approvals == 0
    with reverts("GovernanceNotMember", account=dev_account(23).address):
        r.approve(dev_account(23), pid)


def test_set_threshold_changes_when_governed(fresh: Consortium) -> None:
    r = fresh.registry
    receipt = r.govern(fresh.members, r.encode_set_threshold(3), "3 of 3")
    assert _events(r, receipt, "ThresholdChanged")[0] == {"oldThreshold": 2, "newThreshold": 3}
    assert r.threshold() == 3


@pytest.mark.parametrize("value", [0, 4])
def test_set_threshold_refused_when_out_of_range(fresh: Consortium, value: int) -> None:
    r = fresh.registry
    with reverts("GovernanceInvalidThreshold", threshold=value, members=3):
        r.propose(fresh.regulator, r.encode_set_threshold(value), "bad")


def test_set_lifetime_changes_when_governed_and_refused_when_zero(fresh: Consortium) -> None:
    r = fresh.registry
    r.govern(fresh.members, r.encode_set_lifetime(3600), "1 hour")
    assert r.contract.functions.proposalLifetime().call() == 3600
    with reverts("GovernanceInvalidLifetime", lifetime=0):
        r.propose(fresh.regulator, r.encode_set_lifetime(0), "bad")


def test_revoke_member_refused_when_below_threshold(fresh: Consortium) -> None:
    r = fresh.registry
    r.govern(fresh.members, r.encode_set_threshold(3), "3 of 3")
    with reverts("GovernanceMembersBelowThreshold", members=2, threshold=3):
        r.propose(fresh.regulator, r.encode_revoke_role("GOVERNOR", fresh.exchange.address), "x")


def test_grant_role_refused_when_role_unknown(fresh: Consortium) -> None:
    r = fresh.registry
    data = r.contract.encode_abi("grantRole", args=[b"\x00" * 32, dev_account(21).address])
    with reverts("RegistryUnknownRole", role=b"\x00" * 32):
        r.propose(fresh.regulator, bytes.fromhex(data[2:]), "admin")


def test_grant_role_refused_when_zero_address(fresh: Consortium) -> None:
    r = fresh.registry
    data = r.contract.encode_abi("grantRole", args=[ROLES["AUDITOR"], ZERO])
    with reverts("RegistryZeroAddress"):
        r.propose(fresh.regulator, bytes.fromhex(data[2:]), "zero")
    with pytest.raises(InvalidInputError, match="zero address"):
        r.encode_grant_role("AUDITOR", ZERO)


# ------------------------------------------------------- governance-only functions, called directly

GOVERNED_CALLS = [
    "setThreshold",
    "setProposalLifetime",
    "grantRole",
    "revokeRole",
    "registerEnterprise",
    "updateEnterprise",
    "suspendParticipant",
    "reinstateParticipant",
]


def _governed_payload(r: RegistryClient, name: str, target: str) -> bytes:
    p = profile(30)
    return {
        "setThreshold": lambda: r.encode_set_threshold(1),
        "setProposalLifetime": lambda: r.encode_set_lifetime(60),
        "grantRole": lambda: r.encode_grant_role("REGULATOR", target),
        "revokeRole": lambda: r.encode_revoke_role("REGULATOR", target),
        "registerEnterprise": lambda: r.encode_register_enterprise(dev_account(30).address, p),
        "updateEnterprise": lambda: r.encode_update_enterprise(target, p),
        "suspendParticipant": lambda: r.encode_suspend(target, 7),
        "reinstateParticipant": lambda: r.encode_reinstate(target),
    }[name]()


@pytest.mark.parametrize("fn", GOVERNED_CALLS)
@pytest.mark.parametrize(
    "who", ["regulator", "exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"]
)
def test_governed_function_refused_when_called_directly(fresh: Consortium, fn: str, who: str) -> None:
    caller = _accounts(fresh)[who]
    data = _governed_payload(fresh.registry, fn, fresh.auditor.address)
    with reverts("GovernanceOnlySelf", caller=caller.address):
        self_call(fresh.registry, caller, data)
    # a multicall from a plain account keeps msg.sender = that account: still refused
    with reverts("GovernanceOnlySelf", caller=caller.address):
        self_call(fresh.registry, caller, fresh.registry.encode_multicall([data]))


@pytest.mark.parametrize("who", ["regulator", "auditor", "outsider"])
def test_renounce_role_refused_for_everyone(fresh: Consortium, who: str) -> None:
    caller = _accounts(fresh)[who]
    fn = fresh.registry.contract.functions.renounceRole(ROLES["AUDITOR"], caller.address)
    with reverts("RegistryRenounceDisabled"):
        fresh.chain.transact(fn, caller)


# ---------------------------------------------------------------------- participants


def test_register_enterprise_stores_profile_and_grants_role(fresh: Consortium) -> None:
    r = fresh.registry
    account = dev_account(20).address
    p = profile(20)
    receipt = r.govern(fresh.members, r.encode_register_enterprise(account, p), "register")
    event = _events(r, receipt, "EnterpriseRegistered")[0]
    assert (event["account"], event["creditCode"], event["regionCode"]) == (account, p.credit_code, 331000)
    e = r.enterprise(account)
    assert (e.profile, e.status) == (p, Status.ACTIVE)
    assert r.has_role("ENTERPRISE", account)
    assert r.enterprise_by_credit_code(p.credit_code) == account
    assert [x.account for x in r.enterprises()] == [account]


def test_register_enterprise_refused_when_credit_code_check_char_wrong(fresh: Consortium) -> None:
    r = fresh.registry
    good = credit_code(5)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(InvalidInputError, match="check character"):
        r.encode_register_enterprise(dev_account(20).address, profile(5, credit_code=bad))
    raw = r.contract.encode_abi(
        "registerEnterprise", args=[dev_account(20).address, profile(5, credit_code=bad).as_tuple()]
    )
    with reverts("RegistryInvalidCreditCode", creditCode=bad):
        r.propose(fresh.regulator, bytes.fromhex(raw[2:]), "bad code")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("region_code", 999999, "RegistryInvalidRegionCode"),
        ("industry_code", "X44", "RegistryInvalidIndustryCode"),
        ("industry_code", "D4", "RegistryInvalidIndustryCode"),
        ("latitude", 91_000_000, "RegistryInvalidLocation"),
        ("name", "", "RegistryInvalidName"),
        ("credit_code", "91350100M000100Y4", "RegistryInvalidCreditCode"),
        ("credit_code", "91350100M000100I43", "RegistryInvalidCreditCode"),
    ],
)
def test_register_enterprise_refused_when_profile_invalid(
    fresh: Consortium, field: str, value: object, error: str
) -> None:
    r = fresh.registry
    bad = profile(6, **{field: value})
    with pytest.raises(InvalidInputError):
        bad.validate()
    raw = r.contract.encode_abi("registerEnterprise", args=[dev_account(20).address, bad.as_tuple()])
    with reverts(error):
        r.propose(fresh.regulator, bytes.fromhex(raw[2:]), "bad")
    assert r.enterprise_count() == 0


def test_register_enterprise_refused_when_zero_address(fresh: Consortium) -> None:
    r = fresh.registry
    raw = r.contract.encode_abi("registerEnterprise", args=[ZERO, profile(7).as_tuple()])
    with reverts("RegistryZeroAddress"):
        r.propose(fresh.regulator, bytes.fromhex(raw[2:]), "zero")


def test_register_enterprise_refused_when_duplicate_code_or_account(fresh: Consortium) -> None:
    r = fresh.registry
    account = dev_account(20).address
    p = register(r, fresh.members, account, seed=20)
    with reverts("RegistryDuplicateEnterprise", creditCode=p.credit_code, existing=account):
        r.propose(fresh.regulator, r.encode_register_enterprise(dev_account(21).address, p), "dup")
    with reverts("RegistryAlreadyRegistered", account=account):
        r.propose(fresh.regulator, r.encode_register_enterprise(account, profile(21)), "again")
    assert r.enterprise_count() == 1


def test_update_enterprise_changes_profile_but_not_code(fresh: Consortium) -> None:
    r = fresh.registry
    account = dev_account(20).address
    p = register(r, fresh.members, account, seed=20)
    newer = profile(20, name="Taizhou Power (renamed)", region_code=330100, credit_code=p.credit_code)
    receipt = r.govern(fresh.members, r.encode_update_enterprise(account, newer), "update")
    assert _events(r, receipt, "EnterpriseProfileUpdated")[0]["name"] == "Taizhou Power (renamed)"
    assert r.enterprise(account).profile == newer
    with reverts("RegistryNotEnterprise", account=dev_account(21).address):
        r.propose(fresh.regulator, r.encode_update_enterprise(dev_account(21).address, newer), "x")


def test_suspend_and_reinstate_change_status_and_permissioning(fresh: Consortium) -> None:
    r = fresh.registry
    account = dev_account(20).address
    register(r, fresh.members, account, seed=20)
    assert r.transaction_allowed(account)
    receipt = r.govern(fresh.members, r.encode_suspend(account, 3), "suspend")
    assert _events(r, receipt, "ParticipantSuspended")[0] == {"account": account, "reasonCode": 3}
    assert r.status_of(account) == Status.SUSPENDED
    assert not r.transaction_allowed(account)
    assert not r.is_active_participant(account)
    with reverts("RegistryWrongStatus", account=account, status=2):
        r.propose(fresh.regulator, r.encode_suspend(account, 3), "again")
    r.govern(fresh.members, r.encode_reinstate(account), "reinstate")
    assert r.status_of(account) == Status.ACTIVE and r.transaction_allowed(account)
    with reverts("RegistryWrongStatus", account=account, status=1):
        r.propose(fresh.regulator, r.encode_reinstate(account), "again")


def test_suspend_refused_when_account_unknown(fresh: Consortium) -> None:
    r = fresh.registry
    with reverts("RegistryWrongStatus", account=fresh.outsider.address, status=0):
        r.propose(fresh.regulator, r.encode_suspend(fresh.outsider.address), "x")


def test_transaction_allowed_answers_members_participants_and_strangers(fresh: Consortium) -> None:
    r = fresh.registry
    assert function_signature_to_4byte_selector(
        "transactionAllowed(address,address,uint256,uint256,uint256,bytes)"
    ) == bytes.fromhex("936421d5")
    assert r.transaction_allowed(fresh.industry_body.address)  # member without a participant role
    assert r.transaction_allowed(fresh.auditor.address)
    assert not r.transaction_allowed(fresh.outsider.address)
    r.govern(fresh.members, r.encode_revoke_role("AUDITOR", fresh.auditor.address), "revoke")
    assert not r.transaction_allowed(fresh.auditor.address)
    assert r.status_of(fresh.auditor.address) == Status.NONE


# ---------------------------------------------------------------------- devices


def test_bind_device_by_regulator_records_binding(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    device = dev_account(31).address
    receipt = r.bind_device(fresh.regulator, device, enterprise, "33100000000001")
    assert _events(r, receipt, "DeviceBound")[0] == {
        "device": device, "enterprise": enterprise, "mn": "33100000000001"
    }  # fmt: skip
    d = r.device(device)
    assert (d.enterprise, d.mn) == (enterprise, "33100000000001")
    assert [x.address for x in r.devices(enterprise)] == [device]
    assert r.contract.functions.deviceByMn("33100000000001").call() == device


@pytest.mark.parametrize("who", ["exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_bind_and_unbind_device_refused_when_not_regulator(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    caller = _accounts(fresh)[who]
    role = ROLES["REGULATOR"]
    with reverts("AccessControlUnauthorizedAccount", account=caller.address, neededRole=role):
        r.bind_device(caller, dev_account(31).address, enterprise, "33100000000001")
    r.bind_device(fresh.regulator, dev_account(31).address, enterprise, "33100000000001")
    with reverts("AccessControlUnauthorizedAccount", account=caller.address, neededRole=role):
        r.unbind_device(caller, dev_account(31).address)


def test_bind_device_refused_when_bound_twice_or_mn_taken(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    device = dev_account(31).address
    r.bind_device(fresh.regulator, device, enterprise, "33100000000001")
    with reverts("RegistryDeviceAlreadyBound", device=device, enterprise=enterprise):
        r.bind_device(fresh.regulator, device, enterprise, "33100000000002")
    with reverts("RegistryDuplicateMn", mn="33100000000001", device=device):
        r.bind_device(fresh.regulator, dev_account(32).address, enterprise, "33100000000001")
    assert r.contract.functions.deviceCount().call() == 1


def test_bind_device_refused_when_enterprise_unknown_or_suspended(fresh: Consortium) -> None:
    r = fresh.registry
    with reverts("RegistryNotEnterprise", account=fresh.outsider.address):
        r.bind_device(fresh.regulator, dev_account(31).address, fresh.outsider.address, "A1")
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    r.govern(fresh.members, r.encode_suspend(enterprise, 1), "suspend")
    with reverts("RegistryWrongStatus", account=enterprise, status=2):
        r.bind_device(fresh.regulator, dev_account(31).address, enterprise, "A1")


def test_bind_device_refused_when_zero_address_or_bad_mn(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    fn = r.contract.functions
    with reverts("RegistryZeroAddress"):
        fresh.chain.transact(fn.bindDevice(ZERO, enterprise, "A1"), fresh.regulator)
    with reverts("RegistryInvalidMn", mn="bad mn!"):
        fresh.chain.transact(fn.bindDevice(dev_account(31).address, enterprise, "bad mn!"), fresh.regulator)
    with reverts("RegistryInvalidMn", mn="A" * 25):
        fresh.chain.transact(fn.bindDevice(dev_account(31).address, enterprise, "A" * 25), fresh.regulator)
    with pytest.raises(InvalidInputError):
        r.bind_device(fresh.regulator, dev_account(31).address, enterprise, "bad mn!")


def test_unbind_device_frees_address_and_mn(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    device = dev_account(31).address
    r.bind_device(fresh.regulator, device, enterprise, "MN1")
    receipt = r.unbind_device(fresh.regulator, device)
    assert _events(r, receipt, "DeviceUnbound")[0]["mn"] == "MN1"
    assert r.devices(enterprise) == []
    with reverts("RegistryDeviceUnknown", device=device):
        r.unbind_device(fresh.regulator, device)
    r.bind_device(fresh.regulator, dev_account(32).address, enterprise, "MN1")


def test_batch_registration_through_one_multicall_proposal(fresh: Consortium) -> None:
    r = fresh.registry
    calls = [r.encode_register_enterprise(dev_account(20 + i).address, profile(100 + i)) for i in range(8)]
    r.govern(fresh.members, r.encode_multicall(calls), "batch of 8")
    assert r.enterprise_count() == 8
    assert r.proposals()[-1].call.startswith("multicall[8]")


# ---------------------------------------------------------------------- device oracles (issue 17 item 4)


def _bound_device(c: Consortium, seed: int = 31, mn: str = "33100000000001") -> str:
    enterprise = dev_account(20).address
    if c.registry.enterprise_by_credit_code(credit_code(20)) is None:
        register(c.registry, c.members, enterprise, seed=20)
    device = dev_account(seed).address
    c.registry.bind_device(c.regulator, device, enterprise, mn)
    return device


def test_set_device_oracle_by_regulator_records_oracle_and_emits_event(fresh: Consortium) -> None:
    r = fresh.registry
    device = _bound_device(fresh)
    assert r.oracle_of(device) is None
    receipt = r.set_device_oracle(fresh.regulator, device, fresh.oracle.address)
    assert _events(r, receipt, "DeviceOracleSet") == [{"device": device, "oracle": fresh.oracle.address}]
    assert r.oracle_of(device) == fresh.oracle.address


def test_set_device_oracle_replaces_previous_oracle(fresh: Consortium) -> None:
    r = fresh.registry
    device = _bound_device(fresh)
    second = dev_account(27).address
    r.grant_roles(fresh.members, [("ORACLE", second)])
    r.set_device_oracle(fresh.regulator, device, fresh.oracle.address)
    receipt = r.set_device_oracle(fresh.regulator, device, second)
    assert _events(r, receipt, "DeviceOracleSet") == [{"device": device, "oracle": second}]
    assert r.oracle_of(device) == second


def test_bind_device_with_oracle_sets_it_when_given(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    device = dev_account(31).address
    receipt = r.bind_device(fresh.regulator, device, enterprise, "MN1", oracle=fresh.oracle.address)
    assert _events(r, receipt, "DeviceBound")[0]["device"] == device
    assert r.oracle_of(device) == fresh.oracle.address


@pytest.mark.parametrize("who", ["exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_set_device_oracle_refused_when_not_regulator(fresh: Consortium, who: str) -> None:
    device = _bound_device(fresh)
    caller = _accounts(fresh)[who]
    with reverts("AccessControlUnauthorizedAccount", account=caller.address, neededRole=ROLES["REGULATOR"]):
        fresh.registry.set_device_oracle(caller, device, fresh.oracle.address)
    assert fresh.registry.oracle_of(device) is None


def test_set_device_oracle_refused_when_device_unknown(fresh: Consortium) -> None:
    device = dev_account(31).address
    with reverts("RegistryDeviceUnknown", device=device):
        fresh.registry.set_device_oracle(fresh.regulator, device, fresh.oracle.address)


@pytest.mark.parametrize("who", ["auditor", "regulator", "enterprise", "outsider"])
def test_set_device_oracle_refused_when_account_not_oracle(fresh: Consortium, who: str) -> None:
    device = _bound_device(fresh)
    account = _accounts(fresh)[who].address
    with reverts("RegistryNotOracle", account=account):
        fresh.registry.set_device_oracle(fresh.regulator, device, account)


def test_set_device_oracle_refused_when_oracle_suspended(fresh: Consortium) -> None:
    r = fresh.registry
    device = _bound_device(fresh)
    r.govern(fresh.members, r.encode_suspend(fresh.oracle.address, 4), "suspend oracle")
    with reverts("RegistryWrongStatus", account=fresh.oracle.address, status=2):
        r.set_device_oracle(fresh.regulator, device, fresh.oracle.address)
    r.govern(fresh.members, r.encode_reinstate(fresh.oracle.address), "reinstate oracle")
    r.set_device_oracle(fresh.regulator, device, fresh.oracle.address)
    assert r.oracle_of(device) == fresh.oracle.address


def test_unbind_device_clears_oracle_when_set(fresh: Consortium) -> None:
    r = fresh.registry
    device = _bound_device(fresh)
    r.set_device_oracle(fresh.regulator, device, fresh.oracle.address)
    receipt = r.unbind_device(fresh.regulator, device)
    assert _events(r, receipt, "DeviceOracleSet") == [{"device": device, "oracle": ZERO}]
    assert r.oracle_of(device) is None
    r.bind_device(fresh.regulator, device, dev_account(20).address, "33100000000009")
    assert r.oracle_of(device) is None  # a rebound device starts without an oracle
    receipt = r.unbind_device(fresh.regulator, device)
    assert _events(r, receipt, "DeviceOracleSet") == []


# ---------------------------------------------------------------------- auditor assignments (issue 17 item 5)


def test_assign_auditor_by_regulator_records_assignment_and_emits_event(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    assert not r.is_auditor_assigned(fresh.auditor.address, enterprise)
    receipt = r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    assert _events(r, receipt, "AuditorAssigned") == [
        {"auditor": fresh.auditor.address, "enterprise": enterprise}
    ]
    assert r.is_auditor_assigned(fresh.auditor.address, enterprise)
    assert r.enterprises_of_auditor(fresh.auditor.address) == [enterprise]
    other = dev_account(21).address
    register(r, fresh.members, other, seed=21)
    assert not r.is_auditor_assigned(fresh.auditor.address, other)


def test_unassign_auditor_removes_assignment_and_emits_event(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    receipt = r.unassign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    assert _events(r, receipt, "AuditorUnassigned") == [
        {"auditor": fresh.auditor.address, "enterprise": enterprise}
    ]
    assert not r.is_auditor_assigned(fresh.auditor.address, enterprise)
    assert r.enterprises_of_auditor(fresh.auditor.address) == []
    with reverts("RegistryAuditorNotAssigned", auditor=fresh.auditor.address, enterprise=enterprise):
        r.unassign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)  # may be assigned again
    assert r.is_auditor_assigned(fresh.auditor.address, enterprise)


@pytest.mark.parametrize("who", ["exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_assign_and_unassign_auditor_refused_when_not_regulator(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    caller = _accounts(fresh)[who]
    role = ROLES["REGULATOR"]
    with reverts("AccessControlUnauthorizedAccount", account=caller.address, neededRole=role):
        r.assign_auditor(caller, fresh.auditor.address, enterprise)
    r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    with reverts("AccessControlUnauthorizedAccount", account=caller.address, neededRole=role):
        r.unassign_auditor(caller, fresh.auditor.address, enterprise)
    assert r.is_auditor_assigned(fresh.auditor.address, enterprise)


@pytest.mark.parametrize("who", ["regulator", "oracle", "enterprise", "outsider"])
def test_assign_auditor_refused_when_account_not_auditor(fresh: Consortium, who: str) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    account = _accounts(fresh)[who].address
    with reverts("RegistryNotAuditor", account=account):
        r.assign_auditor(fresh.regulator, account, enterprise)


@pytest.mark.parametrize("who", ["exchange", "auditor", "outsider"])
def test_assign_auditor_refused_when_enterprise_not_registered(fresh: Consortium, who: str) -> None:
    account = _accounts(fresh)[who].address
    with reverts("RegistryNotEnterprise", account=account):
        fresh.registry.assign_auditor(fresh.regulator, fresh.auditor.address, account)


def test_assign_auditor_refused_when_already_assigned(fresh: Consortium) -> None:
    r = fresh.registry
    enterprise = dev_account(20).address
    register(r, fresh.members, enterprise, seed=20)
    r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)
    with reverts("RegistryAuditorAlreadyAssigned", auditor=fresh.auditor.address, enterprise=enterprise):
        r.assign_auditor(fresh.regulator, fresh.auditor.address, enterprise)


# ---------------------------------------------------------------------- suspended members (issue 17 item 3)


def test_execute_refused_when_approver_suspended_since_approving(fresh: Consortium) -> None:
    r = fresh.registry
    pid = r.propose(fresh.regulator, r.encode_grant_role("AUDITOR", dev_account(21).address), "aud")
    r.govern([fresh.exchange, fresh.industry_body], r.encode_suspend(fresh.regulator.address, 5), "suspend")
    assert r.proposal(pid).approvals == 0
    r.approve(fresh.exchange, pid)
    with reverts("ProposalThresholdNotMet", proposalId=pid, approvals=1, threshold=2):
        r.execute(fresh.exchange, pid)
    r.govern([fresh.exchange, fresh.industry_body], r.encode_reinstate(fresh.regulator.address), "reinstate")
    assert r.proposal(pid).approvals == 2
    r.execute(fresh.exchange, pid)
    assert r.has_role("AUDITOR", dev_account(21).address)
