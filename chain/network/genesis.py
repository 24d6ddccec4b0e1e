"""QBFT genesis.json for Besu: consensus parameters, EVM milestones matching the compiler's
``evmVersion``, zero base fee, pre-funded accounts and the validator set in extraData."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import is_hex_address, to_checksum_address

from chain.compile import EVM_VERSION
from chain.network.errors import NetworkConfigError
from chain.network.qbft import genesis_extra_data, sort_validators

#: Besu's BFT genesis mixHash ("Istanbul digest"); Besu refuses QBFT blocks without it.
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"

#: solc ``evmVersion`` → Besu genesis milestone key, oldest first. ``paris`` (the Merge) has no
#: BFT milestone: a QBFT chain never had proof of work, so it is skipped; Shanghai and later are
#: activated by time on Besu.
MILESTONES: tuple[tuple[str, str], ...] = (
    ("homestead", "homesteadBlock"),
    ("tangerineWhistle", "eip150Block"),
    ("spuriousDragon", "eip158Block"),
    ("byzantium", "byzantiumBlock"),
    ("constantinople", "constantinopleBlock"),
    ("petersburg", "petersburgBlock"),
    ("istanbul", "istanbulBlock"),
    ("berlin", "berlinBlock"),
    ("london", "londonBlock"),
    ("paris", ""),
    ("shanghai", "shanghaiTime"),
    ("cancun", "cancunTime"),
    ("prague", "pragueTime"),
)
#: Keys that accompany a milestone (EIP-155 replay protection comes with Spurious Dragon).
_COMPANIONS = {"eip158Block": ("eip155Block",)}

DEFAULT_BALANCE_WEI = 10**6 * 10**18


def milestones(evm_version: str = EVM_VERSION) -> dict[str, int]:
    """Genesis milestone keys, all at block/time 0, up to and including ``evm_version``.

    Raises:
        NetworkConfigError: an EVM version Besu's genesis cannot express.
    """
    names = [name for name, _ in MILESTONES]
    if evm_version not in names:
        raise NetworkConfigError(f"unknown evmVersion {evm_version!r}; known: {', '.join(names)}")
    keys: dict[str, int] = {}
    for _name, key in MILESTONES[: names.index(evm_version) + 1]:
        if not key:
            continue
        for companion in _COMPANIONS.get(key, ()):
            keys[companion] = 0
        keys[key] = 0
    return keys


def evm_version_of(config: Mapping[str, Any]) -> str:
    """The newest milestone a genesis ``config`` activates, as a solc ``evmVersion`` name."""
    newest = ""
    for name, key in MILESTONES:
        if key and key in config:
            newest = name
    return newest


@dataclass(frozen=True)
class QbftParams:
    """QBFT consensus parameters (``config.qbft`` of the genesis).

    Attributes:
        block_period_seconds: target time between blocks.
        epoch_length: blocks after which pending validator votes are discarded.
        request_timeout_seconds: round timeout before a round change (more than the block period).
    """

    block_period_seconds: int = 2
    epoch_length: int = 30_000
    request_timeout_seconds: int = 4

    def check(self) -> QbftParams:
        """Raises:
        NetworkConfigError: a non-positive value or a timeout not above the block period."""
        if self.block_period_seconds < 1 or self.epoch_length < 1 or self.request_timeout_seconds < 1:
            raise NetworkConfigError("block period, epoch length and request timeout must be positive")
        if self.request_timeout_seconds <= self.block_period_seconds:
            raise NetworkConfigError(
                f"request timeout ({self.request_timeout_seconds}s) must exceed the block period "
                f"({self.block_period_seconds}s), or every round times out"
            )
        return self


@dataclass(frozen=True)
class GenesisSpec:
    """What a QBFT genesis is made of.

    Attributes:
        chain_id: EIP-155 chain id of the network.
        validators: validator addresses (sorted ascending before encoding).
        alloc: pre-funded accounts → balance in wei.
        qbft: consensus parameters.
        evm_version: the contracts' compiler ``evmVersion`` (milestones follow it).
        gas_limit: block gas limit.
        contract_size_limit: Besu ``contractSizeLimit`` (None: the EIP-170 default, 24,576 bytes).
        timestamp: genesis time (unix seconds).
    """

    chain_id: int
    validators: Sequence[str]
    alloc: Mapping[str, int] = field(default_factory=dict)
    qbft: QbftParams = field(default_factory=QbftParams)
    evm_version: str = EVM_VERSION
    gas_limit: int = 30_000_000
    contract_size_limit: int | None = None
    timestamp: int = 0


def build_genesis(spec: GenesisSpec) -> dict[str, Any]:
    """The genesis.json document for ``spec``.

    Raises:
        NetworkConfigError: invalid chain id, parameters or accounts.
        ExtraDataError: a malformed or repeated validator.
    """
    if not 0 < spec.chain_id < 2**63:
        raise NetworkConfigError(f"chain id {spec.chain_id} is out of range")
    qbft = spec.qbft.check()
    alloc: dict[str, dict[str, str]] = {}
    for address, balance in spec.alloc.items():
        if not is_hex_address(address):
            raise NetworkConfigError(f"pre-funded account {address!r} is not an address")
        if balance < 0:
            raise NetworkConfigError(f"negative balance for {address}")
        alloc[to_checksum_address(address).lower().removeprefix("0x")] = {"balance": hex(balance)}
    config: dict[str, Any] = {"chainId": spec.chain_id, **milestones(spec.evm_version), "zeroBaseFee": True}
    if spec.contract_size_limit is not None:
        config["contractSizeLimit"] = spec.contract_size_limit
    config["qbft"] = {
        "blockperiodseconds": qbft.block_period_seconds,
        "epochlength": qbft.epoch_length,
        "requesttimeoutseconds": qbft.request_timeout_seconds,
    }
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": hex(spec.timestamp),
        "gasLimit": hex(spec.gas_limit),
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x" + "00" * 20,
        "alloc": alloc,
        "extraData": genesis_extra_data(sort_validators(spec.validators)),
    }
