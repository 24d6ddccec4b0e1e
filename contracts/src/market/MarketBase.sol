// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {IDischargePermits} from "../interfaces/IDischargePermits.sol";
import {IMarketTypes} from "../interfaces/IMarket.sol";
import {Kind} from "../types/TokenId.sol";

/// @title MarketBase
/// @notice The market's storage and the book operations its two halves share: {Market} (orders,
/// takes, cancels, views) and {MarketOperations} (rulebooks, halts, blocks, the uncrossing,
/// expiry), which {Market} runs by `delegatecall` so the pair stays under the EIP-170 code size
/// limit. Both inherit this contract alone for storage, so their layouts are the same.
///
/// Storage: an order is two words (owner, price, token, flags | remaining, quantity, the next and
/// previous order of its price level), plus a third for a buy's fee escrow when the fee is not
/// zero; an order is open while `remaining` > 0. Price levels form a doubly linked list per side,
/// best first, each one word (first and last order, next and previous price, total quantity);
/// the `prev` link of the best level and of a level's first order is not maintained (never
/// read). One word per (account, token) holds the T+1 counter, the open-order counts and, while
/// the token's rulebook sets a position limit, the remaining quantity of the account's open buys.
abstract contract MarketBase is IMarketTypes, RegistryGated {
    uint256 internal constant MAX_OPEN = 200;

    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_FEE_BPS = 1_000;
    uint256 internal constant MAX_PRICE = type(uint48).max;
    uint256 internal constant MAX_QUANTITY = type(uint64).max;
    uint256 internal constant CST_OFFSET = 8 hours;
    uint256 internal constant BEST_LEVELS = 5;
    uint8 internal constant FLAG_SELL = 1;
    uint8 internal constant FLAG_CALL = 2;
    uint8 internal constant FLAG_LIMITED = 4; // a buy counted in its owner's open buys (rule 14)
    uint8 internal constant CO2 = 1; // never gated by discharge permits: its buys ask no permit

    /// @dev What a session check accepts.
    enum Window {
        Order, // [callStart, close1) ∪ [open2, close2)
        Continuous, // [open1, close1) ∪ [open2, close2)
        Block // Continuous and tod ≥ blockFrom
    }

    struct Order {
        address owner;
        uint48 price;
        uint32 tokenId;
        uint8 flags;
        uint64 remaining;
        uint64 quantity;
        uint40 next;
        uint40 prev;
    }

    struct Level {
        uint40 head;
        uint40 tail;
        uint48 next;
        uint48 prev;
        uint80 quantity;
    }

    struct Book {
        uint48 bestBid;
        uint48 bestAsk;
        uint32 items; // open orders + pending block entries
        uint32 day; // trading day of the items
        uint32 callOrders; // open call-phase orders not yet uncrossed
        bool halted;
        bool uncrossing; // verified, fills under way
        bool limited; // the rulebook sets a position limit: open buys are counted (rule 14), each
        // resting buy flagged FLAG_LIMITED (the rulebook changes only on an empty book)
        uint32 version; // changes with every order closed while a call is pending: the book an
        // uncrossing run verifies (placements are refused while a call is pending: from open1 as
        // `MarketCallPending`, before open1 `uncross` is refused)
    }

    struct Account {
        uint32 day;
        uint64 bought;
        uint32 buyLen;
        uint32 sellLen;
        uint96 openBuys; // remaining of the open buy orders, counted while the token is limited
    }

    struct BlockProposal {
        address seller;
        uint48 price;
        uint32 tokenId;
        BlockStatus status;
        address buyer;
        uint64 quantity;
        uint32 day;
    }

    struct Run {
        uint48 price;
        uint128 volume;
        uint128 left;
    }

    /// @dev The verification of one submitted uncrossing price, kept between pages (runs are
    /// keyed by token, day and price, so a wrong price left half-way never blocks the right one).
    struct Scan {
        uint32 day; // trading day of the run
        uint8 stage; // 0 new, 1 summing the asks of the crossing region, 2 scanning candidates, 3 done
        uint48 bid; // next bid level, descending
        uint48 ask; // next ask level (ascending in stage 1, descending in stage 2)
        uint48 top; // stage 1: the highest ask of the region so far
        uint48 price; // the best candidate so far
        uint128 buys; // B(x): buys at prices >= x
        uint128 sellsInRegion; // sells at prices in [bestAsk, bestBid]
        uint128 sellsAbove; // sells at prices > x
        uint128 volume; // of the best candidate so far
        uint128 imbalance; // of the best candidate so far
        uint48 distance; // of the best candidate so far
        uint32 version; // the book's version the run started on (a newer book restarts it)
    }

    /// @dev One fill of the uncrossing (a struct: stack depth).
    struct Fill {
        uint256 buyId;
        uint256 sellId;
        uint256 quantity;
        uint256 fee;
    }

    /// @dev One incoming order or take while it executes.
    struct Taker {
        address account;
        uint256 tokenId;
        uint256 id;
        uint256 price;
        uint256 left;
        uint256 filled; // quantity filled
        uint256 paid; // buy: cash paid to sellers; sell: cash owed by the market
        uint256 fees; // both sides' fees of the fills
        uint256 ownFees; // the taker's own fees
        uint256 feeBps;
        TradeMode mode;
    }

    IERC1155 internal immutable _allowances;
    IERC20 internal immutable _cash;
    // one word: the fee account, the id counter, the reentrancy lock (an order's first write) and
    // the market-wide halt (read warm by every trading action, which takes the lock first)
    address internal _feeAccount;
    uint40 internal _nextId = 1;
    bool internal _locked;
    bool internal _haltedAll;
    mapping(uint256 tokenId => Rulebook) internal _rules;
    mapping(uint256 tokenId => Book) internal _books;
    mapping(uint256 tokenId => Run) internal _runs;
    mapping(uint256 orderId => Order) internal _orders;
    mapping(uint256 orderId => uint256) internal _feeEscrow;
    mapping(uint256 levelKey => Level) internal _levels;
    mapping(address account => mapping(uint256 tokenId => Account)) internal _accounts;
    mapping(address account => mapping(uint256 listKey => uint40 orderId)) internal _lists;
    mapping(uint256 blockId => BlockProposal) internal _blocks;
    mapping(uint256 tokenId => uint40[]) internal _blockIds;
    mapping(address account => mapping(uint256 tokenId => uint256)) internal _unclaimed;
    /// @dev Per token and side, one bit per price that holds a price level, 256 prices a word
    /// (keyed like levels, by `price >> 8`); a removed level's bit is cleared lazily when a new
    /// level looks for its neighbour, so fills never pay for it.
    mapping(uint256 wordKey => uint256 bits) internal _levelBits;
    mapping(uint256 tokenId => mapping(uint256 price => Scan)) internal _scans;
    /// @dev The one poster of reference prices (set by governance).
    address internal _settlementAgent;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address allowances_, address cash_) RegistryGated(registry_) {
        if (allowances_ == address(0)) revert MarketZeroAddress("allowances");
        if (cash_ == address(0)) revert MarketZeroAddress("cash");
        _allowances = IERC1155(allowances_);
        _cash = IERC20(cash_);
    }

    /// @dev Checks 2-6 of an action on `tokenId` in `window`; returns the rules and whether
    /// it is the call phase.
    function _enter(uint256 tokenId, Window window) internal view returns (Rulebook storage rules, bool callPhase) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
        Book memory book = _books[tokenId];
        if (book.halted || _haltedAll) revert MarketHalted(tokenId);
        (uint256 day, uint256 tod) = _clock();
        if (!_inWindow(rules, day, tod, window)) revert MarketOutsideSession(tokenId, tod);
        if (book.items != 0 && book.day < day) revert MarketBookNotExpired(tokenId, book.day);
        callPhase = tod < rules.open1;
        if (!callPhase && (book.callOrders != 0 || book.uncrossing)) revert MarketCallPending(tokenId);
    }

    function _inWindow(Rulebook storage rules, uint256 day, uint256 tod, Window window) internal view returns (bool) {
        if ((day + 3) % 7 >= 5) return false; // Saturday, Sunday
        uint256 start = window == Window.Order ? rules.callStart : rules.open1;
        bool inSession = (tod >= start && tod < rules.close1) || (tod >= rules.open2 && tod < rules.close2);
        return inSession && (window != Window.Block || tod >= rules.blockFrom);
    }

    function _clock() internal view returns (uint256 day, uint256 tod) {
        uint256 t = block.timestamp + CST_OFFSET;
        return (t / 1 days, t % 1 days);
    }

    /// @dev No call back into the market while it moves tokens (a receiver's hook, a token).
    modifier nonReentrant() {
        _lock();
        _;
        _locked = false;
    }

    function _lock() internal {
        if (_locked) revert MarketReentrantCall();
        _locked = true;
    }

    /// @dev {RegistryGated}'s `onlyRegistryRole` as a function (one copy of the code, not one per use).
    /// One registry call (roles and suspension are one storage word there).
    function _requireRole(bytes32 role) internal view {
        (bool held, bool active) = _registry.roleStatus(msg.sender, role);
        if (!held) revert UnauthorizedRole(msg.sender, role);
        if (!active) revert CallerNotActive(msg.sender);
    }

    function _requireActive() internal view {
        if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
    }

    function _openOrder(uint256 orderId) internal view returns (Order memory o) {
        o = _orders[orderId];
        if (o.remaining == 0) revert MarketOrderNotOpen(orderId);
    }

    function _band(uint256 ref, uint256 bps) internal pure returns (uint256 lower, uint256 upper) {
        lower = (ref * (BPS - bps) + BPS - 1) / BPS;
        upper = ref * (BPS + bps) / BPS;
    }

    function _fee(uint256 value, uint256 feeBps) internal pure returns (uint256) {
        return value * feeBps / BPS;
    }

    function _requireCash(address account, uint256 value, uint256 feeBps) internal view {
        uint256 needed = value + _fee(value, feeBps);
        uint256 available = _cash.balanceOf(account);
        if (available < needed) revert MarketInsufficientCash(account, needed, available);
    }

    function _requireSellable(address account, uint256 tokenId, uint256 quantity, Account memory acct) internal view {
        uint256 can = _sellable(account, tokenId, acct);
        if (quantity > can) revert MarketInsufficientAllowances(account, tokenId, quantity, can);
    }

    function _sellable(address account, uint256 tokenId, Account memory acct) internal view returns (uint256) {
        uint256 balance = _allowances.balanceOf(account, tokenId);
        uint256 locked = _boughtToday(acct);
        return balance > locked ? balance - locked : 0;
    }

    function _boughtToday(Account memory acct) internal view returns (uint256) {
        (uint256 day,) = _clock();
        return acct.day == day ? acct.bought : 0;
    }

    /// @dev A buyer's entry: an allowance of a pollutant other than CO2, while the token has
    /// discharge permits wired, needs `account` free to trade it ({IDischargePermits-mayTrade}:
    /// gated, an enterprise, so its permit valid now); then rule 14: refuse a buy of `quantity`
    /// that takes `account` over the token's position limit (none while the rulebook sets none).
    function _requireBuyer(address account, uint256 tokenId, uint256 quantity) internal view {
        uint256 kindPollutant = tokenId >> 16; // the TokenId layout: kind << 8 | pollutant above the vintage
        uint8 pollutant = uint8(kindPollutant);
        if (kindPollutant >> 8 == uint8(Kind.Allowance) && pollutant != CO2) {
            address permits = IAllowanceToken(address(_allowances)).permits();
            if (permits != address(0) && !IDischargePermits(permits).mayTrade(account, pollutant)) {
                revert MarketPermitNotValid(account, pollutant);
            }
        }
        if (!_books[tokenId].limited) return;
        uint256 limit = _positionLimit(tokenId);
        uint256 position =
            _allowances.balanceOf(account, tokenId) + _accounts[account][tokenId].openBuys + quantity;
        if (position > limit) revert MarketPositionLimit(account, tokenId, position, limit);
    }

    /// @dev The smaller of the rulebook's set position limits (0 when none is set).
    function _positionLimit(uint256 tokenId) internal view returns (uint256 limit) {
        Rulebook storage rules = _rules[tokenId];
        limit = rules.positionLimit;
        uint256 bps = rules.positionLimitBps;
        if (bps != 0) {
            uint256 share = IAllowanceToken(address(_allowances)).totalSupply(tokenId) * bps / BPS;
            if (limit == 0 || share < limit) limit = share;
        }
    }

    /// @dev A limited token's open buy of `owner` lost `q` (filled, cancelled, expired).
    function _reduceOpenBuys(address owner, uint256 tokenId, uint256 q) internal {
        _accounts[owner][tokenId].openBuys -= uint96(q);
    }

    function _requireFeeAccount() internal view returns (address account) {
        account = _feeAccount;
        if (account == address(0)) revert MarketFeeAccountNotSet();
    }

    function _newId() internal returns (uint256 id) {
        id = _nextId;
        _nextId = uint40(id + 1);
    }

    /// @dev Take `q` off resting order `id`; close it when nothing remains. Returns whether it closed.
    function _consume(uint256 id, Order memory o, uint256 q) internal returns (bool done) {
        done = q == o.remaining;
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        if (done) {
            _close(id, o);
            o.remaining = 0;
        } else {
            o.remaining -= uint64(q);
            _orders[id].remaining = o.remaining;
            _levels[_levelKey(o.tokenId, side, o.price)].quantity -= uint80(q);
            if (o.flags & FLAG_LIMITED != 0) _reduceOpenBuys(o.owner, o.tokenId, q);
        }
    }

    /// @dev Add `q` to the T+1 counter of a buyer whose resting order was filled.
    function _addBought(address account, uint256 tokenId, uint256 q) internal {
        Account storage stored = _accounts[account][tokenId];
        (uint256 day,) = _clock();
        if (stored.day != day) {
            stored.day = uint32(day);
            stored.bought = uint64(q);
        } else {
            stored.bought += uint64(q);
        }
    }

    /// @dev A resting buy pays `fee` from its fee escrow; when it is `done`, the rest of the fee
    /// escrow is returned (the amount is the result).
    function _payFeeFromEscrow(uint256 id, uint256 fee, bool done) internal returns (uint256 refund) {
        uint256 left = _feeEscrow[id] - fee;
        if (done) {
            if (left != 0 || fee != 0) delete _feeEscrow[id];
            return left;
        }
        if (fee != 0) _feeEscrow[id] = left;
    }

    /// @dev Take an open order out of its level, the book's and its owner's counts (its escrow
    /// is not moved here).
    function _close(uint256 id, Order memory o) internal {
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        uint256 key = _levelKey(o.tokenId, side, o.price);
        Level memory lv = _levels[key];
        bool isHead = lv.head == id;
        if (isHead) lv.head = o.next;
        else _orders[o.prev].next = o.next;
        if (lv.tail == id) lv.tail = isHead ? 0 : o.prev;
        else if (!isHead) _orders[o.next].prev = o.prev; // a new first order's prev is never read
        delete _orders[id]; // a closed order is forgotten: its history is in the events
        if (lv.head == 0) {
            _removeLevel(o.tokenId, side, o.price, lv);
        } else {
            lv.quantity -= uint80(o.remaining);
            _levels[key] = lv;
        }
        Book storage book = _books[o.tokenId];
        book.items -= 1;
        if (o.flags & FLAG_LIMITED != 0) _reduceOpenBuys(o.owner, o.tokenId, o.remaining);
        if (book.callOrders != 0) {
            // the call book changed (e.g. a cancel during an uncrossing's verification): a run of
            // the old book restarts. Only a pending call book is ever verified, and while one is
            // pending no order can be placed (see {Book-version}), so this is the only bump.
            unchecked {
                book.version += 1; // wraps
            }
            if (o.flags & FLAG_CALL != 0) book.callOrders -= 1;
        }
    }

    function _removeLevel(uint256 tokenId, Side side, uint256 price, Level memory lv) internal {
        Book storage book = _books[tokenId];
        bool isBest = (side == Side.Buy ? book.bestBid : book.bestAsk) == price;
        if (isBest) {
            if (side == Side.Buy) book.bestBid = lv.next;
            else book.bestAsk = lv.next;
        } else {
            _levels[_levelKey(tokenId, side, lv.prev)].next = lv.next;
            if (lv.next != 0) _levels[_levelKey(tokenId, side, lv.next)].prev = lv.prev;
        }
        delete _levels[_levelKey(tokenId, side, price)];
    }

    /// @dev Return a closed order's escrow to its owner, or keep it as unclaimed.
    function _release(address owner, uint256 id, Order memory o, bool keep) internal {
        if (o.flags & FLAG_SELL != 0) {
            if (keep) _credit(owner, o.tokenId, o.remaining);
            else _allowances.safeTransferFrom(address(this), owner, o.tokenId, o.remaining, "");
        } else {
            uint256 amount = uint256(o.price) * o.remaining + _feeEscrow[id];
            delete _feeEscrow[id];
            if (keep) _credit(owner, 0, amount);
            else _cashOut(owner, amount);
        }
    }

    function _credit(address account, uint256 tokenId, uint256 amount) internal {
        _unclaimed[account][tokenId] += amount;
        emit UnclaimedCredited(account, tokenId, amount);
    }

    /// @dev {TradeExecuted} with the same fee on both sides (a function of its own: stack depth).
    function _emitTrade(
        uint256 tokenId,
        uint256 buyId,
        uint256 sellId,
        address buyer,
        address seller,
        uint256 price,
        uint256 quantity,
        uint256 fee,
        TradeMode mode
    ) internal {
        emit TradeExecuted(tokenId, buyId, sellId, buyer, seller, price, quantity, fee, fee, mode);
    }

    function _cashIn(address from, uint256 amount) internal {
        _cashFrom(from, address(this), amount);
    }

    function _cashFrom(address from, address to, uint256 amount) internal {
        if (amount != 0 && !_cash.transferFrom(from, to, amount)) revert MarketInsufficientCash(from, amount, 0);
    }

    function _cashOut(address to, uint256 amount) internal {
        if (amount != 0 && !_cash.transfer(to, amount)) revert MarketInsufficientCash(address(this), amount, 0);
    }

    function _levelKey(uint256 tokenId, Side side, uint256 price) internal pure returns (uint256) {
        return tokenId << 56 | uint256(side) << 48 | price;
    }

    function _listKey(uint256 tokenId, Side side, uint256 index) internal pure returns (uint256) {
        return tokenId << 40 | uint256(side) << 32 | index;
    }
}
