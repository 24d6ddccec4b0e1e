"""The settlement job wired to a deployment: the read model, the chain's ledger and escrow
contracts, the report anchor and the settings, as ``ets settle`` and the scheduler service run it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select

from chain.accounts import Signer, load_keystore
from chain.allowance import AllowanceClient, SettlementClient
from chain.config import ChainSettings
from chain.deploy import Manifest
from chain.errors import ChainError, ConfigError
from chain.market import MarketClient
from chain.registry import RegistryClient
from chain.settlement import ChainLedger, PublishedReport, ReportAnchor, SettlementReportsClient, ledger_for
from chain.tx import ChainClient
from readmodel import models as m
from settlement.calendar import day_code
from settlement.config import SettlementSettings
from settlement.day import DayResult, run_day
from settlement.errors import SettlementError
from settlement.market import MarketCloseResult, close_market
from settlement.run import SystemAccounts
from settlement.verify import DayVerification, verify_day

logger = logging.getLogger(__name__)


@dataclass
class SettlementService:
    """Everything a settlement run needs, built from the settings (:meth:`connect`).

    Attributes:
        settings: the ``ETS_SETTLE_*`` settings.
        engine: the read model.
        chain: the connected chain.
        manifest: its deployment.
        ledger: balances and supplies on-chain, the day's block bounds and log counts.
        system: the escrow contracts (auction house, compliance manager).
    """

    settings: SettlementSettings
    engine: Engine
    chain: ChainClient
    manifest: Manifest
    ledger: ChainLedger
    system: SystemAccounts

    @classmethod
    def connect(
        cls, settings: SettlementSettings, chain: ChainClient, manifest: Manifest, engine: Engine
    ) -> SettlementService:
        """The service with ``settings`` over ``chain``'s deployment and the read model behind
        ``engine``.

        Raises:
            ChainError: the tokens are not deployed.
        """
        contracts = {name: record.address for name, record in manifest.contracts.items()}
        system = SystemAccounts(
            contracts.get("SealedBidAuction"), contracts.get("ComplianceManager"), contracts.get("Market")
        )
        return cls(settings, engine, chain, manifest, ledger_for(chain, contracts), system)

    def reports(self) -> SettlementReportsClient:
        """The deployment's SettlementReports contract."""
        return SettlementReportsClient(self.chain, self.manifest.address("SettlementReports"))

    def registry(self) -> RegistryClient:
        """The deployment's consortium registry (governed report corrections)."""
        return RegistryClient(self.chain, self.manifest.address("ConsortiumRegistry"))

    def anchor(self, signer: Callable[[], Signer]) -> ReportAnchor | None:
        """Where balanced days' report hashes are published, signed and sent by the account
        ``signer`` opens (asked only when publishing); None when ``ETS_SETTLE_PUBLISH=0``."""
        if not self.settings.publish:
            return None
        return ReportAnchor(self.reports(), signer())

    def run(self, day: date, anchor: ReportAnchor | None, bank: Path | None = None) -> DayResult:
        """One settlement run of ``day`` with the service's settings (the day's bank statement
        from ``bank``, else the bank directory)."""
        return run_day(
            self.engine,
            self.settings.calendar(),
            day,
            self.settings.reports_dir,
            chain=self.ledger,
            bank_file=bank or self.settings.bank_file(day_code(day)),
            require_bank=self.settings.require_bank,
            system=self.system,
            fees=dict(self.settings.fees),
            anchor=anchor,
            large_holder_bps=self.settings.large_holder_bps,
        )

    def market(self) -> MarketClient | None:
        """The deployment's exchange Market with its token clients; None when it has none."""
        record = self.manifest.contracts.get("Market")
        if record is None:
            return None
        allowance = AllowanceClient(self.chain, self.manifest.address("AllowanceToken"))
        cash = SettlementClient(self.chain, self.manifest.address("SettlementToken"))
        return MarketClient(self.chain, record.address, allowance, cash, from_block=record.block)

    def close_market(self, day: date, signer: Signer) -> MarketCloseResult | None:
        """The market's end of ``day`` (:func:`settlement.market.close_market`) as ``signer``;
        None when the deployment has no Market."""
        market = self.market()
        return None if market is None else close_market(market, signer, day)

    def runner(self, anchor: ReportAnchor | None) -> Callable[[date], DayResult]:
        """A ``run(day)`` for :func:`settlement.schedule.add_settlement_job`; runs never overlap.
        After a balanced settlement anchored on-chain (this run or an earlier one) the market's
        day is closed with the anchoring key (:meth:`close_market`); a refused close is logged
        and the settlement's result still returned (``ets settle close-market`` re-runs it)."""
        lock = threading.Lock()

        def run(day: date) -> DayResult:
            with lock:
                result = self.run(day, anchor)
                if anchor is not None and result.balanced and result.anchored in ("published", "already"):
                    try:
                        self.close_market(day, anchor.exchange)
                    except (SettlementError, ChainError) as exc:
                        logger.error(
                            "market close failed",
                            extra={"day": day.isoformat(), "error": type(exc).__name__, "detail": str(exc)},
                        )
                return result

        return run

    def verify(self, day: date) -> DayVerification[PublishedReport]:
        """``day``'s report checked against its manifest and the hash anchored on-chain.

        Raises:
            OSError: the day has no report.
        """
        return verify_day(self.settings.reports_dir, day, self.reports())

    def enterprises(self) -> list[str]:
        """Registered enterprises' addresses, per the read model, sorted."""
        p = m.Participant
        query = select(p.address).where(p.credit_code.is_not(None)).order_by(p.address)
        with self.engine.connect() as conn:
            return [str(a) for (a,) in conn.execute(query)]


def service_signer(chain_settings: ChainSettings, keystore: Path | None) -> Signer:
    """The key a service signs and anchors reports with: the settlement keystore ``keystore``
    (password ``ETS_KEYSTORE_PASSWORD``), else the service account.

    Raises:
        ConfigError: no usable key, or a keystore without its password.
    """
    if keystore is None:
        return chain_settings.service_account()
    if chain_settings.keystore_password is None:
        raise ConfigError(f"the settlement keystore {keystore} needs its password in ETS_KEYSTORE_PASSWORD")
    return load_keystore(keystore, chain_settings.keystore_password.get_secret_value())
