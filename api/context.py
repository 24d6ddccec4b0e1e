"""Everything a request handler needs, built once per process: settings, the read model's
engine, the chain gateway, the deployment and the registry that says who holds which role."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth import SessionCache
from api.config import ApiSettings
from api.limits import RateLimits
from chain.allowance import AllowanceClient, SettlementClient
from chain.calls import CallCatalog
from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import Manifest, load_for_chain
from chain.events import EventSource
from chain.ledger import LedgerClient
from chain.market import MarketClient
from chain.registry import RegistryClient, Status
from chain.tx import ChainClient
from readmodel.session import make_engine, session_factory

#: Roles the API asks the registry about, as ConsortiumRegistry names them (without ``_ROLE``).
ROLES = ("REGULATOR", "EXCHANGE", "ENTERPRISE", "AUDITOR", "ORACLE", "GOVERNOR")


@dataclass(frozen=True)
class Roles:
    """An account's roles and standing, as read from the ConsortiumRegistry (``suspended``: its
    roles grant nothing until it is reinstated)."""

    roles: frozenset[str]
    suspended: bool


class RoleCache:
    """Roles read from the registry, reused for ``ttl`` seconds (role changes go through
    multi-party governance; a few seconds of delay is the price of not asking the chain on
    every request)."""

    def __init__(self, registry: RegistryClient, ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Roles]] = {}

    def cached(self, address: str) -> Roles | None:
        """The roles of ``address`` if read within ``ttl`` seconds (no chain call), else None."""
        hit = self._cache.get(address)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return None

    def of(self, address: str) -> Roles:
        """The roles of ``address``, from the cache or read from the registry."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(address)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        held = frozenset(r for r in ROLES if self.registry.has_role(r, address))
        # any participant can be suspended (regulator, exchange, auditor ...), not only enterprises
        suspended = self.registry.status_of(address) is Status.SUSPENDED if held else False
        roles = Roles(held, suspended)
        with self._lock:
            self._cache[address] = (now, roles)
        return roles

    def forget(self, address: str | None = None) -> None:
        with self._lock:
            if address is None:
                self._cache.clear()
            else:
                self._cache.pop(address, None)


@dataclass
class AppContext:
    """The API process's long-lived objects.

    Attributes:
        settings: API settings.
        chain: the chain gateway.
        manifest: the deployment the API serves.
        engine: the read model.
    """

    settings: ApiSettings
    chain: ChainClient
    manifest: Manifest
    engine: Engine
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @classmethod
    def from_env(
        cls, settings: ApiSettings | None = None, chain_settings: ChainSettings | None = None
    ) -> AppContext:
        """Context from the environment (``ETS_*``): connects to the chain and the database."""
        settings = settings or ApiSettings.load()
        chain_settings = chain_settings or ChainSettings.load()
        chain = ChainClient.connect(chain_settings.rpc_url, compile_contracts())
        manifest = load_for_chain(chain, chain_settings.manifest_path)
        return cls(settings, chain, manifest, make_engine(settings.database(chain_settings)))

    @cached_property
    def registry(self) -> RegistryClient:
        return RegistryClient(self.chain, self.manifest.address("ConsortiumRegistry"))

    @cached_property
    def ledger(self) -> LedgerClient:
        return LedgerClient(self.chain, self.manifest.address("EmissionsLedger"))

    @cached_property
    def market(self) -> MarketClient:
        """The Market's client: the calls wallets sign (``POST /tx/market``) and token approvals.

        Raises:
            DeploymentError: the deployment has no Market.
        """
        allowance = AllowanceClient(self.chain, self.manifest.address("AllowanceToken"))
        cash = SettlementClient(self.chain, self.manifest.address("SettlementToken"))
        return MarketClient(self.chain, self.manifest.address("Market"), allowance, cash)

    @cached_property
    def session_cache(self) -> SessionCache:
        return SessionCache(self.settings.api_session_cache_seconds)

    @cached_property
    def rate_limits(self) -> RateLimits:
        """The rate limits of this process (counters shared through ``api_rate_limit_storage``)."""
        return RateLimits(self.settings)

    @cached_property
    def roles(self) -> RoleCache:
        return RoleCache(self.registry, self.settings.api_role_cache_seconds)

    @cached_property
    def events(self) -> EventSource:
        """Decoder of the suite's events (receipts of relayed transactions)."""
        return EventSource(self.chain, {n: r.address for n, r in self.manifest.contracts.items()})

    @cached_property
    def calls(self) -> CallCatalog:
        return CallCatalog(self.chain, {n: r.address for n, r in self.manifest.contracts.items()})
