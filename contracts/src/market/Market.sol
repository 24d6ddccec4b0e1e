// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IMarket} from "../interfaces/IMarket.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title Market
/// @notice Order books, the opening call auction, listing takes and block trades of the exchange.
/// The trading rules are in {IMarket}.
///
/// Storage: an order is two words (owner, price, token, flags | remaining, quantity, the next and
/// previous order of its price level), plus a third for a buy's fee escrow when the fee is not
/// zero; an order is open while `remaining` > 0. Price levels form a doubly linked list per side,
/// best first, each one word (first and last order, next and previous price, total quantity);
/// the `prev` link of the best level and of a level's first order is not maintained (never
/// read). One word per (account, token) holds the T+1 counter and the open-order counts.
contract Market is IMarket, RegistryGated, ERC1155Holder, ReentrancyGuard {
    /// @inheritdoc IMarket
    uint256 public constant MAX_OPEN_ORDERS = 200;

    uint256 private constant BPS = 10_000;
    uint256 private constant MAX_FEE_BPS = 1_000;
    uint256 private constant MAX_PRICE = type(uint48).max;
    uint256 private constant MAX_QUANTITY = type(uint64).max;
    uint256 private constant CST_OFFSET = 8 hours;
    uint256 private constant BEST_LEVELS = 5;

    uint8 private constant FLAG_SELL = 1;
    uint8 private constant FLAG_CALL = 2;

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
    }

    struct Account {
        uint32 day;
        uint64 bought;
        uint16 openBuys;
        uint16 openSells;
        uint32 buyLen;
        uint32 sellLen;
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

    /// @dev The uncrossing scan's cursors and sums (a struct: stack depth).
    struct Scan {
        uint256 bid; // next bid level, descending
        uint256 ask; // next ask level, descending
        uint256 buys; // B(x): buys at prices >= x
        uint256 sellsInRegion; // sells at prices in [bestAsk, bestBid]
        uint256 sellsAbove; // sells at prices > x
        uint256 imbalance; // of the best candidate so far
        uint256 distance; // of the best candidate so far
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

    IERC1155 private immutable _allowances;
    IERC20 private immutable _cash;

    address private _feeAccount;
    uint40 private _nextId = 1;

    mapping(uint256 tokenId => Rulebook) private _rules;
    mapping(uint256 tokenId => Book) private _books;
    mapping(uint256 tokenId => Run) private _runs;
    mapping(uint256 orderId => Order) private _orders;
    mapping(uint256 orderId => uint256) private _feeEscrow;
    mapping(uint256 levelKey => Level) private _levels;
    mapping(address account => mapping(uint256 tokenId => Account)) private _accounts;
    mapping(address account => mapping(uint256 listKey => uint40 orderId)) private _lists;
    mapping(uint256 blockId => BlockProposal) private _blocks;
    mapping(uint256 tokenId => uint40[]) private _blockIds;
    mapping(address account => mapping(uint256 tokenId => uint256)) private _unclaimed;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address allowances_, address cash_) RegistryGated(registry_) {
        if (allowances_ == address(0)) revert MarketZeroAddress("allowances");
        if (cash_ == address(0)) revert MarketZeroAddress("cash");
        _allowances = IERC1155(allowances_);
        _cash = IERC20(cash_);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IMarket
    function setFeeAccount(address account) external onlyGovernance {
        if (account == address(0)) revert MarketZeroAddress("feeAccount");
        _feeAccount = account;
        emit FeeAccountSet(account);
    }

    // ------------------------------------------------------------------ exchange

    /// @inheritdoc IMarket
    function setRulebook(uint256 tokenId, Rulebook calldata rules) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        if (!_validRules(tokenId, rules)) revert MarketRulebookInvalid(tokenId);
        Book storage book = _books[tokenId];
        if (book.items != 0) revert MarketBookNotEmpty(tokenId, book.items);
        _rules[tokenId] = rules;
        emit RulebookSet(tokenId, rules);
    }

    /// @inheritdoc IMarket
    function setReferencePrice(uint256 tokenId, uint256 price) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        Rulebook storage rules = _listed(tokenId);
        if (price == 0 || price > MAX_PRICE) revert MarketPriceInvalid(price);
        rules.referencePrice = uint48(price);
        emit ReferencePriceSet(tokenId, price);
    }

    /// @inheritdoc IMarket
    function halt(uint256 tokenId, string calldata reason) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        _listed(tokenId);
        Book storage book = _books[tokenId];
        if (book.halted) revert MarketHalted(tokenId);
        book.halted = true;
        emit TradingHalted(tokenId, reason);
    }

    /// @inheritdoc IMarket
    function resume(uint256 tokenId) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        _listed(tokenId);
        Book storage book = _books[tokenId];
        if (!book.halted) revert MarketNotHalted(tokenId);
        book.halted = false;
        emit TradingResumed(tokenId);
    }

    /// @inheritdoc IMarket
    function forceCancel(uint256 orderId) external nonReentrant onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        Order memory o = _openOrder(orderId);
        if (_books[o.tokenId].uncrossing) revert MarketCallPending(o.tokenId);
        _close(orderId, o);
        _release(o.owner, orderId, o, !_registry.isActiveParticipant(o.owner));
        emit OrderCancelled(orderId, o.owner, o.remaining);
    }

    // ------------------------------------------------------------------ enterprises

    /// @inheritdoc IMarket
    function placeOrder(uint256 tokenId, Side side, uint256 price, uint256 quantity)
        external
        nonReentrant
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
        returns (uint256 orderId)
    {
        (Rulebook memory rules, bool callPhase) = _enter(tokenId, Window.Order);
        if (quantity == 0) revert MarketQuantityZero();
        if (quantity >= rules.blockMinimum) revert MarketListingTooLarge(quantity, rules.blockMinimum);
        if (price == 0 || price > MAX_PRICE) revert MarketPriceInvalid(price);
        (uint256 lower, uint256 upper) = _band(rules.referencePrice, rules.bandBps);
        if (price < lower || price > upper) revert MarketPriceOutsideBand(tokenId, price, lower, upper);
        Account memory acct = _accounts[msg.sender][tokenId];
        _requireNoSelfTrade(msg.sender, tokenId, side, price, acct);
        if ((side == Side.Buy ? acct.openBuys : acct.openSells) >= MAX_OPEN_ORDERS) {
            revert MarketTooManyOrders(msg.sender, tokenId, MAX_OPEN_ORDERS);
        }
        if (side == Side.Buy) _requireCash(msg.sender, price * quantity, rules.feeBps);
        else _requireSellable(msg.sender, tokenId, quantity, acct);

        orderId = _newId();
        emit OrderPlaced(orderId, tokenId, msg.sender, side, price, quantity, callPhase);
        Taker memory t = Taker({
            account: msg.sender,
            tokenId: tokenId,
            id: orderId,
            price: price,
            left: quantity,
            filled: 0,
            paid: 0,
            fees: 0,
            ownFees: 0,
            feeBps: rules.feeBps,
            mode: TradeMode.Continuous
        });
        if (!callPhase) {
            if (side == Side.Buy) _matchBuy(t, acct);
            else _matchSell(t);
        }
        if (t.left != 0) {
            if (side == Side.Buy) {
                uint256 feeEscrow = _fee(price * quantity, t.feeBps) - t.ownFees;
                _cashIn(msg.sender, price * t.left + feeEscrow);
                if (feeEscrow != 0) _feeEscrow[orderId] = feeEscrow;
            } else {
                _allowances.safeTransferFrom(msg.sender, address(this), tokenId, t.left, "");
            }
            _rest(orderId, tokenId, side, price, quantity, t.left, callPhase, acct);
        } else if (t.filled != 0 && side == Side.Buy) {
            _accounts[msg.sender][tokenId] = acct;
        }
    }

    /// @inheritdoc IMarket
    function cancelOrder(uint256 orderId) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        Order memory o = _openOrder(orderId);
        if (o.owner != msg.sender) revert MarketNotOrderOwner(orderId, msg.sender);
        if (_books[o.tokenId].uncrossing) revert MarketCallPending(o.tokenId);
        _close(orderId, o);
        _release(o.owner, orderId, o, false);
        emit OrderCancelled(orderId, o.owner, o.remaining);
    }

    /// @inheritdoc IMarket
    function take(uint256 orderId, uint256 quantity)
        external
        nonReentrant
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
        returns (uint256 takeId)
    {
        Order memory o = _openOrder(orderId);
        uint256 tokenId = o.tokenId;
        (Rulebook memory rules,) = _enter(tokenId, Window.Continuous);
        if (quantity == 0) revert MarketQuantityZero();
        if (o.owner == msg.sender) revert MarketSelfTrade(msg.sender, orderId);
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        if (!_amongBestLevels(tokenId, side, o.price)) revert MarketTakeOutsideBestLevels(orderId, o.price);
        if (quantity > o.remaining) revert MarketTakeExceedsRemaining(orderId, quantity, o.remaining);
        Account memory acct = _accounts[msg.sender][tokenId];
        if (side == Side.Sell) _requireCash(msg.sender, o.price * quantity, rules.feeBps);
        else _requireSellable(msg.sender, tokenId, quantity, acct);

        takeId = _newId();
        Taker memory t = Taker({
            account: msg.sender,
            tokenId: tokenId,
            id: takeId,
            price: o.price,
            left: quantity,
            filled: 0,
            paid: 0,
            fees: 0,
            ownFees: 0,
            feeBps: rules.feeBps,
            mode: TradeMode.Take
        });
        if (side == Side.Sell) {
            _fillAsk(t, orderId, o);
            _settleBuyer(t, acct);
        } else {
            _fillBid(t, orderId, o);
            _settleSeller(t);
        }
    }

    /// @inheritdoc IMarket
    function proposeBlock(uint256 tokenId, address buyer, uint256 price, uint256 quantity)
        external
        nonReentrant
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
        returns (uint256 blockId)
    {
        (Rulebook memory rules,) = _enter(tokenId, Window.Block);
        if (buyer == msg.sender) revert MarketSelfTrade(msg.sender, 0);
        if (!_registry.isActiveEnterprise(buyer)) revert MarketNotTrader(buyer);
        if (quantity < rules.blockMinimum) revert MarketBlockBelowMinimum(quantity, rules.blockMinimum);
        if (quantity > MAX_QUANTITY) revert MarketQuantityInvalid(quantity);
        if (price == 0 || price > MAX_PRICE) revert MarketPriceInvalid(price);
        (uint256 lower, uint256 upper) = _band(rules.referencePrice, rules.blockBandBps);
        if (price < lower || price > upper) revert MarketPriceOutsideBand(tokenId, price, lower, upper);
        _requireSellable(msg.sender, tokenId, quantity, _accounts[msg.sender][tokenId]);

        blockId = _newId();
        (uint256 day,) = _clock();
        _blocks[blockId] = BlockProposal({
            seller: msg.sender,
            price: uint48(price),
            tokenId: uint32(tokenId),
            status: BlockStatus.Pending,
            buyer: buyer,
            quantity: uint64(quantity),
            day: uint32(day)
        });
        _blockIds[tokenId].push(uint40(blockId));
        Book storage book = _books[tokenId];
        book.items += 1;
        book.day = uint32(day);
        _allowances.safeTransferFrom(msg.sender, address(this), tokenId, quantity, "");
        emit BlockProposed(blockId, tokenId, msg.sender, buyer, price, quantity);
    }

    /// @inheritdoc IMarket
    function acceptBlock(uint256 blockId) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        BlockProposal memory b = _blocks[blockId];
        (uint256 day,) = _clock();
        if (b.status != BlockStatus.Pending || b.day != day) revert MarketBlockNotPending(blockId);
        if (b.buyer != msg.sender) revert MarketNotBlockBuyer(blockId, msg.sender);
        (Rulebook memory rules,) = _enter(b.tokenId, Window.Block);
        uint256 value = uint256(b.price) * b.quantity;
        _requireCash(msg.sender, value, rules.feeBps);

        _blocks[blockId].status = BlockStatus.Accepted;
        _books[b.tokenId].items -= 1;
        uint256 fee = _fee(value, rules.feeBps);
        _cashFrom(msg.sender, b.seller, value - fee);
        if (fee != 0) _cashFrom(msg.sender, _requireFeeAccount(), 2 * fee);
        _allowances.safeTransferFrom(address(this), msg.sender, b.tokenId, b.quantity, "");
        Account storage acct = _accounts[msg.sender][b.tokenId];
        if (acct.day != day) {
            acct.day = uint32(day);
            acct.bought = b.quantity;
        } else {
            acct.bought += b.quantity;
        }
        _emitTrade(b.tokenId, blockId, blockId, msg.sender, b.seller, b.price, b.quantity, fee, TradeMode.Block);
    }

    /// @inheritdoc IMarket
    function declineBlock(uint256 blockId) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        BlockProposal memory b = _blocks[blockId];
        if (b.status != BlockStatus.Pending) revert MarketBlockNotPending(blockId);
        if (b.buyer != msg.sender) revert MarketNotBlockBuyer(blockId, msg.sender);
        _endBlock(blockId, b, BlockStatus.Declined);
        emit BlockDeclined(blockId);
    }

    /// @inheritdoc IMarket
    function cancelBlock(uint256 blockId) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        BlockProposal memory b = _blocks[blockId];
        if (b.status != BlockStatus.Pending) revert MarketBlockNotPending(blockId);
        if (b.seller != msg.sender) revert MarketNotBlockSeller(blockId, msg.sender);
        _endBlock(blockId, b, BlockStatus.Cancelled);
        emit BlockCancelled(blockId);
    }

    // ------------------------------------------------------------------ anyone active

    /// @inheritdoc IMarket
    function uncross(uint256 tokenId, uint256 price, uint256 maxFills) external nonReentrant {
        _requireActive();
        Rulebook memory rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
        Book memory book = _books[tokenId];
        if (book.halted) revert MarketHalted(tokenId);
        (uint256 day, uint256 tod) = _clock();
        if (!_inWindow(rules, day, tod, Window.Continuous)) revert MarketOutsideSession(tokenId, tod);
        if (book.items != 0 && book.day < day) revert MarketBookNotExpired(tokenId, book.day);
        Run memory run;
        if (!book.uncrossing) {
            uint256 volume;
            uint256 expected;
            if (book.callOrders != 0) (expected, volume) = _uncrossPrice(tokenId, book, rules.referencePrice);
            if (price != expected) revert MarketWrongUncross(tokenId, price, expected);
            if (volume == 0) {
                _books[tokenId].callOrders = 0;
                emit CallUncrossed(tokenId, 0, 0);
                return;
            }
            run = Run({price: uint48(price), volume: uint128(volume), left: uint128(volume)});
            _books[tokenId].uncrossing = true;
        } else {
            run = _runs[tokenId];
            if (price != run.price) revert MarketWrongUncross(tokenId, price, run.price);
        }
        _pairCall(tokenId, run, maxFills == 0 ? type(uint256).max : maxFills, rules.feeBps);
        if (run.left == 0) {
            Book storage stored = _books[tokenId];
            stored.uncrossing = false;
            stored.callOrders = 0;
            delete _runs[tokenId];
            emit CallUncrossed(tokenId, run.price, run.volume);
        } else {
            _runs[tokenId] = run;
        }
    }

    /// @inheritdoc IMarket
    function expire(uint256 tokenId, uint256 maxOrders) external nonReentrant returns (uint256 remaining) {
        _requireActive();
        Book memory book = _books[tokenId];
        (uint256 day, uint256 tod) = _clock();
        Rulebook memory rules = _rules[tokenId];
        if (!(book.day < day || (book.day == day && tod >= rules.close2))) revert MarketDayNotOver(tokenId);
        uint256 budget = maxOrders == 0 ? type(uint256).max : maxOrders;
        if (book.callOrders != 0 || book.uncrossing) {
            Book storage stored = _books[tokenId];
            stored.callOrders = 0;
            stored.uncrossing = false;
            delete _runs[tokenId];
        }
        for (uint256 s = 0; s < 2 && budget != 0; ++s) {
            Side side = Side(s);
            uint256 best = s == 0 ? _books[tokenId].bestBid : _books[tokenId].bestAsk;
            while (best != 0 && budget != 0) {
                uint256 id = _levels[_levelKey(tokenId, side, best)].head;
                Order memory o = _orders[id];
                _close(id, o);
                _release(o.owner, id, o, !_registry.isActiveParticipant(o.owner));
                emit OrderExpired(id, o.owner, o.remaining);
                --budget;
                best = s == 0 ? _books[tokenId].bestBid : _books[tokenId].bestAsk;
            }
        }
        uint40[] storage ids = _blockIds[tokenId];
        while (ids.length != 0 && budget != 0) {
            uint256 blockId = ids[ids.length - 1];
            ids.pop();
            --budget;
            BlockProposal memory b = _blocks[blockId];
            if (b.status != BlockStatus.Pending) continue;
            _endBlock(blockId, b, BlockStatus.Expired);
            emit BlockExpired(blockId);
        }
        Book memory after_ = _books[tokenId];
        remaining = after_.items + ids.length;
    }

    /// @inheritdoc IMarket
    function withdrawUnclaimed(uint256 tokenId) external nonReentrant {
        _requireActive();
        uint256 amount = _unclaimed[msg.sender][tokenId];
        if (amount == 0) revert MarketNothingUnclaimed(msg.sender, tokenId);
        delete _unclaimed[msg.sender][tokenId];
        if (tokenId == 0) _cashOut(msg.sender, amount);
        else _allowances.safeTransferFrom(address(this), msg.sender, tokenId, amount, "");
        emit UnclaimedWithdrawn(msg.sender, tokenId, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IMarket
    function allowanceToken() external view returns (address) {
        return address(_allowances);
    }

    /// @inheritdoc IMarket
    function settlementToken() external view returns (address) {
        return address(_cash);
    }

    /// @inheritdoc IMarket
    function feeAccount() external view returns (address) {
        return _feeAccount;
    }

    /// @inheritdoc IMarket
    function nextId() external view returns (uint256) {
        return _nextId;
    }

    /// @inheritdoc IMarket
    function rulebook(uint256 tokenId) external view returns (Rulebook memory) {
        return _rules[tokenId];
    }

    /// @inheritdoc IMarket
    function isHalted(uint256 tokenId) external view returns (bool) {
        return _books[tokenId].halted;
    }

    /// @inheritdoc IMarket
    function band(uint256 tokenId) external view returns (uint256 lower, uint256 upper) {
        Rulebook memory rules = _listedView(tokenId);
        return _band(rules.referencePrice, rules.bandBps);
    }

    /// @inheritdoc IMarket
    function blockBand(uint256 tokenId) external view returns (uint256 lower, uint256 upper) {
        Rulebook memory rules = _listedView(tokenId);
        return _band(rules.referencePrice, rules.blockBandBps);
    }

    /// @inheritdoc IMarket
    function order(uint256 orderId) external view returns (OrderView memory v) {
        Order memory o = _orders[orderId];
        bool buy = o.flags & FLAG_SELL == 0;
        v = OrderView({
            owner: o.owner,
            tokenId: o.tokenId,
            side: buy ? Side.Buy : Side.Sell,
            price: o.price,
            quantity: o.quantity,
            remaining: o.remaining,
            escrow: buy && o.remaining != 0 ? uint256(o.price) * o.remaining + _feeEscrow[orderId] : 0,
            open: o.remaining != 0,
            callPhase: o.flags & FLAG_CALL != 0
        });
    }

    /// @inheritdoc IMarket
    function blockProposal(uint256 blockId) external view returns (BlockView memory) {
        BlockProposal memory b = _blocks[blockId];
        return BlockView({
            seller: b.seller,
            buyer: b.buyer,
            tokenId: b.tokenId,
            price: b.price,
            quantity: b.quantity,
            day: b.day,
            status: b.status
        });
    }

    /// @inheritdoc IMarket
    function depth(uint256 tokenId, Side side, uint256 levels)
        external
        view
        returns (uint256[] memory prices, uint256[] memory quantities)
    {
        Book memory book = _books[tokenId];
        uint256 price = side == Side.Buy ? book.bestBid : book.bestAsk;
        uint256 n = 0;
        for (uint256 p = price; p != 0 && (levels == 0 || n < levels); p = _levels[_levelKey(tokenId, side, p)].next) {
            ++n;
        }
        prices = new uint256[](n);
        quantities = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            Level memory lv = _levels[_levelKey(tokenId, side, price)];
            prices[i] = price;
            quantities[i] = lv.quantity;
            price = lv.next;
        }
    }

    /// @inheritdoc IMarket
    function sellable(address account, uint256 tokenId) external view returns (uint256) {
        return _sellable(account, tokenId, _accounts[account][tokenId]);
    }

    /// @inheritdoc IMarket
    function boughtToday(address account, uint256 tokenId) external view returns (uint256) {
        return _boughtToday(_accounts[account][tokenId]);
    }

    /// @inheritdoc IMarket
    function openOrdersOf(address account, uint256 tokenId, Side side) external view returns (uint256[] memory ids) {
        Account memory acct = _accounts[account][tokenId];
        uint256 len = side == Side.Buy ? acct.buyLen : acct.sellLen;
        uint256 open = side == Side.Buy ? acct.openBuys : acct.openSells;
        ids = new uint256[](open);
        uint256 n = 0;
        for (uint256 i = 0; i < len && n < open; ++i) {
            uint256 id = _lists[account][_listKey(tokenId, side, i)];
            if (_orders[id].remaining != 0) ids[n++] = id;
        }
    }

    /// @inheritdoc IMarket
    function callPending(uint256 tokenId) external view returns (bool) {
        Book memory book = _books[tokenId];
        return book.callOrders != 0 || book.uncrossing;
    }

    /// @inheritdoc IMarket
    function bookState(uint256 tokenId) external view returns (uint256 items, uint256 bookDay) {
        Book memory book = _books[tokenId];
        return (book.items, book.day);
    }

    /// @inheritdoc IMarket
    function tradingDay() external view returns (uint256 day, uint256 timeOfDay) {
        return _clock();
    }

    /// @inheritdoc IMarket
    function unclaimed(address account, uint256 tokenId) external view returns (uint256) {
        return _unclaimed[account][tokenId];
    }

    // ------------------------------------------------------------------ checks

    /// @dev Checks 2-6 of an action on `tokenId` in `window`; returns the rules and whether
    /// it is the call phase.
    function _enter(uint256 tokenId, Window window) private view returns (Rulebook memory rules, bool callPhase) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
        Book memory book = _books[tokenId];
        if (book.halted) revert MarketHalted(tokenId);
        (uint256 day, uint256 tod) = _clock();
        if (!_inWindow(rules, day, tod, window)) revert MarketOutsideSession(tokenId, tod);
        if (book.items != 0 && book.day < day) revert MarketBookNotExpired(tokenId, book.day);
        callPhase = tod < rules.open1;
        if (!callPhase && (book.callOrders != 0 || book.uncrossing)) revert MarketCallPending(tokenId);
    }

    function _inWindow(Rulebook memory rules, uint256 day, uint256 tod, Window window) private pure returns (bool) {
        if ((day + 3) % 7 >= 5) return false; // Saturday, Sunday
        uint256 start = window == Window.Order ? rules.callStart : rules.open1;
        bool inSession = (tod >= start && tod < rules.close1) || (tod >= rules.open2 && tod < rules.close2);
        return inSession && (window != Window.Block || tod >= rules.blockFrom);
    }

    function _clock() private view returns (uint256 day, uint256 tod) {
        uint256 t = block.timestamp + CST_OFFSET;
        return (t / 1 days, t % 1 days);
    }

    function _validRules(uint256 tokenId, Rulebook calldata r) private pure returns (bool) {
        return tokenId != 0 && tokenId <= type(uint32).max && r.referencePrice != 0 && r.bandBps <= BPS
            && r.blockBandBps <= BPS && r.feeBps <= MAX_FEE_BPS && r.blockMinimum >= 1 && r.callStart <= r.open1
            && r.open1 < r.close1 && r.close1 <= r.open2 && r.open2 < r.close2 && r.close2 <= 1 days
            && r.open1 <= r.blockFrom && r.blockFrom < r.close2;
    }

    function _listed(uint256 tokenId) private view returns (Rulebook storage rules) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
    }

    function _listedView(uint256 tokenId) private view returns (Rulebook memory rules) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
    }

    function _requireActive() private view {
        if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
    }

    function _openOrder(uint256 orderId) private view returns (Order memory o) {
        o = _orders[orderId];
        if (o.remaining == 0) revert MarketOrderNotOpen(orderId);
    }

    function _band(uint256 ref, uint256 bps) private pure returns (uint256 lower, uint256 upper) {
        lower = (ref * (BPS - bps) + BPS - 1) / BPS;
        upper = ref * (BPS + bps) / BPS;
    }

    function _fee(uint256 value, uint256 feeBps) private pure returns (uint256) {
        return value * feeBps / BPS;
    }

    function _requireCash(address account, uint256 value, uint256 feeBps) private view {
        uint256 needed = value + _fee(value, feeBps);
        uint256 available = _cash.balanceOf(account);
        if (available < needed) revert MarketInsufficientCash(account, needed, available);
    }

    function _requireSellable(address account, uint256 tokenId, uint256 quantity, Account memory acct) private view {
        uint256 can = _sellable(account, tokenId, acct);
        if (quantity > can) revert MarketInsufficientAllowances(account, tokenId, quantity, can);
    }

    function _sellable(address account, uint256 tokenId, Account memory acct) private view returns (uint256) {
        uint256 balance = _allowances.balanceOf(account, tokenId);
        uint256 locked = _boughtToday(acct);
        return balance > locked ? balance - locked : 0;
    }

    function _boughtToday(Account memory acct) private view returns (uint256) {
        (uint256 day,) = _clock();
        return acct.day == day ? acct.bought : 0;
    }

    /// @dev Rule 12: refuse an order of `account` that crosses one of its own resting orders on
    /// the other side (the lowest id wins: lists keep placement order).
    function _requireNoSelfTrade(address account, uint256 tokenId, Side side, uint256 price, Account memory acct)
        private
        view
    {
        Side other = side == Side.Buy ? Side.Sell : Side.Buy;
        uint256 len = side == Side.Buy ? acct.sellLen : acct.buyLen;
        for (uint256 i = 0; i < len; ++i) {
            uint256 id = _lists[account][_listKey(tokenId, other, i)];
            Order storage o = _orders[id];
            if (o.remaining == 0) continue;
            uint256 p = o.price;
            if (side == Side.Buy ? p <= price : p >= price) revert MarketSelfTrade(account, id);
        }
    }

    function _amongBestLevels(uint256 tokenId, Side side, uint256 price) private view returns (bool) {
        Book memory book = _books[tokenId];
        uint256 p = side == Side.Buy ? book.bestBid : book.bestAsk;
        for (uint256 i = 0; i < BEST_LEVELS && p != 0; ++i) {
            if (p == price) return true;
            p = _levels[_levelKey(tokenId, side, p)].next;
        }
        return false;
    }

    function _requireFeeAccount() private view returns (address account) {
        account = _feeAccount;
        if (account == address(0)) revert MarketFeeAccountNotSet();
    }

    function _newId() private returns (uint256 id) {
        id = _nextId;
        _nextId = uint40(id + 1);
    }

    // ------------------------------------------------------------------ continuous matching

    /// @dev An incoming buy against the asks it crosses: pays each seller directly, takes the
    /// allowances from escrow in one transfer, the fees in one transfer.
    function _matchBuy(Taker memory t, Account memory acct) private {
        Book storage book = _books[t.tokenId];
        uint256 best = book.bestAsk;
        while (t.left != 0 && best != 0 && best <= t.price) {
            uint256 id = _levels[_levelKey(t.tokenId, Side.Sell, best)].head;
            _fillAsk(t, id, _orders[id]);
            best = book.bestAsk;
        }
        if (t.filled != 0) _deliverToBuyer(t, acct);
    }

    /// @dev An incoming sell against the bids it crosses: delivers to each buyer directly, is
    /// paid from escrow in one transfer, the fees in one transfer.
    function _matchSell(Taker memory t) private {
        Book storage book = _books[t.tokenId];
        uint256 best = book.bestBid;
        while (t.left != 0 && best != 0 && best >= t.price) {
            uint256 id = _levels[_levelKey(t.tokenId, Side.Buy, best)].head;
            _fillBid(t, id, _orders[id]);
            best = book.bestBid;
        }
        if (t.filled != 0) _settleSeller(t);
    }

    /// @dev The taker (a buyer) fills resting sell `id` as far as it can at the ask's price.
    function _fillAsk(Taker memory t, uint256 id, Order memory o) private {
        uint256 q = t.left < o.remaining ? t.left : o.remaining;
        uint256 value = uint256(o.price) * q;
        uint256 fee = _fee(value, t.feeBps);
        _consume(id, o, q);
        t.left -= q;
        t.filled += q;
        t.fees += 2 * fee;
        t.ownFees += fee;
        _cashFrom(t.account, o.owner, value - fee);
        _emitTrade(t.tokenId, t.id, id, t.account, o.owner, o.price, q, fee, t.mode);
    }

    /// @dev The taker (a seller) fills resting buy `id` as far as it can at the bid's price.
    function _fillBid(Taker memory t, uint256 id, Order memory o) private {
        uint256 q = t.left < o.remaining ? t.left : o.remaining;
        uint256 fee = _fee(uint256(o.price) * q, t.feeBps);
        t.left -= q;
        t.filled += q;
        t.fees += 2 * fee;
        t.paid += uint256(o.price) * q - fee;
        {
            bool done = _consume(id, o, q);
            _allowances.safeTransferFrom(t.account, o.owner, t.tokenId, q, "");
            _addBought(o.owner, t.tokenId, q);
            if (t.feeBps != 0) _cashOut(o.owner, _payFeeFromEscrow(id, fee, done));
        }
        _emitTrade(t.tokenId, id, t.id, o.owner, t.account, o.price, q, fee, t.mode);
    }

    /// @dev After a buy taker's fills: allowances out of escrow, fees, the T+1 counter.
    function _deliverToBuyer(Taker memory t, Account memory acct) private {
        _allowances.safeTransferFrom(address(this), t.account, t.tokenId, t.filled, "");
        if (t.fees != 0) _cashFrom(t.account, _requireFeeAccount(), t.fees);
        (uint256 day,) = _clock();
        if (acct.day != day) {
            acct.day = uint32(day);
            acct.bought = uint64(t.filled);
        } else {
            acct.bought += uint64(t.filled);
        }
    }

    /// @dev A take of a resting sell: deliver and store the T+1 counter.
    function _settleBuyer(Taker memory t, Account memory acct) private {
        _deliverToBuyer(t, acct);
        _accounts[t.account][t.tokenId] = acct;
    }

    /// @dev After a sell taker's fills: proceeds and fees out of escrow.
    function _settleSeller(Taker memory t) private {
        _cashOut(t.account, t.paid);
        if (t.fees != 0) _cashOut(_requireFeeAccount(), t.fees);
    }

    /// @dev Take `q` off resting order `id`; close it when nothing remains. Returns whether it closed.
    function _consume(uint256 id, Order memory o, uint256 q) private returns (bool done) {
        done = q == o.remaining;
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        if (done) {
            _close(id, o);
            o.remaining = 0;
        } else {
            o.remaining -= uint64(q);
            _orders[id].remaining = o.remaining;
            _levels[_levelKey(o.tokenId, side, o.price)].quantity -= uint80(q);
        }
    }

    /// @dev Add `q` to the T+1 counter of a buyer whose resting order was filled.
    function _addBought(address account, uint256 tokenId, uint256 q) private {
        Account storage stored = _accounts[account][tokenId];
        Account memory a = stored;
        (uint256 day,) = _clock();
        if (a.day != day) {
            a.day = uint32(day);
            a.bought = uint64(q);
        } else {
            a.bought += uint64(q);
        }
        _accounts[account][tokenId] = a;
    }

    /// @dev A resting buy pays `fee` from its fee escrow; when it is `done`, the rest of the fee
    /// escrow is returned (the amount is the result).
    function _payFeeFromEscrow(uint256 id, uint256 fee, bool done) private returns (uint256 refund) {
        uint256 left = _feeEscrow[id] - fee;
        if (done) {
            if (left != 0 || fee != 0) delete _feeEscrow[id];
            return left;
        }
        if (fee != 0) _feeEscrow[id] = left;
    }

    // ------------------------------------------------------------------ the book

    /// @dev Rest an order in its price level and the owner's list.
    function _rest(
        uint256 id,
        uint256 tokenId,
        Side side,
        uint256 price,
        uint256 quantity,
        uint256 left,
        bool callPhase,
        Account memory acct
    ) private {
        _orders[id] = Order({
            owner: msg.sender,
            price: uint48(price),
            tokenId: uint32(tokenId),
            flags: (side == Side.Sell ? FLAG_SELL : 0) | (callPhase ? FLAG_CALL : 0),
            remaining: uint64(left),
            quantity: uint64(quantity),
            next: 0,
            prev: 0
        });
        uint256 key = _levelKey(tokenId, side, price);
        Level memory lv = _levels[key];
        if (lv.head == 0) {
            _insertLevel(tokenId, side, price, uint40(id), left);
        } else {
            _orders[lv.tail].next = uint40(id);
            _orders[id].prev = lv.tail;
            lv.tail = uint40(id);
            lv.quantity += uint80(left);
            _levels[key] = lv;
        }
        (uint256 day,) = _clock();
        Book memory b = _books[tokenId];
        b.items += 1;
        b.day = uint32(day);
        if (callPhase) b.callOrders += 1;
        _books[tokenId] = b;
        _pushOwn(msg.sender, tokenId, side, id, acct);
    }

    /// @dev A new price level holding one order, linked in price order (best first).
    function _insertLevel(uint256 tokenId, Side side, uint256 price, uint40 id, uint256 quantity) private {
        Book storage book = _books[tokenId];
        uint256 best = side == Side.Buy ? book.bestBid : book.bestAsk;
        Level memory lv = Level({head: id, tail: id, next: 0, prev: 0, quantity: uint80(quantity)});
        if (best == 0 || _better(side, price, best)) {
            lv.next = uint48(best);
            if (best != 0) _levels[_levelKey(tokenId, side, best)].prev = uint48(price);
            if (side == Side.Buy) book.bestBid = uint48(price);
            else book.bestAsk = uint48(price);
        } else {
            uint256 cur = best;
            uint256 next = _levels[_levelKey(tokenId, side, cur)].next;
            while (next != 0 && _better(side, next, price)) {
                cur = next;
                next = _levels[_levelKey(tokenId, side, cur)].next;
            }
            lv.prev = uint48(cur);
            lv.next = uint48(next);
            _levels[_levelKey(tokenId, side, cur)].next = uint48(price);
            if (next != 0) _levels[_levelKey(tokenId, side, next)].prev = uint48(price);
        }
        _levels[_levelKey(tokenId, side, price)] = lv;
    }

    function _better(Side side, uint256 a, uint256 b) private pure returns (bool) {
        return side == Side.Buy ? a > b : a < b;
    }

    /// @dev Take an open order out of its level, the book's and its owner's counts (its escrow
    /// is not moved here).
    function _close(uint256 id, Order memory o) private {
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        uint256 key = _levelKey(o.tokenId, side, o.price);
        Level memory lv = _levels[key];
        bool isHead = lv.head == id;
        if (isHead) lv.head = o.next;
        else _orders[o.prev].next = o.next;
        if (lv.tail == id) lv.tail = isHead ? 0 : o.prev;
        else if (!isHead) _orders[o.next].prev = o.prev; // a new first order's prev is never read
        _orders[id].remaining = 0;
        if (lv.head == 0) {
            _removeLevel(o.tokenId, side, o.price, lv);
        } else {
            lv.quantity -= uint80(o.remaining);
            _levels[key] = lv;
        }
        Book storage book = _books[o.tokenId];
        book.items -= 1;
        if (o.flags & FLAG_CALL != 0 && book.callOrders != 0) book.callOrders -= 1;
        if (side == Side.Sell) _accounts[o.owner][o.tokenId].openSells -= 1;
        else _accounts[o.owner][o.tokenId].openBuys -= 1;
    }

    function _removeLevel(uint256 tokenId, Side side, uint256 price, Level memory lv) private {
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

    /// @dev Append to the owner's list of open orders on one side; compacts closed entries
    /// first when the list is full, so a list never passes {MAX_OPEN_ORDERS} entries.
    function _pushOwn(address account, uint256 tokenId, Side side, uint256 id, Account memory acct) private {
        uint256 len = side == Side.Buy ? acct.buyLen : acct.sellLen;
        if (len >= MAX_OPEN_ORDERS) {
            uint256 kept = 0;
            for (uint256 i = 0; i < len; ++i) {
                uint256 key = _listKey(tokenId, side, i);
                uint40 entry = _lists[account][key];
                if (_orders[entry].remaining != 0) {
                    if (kept != i) _lists[account][_listKey(tokenId, side, kept)] = entry;
                    ++kept;
                }
            }
            len = kept;
        }
        _lists[account][_listKey(tokenId, side, len)] = uint40(id);
        (uint256 day,) = _clock();
        if (acct.day != day) {
            acct.day = uint32(day);
            acct.bought = 0;
        }
        if (side == Side.Buy) {
            acct.buyLen = uint32(len + 1);
            acct.openBuys += 1;
        } else {
            acct.sellLen = uint32(len + 1);
            acct.openSells += 1;
        }
        _accounts[account][tokenId] = acct;
    }

    /// @dev Return a closed order's escrow to its owner, or keep it as unclaimed.
    function _release(address owner, uint256 id, Order memory o, bool keep) private {
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

    function _credit(address account, uint256 tokenId, uint256 amount) private {
        _unclaimed[account][tokenId] += amount;
        emit UnclaimedCredited(account, tokenId, amount);
    }

    function _endBlock(uint256 blockId, BlockProposal memory b, BlockStatus status) private {
        _blocks[blockId].status = status;
        _books[b.tokenId].items -= 1;
        if (_registry.isActiveParticipant(b.seller)) {
            _allowances.safeTransferFrom(address(this), b.seller, b.tokenId, b.quantity, "");
        } else {
            _credit(b.seller, b.tokenId, b.quantity);
        }
    }

    // ------------------------------------------------------------------ the opening call

    /// @dev Rule 4 over the call book: walks the asks up to the best bid, then every candidate
    /// price of the crossing region [bestAsk, bestBid] from the top down (outside it V = 0).
    function _uncrossPrice(uint256 tokenId, Book memory book, uint256 referencePrice)
        private
        view
        returns (uint256 price, uint256 volume)
    {
        if (book.bestBid == 0 || book.bestAsk == 0 || book.bestBid < book.bestAsk) return (0, 0);
        Scan memory c;
        c.bid = book.bestBid;
        c.ask = book.bestAsk;
        for (uint256 p = book.bestAsk; p != 0 && p <= book.bestBid;) {
            Level memory lv = _levels[_levelKey(tokenId, Side.Sell, p)];
            c.sellsInRegion += lv.quantity;
            c.ask = p;
            p = lv.next;
        }
        while (c.bid != 0 || c.ask != 0) {
            uint256 x = c.bid > c.ask ? c.bid : c.ask;
            if (c.bid == x) {
                Level memory lv = _levels[_levelKey(tokenId, Side.Buy, x)];
                c.buys += lv.quantity;
                c.bid = lv.next < book.bestAsk ? 0 : lv.next;
            }
            uint256 sells = c.sellsInRegion - c.sellsAbove; // S(x)
            if (c.ask == x) {
                Level memory lv = _levels[_levelKey(tokenId, Side.Sell, x)];
                c.sellsAbove += lv.quantity;
                c.ask = x == book.bestAsk ? 0 : lv.prev; // the best level's prev is not kept
            }
            uint256 v = c.buys < sells ? c.buys : sells;
            uint256 imbalance = c.buys > sells ? c.buys - sells : sells - c.buys;
            uint256 distance = x > referencePrice ? x - referencePrice : referencePrice - x;
            // descending order: on a full tie the higher price, seen first, stays
            if (
                v > volume || (v == volume && v != 0
                        && (imbalance < c.imbalance || (imbalance == c.imbalance && distance < c.distance)))
            ) {
                (price, volume, c.imbalance, c.distance) = (x, v, imbalance, distance);
            }
        }
    }

    /// @dev Pair the call book's buys (price descending, then id) with its sells (price
    /// ascending, then id) at `run.price` until the run's volume is filled or `maxFills` fills.
    function _pairCall(uint256 tokenId, Run memory run, uint256 maxFills, uint256 feeBps) private {
        uint256 fees = 0;
        for (uint256 n = 0; n < maxFills && run.left != 0; ++n) {
            fees += _pairOne(tokenId, run, feeBps);
        }
        if (fees != 0) _cashOut(_requireFeeAccount(), fees);
    }

    /// @dev One fill of the uncrossing: the best bid's first order with the best ask's first
    /// order at the run's price. Returns both sides' fees.
    function _pairOne(uint256 tokenId, Run memory run, uint256 feeBps) private returns (uint256) {
        Fill memory f;
        {
            Book memory book = _books[tokenId];
            f.buyId = _levels[_levelKey(tokenId, Side.Buy, book.bestBid)].head;
            f.sellId = _levels[_levelKey(tokenId, Side.Sell, book.bestAsk)].head;
        }
        Order memory b = _orders[f.buyId];
        Order memory s = _orders[f.sellId];
        f.quantity = b.remaining < s.remaining ? b.remaining : s.remaining;
        if (run.left < f.quantity) f.quantity = run.left;
        run.left -= uint128(f.quantity);
        f.fee = _fee(uint256(run.price) * f.quantity, feeBps);
        // the buy's escrow falls by limit × q and the fee paid; the rest of limit × q returns now
        uint256 refund = (uint256(b.price) - run.price) * f.quantity;
        bool buyDone = _consume(f.buyId, b, f.quantity);
        if (feeBps != 0) refund += _payFeeFromEscrow(f.buyId, f.fee, buyDone);
        _consume(f.sellId, s, f.quantity);
        _allowances.safeTransferFrom(address(this), b.owner, tokenId, f.quantity, "");
        _addBought(b.owner, tokenId, f.quantity);
        _cashOut(s.owner, uint256(run.price) * f.quantity - f.fee);
        _cashOut(b.owner, refund);
        emit TradeExecuted(tokenId, f.buyId, f.sellId, b.owner, s.owner, run.price, f.quantity, f.fee, f.fee, TradeMode.Call);
        return 2 * f.fee;
    }

    // ------------------------------------------------------------------ transfers and keys

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
    ) private {
        emit TradeExecuted(tokenId, buyId, sellId, buyer, seller, price, quantity, fee, fee, mode);
    }

    function _cashIn(address from, uint256 amount) private {
        _cashFrom(from, address(this), amount);
    }

    function _cashFrom(address from, address to, uint256 amount) private {
        if (amount != 0 && !_cash.transferFrom(from, to, amount)) revert MarketInsufficientCash(from, amount, 0);
    }

    function _cashOut(address to, uint256 amount) private {
        if (amount != 0 && !_cash.transfer(to, amount)) revert MarketInsufficientCash(address(this), amount, 0);
    }

    function _levelKey(uint256 tokenId, Side side, uint256 price) private pure returns (uint256) {
        return tokenId << 56 | uint256(side) << 48 | price;
    }

    function _listKey(uint256 tokenId, Side side, uint256 index) private pure returns (uint256) {
        return tokenId << 40 | uint256(side) << 32 | index;
    }
}
