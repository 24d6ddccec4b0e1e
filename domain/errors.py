"""Root of every exception ETS Chain raises on purpose, and the rule violations under DomainError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar


class EtsError(Exception):
    """Base class of all ETS Chain errors; catch this to catch any of them."""


class DomainError(EtsError):
    """A rule of the domain was broken by the input (a bad id, code, amount or plan)."""


class InvalidInputError(DomainError, ValueError):
    """Raised when a value is refused before any transaction is built (bad code, bad address)."""


class AllocationInputError(DomainError, ValueError):
    """Raised when allocation inputs are invalid; ``problems`` lists every one, with line numbers.

    Attributes:
        problems: one message per problem, e.g. ``"history.csv line 7: coal_t '-3' is negative"``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"invalid allocation input ({count} problem{'s' * (count != 1)}):\n{lines}")


class AuctionInputError(DomainError, ValueError):
    """Raised when auction inputs are invalid: a bad schedule, scenario, parameter or bid file."""


class ComplianceInputError(DomainError, ValueError):
    """Raised when compliance inputs are invalid: a bad case file, notice list, token or signed file."""


class MarketInputError(DomainError, ValueError):
    """Raised when market inputs are invalid: a bad scenario file, side or command argument."""


class SurveillanceInputError(DomainError, ValueError):
    """Raised when surveillance inputs are invalid: a bad account-records file, scan setting or day."""


class ReviewInputError(DomainError, ValueError):
    """Raised when a review decision breaks a review rule (a substitution without a method, a
    method that cannot compute a value, an unknown action); twin of the ledger's review errors."""


class MarketError(DomainError):
    """Root of the exchange market's refusals (the Python twins of the Market contract's custom errors).

    Attributes:
        contract_error: the Solidity custom error's name (differential tests compare it).
        arguments: the error's arguments in the Solidity order (an account is the trader's name).
    """

    contract_error: ClassVar[str] = ""

    def __init__(self, *arguments: int | str) -> None:
        self.arguments: tuple[int | str, ...] = arguments
        super().__init__(f"{self.contract_error}({', '.join(repr(a) for a in arguments)})")


class MarketRuleError(MarketError, ValueError):
    """Raised when a trading rule refuses an action; the leaves name the rule (HTTP 400)."""


class MarketNotListed(MarketRuleError):
    """Raised when the token id has no rulebook, so it does not trade."""

    contract_error = "MarketNotListed"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketHalted(MarketRuleError):
    """Raised when trading in the token id is halted by the exchange."""

    contract_error = "MarketHalted"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketOutsideSession(MarketRuleError):
    """Raised when an action comes outside its session (weekend, break, take/block before the open)."""

    contract_error = "MarketOutsideSession"

    def __init__(self, token_id: int, tod: int) -> None:
        self.token_id, self.tod = token_id, tod
        super().__init__(token_id, tod)


class MarketBookNotExpired(MarketRuleError):
    """Raised when orders of an earlier trading day are still open (expire them first)."""

    contract_error = "MarketBookNotExpired"

    def __init__(self, token_id: int, book_day: int) -> None:
        self.token_id, self.book_day = token_id, book_day
        super().__init__(token_id, book_day)


class MarketCallPending(MarketRuleError):
    """Raised when a continuous action comes before today's non-empty call book is uncrossed."""

    contract_error = "MarketCallPending"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketQuantityZero(MarketRuleError):
    """Raised when an order or take has quantity zero."""

    contract_error = "MarketQuantityZero"

    def __init__(self) -> None:
        super().__init__()


class MarketListingTooLarge(MarketRuleError):
    """Raised when a listing order's quantity is the block minimum or more (that is a block trade)."""

    contract_error = "MarketListingTooLarge"

    def __init__(self, quantity: int, block_minimum: int) -> None:
        self.quantity, self.block_minimum = quantity, block_minimum
        super().__init__(quantity, block_minimum)


class MarketPriceOutsideBand(MarketRuleError):
    """Raised when a listing order's price is outside the listing band, or a block's outside its band."""

    contract_error = "MarketPriceOutsideBand"

    def __init__(self, token_id: int, price: int, lower: int, upper: int) -> None:
        self.token_id, self.price, self.lower, self.upper = token_id, price, lower, upper
        super().__init__(token_id, price, lower, upper)


class MarketSelfTrade(MarketRuleError):
    """Raised when an order crosses the account's own resting order (named), or it trades with itself."""

    contract_error = "MarketSelfTrade"

    def __init__(self, account: str, resting_order_id: int) -> None:
        self.account, self.resting_order_id = account, resting_order_id
        super().__init__(account, resting_order_id)


class MarketTooManyOrders(MarketRuleError):
    """Raised when the account already has the maximum of open orders on that token id and side."""

    contract_error = "MarketTooManyOrders"

    def __init__(self, account: str, token_id: int, limit: int) -> None:
        self.account, self.token_id, self.limit = account, token_id, limit
        super().__init__(account, token_id, limit)


class MarketInsufficientCash(MarketRuleError):
    """Raised when a buyer's cash is below the whole order's value plus fee at its limit price."""

    contract_error = "MarketInsufficientCash"

    def __init__(self, account: str, needed: int, available: int) -> None:
        self.account, self.needed, self.available = account, needed, available
        super().__init__(account, needed, available)


class MarketInsufficientAllowances(MarketRuleError):
    """Raised when a seller's sellable allowances (balance less today's purchases) are below the quantity."""

    contract_error = "MarketInsufficientAllowances"

    def __init__(self, account: str, token_id: int, needed: int, sellable: int) -> None:
        self.account, self.token_id, self.needed, self.sellable = account, token_id, needed, sellable
        super().__init__(account, token_id, needed, sellable)


class MarketOrderNotOpen(MarketRuleError):
    """Raised when an order to cancel or take does not exist or is filled, cancelled or expired."""

    contract_error = "MarketOrderNotOpen"

    def __init__(self, order_id: int) -> None:
        self.order_id = order_id
        super().__init__(order_id)


class MarketNotOrderOwner(MarketRuleError):
    """Raised when someone other than its owner cancels an order."""

    contract_error = "MarketNotOrderOwner"

    def __init__(self, order_id: int, caller: str) -> None:
        self.order_id, self.caller = order_id, caller
        super().__init__(order_id, caller)


class MarketTakeOutsideBestLevels(MarketRuleError):
    """Raised when the taken order's price is not among the best five price levels of its side."""

    contract_error = "MarketTakeOutsideBestLevels"

    def __init__(self, order_id: int, price: int) -> None:
        self.order_id, self.price = order_id, price
        super().__init__(order_id, price)


class MarketTakeExceedsRemaining(MarketRuleError):
    """Raised when a take asks for more than the taken order's remaining quantity."""

    contract_error = "MarketTakeExceedsRemaining"

    def __init__(self, order_id: int, quantity: int, remaining: int) -> None:
        self.order_id, self.quantity, self.remaining = order_id, quantity, remaining
        super().__init__(order_id, quantity, remaining)


class MarketBlockBelowMinimum(MarketRuleError):
    """Raised when a block trade's quantity is below the block minimum."""

    contract_error = "MarketBlockBelowMinimum"

    def __init__(self, quantity: int, block_minimum: int) -> None:
        self.quantity, self.block_minimum = quantity, block_minimum
        super().__init__(quantity, block_minimum)


class MarketNotTrader(MarketRuleError):
    """Raised when an account that is not an active enterprise trades or is named as a block buyer."""

    contract_error = "MarketNotTrader"

    def __init__(self, account: str) -> None:
        self.account = account
        super().__init__(account)


class MarketBlockNotPending(MarketRuleError):
    """Raised when a block proposal to accept, decline or cancel is not pending."""

    contract_error = "MarketBlockNotPending"

    def __init__(self, block_id: int) -> None:
        self.block_id = block_id
        super().__init__(block_id)


class MarketNotBlockBuyer(MarketRuleError):
    """Raised when someone other than the named buyer accepts or declines a block proposal."""

    contract_error = "MarketNotBlockBuyer"

    def __init__(self, block_id: int, caller: str) -> None:
        self.block_id, self.caller = block_id, caller
        super().__init__(block_id, caller)


class MarketNotBlockSeller(MarketRuleError):
    """Raised when someone other than its seller cancels a block proposal."""

    contract_error = "MarketNotBlockSeller"

    def __init__(self, block_id: int, caller: str) -> None:
        self.block_id, self.caller = block_id, caller
        super().__init__(block_id, caller)


class MarketWrongUncross(MarketRuleError):
    """Raised when a submitted uncrossing price is not the rules' price (0 when there is no uncrossing)."""

    contract_error = "MarketWrongUncross"

    def __init__(self, token_id: int, submitted: int, expected: int) -> None:
        self.token_id, self.submitted, self.expected = token_id, submitted, expected
        super().__init__(token_id, submitted, expected)


class MarketDayNotOver(MarketRuleError):
    """Raised when orders are expired before the close of their trading day."""

    contract_error = "MarketDayNotOver"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketRulebookInvalid(MarketRuleError):
    """Raised when a rulebook breaks its bounds (zero reference, bps too high, sessions out of order)."""

    contract_error = "MarketRulebookInvalid"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketPriceInvalid(MarketRuleError):
    """Raised when a price is 0 or above 2^48 - 1 fen per tonne."""

    contract_error = "MarketPriceInvalid"

    def __init__(self, price: int) -> None:
        self.price = price
        super().__init__(price)


class MarketQuantityInvalid(MarketRuleError):
    """Raised when a quantity is above 2^64 - 1 tonnes (or negative)."""

    contract_error = "MarketQuantityInvalid"

    def __init__(self, quantity: int) -> None:
        self.quantity = quantity
        super().__init__(quantity)


class MarketZeroAddress(MarketRuleError):
    """Raised when a required address (registry, token, fee account) is the zero address."""

    contract_error = "MarketZeroAddress"

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(what)


class MarketPositionLimit(MarketRuleError):
    """Raised when a buy would take the account's position (balance + open buys + quantity) over the limit."""

    contract_error = "MarketPositionLimit"

    def __init__(self, account: str, token_id: int, position: int, limit: int) -> None:
        self.account, self.token_id, self.position, self.limit = account, token_id, position, limit
        super().__init__(account, token_id, position, limit)


class MarketPermitNotValid(MarketRuleError):
    """Raised when a buy's account has no valid discharge permit for the token's gated pollutant."""

    contract_error = "MarketPermitNotValid"

    def __init__(self, account: str, pollutant: int) -> None:
        self.account, self.pollutant = account, pollutant
        super().__init__(account, pollutant)


class MarketRulebookGoverned(MarketRuleError):
    """Raised when the exchange alone changes a governed rulebook (only registry governance may)."""

    contract_error = "MarketRulebookGoverned"

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        super().__init__(token_id)


class MarketNotSettlementAgent(MarketRuleError):
    """Raised when anyone but the settlement agent posts a reference price."""

    contract_error = "MarketNotSettlementAgent"

    def __init__(self, caller: str) -> None:
        self.caller = caller
        super().__init__(caller)


class PlanRuleError(DomainError, ValueError):
    """Raised when a five-year or annual plan breaks a rule of ``domain.plans`` (the Python twins
    of the TotalControlPlans contract's custom errors).

    Attributes:
        contract_error: the Solidity custom error's name (differential tests compare it).
        arguments: the error's arguments in the Solidity order.
    """

    def __init__(self, contract_error: str, *arguments: int) -> None:
        self.contract_error = contract_error
        self.arguments = tuple(arguments)
        super().__init__(f"plan refused: {contract_error}{self.arguments}")
