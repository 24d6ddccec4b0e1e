"""``ets permits`` end to end on a chain with permits wired: an enterprise applies from JSON with
its own key, the regulator returns it, the enterprise resubmits, the regulator issues, changes,
reviews, renews and revokes; show, list, stats; refusals printed by name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.compile import Artifact
from chain.node import AnvilNode
from chain.tx import ChainClient
from ets.cli import main as cli
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.permits import deploy_permits_suite

Run = Callable[..., tuple[int, str]]
ENTERPRISE = demo_account("enterprise-1")

APPLICATION = {
    "outlets": [{"code": "DA001", "mn": "MN33100000001"}],
    "terms": [
        {"pollutant": "SO2", "annual_amount": 1_000, "concentration_limit": 35_000},
        {"pollutant": "NOx", "annual_amount": 500, "concentration_limit": 50_000},
    ],
    "document_hash": "0x" + "ab" * 32,
}


@pytest.fixture(scope="module")
def suite_module(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Consortium, Path]:
    directory = Path(tmp_path_factory.mktemp("permits-cli"))
    c = deploy_permits_suite(anvil, ChainClient.connect(anvil.url, artifacts), directory)
    register(c.registry, c.members, ENTERPRISE.address, seed=990)
    return c, directory


@pytest.fixture
def ets(suite_module: tuple[Consortium, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    c, directory = suite_module
    snapshot = c.snapshot()
    monkeypatch.setenv("ETS_RPC_URL", c.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    monkeypatch.setenv("ETS_STATE_DIR", str(directory))
    monkeypatch.setenv("ETS_DEMO", "1")
    monkeypatch.setenv("ETS_MANIFEST", str(directory / "deployment.json"))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli.app, list(args))
        return result.exit_code, result.output

    try:
        yield run
    finally:
        c.revert(snapshot)


def _file(tmp_path: Path, data: object) -> str:
    path = tmp_path / "application.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_permits_cli_full_cycle(ets: Run, tmp_path: Path) -> None:
    file = _file(tmp_path, APPLICATION)
    code, out = ets("permits", "apply", file, "--as", "enterprise-1")
    assert code == 0 and "application 1 submitted" in out, out
    assert ets("permits", "review", "1", "--reason", "monitoring plan", "--as", "regulator")[0] == 0
    code, out = ets("permits", "show", "1", "--application")
    assert json.loads(out)["state"] == "returned" and json.loads(out)["reason"] == "monitoring plan"
    assert ets("permits", "resubmit", "1", file, "--as", "enterprise-1")[0] == 0
    code, out = ets(
        "permits", "issue", "1", "--number", "91331000P001", "--granted", "900,500", "--as", "regulator"
    )
    assert code == 0 and "permit 1 issued" in out, out
    permit = json.loads(ets("permits", "show", "1")[1])
    assert (permit["state"], permit["number"], permit["terms"][0]["annual_amount"]) == (
        "valid",
        "91331000P001",
        900,
    )
    assert (
        ets("permits", "annual-review", "1", "2027", "--passed", "--note", "ok", "--as", "regulator")[0] == 0
    )
    changed = _file(tmp_path, {**APPLICATION, "terms": APPLICATION["terms"][:1]})  # type: ignore[index]
    assert ets("permits", "change", "1", changed, "--as", "regulator")[0] == 0
    assert json.loads(ets("permits", "show", "1")[1])["revision"] == 1
    until = json.loads(ets("permits", "show", "1")[1])["valid_until"] + 86_400
    assert ets("permits", "renew", "1", "--until", str(until), "--as", "regulator")[0] == 0
    stats = json.loads(ets("permits", "stats")[1])
    assert stats == {"total": 1, "by_state": {"valid": 1}, "by_region": {"331000": 1},
                     "by_industry": {"D4411": 1}, "applications": 1}  # fmt: skip
    assert ets("permits", "revoke", "1", "--reason", "violations", "--as", "regulator")[0] == 0
    assert [p["state"] for p in json.loads(ets("permits", "list")[1])] == ["revoked"]


def test_permits_cli_refuses_by_name(ets: Run, tmp_path: Path) -> None:
    file = _file(tmp_path, APPLICATION)
    code, out = ets("permits", "apply", file, "--as", "regulator")
    assert code == 1 and "UnauthorizedRole" in out
    assert ets("permits", "apply", file, "--as", "enterprise-1")[0] == 0
    code, out = ets("permits", "issue", "1", "--number", "N1", "--granted", "2000,500", "--as", "regulator")
    assert code == 1 and "PermitGrantAboveRequest" in out
    code, out = ets("permits", "issue", "1", "--number", "N1", "--granted", "x", "--as", "regulator")
    assert code == 1 and "InvalidInputError" in out
    code, out = ets("permits", "apply", _file(tmp_path, {"outlets": []}), "--as", "enterprise-1")
    assert code == 1 and "InvalidInputError" in out
    code, out = ets("permits", "revoke", "7", "--reason", "none", "--as", "regulator")
    assert code == 1 and "PermitUnknown" in out
