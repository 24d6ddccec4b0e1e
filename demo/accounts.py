"""The demo's accounts part, against the demo's API on loopback: a new enterprise (the demo wallet
:data:`APPLICANT`, which no other step uses) signs an application, the regulator accepts it (its
wallet signs the ``registerEnterprise`` proposal the API built), the exchange approves and
executes it, and the applicant sees its application executed and its role granted; then an
enterprise downloads its statement of the latest settled day as CSV and PDF. A re-run finds the
enterprise registered and sends nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from api.accounts_client import AccountsClient
from chain.accounts import demo_account
from chain.compile import compile_contracts
from chain.config import ChainSettings
from chain.deploy import load_for_chain
from chain.registry import RegistryClient, Status
from chain.tx import ChainClient
from demo.api import served_api
from domain.codes import credit_code_check_char
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine

#: The new enterprise's credit code body (its check character is computed).
NEW_CODE_BODY = "91330106MA2DEM701"
NEW_CODE = NEW_CODE_BODY + credit_code_check_char(NEW_CODE_BODY)
NEW_NAME = "Hangzhou Xihu Green Heat Co., Ltd."
#: The new enterprise's demo wallet: this step's own (the demo's enterprises, devices, reserve
#: project and Safe representatives are other wallets), so its actions show under its company only.
APPLICANT = "enterprise-14"


@dataclass
class AccountsDemoReport:
    """What the accounts step did.

    Attributes:
        applicant: the new enterprise's account (None when :data:`APPLICANT` has a role without it).
        application_id: its application.
        proposal_id: the governance proposal that registered it.
        statement: (account, day, CSV bytes, PDF bytes) of the statement downloaded.
        lines: what to print.
    """

    applicant: str | None = None
    application_id: str | None = None
    proposal_id: int | None = None
    statement: tuple[str, str, int, int] | None = None
    lines: list[str] = field(default_factory=list)


def _applicant(registry: RegistryClient) -> str | None:
    """The new enterprise's account when registered (:data:`NEW_CODE`), else :data:`APPLICANT`
    while it has no role, else None."""
    holder = registry.enterprise_by_credit_code(NEW_CODE)
    if holder is not None:
        return holder
    return APPLICANT if registry.status_of(demo_account(APPLICANT).address) == Status.NONE else None


def run_accounts_demo(
    client: httpx.Client,
    registry: RegistryClient,
    catch_up: Callable[[], object],
    say: Callable[[str], None] = lambda _: None,
) -> AccountsDemoReport:
    """Register a new enterprise through an application and download a statement.

    Args:
        client: an HTTP client of the demo's API (base URL set).
        registry: the demo's registry (the exchange approves and executes with its demo key).
        catch_up: indexes the chain into the API's read model (``Indexer.catch_up``).
        say: progress lines.
    """
    report = AccountsDemoReport()
    found = _applicant(registry)
    if found is None:
        report.lines.append(f"accounts: {APPLICANT} holds a role already: no application")
    elif found.startswith("0x"):
        report.applicant = found
        report.lines.append(f"accounts: {NEW_NAME} ({NEW_CODE}) was registered by an earlier run ({found})")
    else:
        _register(client, registry, catch_up, found, report, say)
    _statement(client, registry, report)
    return report


def _register(
    client: httpx.Client,
    registry: RegistryClient,
    catch_up: Callable[[], object],
    name: str,
    report: AccountsDemoReport,
    say: Callable[[str], None],
) -> None:
    wallet = demo_account(name)
    report.applicant = wallet.address
    applicant = AccountsClient(client, wallet)
    fields = {
        "kind": "register", "credit_code": NEW_CODE, "name": NEW_NAME, "region_code": 330106,
        "industry_code": "D4430", "latitude_e6": 30_259_000, "longitude_e6": 120_130_000,
        "contacts": [{"name": "Chen Jing", "phone": "+86 571 8800 0000", "email": "chen.jing@example.cn"}],
        "documents": ["0x" + "5a" * 32], "issued_at": int(time.time()),
    }  # fmt: skip
    say(f"accounts: {name} ({wallet.address}, no role) applies for an account")
    app = applicant.apply(fields)
    report.application_id = app["application_id"]
    report.lines.append(
        f"accounts: {name} signed an application for {NEW_NAME} ({NEW_CODE}) with its wallet "
        f"(EIP-712, no role yet): {app['status']}"
    )
    regulator = AccountsClient(client, demo_account("regulator"))
    queue = regulator.applications("submitted")
    done = regulator.review(app["application_id"], "accept")
    outcome = done["outcome"]
    proposal_id = next(
        int(e["args"]["proposalId"]) for e in outcome["events"] if e["name"] == "ProposalCreated"
    )
    report.proposal_id = proposal_id
    report.lines.append(
        f"accounts: the regulator's review queue held {len(queue)} application(s); it accepted this one and "
        f"its wallet signed the registerEnterprise proposal the API built: proposal {proposal_id} "
        f"({outcome['status']}, gas {outcome['gas_used']:,})"
    )
    exchange = demo_account("exchange")
    registry.approve(exchange, proposal_id)
    registry.execute(exchange, proposal_id)
    catch_up()
    seen = applicant.application(app["application_id"])
    role = "ENTERPRISE" if registry.has_role("ENTERPRISE", wallet.address) else "none"
    report.lines.append(
        f"accounts: the exchange approved and executed it; the applicant sees its application "
        f"{seen['status']} (proposal {seen['proposal_id']}), registry role: {role}"
    )


def _statement(client: httpx.Client, registry: RegistryClient, report: AccountsDemoReport) -> None:
    wallet = demo_account("enterprise-1")
    if not registry.has_role("ENTERPRISE", wallet.address):
        report.lines.append("accounts: enterprise-1 is not registered: no statement")
        return
    owner = AccountsClient(client, wallet)
    days = owner.statement_days(wallet.address)["days"]
    if not days:
        report.lines.append("accounts: no settled day yet: no statement")
        return
    day = days[-1]
    statement = owner.statement(wallet.address, "daily", day)
    csv_bytes = owner.statement_file(wallet.address, "daily", day, "csv")
    pdf_bytes = owner.statement_file(wallet.address, "daily", day, "pdf")
    report.statement = (wallet.address, day, len(csv_bytes), len(pdf_bytes))
    moved = ", ".join(t["movement"] for t in statement["by_type"]) or "nothing"
    report.lines.append(
        f"accounts: enterprise-1 downloaded its statement of {day}: {len(statement['lines'])} lines "
        f"(moved: {moved}; fees {statement['fees'] / 100:,.2f} CNY, "
        f"fines {statement['fines'] / 100:,.2f} CNY), "
        f"CSV {len(csv_bytes):,} bytes, PDF {len(pdf_bytes):,} bytes"
    )


def demo_accounts(settings: ChainSettings, *, say: Callable[[str], None] = print) -> AccountsDemoReport:
    """The accounts step of ``ets demo`` (after the settlement step, so that a settled day has a
    statement): serve the API over the demo's read model on the demo's loopback port
    (:func:`demo.api.served_api`), run :func:`run_accounts_demo` against it, stop it. Idempotent."""
    chain = ChainClient.connect(settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, settings.manifest_path)
    database = f"sqlite:///{settings.state_dir / 'readmodel.db'}"
    engine = make_engine(database)
    upgrade(engine)
    indexer = Indexer(chain, manifest, engine)
    indexer.catch_up()
    try:
        with (
            served_api(settings, chain, manifest, database, engine, name="ets-accounts-demo") as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
            return run_accounts_demo(client, registry, indexer.catch_up, say)
    finally:
        engine.dispose()
