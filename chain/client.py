"""The base of every typed contract client: the contract handle on a :class:`ChainClient`, which
builds, signs and sends transactions and turns reverts into :class:`ContractRevertError` with the
contract's custom error decoded."""

from __future__ import annotations

from typing import ClassVar

from eth_typing import ChecksumAddress
from web3.contract.contract import Contract

from chain.tx import ChainClient


class ContractClient:
    """Client of one deployed contract.

    Subclasses name their artifact in :attr:`CONTRACT` and add typed methods over
    ``self.contract.functions`` sent through ``self.chain`` (``call``, ``transact``, ``build``).

    Attributes:
        chain: the chain client (transactions, calls, revert decoding).
        contract: the web3 contract object.
        address: the contract's checksummed address.
        from_block: the block event queries start from (the contract's deployment block).
    """

    #: Artifact name of the contract (``chain.compile``).
    CONTRACT: ClassVar[str]

    def __init__(self, chain: ChainClient, address: str, *, from_block: int = 0) -> None:
        self.chain = chain
        self.contract: Contract = chain.contract(self.CONTRACT, address)
        self.address: ChecksumAddress = self.contract.address
        self.from_block = from_block
