"""Factories for chain tests: valid credit codes, profiles, registered enterprises."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from web3.contract.contract import Contract

from chain.errors import ContractRevertError
from chain.registry import EnterpriseProfile, RegistryClient
from domain.codes import CREDIT_CODE_CHARSET, credit_code_check_char

_BODY = CREDIT_CODE_CHARSET


def credit_code(seed: int, region: int = 331000) -> str:
    """A valid unified social credit code, different for each seed."""
    rng = random.Random(seed)
    body = "91" + f"{region:06d}" + "".join(rng.choice(_BODY) for _ in range(9))
    return body + credit_code_check_char(body)


def profile(seed: int = 1, **overrides: object) -> EnterpriseProfile:
    """A valid enterprise profile (Taizhou, Zhejiang; thermal power) with fields overridable."""
    fields: dict[str, object] = {
        "credit_code": credit_code(seed),
        "name": f"Taizhou Power Plant No. {seed}",
        "region_code": 331000,
        "industry_code": "D4411",
        "latitude": 28_656_000 + seed,
        "longitude": 121_420_000 + seed,
    }
    fields.update(overrides)
    return EnterpriseProfile(**fields)  # type: ignore[arg-type]


def register(
    registry: RegistryClient, members: Sequence[LocalAccount], account: str, seed: int = 1
) -> EnterpriseProfile:
    """Register one enterprise through governance; returns its profile."""
    p = profile(seed)
    registry.govern(members, registry.encode_register_enterprise(account, p), f"register {seed}")
    return p


@contextmanager
def reverts(error: str, **expected: object) -> Iterator[pytest.ExceptionInfo[ContractRevertError]]:
    """Expect a :class:`ContractRevertError` named ``error`` whose arguments include ``expected``."""
    with pytest.raises(ContractRevertError) as info:
        yield info
    assert info.value.error == error, f"expected {error}, got {info.value}"
    for key, value in expected.items():
        got = info.value.args_.get(key)
        if isinstance(value, str) and isinstance(got, str) and value.startswith("0x"):
            assert got.lower() == value.lower(), f"{error}.{key}: {got} != {value}"
        else:
            assert got == value, f"{error}.{key}: {got!r} != {value!r}"


def self_call(registry: RegistryClient, caller: LocalAccount, data: bytes) -> None:
    """Send a governance-only call directly (not through a proposal)."""
    chain = registry.chain
    tx = {"from": caller.address, "to": registry.address, "data": data, "value": 0}
    try:
        chain.w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
    except Exception as exc:
        raise chain._as_revert(exc) from None
    raise AssertionError("governance-only call from a plain account did not revert")


def expect(error: str | None, fn: Callable[..., object], *args: object) -> None:
    """Call ``fn(*args)``: it must succeed when ``error`` is None, else revert with that error."""
    if error is None:
        fn(*args)
        return
    with pytest.raises(ContractRevertError) as info:
        fn(*args)
    assert info.value.error == error, f"expected {error}, got {info.value}"


def encode_call(contract: Contract, fn: str, *args: object) -> bytes:
    """Calldata of ``fn(*args)`` on ``contract`` (e.g. for a governance proposal)."""
    return bytes.fromhex(contract.encode_abi(fn, args=list(args))[2:])


#: Hypothesis settings of the state machines that drive a real chain (each step sends transactions).
CHAIN_MACHINE_SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
