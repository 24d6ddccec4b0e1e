// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IMarketTypes
/// @notice The market's enums, structs, errors and events ({IMarket} inherits them; the market's
/// implementation contracts share them).
interface IMarketTypes {
    /// @notice Order side.
    enum Side {
        Buy,
        Sell
    }

    /// @notice How a trade was made: the opening call auction, continuous matching, a listing
    /// take, a block trade.
    enum TradeMode {
        Call,
        Continuous,
        Take,
        Block
    }

    /// @notice Where a block proposal stands.
    enum BlockStatus {
        None,
        Pending,
        Accepted,
        Declined,
        Cancelled,
        Expired
    }

    /// @notice The trading rules of one token id, set by the exchange.
    /// @param referencePrice Previous close, fen per tonne (> 0, < 2^48).
    /// @param bandBps Listing band around the reference (≤ 10,000; default 1,000).
    /// @param blockBandBps Block-trade band (≤ 10,000; default 3,000).
    /// @param feeBps Fee per side per fill (≤ 1,000).
    /// @param blockMinimum Smallest block trade, tonnes; listing orders stay below it (≥ 1;
    /// default 100,000).
    /// @param callStart Seconds of the CST day the call phase starts (33,300 = 9:15).
    /// @param open1 Morning session opens, call phase ends (34,200 = 9:30).
    /// @param close1 Morning session closes (41,400 = 11:30).
    /// @param open2 Afternoon session opens (46,800 = 13:00).
    /// @param close2 Afternoon session closes (54,000 = 15:00).
    /// @param blockFrom Block proposals and acceptances only at tod ≥ blockFrom inside a session
    /// (46,800 = 13:00).
    /// @param positionLimit Most tonnes of the token id an account may hold plus have open to buy
    /// (0 = no absolute limit; rule 14).
    /// @param positionLimitBps The same as a share of the id's issued quantity in circulation,
    /// `AllowanceToken.totalSupply(id)` (≤ 10,000; 0 = no share limit; rule 14).
    /// @param governed Changes to this rulebook need registry governance (the exchange alone may
    /// set it, but no longer change it once set).
    struct Rulebook {
        uint48 referencePrice;
        uint16 bandBps;
        uint16 blockBandBps;
        uint16 feeBps;
        uint64 blockMinimum;
        uint32 callStart;
        uint32 open1;
        uint32 close1;
        uint32 open2;
        uint32 close2;
        uint32 blockFrom;
        uint64 positionLimit;
        uint16 positionLimitBps;
        bool governed;
    }

    /// @notice Everything public about an open order. A closed order (filled, cancelled,
    /// expired) is forgotten and reads all zero: its history is in the events.
    /// @param owner Who placed it.
    /// @param tokenId Token traded.
    /// @param side Buy or sell.
    /// @param price Limit price, fen per tonne.
    /// @param quantity Original quantity, tonnes.
    /// @param remaining Quantity not yet filled.
    /// @param escrow Cash the market holds for a buy order: price × remaining + the fee reserve
    /// left (0 for a sell).
    /// @param open Whether it rests in the book.
    /// @param callPhase Whether it was placed in the call phase.
    struct OrderView {
        address owner;
        uint256 tokenId;
        Side side;
        uint256 price;
        uint256 quantity;
        uint256 remaining;
        uint256 escrow;
        bool open;
        bool callPhase;
    }

    /// @notice Everything public about a block proposal.
    /// @param seller Proposer, whose allowances are escrowed while pending.
    /// @param buyer The named buyer.
    /// @param tokenId Token traded.
    /// @param price Fen per tonne.
    /// @param quantity Tonnes.
    /// @param day Trading day of the proposal (it expires at that day's end).
    /// @param status Where it stands.
    struct BlockView {
        address seller;
        address buyer;
        uint256 tokenId;
        uint256 price;
        uint256 quantity;
        uint256 day;
        BlockStatus status;
    }

    // ------------------------------------------------------------------ errors

    /// @notice The token id has no rulebook: it is not traded.
    error MarketNotListed(uint256 tokenId);
    /// @notice Trading of the token id is halted by the exchange.
    error MarketHalted(uint256 tokenId);
    /// @notice The action is not allowed at this time of day (`timeOfDay`, seconds of the CST day),
    /// or on a weekend.
    error MarketOutsideSession(uint256 tokenId, uint256 timeOfDay);
    /// @notice Open orders or pending blocks of an earlier trading day (`bookDay`) must be expired first.
    error MarketBookNotExpired(uint256 tokenId, uint256 bookDay);
    /// @notice Today's call book waits for (or is in) its uncrossing.
    error MarketCallPending(uint256 tokenId);
    /// @notice The quantity is zero.
    error MarketQuantityZero();
    /// @notice A listing order must stay below the block minimum.
    error MarketListingTooLarge(uint256 quantity, uint256 blockMinimum);
    /// @notice The price is outside the band [lower, upper] (listing band, or block band for blocks).
    error MarketPriceOutsideBand(uint256 tokenId, uint256 price, uint256 lower, uint256 upper);
    /// @notice The order would trade with the account's own resting order `restingOrderId` (0: a
    /// block naming its seller as buyer).
    error MarketSelfTrade(address account, uint256 restingOrderId);
    /// @notice The account already has `limit` open orders on this token and side.
    error MarketTooManyOrders(address account, uint256 tokenId, uint256 limit);
    /// @notice The buyer's cash does not cover the value and fee at its limit.
    error MarketInsufficientCash(address account, uint256 needed, uint256 available);
    /// @notice The seller's sellable allowances (balance less today's purchases) do not cover the quantity.
    error MarketInsufficientAllowances(address account, uint256 tokenId, uint256 needed, uint256 sellable);
    /// @notice No open order has this id (unknown, filled, cancelled or expired).
    error MarketOrderNotOpen(uint256 orderId);
    /// @notice Only the order's owner may cancel it.
    error MarketNotOrderOwner(uint256 orderId, address caller);
    /// @notice The order's price is not among the best five price levels of its side.
    error MarketTakeOutsideBestLevels(uint256 orderId, uint256 price);
    /// @notice The take asks for more than the order has left.
    error MarketTakeExceedsRemaining(uint256 orderId, uint256 quantity, uint256 remaining);
    /// @notice A block trade must be at least the block minimum.
    error MarketBlockBelowMinimum(uint256 quantity, uint256 blockMinimum);
    /// @notice The named counterparty is not an active registered enterprise.
    error MarketNotTrader(address account);
    /// @notice The block proposal is not pending (unknown, done, or of an earlier day).
    error MarketBlockNotPending(uint256 blockId);
    /// @notice Only the named buyer may accept or decline the block proposal.
    error MarketNotBlockBuyer(uint256 blockId, address caller);
    /// @notice Only the seller may cancel the block proposal.
    error MarketNotBlockSeller(uint256 blockId, address caller);
    /// @notice The submitted uncrossing price is not the one the call book gives (`expected`; 0 = no uncrossing).
    error MarketWrongUncross(uint256 tokenId, uint256 submitted, uint256 expected);
    /// @notice Expiry waits for the end of the session (tod ≥ close2) or a later trading day.
    error MarketDayNotOver(uint256 tokenId);
    /// @notice The rulebook breaks a bound (see {Rulebook}), or the token id exceeds 32 bits.
    error MarketRulebookInvalid(uint256 tokenId);
    /// @notice The rulebook cannot change while the token has `items` open orders or pending blocks.
    error MarketBookNotEmpty(uint256 tokenId, uint256 items);
    /// @notice The price is zero or above 2^48 − 1.
    error MarketPriceInvalid(uint256 price);
    /// @notice The quantity is above 2^64 − 1.
    error MarketQuantityInvalid(uint256 quantity);
    /// @notice An address (`what`: allowances, cash, feeAccount, operations) is zero (or, for
    /// operations, has no code).
    error MarketZeroAddress(string what);
    /// @notice The operations contract was built for another registry or other tokens.
    error MarketOperationsMismatch(address operations);
    /// @notice `resume` of a token id that is not halted.
    error MarketNotHalted(uint256 tokenId);
    /// @notice The fee account is not set: no fee can be paid.
    error MarketFeeAccountNotSet();
    /// @notice Allowances sent to the market by anyone but the market itself (escrow only
    /// enters when the market pulls it).
    error MarketUnsolicitedTransfer(address operator);
    /// @notice A call back into the market while it executes (e.g. from a token receiver's hook).
    error MarketReentrantCall();
    /// @notice The account has nothing unclaimed of this token (0 = cash).
    error MarketNothingUnclaimed(address account, uint256 tokenId);
    /// @notice The buy would take the account's position in the token id (balance + open buy
    /// orders' remaining + this buy's quantity: `position`) over the rulebook's position limit.
    error MarketPositionLimit(address account, uint256 tokenId, uint256 position, uint256 limit);
    /// @notice A buy (an order, a take of a sell, a block acceptance) of a pollutant gated by
    /// discharge permits by an enterprise whose permit for it is not valid now (none, expired,
    /// revoked, cancelled): see {IDischargePermits-mayTrade}. Selling is gated by the token.
    error MarketPermitNotValid(address account, uint8 pollutant);
    /// @notice The token id's rulebook is governed: only registry governance may change it.
    error MarketRulebookGoverned(uint256 tokenId);
    /// @notice Only the settlement agent posts reference prices.
    error MarketNotSettlementAgent(address caller);

    // ------------------------------------------------------------------ events

    /// @notice The rulebook of a token id was set.
    event RulebookSet(uint256 indexed tokenId, Rulebook rules);
    /// @notice The reference price (previous close) of a token id was posted.
    event ReferencePriceSet(uint256 indexed tokenId, uint256 price);
    /// @notice Trading of a token id (0: every token id, the market-wide halt) was halted.
    event TradingHalted(uint256 indexed tokenId, string reason);
    /// @notice Trading of a token id (0: market-wide) resumed.
    event TradingResumed(uint256 indexed tokenId);
    /// @notice The fee account changed.
    event FeeAccountSet(address indexed account);
    /// @notice The settlement agent (the one poster of reference prices) changed.
    event SettlementAgentSet(address indexed agent);
    /// @notice An order was accepted (`callPhase`: collected for the opening call). Its
    /// immediate fills follow as {TradeExecuted}; what is left rests.
    event OrderPlaced(
        uint256 indexed orderId,
        uint256 indexed tokenId,
        address indexed owner,
        Side side,
        uint256 price,
        uint256 quantity,
        bool callPhase
    );
    /// @notice An order was cancelled by its owner or by the exchange (`forceCancel`); its
    /// escrow returned (or was credited as unclaimed).
    event OrderCancelled(uint256 indexed orderId, address indexed owner, uint256 remaining);
    /// @notice An unfilled order expired at the end of its day; its escrow returned (or was
    /// credited as unclaimed).
    event OrderExpired(uint256 indexed orderId, address indexed owner, uint256 remaining);
    /// @notice One fill, delivery versus payment. A take's id stands for the taker's side; a
    /// block trade has buyId == sellId == blockId.
    event TradeExecuted(
        uint256 indexed tokenId,
        uint256 indexed buyId,
        uint256 indexed sellId,
        address buyer,
        address seller,
        uint256 price,
        uint256 quantity,
        uint256 buyerFee,
        uint256 sellerFee,
        TradeMode mode
    );
    /// @notice The opening call was uncrossed at `price` for `volume` tonnes (0, 0: no uncrossing);
    /// continuous trading is open.
    event CallUncrossed(uint256 indexed tokenId, uint256 price, uint256 volume);
    /// @notice A block trade was proposed; the seller's allowances are escrowed.
    event BlockProposed(
        uint256 indexed blockId,
        uint256 indexed tokenId,
        address indexed seller,
        address buyer,
        uint256 price,
        uint256 quantity
    );
    /// @notice The buyer declined a block proposal; the escrow returned to the seller.
    event BlockDeclined(uint256 indexed blockId);
    /// @notice The seller cancelled a block proposal; the escrow returned.
    event BlockCancelled(uint256 indexed blockId);
    /// @notice A pending block proposal expired at the end of its day; the escrow returned (or
    /// was credited as unclaimed).
    event BlockExpired(uint256 indexed blockId);
    /// @notice Escrow could not be returned to an account that is no longer active; it is kept
    /// for it (`tokenId` 0 = cash).
    event UnclaimedCredited(address indexed account, uint256 indexed tokenId, uint256 amount);
    /// @notice Unclaimed escrow was paid out to its account.
    event UnclaimedWithdrawn(address indexed account, uint256 indexed tokenId, uint256 amount);
}

/// @title IMarket
/// @notice The exchange's priced secondary market for allowances and offsets: one order book per
/// token id (an {IAllowanceToken} id), an opening call auction verified on-chain, continuous
/// price-time matching, listing takes and block trades, every fill delivery versus payment in
/// settlement cash ({ISettlementToken}, fen). The Python reference engine is `domain.market`;
/// it refuses the same inputs with the same error names, in the same check order.
///
/// Trading rules:
/// 1. Prices are integers in fen per tonne (1 .. 2^48 - 1), quantities whole tonnes
///    (1 .. 2^64 - 1); value = price × quantity.
/// 2. Band: with reference r and band b bps, lower = ceil(r × (10000 − b) / 10000), upper =
///    floor(r × (10000 + b) / 10000); a listing order outside [lower, upper] is refused. A listing
///    order of `blockMinimum` or more is refused.
/// 3. Continuous: an incoming order matches the resting orders of the other side it crosses (buy
///    price ≥ ask, sell price ≤ bid), best price first, earlier (lower id) first at a price; each
///    fill at the resting order's price; the remainder rests with its id as time priority.
/// 4. Opening call auction: orders placed in the call phase [callStart, open1) are collected, not
///    matched. From open1 anyone submits `uncross(tokenId, price, maxFills)`. Candidate prices are
///    the limit prices of the call book; B(P) = buy quantity at prices ≥ P, S(P) = sell quantity at
///    prices ≤ P; P maximises V = min(B, S), then the smallest |B − S|, then the smallest
///    |P − reference|, then the higher P. V = 0 (or an empty call book): no uncrossing, `uncross`
///    is called with price 0 and opens the book. Otherwise buys by price descending then id, sells
///    by price ascending then id, are paired in that order at P until V is filled (one fill per
///    pair, quantity = the smaller remainder); remainders rest with their ids. A call buy filled at
///    P below its limit gets the difference back at once. While today's call book is non-empty
///    and not uncrossed, no continuous action (order, take, block) is accepted.
/// 5. Listing take: an account fills part or all of the remaining quantity of one resting order
///    at that order's price, if the price is among the best five distinct price levels of the
///    order's side; not more than remains; not before the open nor in the call phase.
/// 6. Block trade: the seller proposes (token, buyer, price, quantity) and escrows the
///    allowances; the named buyer accepts, paying value + fee, and the trade executes at once.
///    quantity ≥ blockMinimum, price within the block band (rule 2's formula with
///    blockBandBps), only in a session at tod ≥ blockFrom. Excluded from open and close prices.
///    The seller may cancel and the buyer decline while pending; pending proposals expire at the
///    end of the day.
/// 7. Fee = floor(value × feeBps / 10000) per side per fill: the buyer pays value + buyer fee,
///    the seller receives value − seller fee, both fees go to the fee account.
/// 8. Open price = the uncrossing price (V > 0), else the first listing trade's price, else
///    none. Close = volume-weighted average of the day's listing trades (call, continuous,
///    takes), rounded half up: (2·turnover + volume) / (2·volume); with no trade, the reference
///    price (computed off-chain from {TradeExecuted}). After close2 unfilled orders and pending
///    block proposals expire (`expire`, by anyone, paged) and their escrow returns.
/// 9. Escrow: a resting buy holds price × remaining + floor(price × quantity × feeBps / 10000)
///    less the fees its fills paid; the leftover returns when it completes, is cancelled or
///    expires. A resting sell holds its remaining allowances. An incoming order pays its
///    immediate fills directly and escrows only what rests.
/// 10. Funds: a buy (order, take, block acceptance) needs cash ≥ price × quantity +
///    floor(price × quantity × feeBps / 10000) for the whole quantity at its limit.
/// 11. T+1: sellable = balance − boughtToday (allowances received from the market this trading
///    day). Sells, takes of buy orders and block proposals beyond it are refused; cash from
///    today's sales is usable at once. The AllowanceToken refuses a plain transfer that would dip
///    into today's purchases, except the market's own and transfers to the compliance manager.
/// 12. Self-trade prevention: an order (call phase included) that would cross a resting order of
///    the same account on the other side is refused whole (naming the lowest such order id); an
///    account cannot take its own order nor name itself as a block's buyer.
/// 13. At most {MAX_OPEN_ORDERS} open orders per account, token id and side.
/// 14. Position limit: with positionLimit and/or positionLimitBps set, the limit is the smaller
///    of positionLimit and floor(totalSupply(id) × positionLimitBps / 10000) (the set ones). A buy
///    (order, take of a sell, block acceptance) is refused whole (`MarketPositionLimit`) when
///    balanceOf(account, id) + the remaining quantity of the account's open buy orders on the id +
///    its quantity exceeds the limit. Open buy remaining is tracked only while a limit is set (the
///    rulebook changes only on an empty book, so the count starts and ends at zero).
/// 15. Discharge permits: while the AllowanceToken has permits wired ({IAllowanceToken-permits}),
///    a buy (order, take of a sell, block acceptance) of an allowance of a gated pollutant (every
///    pollutant but CO2) by an enterprise whose permit for it is not valid now (none, expired,
///    revoked, cancelled) is refused whole (`MarketPermitNotValid`), after the funds check and
///    before the position limit ({IDischargePermits-mayTrade}). Checked at entry only: a resting
///    buy still fills, is cancelled or expires after its owner's permit lapses (the token does not
///    check the receiver when the market moves allowances). Selling is gated by the token
///    (`AllowancePermitNotValid`). A CO2 buy asks nothing, so its gas is unchanged.
///
/// Risk controls: the exchange halts one token id or, with token id 0, every token id
/// (`halt(0, reason)`); either halt refuses every trading action on a token id with
/// `MarketHalted(tokenId)`. A rulebook with `governed` set changes only through registry
/// governance. Reference prices are posted by the settlement agent alone (set by governance).
///
/// Suspension: the tokens refuse to move value to or from an account that is no longer active
/// (`PartyNotAllowed`), so a fill with such an account's resting order is refused until the
/// exchange force-cancels it (`forceCancel`; its escrow is kept as unclaimed until the account
/// is reinstated), during a paged uncrossing's fills too.
///
/// Time: trading day `day = (block.timestamp + 8 h) / 1 day` (China Standard Time), time of day
/// `tod = (block.timestamp + 8 h) % 1 day`; Saturdays and Sundays have no session. Ids: one
/// counter (from 1) numbers orders, takes and block proposals alike.
interface IMarket is IMarketTypes {
    // ------------------------------------------------------------------ governance

    /// @notice Set the account that receives trading fees.
    /// @param account An active participant (e.g. the exchange's fee account).
    /// Requirements: called by the registry (governance); not zero (`MarketZeroAddress("feeAccount")`).
    /// Emits: {FeeAccountSet}.
    function setFeeAccount(address account) external;

    /// @notice Set the settlement agent: the account whose end-of-day settlement posts the
    /// reference prices (it must also hold an active EXCHANGE role to post).
    /// @param agent The settlement service's account.
    /// Requirements: called by the registry (governance); not zero
    /// (`MarketZeroAddress("settlementAgent")`).
    /// Emits: {SettlementAgentSet}.
    function setSettlementAgent(address agent) external;

    // ------------------------------------------------------------------ exchange

    /// @notice Set the rulebook of a token id: from then on it trades under these rules.
    /// @param tokenId An allowance or offset id (fits 32 bits).
    /// @param rules The rules; validity: referencePrice in 1 .. 2^48 − 1, bandBps and
    /// blockBandBps ≤ 10,000, feeBps ≤ 1,000, blockMinimum ≥ 1,
    /// callStart ≤ open1 < close1 ≤ open2 < close2 ≤ 86,400, open1 ≤ blockFrom < close2 and
    /// positionLimitBps ≤ 10,000.
    /// Requirements, in this order: the registry (governance), or a caller with EXCHANGE_ROLE that
    /// is active (`UnauthorizedRole`, `CallerNotActive`) while the current rulebook is not governed
    /// (`MarketRulebookGoverned`; the exchange may set `governed` itself); rules valid
    /// (`MarketRulebookInvalid`); no open order nor pending block on the token
    /// (`MarketBookNotEmpty`: fees escrowed by resting buys and the open buys counted by the
    /// position limit stay right).
    /// Emits: {RulebookSet}.
    function setRulebook(uint256 tokenId, Rulebook calldata rules) external;

    /// @notice Post the reference price (the previous close) that the bands are computed from.
    /// @param tokenId A listed token id.
    /// @param price Fen per tonne, 1 .. 2^48 − 1.
    /// Requirements, in this order: caller has EXCHANGE_ROLE and is active; caller is the
    /// settlement agent (`MarketNotSettlementAgent`; none before governance sets one); listed
    /// (`MarketNotListed`); price valid (`MarketPriceInvalid`).
    /// Emits: {ReferencePriceSet}.
    function setReferencePrice(uint256 tokenId, uint256 price) external;

    /// @notice Halt trading of a token id, or of every token id with `tokenId` 0 (the market-wide
    /// halt, kept apart from the token ids' own halts): no order, take, block or uncrossing until
    /// resumed (cancels and expiry stay possible); refused actions name their own token id.
    /// @param tokenId A listed token id, or 0 for all.
    /// @param reason Why (shown to traders).
    /// Requirements: caller has EXCHANGE_ROLE and is active; listed (`MarketNotListed`; not for 0);
    /// not halted already (`MarketHalted(tokenId)`).
    /// Emits: {TradingHalted}.
    function halt(uint256 tokenId, string calldata reason) external;

    /// @notice Resume trading of a halted token id, or end the market-wide halt (`tokenId` 0; a
    /// token id's own halt stays).
    /// Requirements: caller has EXCHANGE_ROLE and is active; listed (not for 0); halted
    /// (`MarketNotHalted(tokenId)`).
    /// Emits: {TradingResumed}.
    function resume(uint256 tokenId) external;

    /// @notice Cancel any open order (e.g. a suspended owner's), returning its escrow to the
    /// owner, or crediting it as unclaimed when the owner is no longer active. Allowed during the
    /// fills of a paged uncrossing (a suspended party must not hold them up): the uncrossing then
    /// ends, with the volume executed, once the best bid and ask no longer cross at its price.
    /// Allowed during an uncrossing's verification too (it restarts on the changed call book).
    /// Requirements: caller has EXCHANGE_ROLE and is active; order open (`MarketOrderNotOpen`).
    /// Emits: {OrderCancelled}, {UnclaimedCredited} when credited.
    function forceCancel(uint256 orderId) external;

    // ------------------------------------------------------------------ enterprises

    /// @notice Place a limit order valid for the day: matched at once in continuous trading
    /// (rule 3), collected in the call phase (rule 4); what is left rests with its escrow.
    /// The caller approves the market for cash (buys) or allowances (`setApprovalForAll`, sells).
    /// @param tokenId A listed token id.
    /// @param side Buy or sell.
    /// @param price Limit, fen per tonne (1 .. 2^48 − 1, else `MarketPriceInvalid`).
    /// @param quantity Tonnes (≤ 2^64 − 1, else `MarketQuantityInvalid`).
    /// @return orderId The new order's id.
    /// Requirements, in this order: caller has ENTERPRISE_ROLE (`UnauthorizedRole`) and is
    /// active (`CallerNotActive`); listed (`MarketNotListed`); not halted (`MarketHalted`); a
    /// weekday with tod in [callStart, close1) ∪ [open2, close2) (`MarketOutsideSession`); no
    /// open order or pending block of an earlier day (`MarketBookNotExpired`); in continuous
    /// trading, no call book waiting for its uncrossing (`MarketCallPending`); quantity > 0
    /// (`MarketQuantityZero`) and below blockMinimum (`MarketListingTooLarge`); price in the band
    /// (`MarketPriceOutsideBand`); no crossing own resting order (`MarketSelfTrade`); fewer than
    /// {MAX_OPEN_ORDERS} open orders on this side (`MarketTooManyOrders`); a buy's cash covers
    /// value + fee at its limit (`MarketInsufficientCash`), the buyer's discharge permit is valid
    /// for a gated pollutant while the token has permits wired (`MarketPermitNotValid`) and it
    /// stays within the position limit (`MarketPositionLimit`, rule 14), a sell's sellable
    /// allowances cover it
    /// (`MarketInsufficientAllowances`). Halted: the token id's halt or the market-wide one.
    /// Emits: {OrderPlaced}, a {TradeExecuted} per immediate fill, token {Transfer}s and
    /// {TransferSingle}s.
    function placeOrder(uint256 tokenId, Side side, uint256 price, uint256 quantity)
        external
        returns (uint256 orderId);

    /// @notice Cancel the caller's open order; its escrow returns.
    /// @param orderId The order.
    /// Requirements: caller has ENTERPRISE_ROLE and is active; order open (`MarketOrderNotOpen`);
    /// caller is the owner (`MarketNotOrderOwner`); not during the fills of a paged uncrossing
    /// (`MarketCallPending`): before them, while an uncrossing is being verified, a cancel is
    /// allowed and the verification restarts on the changed call book. Allowed while halted, in
    /// any phase, outside sessions.
    /// Emits: {OrderCancelled}.
    function cancelOrder(uint256 orderId) external;

    /// @notice Take (click-to-trade) part or all of a resting order at its price (rule 5).
    /// @param orderId The resting order.
    /// @param quantity Tonnes to take.
    /// @return takeId The take's id (it stands for the taker's side in {TradeExecuted}).
    /// Requirements, in this order: caller has ENTERPRISE_ROLE and is active; order open
    /// (`MarketOrderNotOpen`); its token listed, not halted, in continuous trading
    /// (`MarketOutsideSession` before the open and in the call phase), no earlier day's book, no
    /// pending call; quantity > 0 (`MarketQuantityZero`); not the caller's own order
    /// (`MarketSelfTrade`); the order's price among the best five levels of its side
    /// (`MarketTakeOutsideBestLevels`); quantity ≤ remaining (`MarketTakeExceedsRemaining`);
    /// funds as for an order (`MarketInsufficientCash` / `MarketInsufficientAllowances`); a take
    /// of a sell by a buyer with a valid permit for a gated pollutant (`MarketPermitNotValid`),
    /// within the position limit (`MarketPositionLimit`).
    /// Emits: {TradeExecuted} (mode Take), token transfers.
    function take(uint256 orderId, uint256 quantity) external returns (uint256 takeId);

    /// @notice Propose a block trade to a named buyer; the allowances are escrowed at once.
    /// @param tokenId A listed token id.
    /// @param buyer An active registered enterprise, not the caller.
    /// @param price Fen per tonne, within the block band.
    /// @param quantity Tonnes, at least blockMinimum.
    /// @return blockId The proposal's id.
    /// Requirements, in this order: caller has ENTERPRISE_ROLE and is active; listed; not
    /// halted; in a session at tod ≥ blockFrom (`MarketOutsideSession`); no earlier day's book;
    /// no pending call; buyer ≠ caller (`MarketSelfTrade(caller, 0)`); buyer an active
    /// enterprise (`MarketNotTrader`); quantity ≥ blockMinimum (`MarketBlockBelowMinimum`);
    /// price in the block band (`MarketPriceOutsideBand`); sellable allowances
    /// (`MarketInsufficientAllowances`).
    /// Emits: {BlockProposed}, the token's {TransferSingle}.
    function proposeBlock(uint256 tokenId, address buyer, uint256 price, uint256 quantity)
        external
        returns (uint256 blockId);

    /// @notice Accept a block proposal: pay value + fee, receive the allowances (DvP).
    /// @param blockId The proposal.
    /// Requirements, in this order: caller has ENTERPRISE_ROLE and is active; pending today
    /// (`MarketBlockNotPending`); caller is the named buyer (`MarketNotBlockBuyer`); listed, not
    /// halted, in a session at tod ≥ blockFrom, no pending call; cash covers value + fee
    /// (`MarketInsufficientCash`); the buyer's permit valid for a gated pollutant
    /// (`MarketPermitNotValid`); within the buyer's position limit (`MarketPositionLimit`).
    /// Emits: {TradeExecuted} (mode Block, buyId == sellId == blockId), token transfers.
    function acceptBlock(uint256 blockId) external;

    /// @notice Decline a block proposal addressed to the caller; the escrow returns to the seller.
    /// Requirements: caller has ENTERPRISE_ROLE and is active; pending (`MarketBlockNotPending`);
    /// caller is the named buyer (`MarketNotBlockBuyer`).
    /// Emits: {BlockDeclined}.
    function declineBlock(uint256 blockId) external;

    /// @notice Cancel the caller's block proposal; the escrow returns.
    /// Requirements: caller has ENTERPRISE_ROLE and is active; pending (`MarketBlockNotPending`);
    /// caller is the seller (`MarketNotBlockSeller`).
    /// Emits: {BlockCancelled}.
    function cancelBlock(uint256 blockId) external;

    // ------------------------------------------------------------------ anyone active

    /// @notice Submit (or continue) today's opening uncrossing, computed off-chain (rule 4). The
    /// contract verifies `price` in one linear pass over the price levels of the call book where
    /// bids and asks cross (outside that region V = 0), at most 256 levels a call, so a deep book
    /// is verified over several calls (runs kept per token, day and submitted price: a wrong price
    /// left half-way never blocks the right one). A run is valid for the call book it started on:
    /// every cancel (or force-cancel) changes the book's version and a run of an older version
    /// restarts from the top when continued, so no participant can hold the book by leaving a run
    /// unfinished: cancels stay allowed until the fills start. Once verified, each call executes
    /// up to `maxFills` fills (cancels wait meanwhile; anyone may continue them); the call that
    /// executes the last one emits {CallUncrossed} and opens continuous trading.
    /// @param tokenId The token.
    /// @param price The uncrossing price; 0 when V = 0 or the call book is empty (opens the book).
    /// @param maxFills Fills per call; 0 = no limit.
    /// Requirements: caller is an active participant of any role (`CallerNotActive`); listed; not
    /// halted; a session at tod ≥ open1 (`MarketOutsideSession`); no earlier day's book; the right
    /// price, refused when its verification ends (`MarketWrongUncross(tokenId, price, expected)`;
    /// expected 0 when there is nothing to uncross, e.g. already uncrossed; during the fills, the
    /// expected is the price being executed).
    /// Emits: {TradeExecuted} per fill (mode Call), {CallUncrossed} at the end.
    function uncross(uint256 tokenId, uint256 price, uint256 maxFills) external;

    /// @notice Expire the token's open orders and pending block proposals once their day is over,
    /// `maxOrders` at a time (0 = all), returning escrow (or crediting it as unclaimed to owners
    /// no longer active).
    /// @return remaining Orders and block entries still to expire.
    /// Requirements: caller is an active participant of any role; the book's day is over
    /// (an earlier day, or tod ≥ close2 today), else `MarketDayNotOver`.
    /// Emits: {OrderExpired}, {BlockExpired}, {UnclaimedCredited}.
    function expire(uint256 tokenId, uint256 maxOrders) external returns (uint256 remaining);

    /// @notice Pay out what was credited to the caller as unclaimed (`tokenId` 0 = cash).
    /// Requirements: caller is an active participant; something to withdraw (`MarketNothingUnclaimed`).
    /// Emits: {UnclaimedWithdrawn}.
    function withdrawUnclaimed(uint256 tokenId) external;

    // ------------------------------------------------------------------ views

    /// @notice Most open orders per account, token id and side.
    function MAX_OPEN_ORDERS() external view returns (uint256);
    /// @notice The AllowanceToken traded.
    function allowanceToken() external view returns (address);
    /// @notice The SettlementToken paid with.
    function settlementToken() external view returns (address);
    /// @notice The fee account (zero until governance sets it).
    function feeAccount() external view returns (address);
    /// @notice The settlement agent, the one poster of reference prices (zero until governance sets it).
    function settlementAgent() external view returns (address);
    /// @notice The rulebook of a token id (all zero when not listed).
    function rulebook(uint256 tokenId) external view returns (Rulebook memory);
    /// @notice Whether trading of the token id is halted (its own halt or the market-wide one);
    /// `tokenId` 0: whether the market-wide halt is on.
    function isHalted(uint256 tokenId) external view returns (bool);
    /// @notice An account's position in a token id under rule 14 and its limit.
    /// @return position Its balance plus the remaining quantity of its open buy orders on the id
    /// (those are counted only while a limit is set).
    /// @return limit The effective position limit (0 = none set).
    function positionOf(address account, uint256 tokenId) external view returns (uint256 position, uint256 limit);
    /// @notice The listing band [lower, upper] of a listed token id.
    function band(uint256 tokenId) external view returns (uint256 lower, uint256 upper);
    /// @notice The block band [lower, upper] of a listed token id.
    function blockBand(uint256 tokenId) external view returns (uint256 lower, uint256 upper);
    /// @notice An open order (all zero when unknown or closed).
    function order(uint256 orderId) external view returns (OrderView memory);
    /// @notice A block proposal (all zero when unknown).
    function blockProposal(uint256 blockId) external view returns (BlockView memory);
    /// @notice The book of one side aggregated by price level, best first, at most `levels` levels.
    function depth(uint256 tokenId, Side side, uint256 levels)
        external
        view
        returns (uint256[] memory prices, uint256[] memory quantities);
    /// @notice Allowances the account may sell now: balance less today's purchases (never below 0).
    function sellable(address account, uint256 tokenId) external view returns (uint256);
    /// @notice Allowances of `tokenId` the account received from the market this trading day.
    function boughtToday(address account, uint256 tokenId) external view returns (uint256);
    /// @notice The account's open order ids on one side of a token's book, in placement order.
    function openOrdersOf(address account, uint256 tokenId, Side side) external view returns (uint256[] memory ids);
    /// @notice Whether today's call book waits for (or is in) its uncrossing.
    function callPending(uint256 tokenId) external view returns (bool);
    /// @notice Open orders plus pending block proposals of the token, and the trading day they belong to.
    function bookState(uint256 tokenId) external view returns (uint256 items, uint256 bookDay);
    /// @notice The current trading day and time of day (CST).
    function tradingDay() external view returns (uint256 day, uint256 timeOfDay);
    /// @notice Escrow kept for an account that could not receive it (`tokenId` 0 = cash).
    function unclaimed(address account, uint256 tokenId) external view returns (uint256);
    /// @notice The id the next order, take or block proposal gets.
    function nextId() external view returns (uint256);
}
