"""The configured chain and its deployment: one connection recipe for the CLI and the services."""

from __future__ import annotations

from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import Manifest, load_for_chain
from chain.tx import ChainClient


def connect(settings: ChainSettings) -> ChainClient:
    """A client of the node at ``settings.rpc_url`` with the compiled suite's artifacts.

    Raises:
        ChainError: the node does not answer.
    """
    return ChainClient.connect(settings.rpc_url, compile_contracts(), confirmations=settings.confirmations)


def connect_deployment(settings: ChainSettings) -> tuple[ChainClient, Manifest]:
    """The connected chain and its deployment manifest, checked to describe that chain.

    Raises:
        ChainError: the node does not answer.
        DeploymentError: the manifest is missing, or for another chain.
    """
    chain = connect(settings)
    return chain, load_for_chain(chain, settings.manifest_path)
