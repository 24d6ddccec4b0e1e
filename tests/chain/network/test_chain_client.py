"""ChainClient on consortium-chain quirks: QBFT headers (extraData longer than 32 bytes) and a
zero base fee."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from web3 import Web3
from web3.exceptions import ExtraDataLengthError

from chain.accounts import demo_account
from chain.compile import Artifact
from chain.network.qbft import genesis_extra_data
from chain.node import AnvilNode
from chain.tx import ChainClient, needs_poa_middleware
from tests.chain.network.loopback_besu import BesuState, loopback_besu
from tests.conftest import Consortium

VALIDATORS = ["0x" + f"{i:02x}" * 20 for i in range(1, 5)]


def test_connect_reads_qbft_headers_when_extra_data_longer_than_32_bytes(
    artifacts: dict[str, Artifact],
) -> None:
    extra = genesis_extra_data(VALIDATORS)
    with loopback_besu(BesuState(extra_data=extra)) as url:
        with pytest.raises(ExtraDataLengthError):  # web3.py alone refuses the header
            Web3(Web3.HTTPProvider(url)).eth.get_block("latest")
        chain = ChainClient.connect(url, artifacts)
        block = chain.w3.eth.get_block("latest")
        fees = chain.fee_fields()
    assert bytes(block["proofOfAuthorityData"]).hex() == extra[2:]
    assert block["number"] == 5
    assert fees == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}  # zero base fee, node's price 0


def test_connect_adds_no_middleware_when_plain_headers(consortium: Consortium) -> None:
    assert not needs_poa_middleware(consortium.chain.w3)
    assert "proofOfAuthorityData" not in consortium.chain.w3.eth.get_block("latest")


@dataclass
class ZeroBaseFeeAnvil(AnvilNode):
    """Anvil with a zero base fee, as Besu's ``zeroBaseFee`` genesis gives."""

    def command(self) -> list[str]:
        return [*super().command(), "--base-fee", "0"]


@pytest.fixture
def zero_fee_chain(artifacts: dict[str, Artifact]) -> Iterator[ChainClient]:
    with ZeroBaseFeeAnvil(accounts=4) as node:
        yield ChainClient.connect(node.url, artifacts)


def test_fee_fields_pay_node_gas_price_when_base_fee_zero(zero_fee_chain: ChainClient) -> None:
    chain = zero_fee_chain
    assert chain.w3.eth.get_block("latest")["baseFeePerGas"] == 0
    price = int(chain.w3.eth.gas_price)
    assert chain.fee_fields() == {"maxFeePerGas": price, "maxPriorityFeePerGas": price}
    deployer = demo_account("deployer")
    members = [demo_account("regulator").address]
    _, receipt = chain.deploy("ConsortiumRegistry", [members, 1, 3600], deployer)
    assert receipt["status"] == 1 and int(receipt["effectiveGasPrice"]) == price
    assert chain.w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"] == 0
