"""Who sees what, in one place: every route asks these rules, none writes its own.

* **No role, or suspended**: sign-in, ``/auth/me``, health and the public subset (enterprise
  names and regions, tokens and caps, allocation totals, auctions without bids). Every other
  route answers 403: a suspended participant's roles grant nothing (:attr:`Principal.powers`).
* **Regulator, exchange**: every account's data.
* **Enterprise**: its own account's data.
* **Auditor**: its own account and the enterprises the regulator assigned it on chain
  (ConsortiumRegistry ``AuditorAssigned`` / ``AuditorUnassigned``, projected into
  ``auditor_assignments``). Attestations grant nothing: a revoked, rejected or throwaway
  attestation opens no enterprise.
* **Holdings** (``/holdings``, ``/transfers``, ``/stats/holdings``, the audit trail's
  balances): the same accounts as above, through :func:`readable_accounts`.
* **Demo keys** (the public Anvil development keys the dashboard can sign with): only in demo
  mode (``ETS_DEMO=1``) *and* on chain id 31337 (:func:`demo_keys_served`).
* **Market** (``/market``): the book (aggregated by price, no owners), the trades, the daily
  quotes and the rulebooks are public to every signed-in account and name no account; an
  account's orders, fills and block proposals are read like its holdings (:func:`account_filter`).
  A trade shows a party's address and order id only to those who may read that party, except
  that the two parties of a block trade (which they agreed by name) see each other
  (:func:`shown_trade_parties`); the audit trail hides a listing trade's counterparty the same
  way (:func:`redact_args`). The API builds the exchange's market calls (rulebook, reference
  price, halt, resume, forced cancel) only for the exchange and the trading calls only for an
  enterprise (:func:`check_market_action`).
* **Account applications** (``/accounts/applications``): the one place an account without a role
  acts: any signed-in wallet gets the message to sign, submits, resubmits and reads its own
  applications (an applicant has no role until its registration executes); the exchange and
  the regulator read all and review (:mod:`api.accounts`). **Statements** (``/statements``) are
  read like holdings (:func:`check_account`).
* **Device MNs** and **bid schedules**: only the regulator, the exchange and the owner (the
  device's enterprise, the bidder); bid schedules stay sealed for everyone but the bidder until
  the auction's reveal phase has ended (:data:`SEALED_PHASES`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from api.deps import Principal
from api.errors import ForbiddenError
from chain.node import DEFAULT_CHAIN_ID
from readmodel import models as m

#: Roles that read every account's data.
PRIVILEGED = frozenset({"REGULATOR", "EXCHANGE"})
#: Auction phases in which bids are sealed: before the reveal phase has ended.
SEALED_PHASES = frozenset({"scheduled", "commit", "reveal"})
#: The only chain the public development (demo) keys may be served for: a local Anvil.
DEMO_CHAIN_ID = DEFAULT_CHAIN_ID
#: Event arguments that carry a bid's schedule, and a device's MN.
SCHEDULE_ARGS = ("prices", "quantities", "demand")
MN_ARG = "mn"
#: Market functions by the role the API builds them for (the contract checks again).
MARKET_ACTION_ROLES = {
    **dict.fromkeys(("setRulebook", "setReferencePrice", "halt", "resume", "forceCancel"), "EXCHANGE"),
    **dict.fromkeys(("placeOrder", "cancelOrder", "take", "proposeBlock", "acceptBlock", "declineBlock",
                     "cancelBlock"), "ENTERPRISE"),
}  # fmt: skip
#: ``TradeExecuted.mode`` of a block trade (domain.market.TradeMode.BLOCK).
_BLOCK_MODE = 3


def assigned_enterprises(auditor: str) -> Select[Any]:
    """The enterprises ``auditor`` is assigned to (a sub-query)."""
    a = m.AuditorAssignment
    return select(a.enterprise).where(a.auditor == auditor)


def is_assigned(db: Session, *, auditor: str, enterprise: str) -> bool:
    """Whether the regulator has assigned ``auditor`` to ``enterprise`` (as indexed)."""
    a = m.AuditorAssignment
    return bool(db.execute(select(exists().where(a.auditor == auditor, a.enterprise == enterprise))).scalar())


def readable_accounts(db: Session, viewer: Principal) -> frozenset[str] | None:
    """The accounts whose data (holdings, transfers, compliance, readings, audit trail,
    statistics) ``viewer`` may read: ``None`` for every account (regulator, exchange), else its
    own plus, for an auditor, the enterprises it is assigned to.

    Raises:
        ForbiddenError: the viewer holds no role, or is suspended.
    """
    viewer.require()
    if viewer.sees_everything:
        return None
    accounts = {viewer.address}
    if viewer.has("AUDITOR"):
        accounts.update(db.execute(assigned_enterprises(viewer.address)).scalars())
    return frozenset(accounts)


def may_read(db: Session, viewer: Principal, account: str) -> bool:
    """Whether ``viewer`` may read ``account``'s data (False for no role or suspended)."""
    if not viewer.powers:
        return False
    if viewer.sees_everything or account == viewer.address:
        return True
    return viewer.has("AUDITOR") and is_assigned(db, auditor=viewer.address, enterprise=account)


def check_account(db: Session, viewer: Principal, account: str, what: str = "data") -> None:
    """Raises ForbiddenError unless ``viewer`` may read ``account``'s ``what``."""
    viewer.require()
    if not may_read(db, viewer, account):
        raise ForbiddenError(f"{viewer.address} may not read the {what} of {account}")


def account_filter(
    db: Session, viewer: Principal, account: str | None, what: str = "data"
) -> frozenset[str] | None:
    """The accounts a query of ``what`` runs over: ``{account}`` when named (and readable);
    otherwise every readable account (``None``: all, for the regulator and exchange).

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
    """
    if account is not None:
        check_account(db, viewer, account, what)
        return frozenset({account})
    return readable_accounts(db, viewer)


def sees_mn(viewer: Principal, enterprise: str) -> bool:
    """Whether ``viewer`` may see the MN of a device of ``enterprise``."""
    return viewer.sees_everything or (bool(viewer.powers) and viewer.address == enterprise)


def sees_schedule(viewer: Principal, *, bidder: str, sealed: bool) -> bool:
    """Whether ``viewer`` may see the revealed schedule (prices, quantities, demand) of
    ``bidder``'s bid: the bidder always; the regulator and exchange once the reveal phase has
    ended (``sealed`` False); no one else."""
    if viewer.address == bidder and viewer.powers:
        return True
    return viewer.sees_everything and not sealed


def redact_args(
    viewer: Principal, *, contract: str, name: str, args: dict[str, Any], sealed: bool
) -> dict[str, Any]:
    """An event's arguments as ``viewer`` may see them: a bid's schedule and a device's MN
    replaced by ``None`` where :func:`sees_schedule` or :func:`sees_mn` says no.

    Args:
        sealed: for a ``BidRevealed``, whether its auction is still before the end of its
            reveal phase.
    """
    if contract == "SealedBidAuction" and name == "BidRevealed":
        if not sees_schedule(viewer, bidder=str(args.get("bidder")), sealed=sealed):
            return {k: (None if k in SCHEDULE_ARGS else v) for k, v in args.items()}
    elif contract == "Market" and name == "TradeExecuted" and not viewer.sees_everything:
        parties = (args.get("buyer"), args.get("seller"))
        if not (args.get("mode") == _BLOCK_MODE and viewer.address in parties):
            hidden = {
                key
                for party, keys in zip(parties, (("buyer", "buyId"), ("seller", "sellId")), strict=True)
                if party != viewer.address
                for key in keys
            }
            return {k: (None if k in hidden else v) for k, v in args.items()}
    elif MN_ARG in args and "enterprise" in args and not sees_mn(viewer, str(args["enterprise"])):
        return {k: (None if k == MN_ARG else v) for k, v in args.items()}
    return args


def demo_keys_served(*, demo: bool, chain_id: int) -> bool:
    """Whether the public demo keys may be handed to browsers: demo mode on a local Anvil chain
    (id 31337) only, never on a consortium network whatever ``ETS_DEMO`` says."""
    return demo and chain_id == DEMO_CHAIN_ID


def trade_readers(db: Session, viewer: Principal) -> frozenset[str] | None:
    """The accounts whose side of a trade ``viewer`` may see (:func:`shown_trade_parties`):
    ``None`` for every account (regulator, exchange), none without an active role, else those of
    :func:`readable_accounts`."""
    return readable_accounts(db, viewer) if viewer.powers else frozenset()


def shown_trade_parties(
    readers: frozenset[str] | None, viewer: Principal, *, buyer: str, seller: str, block: bool
) -> tuple[bool, bool]:
    """Whether ``viewer`` may see a trade's (buyer side, seller side): the party's address, order
    id and fee. Each side to those who may read its account (``readers``, from
    :func:`trade_readers`); both sides to either party of a block trade."""
    if readers is None:
        return True, True
    if block and viewer.powers and viewer.address in (buyer, seller):
        return True, True
    return buyer in readers, seller in readers


def check_market_action(viewer: Principal, contract: str, function: str) -> None:
    """Raises ForbiddenError unless ``viewer`` may have the API build ``contract.function``: the
    Market's exchange functions need the EXCHANGE role, its trading functions the ENTERPRISE
    role (``function`` a name or a full signature). Anything else is left to the contract."""
    role = MARKET_ACTION_ROLES.get(function.split("(", 1)[0]) if contract == "Market" else None
    if role is not None and not viewer.has(role):
        raise ForbiddenError(f"{viewer.address} needs the role {role} for Market.{function.split('(', 1)[0]}")
