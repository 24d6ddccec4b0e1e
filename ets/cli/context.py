"""The ``ets`` invocation's context: settings, chain, deployment, typed contract clients, signer and
output, built once by the root callback and kept in typer's ``ctx.obj`` for every command group."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import typer
from rich.console import Console

from chain.errors import ConfigError

if TYPE_CHECKING:  # the chain modules load on first use: `ets --help` stays quick
    from chain.accounts import Signer
    from chain.allowance import TokenHoldingClient
    from chain.client import ContractClient
    from chain.config import ChainSettings
    from chain.deploy import Manifest
    from chain.registry import RegistryClient
    from chain.tx import ChainClient

C = TypeVar("C", bound="ContractClient")
H = TypeVar("H", bound="TokenHoldingClient")


@dataclass
class Context:
    """What a command needs, each part made on first use (a command that only reads a file never
    loads the chain settings or connects).

    Attributes:
        console: standard output.
        err_console: standard error (progress, refusals).
    """

    console: Console = field(default_factory=Console)
    err_console: Console = field(default_factory=lambda: Console(stderr=True))

    @functools.cached_property
    def settings(self) -> ChainSettings:
        """The chain settings (``ETS_*``), loaded once per invocation."""
        from chain.config import ChainSettings

        return ChainSettings.load()

    @functools.cached_property
    def chain(self) -> ChainClient:
        """The connected chain (``ETS_RPC_URL``)."""
        from chain.connect import connect

        return connect(self.settings)

    def deployment(self) -> tuple[ChainClient, Manifest]:
        """The connected chain and its checked deployment manifest."""
        from chain.deploy import load_for_chain

        return self.chain, load_for_chain(self.chain, self.settings.manifest_path)

    def contract(self, client: type[C]) -> C:
        """A typed client of the deployment's contract ``client.CONTRACT``, its event queries from
        the contract's deployment block.

        Raises:
            DeploymentError: the contract is not in the manifest.
        """
        chain, manifest = self.deployment()
        return _client(client, chain, manifest)

    def holding(self, client: type[H]) -> H:
        """A typed client of a deployment's contract that holds and pays out allowances and cash
        (auction house, market, compliance manager), with the deployment's two token clients.

        Raises:
            DeploymentError: it or a token is not in the manifest.
        """
        from chain.allowance import AllowanceClient, SettlementClient

        chain, manifest = self.deployment()
        address = manifest.address(client.CONTRACT)
        allowance = _client(AllowanceClient, chain, manifest)
        cash = _client(SettlementClient, chain, manifest)
        return client(chain, address, allowance, cash, from_block=manifest.contracts[client.CONTRACT].block)

    def registry(self) -> RegistryClient:
        """The deployment's consortium registry."""
        from chain.registry import RegistryClient

        return self.contract(RegistryClient)

    def signer(self, as_: str | None, keystore: Path | None) -> Signer:
        """The signing account: a keystore (password from ``ETS_KEYSTORE_PASSWORD`` or asked), a
        demo account by name (demo mode only), else the configured service account.

        Raises:
            ConfigError: a demo name outside demo mode, or no usable key.
        """
        from chain.accounts import demo_account, load_keystore

        settings = self.settings
        if keystore is not None:
            password = (
                settings.keystore_password.get_secret_value()
                if settings.keystore_password is not None
                else typer.prompt(f"Password for {keystore}", hide_input=True)
            )
            return load_keystore(keystore, password)
        if as_ is not None:
            if not settings.demo:
                raise ConfigError("--as uses public demo keys: only in demo mode (ETS_DEMO=1)")
            return demo_account(as_)
        return settings.service_account()

    def print_json(self, data: Any) -> None:
        """``data`` as indented JSON on standard output (dates and the like as strings)."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _client(client: type[C], chain: ChainClient, manifest: Manifest) -> C:
    """``client`` of the manifest's contract ``client.CONTRACT`` from its deployment block."""
    address = manifest.address(client.CONTRACT)
    return client(chain, address, from_block=manifest.contracts[client.CONTRACT].block)


def context() -> Context:
    """The current invocation's :class:`Context` (made here when a group runs without the root
    callback, or a fresh one outside any invocation)."""
    current = click.get_current_context(silent=True)
    if current is None:
        return Context()
    root = current.find_root()
    if not isinstance(root.obj, Context):
        root.obj = Context()
    return root.obj
