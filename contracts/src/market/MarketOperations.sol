// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MarketBase} from "./MarketBase.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title MarketOperations
/// @notice The half of the market that {Market} runs by `delegatecall` (on the market's storage,
/// with the caller's `msg.sender`): governance and exchange settings, halts, force-cancels, block
/// trades, the opening uncrossing, expiry and unclaimed escrow. Deployed before {Market}, which
/// checks {wiring}; its own storage is never used and it holds no asset (it is no system contract
/// of either token). The functions are documented in {IMarket}.
contract MarketOperations is MarketBase {
    /// @dev Price levels the uncrossing's verification visits per call at most (~1M gas).
    uint256 private constant SCAN_LEVELS_PER_CALL = 256;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address allowances_, address cash_) MarketBase(registry_, allowances_, cash_) {}

    /// @notice The registry and tokens this code was built for (the market checks them).
    function wiring() external view returns (address registry, address allowances, address cash) {
        return (address(_registry), address(_allowances), address(_cash));
    }

    /// @dev See {IMarket-setFeeAccount}.
    function setFeeAccount(address account) external onlyGovernance {
        if (account == address(0)) revert MarketZeroAddress("feeAccount");
        _feeAccount = account;
        emit FeeAccountSet(account);
    }

    /// @dev See {IMarket-setSettlementAgent}.
    function setSettlementAgent(address agent) external onlyGovernance {
        if (agent == address(0)) revert MarketZeroAddress("settlementAgent");
        _settlementAgent = agent;
        emit SettlementAgentSet(agent);
    }

    /// @dev See {IMarket-setReferencePrice}.
    function setReferencePrice(uint256 tokenId, uint256 price) external {
        _requireRole(Roles.EXCHANGE_ROLE);
        if (msg.sender != _settlementAgent) revert MarketNotSettlementAgent(msg.sender);
        Rulebook storage rules = _listed(tokenId);
        if (price == 0 || price > MAX_PRICE) revert MarketPriceInvalid(price);
        rules.referencePrice = uint48(price);
        emit ReferencePriceSet(tokenId, price);
    }

    /// @dev See {IMarket-halt}.
    function halt(uint256 tokenId, string calldata reason) external {
        _requireRole(Roles.EXCHANGE_ROLE);
        if (tokenId == 0) {
            if (_haltedAll) revert MarketHalted(0);
            _haltedAll = true;
        } else {
            _listed(tokenId);
            Book storage book = _books[tokenId];
            if (book.halted) revert MarketHalted(tokenId);
            book.halted = true;
        }
        emit TradingHalted(tokenId, reason);
    }

    /// @dev See {IMarket-resume}.
    function resume(uint256 tokenId) external {
        _requireRole(Roles.EXCHANGE_ROLE);
        if (tokenId == 0) {
            if (!_haltedAll) revert MarketNotHalted(0);
            _haltedAll = false;
        } else {
            _listed(tokenId);
            Book storage book = _books[tokenId];
            if (!book.halted) revert MarketNotHalted(tokenId);
            book.halted = false;
        }
        emit TradingResumed(tokenId);
    }

    /// @dev See {IMarket-setRulebook}.
    function setRulebook(uint256 tokenId, Rulebook calldata rules) external {
        if (msg.sender != address(_registry)) {
            _requireRole(Roles.EXCHANGE_ROLE);
            if (_rules[tokenId].governed) revert MarketRulebookGoverned(tokenId);
        }
        if (!_validRules(tokenId, rules)) revert MarketRulebookInvalid(tokenId);
        Book storage book = _books[tokenId];
        if (book.items != 0) revert MarketBookNotEmpty(tokenId, book.items);
        _rules[tokenId] = rules;
        // the book is empty: no open buy is counted, whichever way the limit changes
        book.limited = rules.positionLimit != 0 || rules.positionLimitBps != 0;
        emit RulebookSet(tokenId, rules);
    }

    /// @dev See {IMarket-forceCancel}.
    function forceCancel(uint256 orderId) external nonReentrant {
        _requireRole(Roles.EXCHANGE_ROLE);
        Order memory o = _openOrder(orderId);
        // allowed during an uncrossing's fills (a suspended party must not hold them up) and its
        // verification (which restarts on the changed book)
        _close(orderId, o);
        _release(o.owner, orderId, o, !_registry.isActiveParticipant(o.owner));
        emit OrderCancelled(orderId, o.owner, o.remaining);
    }

    /// @dev See {IMarket-proposeBlock}.
    function proposeBlock(uint256 tokenId, address buyer, uint256 price, uint256 quantity)
        external
        nonReentrant
        returns (uint256 blockId)
    {
        _requireRole(Roles.ENTERPRISE_ROLE);
        (Rulebook storage rules,) = _enter(tokenId, Window.Block);
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

    /// @dev See {IMarket-acceptBlock}.
    function acceptBlock(uint256 blockId) external nonReentrant {
        _requireRole(Roles.ENTERPRISE_ROLE);
        BlockProposal memory b = _blocks[blockId];
        (uint256 day,) = _clock();
        if (b.status != BlockStatus.Pending || b.day != day) revert MarketBlockNotPending(blockId);
        if (b.buyer != msg.sender) revert MarketNotBlockBuyer(blockId, msg.sender);
        (Rulebook storage rules,) = _enter(b.tokenId, Window.Block);
        uint256 value = uint256(b.price) * b.quantity;
        _requireCash(msg.sender, value, rules.feeBps);
        _requireBuyer(msg.sender, b.tokenId, b.quantity);

        _blocks[blockId].status = BlockStatus.Accepted;
        _books[b.tokenId].items -= 1;
        uint256 fee = _fee(value, rules.feeBps);
        _cashFrom(msg.sender, b.seller, value - fee);
        if (fee != 0) _cashFrom(msg.sender, _requireFeeAccount(), 2 * fee);
        _addBought(msg.sender, b.tokenId, b.quantity);
        _allowances.safeTransferFrom(address(this), msg.sender, b.tokenId, b.quantity, "");
        _emitTrade(b.tokenId, blockId, blockId, msg.sender, b.seller, b.price, b.quantity, fee, TradeMode.Block);
    }

    /// @dev See {IMarket-declineBlock}.
    function declineBlock(uint256 blockId) external nonReentrant {
        _requireRole(Roles.ENTERPRISE_ROLE);
        BlockProposal memory b = _blocks[blockId];
        if (b.status != BlockStatus.Pending) revert MarketBlockNotPending(blockId);
        if (b.buyer != msg.sender) revert MarketNotBlockBuyer(blockId, msg.sender);
        _endBlock(blockId, b, BlockStatus.Declined);
        emit BlockDeclined(blockId);
    }

    /// @dev See {IMarket-cancelBlock}.
    function cancelBlock(uint256 blockId) external nonReentrant {
        _requireRole(Roles.ENTERPRISE_ROLE);
        BlockProposal memory b = _blocks[blockId];
        if (b.status != BlockStatus.Pending) revert MarketBlockNotPending(blockId);
        if (b.seller != msg.sender) revert MarketNotBlockSeller(blockId, msg.sender);
        _endBlock(blockId, b, BlockStatus.Cancelled);
        emit BlockCancelled(blockId);
    }

    /// @dev See {IMarket-uncross}.
    function uncross(uint256 tokenId, uint256 price, uint256 maxFills) external nonReentrant {
        _requireActive();
        Rulebook storage rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
        Book memory book = _books[tokenId];
        if (book.halted || _haltedAll) revert MarketHalted(tokenId);
        (uint256 day, uint256 tod) = _clock();
        if (!_inWindow(rules, day, tod, Window.Continuous)) revert MarketOutsideSession(tokenId, tod);
        if (book.items != 0 && book.day < day) revert MarketBookNotExpired(tokenId, book.day);
        Run memory run = _runs[tokenId];
        if (run.price == 0) {
            if (book.callOrders == 0) {
                // nothing to uncross: the book is open already
                if (price != 0) revert MarketWrongUncross(tokenId, price, 0);
                emit CallUncrossed(tokenId, 0, 0);
                return;
            }
            Scan memory scan = _scans[tokenId][price];
            if (scan.day != day || scan.version != book.version) {
                // a new run, or one of a call book changed since (a cancel): from the top
                scan = Scan(uint32(day), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, book.version);
            }
            _scanCall(tokenId, book, scan, SCAN_LEVELS_PER_CALL, rules.referencePrice);
            if (scan.stage != 3) {
                // verification continues in the next call, valid while the book stays the same
                _scans[tokenId][price] = scan;
                return;
            }
            if (price != scan.price) revert MarketWrongUncross(tokenId, price, scan.price);
            delete _scans[tokenId][price];
            if (scan.volume == 0) {
                Book storage opened = _books[tokenId];
                opened.callOrders = 0;
                opened.uncrossing = false;
                emit CallUncrossed(tokenId, 0, 0);
                return;
            }
            run = Run({price: uint48(price), volume: scan.volume, left: scan.volume});
            if (!book.uncrossing) _books[tokenId].uncrossing = true;
        } else if (price != run.price) {
            revert MarketWrongUncross(tokenId, price, run.price);
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

    /// @dev See {IMarket-expire}.
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

    /// @dev See {IMarket-withdrawUnclaimed}.
    function withdrawUnclaimed(uint256 tokenId) external nonReentrant {
        _requireActive();
        uint256 amount = _unclaimed[msg.sender][tokenId];
        if (amount == 0) revert MarketNothingUnclaimed(msg.sender, tokenId);
        delete _unclaimed[msg.sender][tokenId];
        if (tokenId == 0) _cashOut(msg.sender, amount);
        else _allowances.safeTransferFrom(address(this), msg.sender, tokenId, amount, "");
        emit UnclaimedWithdrawn(msg.sender, tokenId, amount);
    }

    function _validRules(uint256 tokenId, Rulebook calldata r) private pure returns (bool) {
        return tokenId != 0 && tokenId <= type(uint32).max && r.referencePrice != 0 && r.bandBps <= BPS
            && r.blockBandBps <= BPS && r.feeBps <= MAX_FEE_BPS && r.blockMinimum >= 1 && r.callStart <= r.open1
            && r.open1 < r.close1 && r.close1 <= r.open2 && r.open2 < r.close2 && r.close2 <= 1 days
            && r.open1 <= r.blockFrom && r.blockFrom < r.close2 && r.positionLimitBps <= BPS;
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

    /// @dev Rule 4 over the call book, `budget` price levels at a time: sums the asks of the
    /// crossing region [bestAsk, bestBid] (outside it V = 0), then scans every candidate price of
    /// the region from the top down. Returns the budget left; `scan.stage` 3 when done, with
    /// `scan.price` and `scan.volume` (0, 0 when V = 0).
    function _scanCall(uint256 tokenId, Book memory book, Scan memory scan, uint256 budget, uint256 ref)
        private
        view
        returns (uint256)
    {
        if (scan.stage == 0) {
            if (book.bestBid == 0 || book.bestAsk == 0 || book.bestBid < book.bestAsk) {
                scan.stage = 3;
                return budget;
            }
            (scan.stage, scan.ask, scan.bid) = (1, book.bestAsk, book.bestBid);
        }
        while (scan.stage == 1 && budget != 0) {
            if (scan.ask == 0 || scan.ask > book.bestBid) {
                (scan.stage, scan.ask) = (2, scan.top);
                break;
            }
            Level memory lv = _levels[_levelKey(tokenId, Side.Sell, scan.ask)];
            scan.sellsInRegion += uint128(lv.quantity);
            (scan.top, scan.ask) = (scan.ask, lv.next);
            --budget;
        }
        while (scan.stage == 2 && budget != 0) {
            if (scan.bid == 0 && scan.ask == 0) {
                scan.stage = 3;
                break;
            }
            _scanStep(tokenId, book.bestAsk, scan, ref);
            --budget;
        }
        return budget;
    }

    /// @dev One candidate price x (the higher of the two cursors): B(x), S(x), and the best so far.
    function _scanStep(uint256 tokenId, uint256 lowest, Scan memory scan, uint256 ref) private view {
        uint256 x = scan.bid > scan.ask ? scan.bid : scan.ask;
        if (scan.bid == x) {
            Level memory lv = _levels[_levelKey(tokenId, Side.Buy, x)];
            scan.buys += uint128(lv.quantity);
            scan.bid = lv.next < lowest ? 0 : lv.next;
        }
        uint256 sells = scan.sellsInRegion - scan.sellsAbove; // S(x)
        if (scan.ask == x) {
            Level memory lv = _levels[_levelKey(tokenId, Side.Sell, x)];
            scan.sellsAbove += uint128(lv.quantity);
            scan.ask = x == lowest ? 0 : lv.prev; // the best level's prev is not kept
        }
        uint256 buys = scan.buys;
        uint256 v = buys < sells ? buys : sells;
        uint256 imbalance = buys > sells ? buys - sells : sells - buys;
        uint256 distance = x > ref ? x - ref : ref - x;
        // descending order: on a full tie the higher price, seen first, stays
        if (
            v > scan.volume || (v == scan.volume && v != 0
                    && (imbalance < scan.imbalance || (imbalance == scan.imbalance && distance < scan.distance)))
        ) {
            (scan.price, scan.volume, scan.imbalance, scan.distance) =
                (uint48(x), uint128(v), uint128(imbalance), uint48(distance));
        }
    }

    /// @dev Pair the call book's buys (price descending, then id) with its sells (price
    /// ascending, then id) at `run.price` until the run's volume is filled or `maxFills` fills.
    function _pairCall(uint256 tokenId, Run memory run, uint256 maxFills, uint256 feeBps) private {
        uint256 fees = 0;
        for (uint256 n = 0; n < maxFills && run.left != 0; ++n) {
            Book memory book = _books[tokenId];
            if (book.bestBid < run.price || book.bestAsk == 0 || book.bestAsk > run.price) {
                // an order force-cancelled during the fills: the book no longer crosses at the
                // price, the uncrossing ends with the volume executed
                run.volume -= run.left;
                run.left = 0;
                break;
            }
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
        _addBought(b.owner, tokenId, f.quantity);
        _allowances.safeTransferFrom(address(this), b.owner, tokenId, f.quantity, "");
        _cashOut(s.owner, uint256(run.price) * f.quantity - f.fee);
        _cashOut(b.owner, refund);
        emit TradeExecuted(tokenId, f.buyId, f.sellId, b.owner, s.owner, run.price, f.quantity, f.fee, f.fee, TradeMode.Call);
        return 2 * f.fee;
    }

    function _listed(uint256 tokenId) private view returns (Rulebook storage rules) {
        rules = _rules[tokenId];
        if (rules.referencePrice == 0) revert MarketNotListed(tokenId);
    }
}
