"""Shared fixtures: one real Anvil node and one deployed suite per session; every chain test
runs between an ``evm_snapshot`` and an ``evm_revert``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.accounts import dev_account
from chain.compile import Artifact, compile_contracts
from chain.node import AnvilNode
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient


@dataclass
class Consortium(LocalSuite):
    """The demo consortium every chain test starts from (governance 2 of 3, roles, wiring)."""

    outsider: LocalAccount = field(default_factory=lambda: dev_account(39))

    def snapshot(self) -> str:
        return str(self.chain.w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]

    def revert(self, snapshot_id: str) -> None:
        """Back to the snapshot, with nothing of the test left in the node's pool either: Anvil's
        ``evm_revert`` keeps pending and queued transactions, and one left queued (a nonce gap)
        would be mined into, or hold up, a later test's nonce sequence of the same account."""
        rpc = self.chain.w3.provider.make_request
        rpc("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        rpc("anvil_dropAllTransactions", [])  # type: ignore[arg-type]
        self.chain.reset_nonces()


@pytest.fixture(scope="session")
def artifacts() -> dict[str, Artifact]:
    return compile_contracts()


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode(accounts=40) as node:
        yield node


@pytest.fixture(scope="session")
def consortium(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    chain = ChainClient.connect(anvil.url, artifacts)
    manifest_path = Path(tmp_path_factory.mktemp("deploy")) / "deployment.json"
    return Consortium(**vars(deploy_local_suite(chain, manifest_path)))


@pytest.fixture
def fresh(consortium: Consortium) -> Iterator[Consortium]:
    """The consortium, with every change this test makes rolled back afterwards."""
    snapshot_id = consortium.snapshot()
    try:
        yield consortium
    finally:
        consortium.revert(snapshot_id)


# --- databases: the API read model runs on SQLite and PostgreSQL ----------------------------
# Imports stay inside the fixtures so this section is self-contained; SQLite needs none of them.


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The throwaway PostgreSQL server that ``scripts/postgres`` provides (via ``scripts/test``)."""
    import os

    url = os.environ.get("ETS_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "ETS_TEST_POSTGRES_URL is not set: run the tests through scripts/test, "
            "which starts a local PostgreSQL (scripts/postgres)",
            pytrace=False,
        )
    return url


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to a fresh, empty database: a SQLite file, or a new database on the test PostgreSQL
    (dropped afterwards, even with connections still open)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/read.db"
        return

    from readmodel.session import scratch_database

    with scratch_database(request.getfixturevalue("postgres_url")) as url:
        yield url
