"""`ets network init`: genesis, keys, keystores and every node's TOML, as Besu reads them."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest
from coincurve import PublicKey
from eth_account import Account
from typer.testing import CliRunner

from chain.compile import EVM_VERSION, SETTINGS
from chain.network.besu import enable_onchain_permissioning, onchain_flags, read_toml
from chain.network.errors import KeyFileError, NetworkConfigError
from chain.network.generate import GeneratedNetwork, NetworkSpec, init_network
from chain.network.genesis import BFT_MIX_HASH, QbftParams, evm_version_of, milestones
from chain.network.keys import Enode, besu_host, read_keystore, read_node_key
from chain.network.qbft import decode
from ets.cli.main import app

PASSWORD = "correct horse battery staple"
FUNDED = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SCRYPT_N = 2**4  # tests only: keystores are still real scrypt V3 files, just cheap


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GeneratedNetwork]:
    out = tmp_path_factory.mktemp("net") / "consortium"
    spec = NetworkSpec(
        validators=4, chain_id=2027, qbft=QbftParams(3, 100, 9), accounts=2, fund=(FUNDED,), rpc_port=9545
    )
    return out, init_network(out, spec, PASSWORD, scrypt_n=SCRYPT_N)


def test_genesis_parses_with_qbft_fields(network: tuple[Path, GeneratedNetwork]) -> None:
    out, _ = network
    genesis = json.loads((out / "genesis.json").read_text())
    config = genesis["config"]
    assert config["chainId"] == 2027 and config["zeroBaseFee"] is True
    assert config["qbft"] == {"blockperiodseconds": 3, "epochlength": 100, "requesttimeoutseconds": 9}
    assert genesis["mixHash"] == BFT_MIX_HASH and genesis["difficulty"] == "0x1"
    assert int(genesis["alloc"][FUNDED[2:].lower()]["balance"], 16) == 10**24
    assert len(genesis["alloc"]) == 3  # two generated accounts and one given


def test_genesis_extra_data_lists_every_validator_ascending(network: tuple[Path, GeneratedNetwork]) -> None:
    out, generated = network
    genesis = json.loads((out / "genesis.json").read_text())
    validators = list(decode(genesis["extraData"]).validators)
    node_validators = [n.validator for n in generated.nodes]
    assert sorted(validators) == sorted(node_validators) and len(validators) == 4
    assert validators == sorted(validators, key=lambda a: bytes.fromhex(a[2:]))


def test_genesis_milestones_match_compiler_evm_version(network: tuple[Path, GeneratedNetwork]) -> None:
    out, _ = network
    config = json.loads((out / "genesis.json").read_text())["config"]
    assert SETTINGS["evmVersion"] == EVM_VERSION
    assert evm_version_of(config) == EVM_VERSION == "shanghai"
    assert config["shanghaiTime"] == 0 and config["londonBlock"] == 0 and config["berlinBlock"] == 0
    assert "cancunTime" not in config and "pragueTime" not in config


def test_milestones_stop_at_requested_version() -> None:
    assert "shanghaiTime" not in milestones("london") and "londonBlock" in milestones("london")
    assert "cancunTime" in milestones("cancun")
    with pytest.raises(NetworkConfigError, match="unknown evmVersion"):
        milestones("frontier-ish")


def test_every_generated_toml_parses_and_config_points_at_files(
    network: tuple[Path, GeneratedNetwork],
) -> None:
    out, generated = network
    tomls = sorted(out.rglob("*.toml"))
    assert len(tomls) == 8
    for path in tomls:
        with path.open("rb") as fh:
            tomllib.load(fh)
    for i, node in enumerate(generated.nodes):
        config = read_toml(node.directory / "config.toml")
        assert config["rpc-http-port"] == 9545 + i and config["p2p-port"] == 30303 + i
        assert "PERM" in config["rpc-http-api"] and "QBFT" in config["rpc-http-api"]
        assert config["min-gas-price"] == 0 and config["genesis-file"] == "../genesis.json"
        for key in ("node-private-key-file", "static-nodes-file", "permissions-accounts-config-file"):
            assert (node.directory / config[key]).exists(), key
        assert config["bootnodes"] == ([] if i == 0 else [generated.nodes[0].enode])


def test_permissions_config_allows_funded_accounts_and_every_node(
    network: tuple[Path, GeneratedNetwork],
) -> None:
    out, generated = network
    perms = read_toml(out / "node-1" / "permissions_config.toml")
    funded = {a.lower() for a in [*generated.accounts, FUNDED]}
    assert set(perms["accounts-allowlist"]) == funded
    assert set(perms["nodes-allowlist"]) == {n.enode for n in generated.nodes}
    static = json.loads((out / "node-2" / "static-nodes.json").read_text())
    assert generated.nodes[1].enode not in static and len(static) == 3


def test_node_keys_give_enode_ids_and_validator_addresses(network: tuple[Path, GeneratedNetwork]) -> None:
    _, generated = network
    for node in generated.nodes:
        key = read_node_key(node.directory / "key")
        public = PublicKey.from_secret(key.private_key).format(compressed=False)[1:]
        enode = Enode.parse(node.enode)
        assert enode.node_id == public.hex() == (node.directory / "key.pub").read_text()[2:]
        assert Account.from_key(key.private_key).address == node.validator
        assert stat.S_IMODE((node.directory / "key").stat().st_mode) == 0o600


def test_keystores_decrypt_to_node_and_account_keys(network: tuple[Path, GeneratedNetwork]) -> None:
    out, generated = network
    node = generated.nodes[0]
    key = read_keystore(node.directory / "validator.keystore.json", PASSWORD)
    assert key == read_node_key(node.directory / "key").private_key
    for i, address in enumerate(generated.accounts):
        assert (
            Account.from_key(
                read_keystore(out / "accounts" / f"account-{i + 1}.keystore.json", PASSWORD)
            ).address
            == address
        )
    with pytest.raises(KeyFileError, match="cannot decrypt"):
        read_keystore(node.directory / "validator.keystore.json", "wrong")


def test_network_directory_ignores_everything_in_git(network: tuple[Path, GeneratedNetwork]) -> None:
    out, _ = network
    assert (out / ".gitignore").read_text().splitlines()[-1] == "*"


def test_init_refuses_non_empty_directory_and_bad_specs(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep")
    with pytest.raises(NetworkConfigError, match="not empty"):
        init_network(tmp_path, NetworkSpec(validators=1), PASSWORD)
    with pytest.raises(NetworkConfigError, match="validators"):
        init_network(tmp_path / "a", NetworkSpec(validators=0), PASSWORD)
    with pytest.raises(NetworkConfigError, match="request timeout"):
        init_network(tmp_path / "b", NetworkSpec(validators=1, qbft=QbftParams(5, 10, 5)), PASSWORD)
    with pytest.raises(NetworkConfigError, match="password"):
        init_network(tmp_path / "c", NetworkSpec(validators=1), "")


def test_onchain_config_replaces_local_allowlists_with_contract_flags(tmp_path: Path) -> None:
    generated = init_network(tmp_path / "n", NetworkSpec(validators=1), PASSWORD, scrypt_n=SCRYPT_N)
    registry, nodes = "0x" + "11" * 20, "0x" + "22" * 20
    config = read_toml(enable_onchain_permissioning(generated.nodes[0].directory, registry, nodes))
    assert config["permissions-accounts-contract-enabled"] is True
    assert config["permissions-nodes-contract-version"] == 2
    assert config["permissions-nodes-contract-address"].lower() == nodes
    assert "permissions-accounts-config-file-enabled" not in config
    assert "--permissions-nodes-contract-version=2" in onchain_flags(registry, nodes)


def test_enode_parse_and_besu_host_encoding() -> None:
    node_id = "ab" * 64
    enode = Enode.parse(f"enode://{node_id}@10.0.0.5:30303?discport=30301")
    assert (enode.node_id, enode.host, enode.port) == (node_id, "10.0.0.5", 30303)
    assert enode.url == f"enode://{node_id}@10.0.0.5:30303"
    assert besu_host("10.0.0.5") == "0x" + b"10.0.0.5".hex()
    assert besu_host("::1") == "0x" + b"0:0:0:0:0:0:0:1".hex()  # Java's getHostAddress form
    with pytest.raises(NetworkConfigError):
        Enode.parse("enode://abc@1.2.3.4:30303")


def test_cli_init_and_extradata_print_what_the_library_computes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-net"
    monkeypatch.setenv("ETS_KEYSTORE_PASSWORD", PASSWORD)
    result = runner.invoke(app, ["network", "init", "--validators", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "node-2: validator" in result.output and PASSWORD not in result.output
    genesis = json.loads((out / "genesis.json").read_text())
    validators = list(decode(genesis["extraData"]).validators)
    encoded = runner.invoke(app, ["network", "extradata", *reversed(validators), "--sort"])
    assert encoded.exit_code == 0 and encoded.output.strip() == genesis["extraData"]
    decoded = runner.invoke(app, ["network", "decode-extradata", genesis["extraData"]])
    assert json.loads(decoded.output)["validators"] == validators
    bad = runner.invoke(app, ["network", "extradata", "0x1234"])
    assert bad.exit_code == 1 and "ExtraDataError" in bad.output


def test_besu_templates_parse_and_match_generated_keys(network: tuple[Path, GeneratedNetwork]) -> None:
    out, _ = network
    templates = Path(__file__).resolve().parents[3] / "node-config" / "besu"
    config_template = read_toml(templates / "config.toml.template")
    generated = read_toml(out / "node-2" / "config.toml")
    assert set(generated) == set(config_template)
    assert set(read_toml(templates / "permissions_config.toml.template")) == {
        "accounts-allowlist",
        "nodes-allowlist",
    }
    genesis_template = json.loads((templates / "genesis.template.json").read_text())
    genesis = json.loads((out / "genesis.json").read_text())
    assert set(genesis_template) == set(genesis)
    assert set(genesis_template["config"]) == set(genesis["config"])
    assert genesis_template["mixHash"] == BFT_MIX_HASH
