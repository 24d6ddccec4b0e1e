"""Deployment manifest: deploy once, find it again, refuse stale records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chain.accounts import demo_account
from chain.compile import Artifact
from chain.deploy import Manifest, SuiteConfig, deploy_suite, load_for_chain
from chain.errors import DeploymentError
from chain.node import AnvilNode
from chain.tx import ChainClient


@pytest.fixture
def chain(artifacts: dict[str, Artifact]) -> ChainClient:
    node = AnvilNode().start()
    client = ChainClient.connect(node.url, artifacts)
    client._node = node  # type: ignore[attr-defined]
    yield client  # type: ignore[misc]
    node.stop()


CONFIG = SuiteConfig(
    members=(demo_account("regulator").address, demo_account("exchange").address), threshold=2
)


def test_deploy_writes_manifest_and_second_run_deploys_nothing(chain: ChainClient, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    first = deploy_suite(chain, demo_account("deployer"), CONFIG, path)
    data = json.loads(path.read_text())
    record = data["contracts"]["ConsortiumRegistry"]
    assert data["chain_id"] == 31337 and data["deployer"] == demo_account("deployer").address
    assert data["evm_version"] == "shanghai" and data["solc"] == "0.8.28"
    assert record["block"] >= 1 and len(record["abi_hash"]) == 64
    block = chain.w3.eth.block_number
    second = deploy_suite(chain, demo_account("deployer"), CONFIG, path)
    assert chain.w3.eth.block_number == block  # no transaction sent
    assert second.contracts == first.contracts
    assert load_for_chain(chain, path).address("ConsortiumRegistry") == record["address"]


def test_deploy_refuses_when_recorded_abi_changed(chain: ChainClient, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    deploy_suite(chain, demo_account("deployer"), CONFIG, path)
    data = json.loads(path.read_text())
    data["contracts"]["ConsortiumRegistry"]["abi_hash"] = "0" * 64
    path.write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match="changed since it was deployed"):
        deploy_suite(chain, demo_account("deployer"), CONFIG, path)


def test_manifest_for_other_chain_is_replaced_on_deploy_and_refused_on_load(
    chain: ChainClient, tmp_path: Path
) -> None:
    path = tmp_path / "deployment.json"
    deploy_suite(chain, demo_account("deployer"), CONFIG, path)
    data = json.loads(path.read_text())
    data["genesis_hash"] = "0x" + "11" * 32
    path.write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match="another chain"):
        load_for_chain(chain, path)
    fresh = deploy_suite(chain, demo_account("deployer"), CONFIG, path)
    assert fresh.genesis_hash != "0x" + "11" * 32


def test_manifest_load_reports_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="no deployment manifest"):
        Manifest.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DeploymentError, match="malformed"):
        Manifest.load(tmp_path / "bad.json")
    with pytest.raises(DeploymentError, match="not deployed"):
        Manifest(1, "0x", "0x", "0.8.28", "shanghai").address("AllowanceToken")
