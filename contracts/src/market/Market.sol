// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {IMarket} from "../interfaces/IMarket.sol";
import {Roles} from "../libraries/Roles.sol";
import {MarketBase} from "./MarketBase.sol";
import {MarketOperations} from "./MarketOperations.sol";

/// @title Market
/// @notice Order books, the opening call auction, listing takes and block trades of the exchange.
/// The trading rules are in {IMarket}; storage in {MarketBase}. Orders, takes, cancels and the
/// views run here; the rest runs in {MarketOperations} by `delegatecall`.
contract Market is IMarket, MarketBase, ERC1155Holder {
    /// @inheritdoc IMarket
    uint256 public constant MAX_OPEN_ORDERS = MAX_OPEN;

    /// @dev The other half (deployed before this contract, for the same registry and tokens).
    address private immutable _operations;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    /// @param operations_ The {MarketOperations} deployed for the same registry and tokens.
    constructor(address registry_, address allowances_, address cash_, address operations_)
        MarketBase(registry_, allowances_, cash_)
    {
        if (operations_.code.length == 0) revert MarketZeroAddress("operations");
        (address registry, address allowances, address cash) = MarketOperations(operations_).wiring();
        if (registry != registry_ || allowances != allowances_ || cash != cash_) {
            revert MarketOperationsMismatch(operations_);
        }
        _operations = operations_;
    }

    /// @inheritdoc IMarket
    function setFeeAccount(address account) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function setSettlementAgent(address agent) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function setRulebook(uint256 tokenId, Rulebook calldata rules) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function setReferencePrice(uint256 tokenId, uint256 price) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function halt(uint256 tokenId, string calldata reason) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function resume(uint256 tokenId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function forceCancel(uint256 orderId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function proposeBlock(uint256 tokenId, address buyer, uint256 price, uint256 quantity)
        external
        returns (uint256)
    {
        _delegate();
    }

    /// @inheritdoc IMarket
    function acceptBlock(uint256 blockId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function declineBlock(uint256 blockId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function cancelBlock(uint256 blockId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function uncross(uint256 tokenId, uint256 price, uint256 maxFills) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function expire(uint256 tokenId, uint256 maxOrders) external returns (uint256) {
        _delegate();
    }

    /// @inheritdoc IMarket
    function withdrawUnclaimed(uint256 tokenId) external {
        _delegate();
    }

    /// @inheritdoc IMarket
    function placeOrder(uint256 tokenId, Side side, uint256 price, uint256 quantity)
        external
        nonReentrant
        returns (uint256 orderId)
    {
        _requireRole(Roles.ENTERPRISE_ROLE);
        (Rulebook storage rules, bool callPhase) = _enter(tokenId, Window.Order);
        if (quantity == 0) revert MarketQuantityZero();
        if (quantity >= rules.blockMinimum) revert MarketListingTooLarge(quantity, rules.blockMinimum);
        if (price == 0 || price > MAX_PRICE) revert MarketPriceInvalid(price);
        (uint256 lower, uint256 upper) = _band(rules.referencePrice, rules.bandBps);
        if (price < lower || price > upper) revert MarketPriceOutsideBand(tokenId, price, lower, upper);
        Account memory acct = _accounts[msg.sender][tokenId];
        _requireNoSelfTrade(msg.sender, tokenId, side, price, acct);
        _requireRoom(msg.sender, tokenId, side, acct);
        if (side == Side.Buy) {
            _requireCash(msg.sender, price * quantity, rules.feeBps);
            _requireBuyer(msg.sender, tokenId, quantity);
        } else {
            _requireSellable(msg.sender, tokenId, quantity, acct);
        }

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
        }
    }

    /// @inheritdoc IMarket
    function cancelOrder(uint256 orderId) external nonReentrant {
        _requireRole(Roles.ENTERPRISE_ROLE);
        Order memory o = _openOrder(orderId);
        if (o.owner != msg.sender) revert MarketNotOrderOwner(orderId, msg.sender);
        // refused during an uncrossing's fills only (anyone can finish them); a verification
        // under way restarts on the changed book
        if (_books[o.tokenId].uncrossing) revert MarketCallPending(o.tokenId);
        _close(orderId, o);
        _release(o.owner, orderId, o, false);
        emit OrderCancelled(orderId, o.owner, o.remaining);
    }

    /// @inheritdoc IMarket
    function take(uint256 orderId, uint256 quantity)
        external
        nonReentrant
        returns (uint256 takeId)
    {
        _requireRole(Roles.ENTERPRISE_ROLE);
        Order memory o = _openOrder(orderId);
        uint256 tokenId = o.tokenId;
        (Rulebook storage rules,) = _enter(tokenId, Window.Continuous);
        if (quantity == 0) revert MarketQuantityZero();
        if (o.owner == msg.sender) revert MarketSelfTrade(msg.sender, orderId);
        Side side = o.flags & FLAG_SELL != 0 ? Side.Sell : Side.Buy;
        if (!_amongBestLevels(tokenId, side, o.price)) revert MarketTakeOutsideBestLevels(orderId, o.price);
        if (quantity > o.remaining) revert MarketTakeExceedsRemaining(orderId, quantity, o.remaining);
        Account memory acct = _accounts[msg.sender][tokenId];
        if (side == Side.Sell) {
            _requireCash(msg.sender, o.price * quantity, rules.feeBps);
            _requireBuyer(msg.sender, tokenId, quantity);
        } else {
            _requireSellable(msg.sender, tokenId, quantity, acct);
        }

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
            _deliverToBuyer(t, acct);
        } else {
            _fillBid(t, orderId, o);
            _settleSeller(t);
        }
    }

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
    function settlementAgent() external view returns (address) {
        return _settlementAgent;
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
        return _books[tokenId].halted || _haltedAll;
    }

    /// @inheritdoc IMarket
    function positionOf(address account, uint256 tokenId) external view returns (uint256 position, uint256 limit) {
        position = _allowances.balanceOf(account, tokenId) + _accounts[account][tokenId].openBuys;
        if (_books[tokenId].limited) limit = _positionLimit(tokenId);
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
        ids = new uint256[](len);
        uint256 n = 0;
        for (uint256 i = 0; i < len; ++i) {
            uint256 id = _lists[account][_listKey(tokenId, side, i)];
            if (_orders[id].remaining == 0) continue;
            // lists are unordered: insert in id order (ids grow with placement)
            uint256 k = n++;
            while (k != 0 && ids[k - 1] > id) {
                ids[k] = ids[k - 1];
                --k;
            }
            ids[k] = id;
        }
        // forget the unused tail of the array
        assembly ("memory-safe") {
            mstore(ids, n)
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

    /// @dev Rule 12: refuse an order of `account` that crosses one of its own open orders on
    /// the other side, naming the lowest id among them (lists are unordered). Closed entries met
    /// on the way are removed (the last entry moves into their place), so each closed order is
    /// scanned once and the scan costs the open orders of the list.
    function _requireNoSelfTrade(address account, uint256 tokenId, Side side, uint256 price, Account memory acct)
        private
    {
        uint256 len = side == Side.Buy ? acct.sellLen : acct.buyLen;
        if (len == 0) return;
        uint256 listed = len;
        Side other = side == Side.Buy ? Side.Sell : Side.Buy;
        uint256 crossing = 0;
        for (uint256 i = 0; i < len;) {
            uint256 id = _lists[account][_listKey(tokenId, other, i)];
            Order storage o = _orders[id];
            if (o.remaining == 0) {
                len = _removeEntry(account, tokenId, other, i, len);
                continue;
            }
            uint256 p = o.price;
            if ((side == Side.Buy ? p <= price : p >= price) && (crossing == 0 || id < crossing)) crossing = id;
            ++i;
        }
        if (crossing != 0) revert MarketSelfTrade(account, crossing);
        if (len != listed) _storeLen(account, tokenId, other, len, acct);
    }

    /// @dev Rule: at most {MAX_OPEN_ORDERS} open orders per side. A full list is swept of its
    /// closed entries first (each is removed once), so the list's length is exact when it counts.
    function _requireRoom(address account, uint256 tokenId, Side side, Account memory acct) private {
        uint256 len = side == Side.Buy ? acct.buyLen : acct.sellLen;
        if (len < MAX_OPEN) return;
        for (uint256 i = 0; i < len;) {
            if (_orders[_lists[account][_listKey(tokenId, side, i)]].remaining == 0) {
                len = _removeEntry(account, tokenId, side, i, len);
            } else {
                ++i;
            }
        }
        if (len >= MAX_OPEN) revert MarketTooManyOrders(account, tokenId, MAX_OPEN);
        _storeLen(account, tokenId, side, len, acct);
    }

    /// @dev Remove entry `i` of a list of `len` entries: the last one takes its place (the slot
    /// past the end keeps its stale value, reused by the next push). Returns the new length.
    function _removeEntry(address account, uint256 tokenId, Side side, uint256 i, uint256 len)
        private
        returns (uint256)
    {
        uint256 last = len - 1;
        if (i != last) {
            _lists[account][_listKey(tokenId, side, i)] = _lists[account][_listKey(tokenId, side, last)];
        }
        return last;
    }

    /// @dev Record a swept list's length in `acct` and in storage (only when it changed), so the
    /// stored lengths match the lists whichever way the order ends (filled, rests).
    function _storeLen(address account, uint256 tokenId, Side side, uint256 len, Account memory acct) private {
        if (side == Side.Buy) acct.buyLen = uint32(len);
        else acct.sellLen = uint32(len);
        _accounts[account][tokenId] = acct;
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
            _addBought(o.owner, t.tokenId, q);
            _allowances.safeTransferFrom(t.account, o.owner, t.tokenId, q, "");
            if (t.feeBps != 0) _cashOut(o.owner, _payFeeFromEscrow(id, fee, done));
        }
        _emitTrade(t.tokenId, id, t.id, o.owner, t.account, o.price, q, fee, t.mode);
    }

    /// @dev After a buy taker's fills: allowances out of escrow, fees, the T+1 counter.
    function _deliverToBuyer(Taker memory t, Account memory acct) private {
        (uint256 day,) = _clock();
        if (acct.day != day) {
            acct.day = uint32(day);
            acct.bought = uint64(t.filled);
        } else {
            acct.bought += uint64(t.filled);
        }
        // the T+1 counter is stored before the allowances move: a receiver hook sees them locked
        _accounts[t.account][t.tokenId] = acct;
        _allowances.safeTransferFrom(address(this), t.account, t.tokenId, t.filled, "");
        if (t.fees != 0) _cashFrom(t.account, _requireFeeAccount(), t.fees);
    }

    /// @dev After a sell taker's fills: proceeds and fees out of escrow.
    function _settleSeller(Taker memory t) private {
        _cashOut(t.account, t.paid);
        if (t.fees != 0) _cashOut(_requireFeeAccount(), t.fees);
    }

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
            // a buy of a limited token is counted in its owner's open buys until it closes (the
            // rulebook cannot change before)
            flags: (side == Side.Sell ? FLAG_SELL : (_books[tokenId].limited ? FLAG_LIMITED : 0)) | (callPhase ? FLAG_CALL : 0),
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
        if (side == Side.Buy && b.limited) acct.openBuys += uint96(left);
        _pushOwn(msg.sender, tokenId, side, id, acct);
    }

    /// @dev A new price level holding one order, linked in price order (best first) after its
    /// nearest better level, found in the price bitmap (a few words, whatever the depth).
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
            uint256 cur = _betterNeighbour(tokenId, side, price);
            uint256 next = _levels[_levelKey(tokenId, side, cur)].next;
            lv.prev = uint48(cur);
            lv.next = uint48(next);
            _levels[_levelKey(tokenId, side, cur)].next = uint48(price);
            if (next != 0) _levels[_levelKey(tokenId, side, next)].prev = uint48(price);
        }
        _levels[_levelKey(tokenId, side, price)] = lv;
        uint256 wordKey = _levelKey(tokenId, side, price >> 8);
        uint256 bits = _levelBits[wordKey];
        uint256 mask = 1 << (price & 255);
        if (bits & mask == 0) _levelBits[wordKey] = bits | mask;
    }

    /// @dev The nearest existing level better than `price` (there is one: the best is better).
    /// Scans the bitmap from `price` towards the best, clearing the bits of removed levels.
    function _betterNeighbour(uint256 tokenId, Side side, uint256 price) private returns (uint256) {
        bool buy = side == Side.Buy;
        uint256 word = price >> 8;
        uint256 shift = (price & 255) + 1;
        while (true) {
            uint256 wordKey = _levelKey(tokenId, side, word);
            uint256 stored = _levelBits[wordKey];
            uint256 bits = stored;
            if (word == price >> 8) {
                // only prices better than `price`: above it for bids, below it for asks
                bits = buy ? (bits >> shift) << shift : bits & ((1 << (shift - 1)) - 1);
            }
            while (bits != 0) {
                uint256 b = buy ? _log2(bits & (~bits + 1)) : _log2(bits);
                uint256 candidate = (word << 8) | b;
                if (_levels[_levelKey(tokenId, side, candidate)].head != 0) {
                    if (stored != _levelBits[wordKey]) _levelBits[wordKey] = stored;
                    return candidate;
                }
                bits &= ~(1 << b);
                stored &= ~(1 << b);
            }
            if (stored != _levelBits[wordKey]) _levelBits[wordKey] = stored;
            word = buy ? word + 1 : word - 1;
        }
    }

    /// @dev Index of the highest set bit of `x` (> 0).
    function _log2(uint256 x) private pure returns (uint256 n) {
        for (uint256 s = 128; s != 0; s >>= 1) {
            if (x >> s != 0) {
                x >>= s;
                n += s;
            }
        }
    }

    function _better(Side side, uint256 a, uint256 b) private pure returns (bool) {
        return side == Side.Buy ? a > b : a < b;
    }

    /// @dev Append to the owner's list of open orders on one side ({_requireRoom} has made room).
    function _pushOwn(address account, uint256 tokenId, Side side, uint256 id, Account memory acct) private {
        uint256 len = side == Side.Buy ? acct.buyLen : acct.sellLen;
        _lists[account][_listKey(tokenId, side, len)] = uint40(id);
        (uint256 day,) = _clock();
        if (acct.day != day) {
            acct.day = uint32(day);
            acct.bought = 0;
        }
        if (side == Side.Buy) acct.buyLen = uint32(len + 1);
        else acct.sellLen = uint32(len + 1);
        _accounts[account][tokenId] = acct;
    }

    function _listedView(uint256 tokenId) private view returns (Rulebook memory rules) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
    }

    /// @dev Accept allowances only when this contract pulls them (escrow of a sell or a block):
    /// the market holds exactly its escrow.
    function onERC1155Received(address operator, address, uint256, uint256, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (operator != address(this)) revert MarketUnsolicitedTransfer(operator);
        return this.onERC1155Received.selector;
    }

    /// @dev As {onERC1155Received}: the market never pulls batches.
    function onERC1155BatchReceived(address operator, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        pure
        override
        returns (bytes4)
    {
        revert MarketUnsolicitedTransfer(operator);
    }

    /// @dev Run the call in {MarketOperations} on this contract's storage and return (or
    /// revert with) what it returns.
    function _delegate() private {
        address operations = _operations;
        // forwards the calldata and the result unchanged; nothing of Solidity's memory is used after
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), operations, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }
}
