"""Deploy the contract suite and keep a deployment manifest; re-runs deploy nothing twice."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from chain.compile import EVM_VERSION, solc_version
from chain.errors import DeploymentError
from chain.tx import ChainClient

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SuiteConfig:
    """Constructor parameters of the suite.

    Attributes:
        members: governance members of the ConsortiumRegistry.
        threshold: approvals needed to execute a proposal.
        proposal_lifetime: seconds a proposal stays open.
    """

    members: tuple[str, ...]
    threshold: int
    proposal_lifetime: int = 7 * 24 * 3600


@dataclass(frozen=True)
class ContractRecord:
    """Where one contract of the suite lives."""

    address: str
    block: int
    tx_hash: str
    abi_hash: str
    args: list[Any]


@dataclass
class Manifest:
    """A deployment on one chain."""

    chain_id: int
    genesis_hash: str
    deployer: str
    solc: str
    evm_version: str
    contracts: dict[str, ContractRecord] = field(default_factory=dict)
    version: int = MANIFEST_VERSION
    updated_at: str = ""

    def address(self, name: str) -> str:
        """Address of contract ``name``.

        Raises:
            DeploymentError: it is not in the manifest.
        """
        try:
            return self.contracts[name].address
        except KeyError:
            raise DeploymentError(f"{name} is not deployed (run `ets deploy`)") from None

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.updated_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data = asdict(self)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest.

        Raises:
            DeploymentError: missing or malformed.
        """
        try:
            data = json.loads(path.read_text())
            contracts = {k: ContractRecord(**v) for k, v in data.pop("contracts").items()}
            return cls(contracts=contracts, **data)
        except FileNotFoundError:
            raise DeploymentError(f"no deployment manifest at {path} (run `ets deploy`)") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise DeploymentError(f"malformed manifest {path}: {exc}") from None


ArgsFn = Callable[[SuiteConfig, dict[str, str]], list[Any]]


@dataclass(frozen=True)
class ContractSpec:
    """One contract of the suite: its artifact name and how to build its constructor args
    from the config and the addresses deployed before it."""

    name: str
    args: ArgsFn


def _registry_args(config: SuiteConfig, _: dict[str, str]) -> list[Any]:
    members = [to_checksum_address(m) for m in config.members]
    return [members, config.threshold, config.proposal_lifetime]


def _registry_address(_: SuiteConfig, deployed: dict[str, str]) -> list[Any]:
    return [deployed["ConsortiumRegistry"]]


def _auction_args(_: SuiteConfig, deployed: dict[str, str]) -> list[Any]:
    return [deployed["ConsortiumRegistry"], deployed["AllowanceToken"], deployed["SettlementToken"]]


def _compliance_args(_: SuiteConfig, deployed: dict[str, str]) -> list[Any]:
    return [deployed["ConsortiumRegistry"], deployed["AllowanceToken"], deployed["EmissionsLedger"],
            deployed["SettlementToken"]]  # fmt: skip


def _market_args(config: SuiteConfig, deployed: dict[str, str]) -> list[Any]:
    return [*_auction_args(config, deployed), deployed["MarketOperations"]]


#: Deployment order; later contracts may take earlier ones' addresses.
SUITE: tuple[ContractSpec, ...] = (
    ContractSpec("ConsortiumRegistry", _registry_args),
    ContractSpec("AllowanceToken", _registry_address),
    ContractSpec("SettlementToken", _registry_address),
    ContractSpec("SealedBidAuction", _auction_args),
    ContractSpec("EmissionsLedger", _registry_address),
    ContractSpec("ComplianceManager", _compliance_args),
    ContractSpec("SettlementReports", _registry_address),
    ContractSpec("NodeAllowlist", _registry_address),
    ContractSpec("MarketOperations", _auction_args),
    ContractSpec("Market", _market_args),
)


def genesis_hash(chain: ChainClient) -> str:
    return HexBytes(chain.w3.eth.get_block(0)["hash"]).to_0x_hex()


def load_for_chain(chain: ChainClient, path: Path) -> Manifest:
    """Load the manifest and check it describes the chain ``chain`` is connected to.

    Raises:
        DeploymentError: missing, or for another chain, or contracts without code.
    """
    manifest = Manifest.load(path)
    if manifest.chain_id != chain.chain_id or manifest.genesis_hash != genesis_hash(chain):
        raise DeploymentError(f"manifest {path} belongs to another chain (run `ets deploy`)")
    return manifest


def deploy_suite(
    chain: ChainClient,
    deployer: LocalAccount,
    config: SuiteConfig,
    manifest_path: Path,
    *,
    suite: Sequence[ContractSpec] = SUITE,
) -> Manifest:
    """Deploy what the manifest does not yet hold and save the manifest after each contract.

    A manifest for another chain (different chain id or genesis) is replaced. A contract whose
    ABI changed since it was deployed is an error: redeploying silently would orphan state.

    Raises:
        DeploymentError: a recorded contract has no code or a changed ABI.
        ContractRevertError: a constructor reverted.
    """
    genesis = genesis_hash(chain)
    manifest: Manifest | None = None
    if manifest_path.exists():
        manifest = Manifest.load(manifest_path)
        if manifest.chain_id != chain.chain_id or manifest.genesis_hash != genesis:
            logger.warning("manifest belongs to another chain; starting a new one")
            manifest = None
    if manifest is None:
        manifest = Manifest(
            chain_id=chain.chain_id,
            genesis_hash=genesis,
            deployer=deployer.address,
            solc=solc_version(),
            evm_version=EVM_VERSION,
        )
    addresses = {name: rec.address for name, rec in manifest.contracts.items()}
    for spec in suite:
        artifact = chain.artifacts[spec.name]
        record = manifest.contracts.get(spec.name)
        if record is not None:
            code = chain.w3.eth.get_code(to_checksum_address(record.address))
            if len(code) == 0:
                raise DeploymentError(f"{spec.name} at {record.address} has no code on this chain")
            if record.abi_hash != artifact.abi_hash:
                raise DeploymentError(
                    f"{spec.name} changed since it was deployed at {record.address}; "
                    "deploy to a fresh chain or migrate explicitly"
                )
            continue
        args = spec.args(config, addresses)
        address, receipt = chain.deploy(spec.name, args, deployer)
        manifest.contracts[spec.name] = ContractRecord(
            address=address,
            block=int(receipt["blockNumber"]),
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            abi_hash=artifact.abi_hash,
            args=_jsonable(args),
        )
        addresses[spec.name] = address
        manifest.save(manifest_path)
        logger.info("deployed %s at %s (gas %d)", spec.name, address, receipt["gasUsed"])
    manifest.save(manifest_path)
    return manifest


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
