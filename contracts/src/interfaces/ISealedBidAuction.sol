// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITreasuryHolder} from "./ITreasuryHolder.sol";

/// @notice Auction identifier: 1, 2, 3 ... in creation order.
type AuctionId is uint256;

/// @title ISealedBidAuction
/// @notice Sealed-bid, single-round, uniform-price allowance auctions (RGGI / WCI style) with a
/// reserve price, a per-bidder purchase limit, bid guarantees in settlement cash and
/// delivery-versus-payment settlement.
///
/// Life of an auction: `create*` → commit window (bidders commit a hash of their bid schedule and
/// escrow a guarantee) → reveal window (bidders open their schedules) → clearing (anyone submits
/// the clearing computed off-chain; the contract verifies it, in pages if needed) → claims
/// (winners take allowances and pay from their guarantee in one transaction, everyone else takes
/// the guarantee back) and the seller's withdrawal. When all have claimed, the contract holds
/// nothing of the auction.
///
/// Clearing rules (the Python reference `chain.auction.clear` implements the same):
/// 1. Prices are integers in minor currency units (settlement-cash base units) per allowance;
///    quantities are whole allowances. A schedule lists up to 16 bids in strictly descending
///    price order (merge bids at the same price before committing).
/// 2. A bid is valid iff quantity > 0 and price >= reserve; invalid bids neither win nor count.
/// 3. Purchase limit, applied per bidder before clearing: take the bidder's valid bids from the
///    highest price down, accept up to the limit, cut the bid that crosses it, drop the rest.
///    What remains is the bidder's demand; the guarantee must cover its value Σ price × quantity.
/// 4. Rule `LowestAccepted` (default): no valid demand → no sale; total demand below supply →
///    every valid bid filled, at the reserve price; otherwise the clearing price P is the highest
///    price such that demand at prices >= P reaches the supply (the lowest accepted bid).
/// 5. Rule `HighestRejected`: same allocation; the price is the highest bid price not fully
///    filled (P itself when bids at P are cut; otherwise the highest bid below P), or the reserve
///    when every bid is filled.
/// 6. Ties at P: with R the supply left after all demand strictly above P and Q the demand at P,
///    each tied bidder i (demand q_i at P) gets floor(R × q_i / Q); the leftover units go one each
///    to tied bidders in commitment order.
/// 7. Every winner pays the same price × its allocation.
/// 8. A bidder that does not reveal forfeits `forfeitBps` / 10,000 of its guarantee (rounded
///    down) to the seller; the rest is refunded.
///
/// Primary-auction proceeds go to the treasury ({ITreasuryHolder}).
interface ISealedBidAuction is ITreasuryHolder {
    /// @notice How the uniform price is set once the allocation is known.
    enum PriceRule {
        LowestAccepted,
        HighestRejected
    }

    /// @notice Where an auction stands. Commit and reveal phases follow from the clock while `Open`.
    enum Status {
        None,
        Open,
        Cleared,
        NoSale
    }

    /// @notice Parameters of a new auction.
    /// @param tokenId Allowance token id sold (fits 32 bits).
    /// @param supply Allowances offered (> 0).
    /// @param reservePrice Minimum price per allowance, minor units (> 0).
    /// @param purchaseLimit Most allowances one bidder may win; 0 = no limit.
    /// @param commitStart Start of the commit window (unix seconds); 0 = now.
    /// @param commitEnd End of the commit window = start of the reveal window.
    /// @param revealEnd End of the reveal window; clearing may be submitted from then on.
    /// @param forfeitBps Share of a non-revealer's guarantee that goes to the seller (≤ 10,000).
    /// @param priceRule Price rule.
    /// @param eligibilityRoot Zero: any active registered enterprise may bid. Otherwise the root
    /// of an OpenZeppelin StandardMerkleTree over `[address]` leaves: only those enterprises
    /// (primary auctions only; e.g. the covered enterprises).
    struct AuctionParams {
        uint256 tokenId;
        uint64 supply;
        uint64 reservePrice;
        uint64 purchaseLimit;
        uint64 commitStart;
        uint64 commitEnd;
        uint64 revealEnd;
        uint16 forfeitBps;
        PriceRule priceRule;
        bytes32 eligibilityRoot;
    }

    /// @notice A clearing computed off-chain: the allocation price P (the lowest accepted bid;
    /// the reserve when demand is below supply; 0 when there is no demand), the demand strictly
    /// above P and the demand at P (when demand is below supply: all demand, and 0).
    struct Clearing {
        uint64 price;
        uint128 demandAbove;
        uint128 demandAt;
    }

    /// @notice Everything public about an auction.
    struct AuctionView {
        address seller;
        bool primary;
        Status status;
        PriceRule priceRule;
        uint256 tokenId;
        uint64 supply;
        uint64 reservePrice;
        uint64 purchaseLimit;
        uint64 commitStart;
        uint64 commitEnd;
        uint64 revealEnd;
        uint16 forfeitBps;
        bytes32 eligibilityRoot;
        uint32 bidders;
        uint32 revealed;
        uint128 totalDemand;
        uint64 clearingPrice;
        uint64 sold;
        uint256 proceeds;
        bool proceedsWithdrawn;
    }

    /// @notice No auction has this id.
    error AuctionUnknown(AuctionId auctionId);
    /// @notice The supply is zero.
    error AuctionZeroSupply();
    /// @notice The reserve price is zero.
    error AuctionZeroReserve();
    /// @notice The token id is not a valid allowance id of 32 bits.
    error AuctionInvalidToken(uint256 tokenId);
    /// @notice The windows are not ordered now <= commitStart < commitEnd < revealEnd.
    error AuctionInvalidWindow(uint64 commitStart, uint64 commitEnd, uint64 revealEnd);
    /// @notice The forfeit share is above 10,000 basis points.
    error AuctionInvalidForfeit(uint16 forfeitBps);
    /// @notice Only primary auctions may be restricted to a list of enterprises.
    error AuctionRestrictionNotAllowed();
    /// @notice A restricted primary auction's bidder list is empty or longer than 16 addresses.
    error AuctionBidderListInvalid(uint256 length);
    /// @notice The auction is restricted to a named list of projects and the bidder is not on it.
    error AuctionBidderNotAllowed(AuctionId auctionId, address bidder);
    /// @notice The treasury that receives primary proceeds is not set.
    error AuctionTreasuryNotSet();
    /// @notice A constructor argument (`field`: allowances, cash) is the zero address.
    error AuctionZeroAddress(string field);
    /// @notice The action needs the commit window, which is not open now.
    error AuctionNotInCommitPhase(AuctionId auctionId, uint64 now, uint64 commitStart, uint64 commitEnd);
    /// @notice The action needs the reveal window, which is not open now.
    error AuctionNotInRevealPhase(AuctionId auctionId, uint64 now, uint64 revealStart, uint64 revealEnd);
    /// @notice Clearing may only be submitted after the reveal window, once.
    error AuctionNotInClearingPhase(AuctionId auctionId, uint64 now, uint64 revealEnd);
    /// @notice Claims, refunds and withdrawal wait for the clearing.
    error AuctionNotCleared(AuctionId auctionId);
    /// @notice The bidder is not an active registered enterprise, or not on the auction's list.
    error AuctionBidderNotEligible(AuctionId auctionId, address bidder);
    /// @notice The seller may not bid in its own auction.
    error AuctionSellerCannotBid(AuctionId auctionId, address seller);
    /// @notice The bidder has already committed in this auction.
    error AuctionAlreadyCommitted(AuctionId auctionId, address bidder);
    /// @notice The guarantee is zero or above 2^88 - 1 minor units.
    error AuctionInvalidGuarantee(uint256 guarantee);
    /// @notice The bidder has no commitment in this auction.
    error AuctionNoCommitment(AuctionId auctionId, address bidder);
    /// @notice The bidder has already revealed.
    error AuctionAlreadyRevealed(AuctionId auctionId, address bidder);
    /// @notice The revealed schedule and salt do not hash to the commitment.
    error AuctionCommitmentMismatch(AuctionId auctionId, address bidder);
    /// @notice The schedule is empty, longer than 16 bids, has unequal lists, or its prices are
    /// not strictly descending at `index`.
    error AuctionInvalidSchedule(AuctionId auctionId, uint256 index);
    /// @notice The guarantee does not cover the value of the revealed valid bids.
    error AuctionGuaranteeTooSmall(AuctionId auctionId, address bidder, uint256 guarantee, uint256 required);
    /// @notice The submitted clearing is not the one the revealed bids give.
    error AuctionWrongClearing(AuctionId auctionId, uint64 price, uint128 demandAbove, uint128 demandAt);
    /// @notice The bidder won nothing (use `refund`), or did not reveal.
    error AuctionNotAWinner(AuctionId auctionId, address bidder);
    /// @notice The bidder won allowances: `claim` them (payment and refund happen there).
    error AuctionWinnerMustClaim(AuctionId auctionId, address bidder);
    /// @notice The bidder's claim or refund has already been paid.
    error AuctionAlreadySettled(AuctionId auctionId, address bidder);
    /// @notice Only the seller (secondary) or a regulator (primary) may withdraw the proceeds.
    error AuctionNotSeller(AuctionId auctionId, address caller);
    /// @notice The proceeds and unsold allowances have already been withdrawn.
    error AuctionAlreadyWithdrawn(AuctionId auctionId);

    /// @notice An auction was created and its allowances escrowed (`params.commitStart` as set).
    event AuctionCreated(
        AuctionId indexed auctionId, address indexed seller, uint256 indexed tokenId, bool primary, AuctionParams params
    );
    /// @notice A primary auction was restricted, at its creation, to the named `bidders` (a new or
    /// expanded project obtaining rights before its permit is issued).
    event AuctionRestricted(AuctionId indexed auctionId, address[] bidders);
    /// @notice A sealed bid was committed with its guarantee (the price stays hidden).
    event BidCommitted(AuctionId indexed auctionId, address indexed bidder, uint32 sequence, bytes32 commitment, uint256 guarantee);
    /// @notice A bid schedule was opened; `prices`/`quantities` are the valid bids after the
    /// purchase limit (the bidder's demand).
    event BidRevealed(AuctionId indexed auctionId, address indexed bidder, uint64[] prices, uint64[] quantities, uint128 demand);
    /// @notice A page of a clearing run was verified (`processed` of `bidders` committed bidders).
    event ClearingProgressed(AuctionId indexed auctionId, bytes32 indexed run, uint32 processed, uint32 bidders);
    /// @notice The auction cleared: uniform `price`, `sold` allowances, `unsold` back to the seller or the cap.
    event AuctionCleared(AuctionId indexed auctionId, uint64 price, uint64 sold, uint64 unsold, uint64 allocationPrice);
    /// @notice No valid demand: nothing sold.
    event AuctionNoSale(AuctionId indexed auctionId, uint64 unsold);
    /// @notice A winner took its allowances and paid for them from its guarantee (delivery versus payment).
    event AllowancesClaimed(AuctionId indexed auctionId, address indexed bidder, uint64 quantity, uint256 payment, uint256 refund);
    /// @notice A losing or non-revealing bidder's guarantee was returned, less any forfeit.
    event GuaranteeRefunded(AuctionId indexed auctionId, address indexed bidder, uint256 refund, uint256 forfeit);
    /// @notice The seller (or treasury) received the proceeds and any unsold allowances.
    event ProceedsWithdrawn(AuctionId indexed auctionId, address indexed to, uint256 proceeds, uint64 unsoldReturned);

    /// @notice Create a primary auction: `supply` new allowances are issued into this contract's
    /// escrow within the cap; proceeds go to the treasury; unsold allowances return to the cap.
    /// @param params Auction parameters.
    /// @return auctionId The new auction's id.
    /// Requirements: caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active (`CallerNotActive`);
    /// treasury set; valid parameters; cap left.
    /// Emits: {AuctionCreated}, and the token's {AllowancesIssuedToAuction}.
    function createPrimary(AuctionParams calldata params) external returns (AuctionId auctionId);

    /// @notice Create a primary auction restricted to the named `bidders` — one or a few new or
    /// expanded projects that obtain rights before their permits are issued (issue 22 point 4).
    /// As {createPrimary}, and: only the named accounts may commit (`AuctionBidderNotAllowed`
    /// otherwise); a winner's claim is delivered even when its discharge permit is not yet valid
    /// (the token's permits gate lets this auction house deliver to the claimant of a restricted
    /// primary auction, as it lets the government reserve deliver: the regulator named the
    /// project); every other check of the claim (active participant) stays.
    /// @param params Auction parameters (`eligibilityRoot` must be zero: the list replaces it).
    /// @param bidders The projects' accounts: 1 to 16, each an active registered enterprise.
    /// @return auctionId The new auction's id.
    /// Requirements: as {createPrimary}; `eligibilityRoot` zero (`AuctionRestrictionNotAllowed`);
    /// 1 to 16 bidders (`AuctionBidderListInvalid`), each an active enterprise (`AuctionBidderNotEligible`).
    /// Emits: {AuctionCreated}, {AuctionRestricted}, and the token's {AllowancesIssuedToAuction}.
    function createRestrictedPrimary(AuctionParams calldata params, address[] calldata bidders)
        external
        returns (AuctionId auctionId);

    /// @notice Create a secondary auction: the caller's `supply` allowances move into escrow
    /// (the caller must have approved this contract as ERC-1155 operator).
    /// @param params Auction parameters (`eligibilityRoot` must be zero).
    /// @return auctionId The new auction's id.
    /// Requirements: caller has ENTERPRISE_ROLE or EXCHANGE_ROLE (`UnauthorizedRole`) and is active
    /// (`CallerNotActive`); holds the allowances, not frozen; valid parameters.
    /// Emits: {AuctionCreated}, the token's {TransferSingle}.
    function createSecondary(AuctionParams calldata params) external returns (AuctionId auctionId);

    /// @notice Commit a sealed bid schedule and escrow its guarantee (settlement cash; approve
    /// this contract first).
    /// @param auctionId The auction.
    /// @param commitment `keccak256(abi.encode(auctionId, bidder, prices, quantities, salt))`
    /// with `prices`, `quantities` as `uint64[]` and `salt` a secret `bytes32`.
    /// @param guarantee Cash escrowed; must cover the value of the valid bids at reveal.
    /// @param eligibilityProof Merkle proof of the bidder's address when the auction is restricted.
    /// Requirements: commit window open; caller an active enterprise (on the list when
    /// restricted by `eligibilityRoot`; named, when created by {createRestrictedPrimary},
    /// `AuctionBidderNotAllowed`), not the seller, not yet committed; guarantee > 0 and approved.
    /// Emits: {BidCommitted}, the cash token's {Transfer}.
    function commit(AuctionId auctionId, bytes32 commitment, uint256 guarantee, bytes32[] calldata eligibilityProof)
        external;

    /// @notice Open the committed schedule. Bids below the reserve or of zero quantity are void;
    /// the purchase limit is applied; the remaining demand must be covered by the guarantee.
    /// @param auctionId The auction.
    /// @param prices Bid prices, strictly descending, minor units per allowance.
    /// @param quantities Bid quantities.
    /// @param salt The salt of the commitment.
    /// Requirements: reveal window open; caller committed and has not revealed; hash matches;
    /// schedule well formed; guarantee covers the demand.
    /// Emits: {BidRevealed}.
    function reveal(AuctionId auctionId, uint64[] calldata prices, uint64[] calldata quantities, bytes32 salt)
        external;

    /// @notice Submit (or continue) the clearing computed off-chain. When demand reaches the
    /// supply, the contract verifies the claim against every revealed schedule in commitment
    /// order, `maxBidders` committed bidders per call (0 = all); the auction is cleared by the
    /// call that processes the last bidder. Otherwise the claim is checked at once.
    /// @param auctionId The auction.
    /// @param claim The clearing: allocation price, demand above it, demand at it.
    /// @param maxBidders Committed bidders to process in this call; 0 = all remaining.
    /// @return cleared Whether the auction is now cleared (or declared no sale).
    /// Requirements: none on the caller (anyone may submit, so no operator can withhold the
    /// clearing); reveal window over; auction not yet cleared; the claim is the right one.
    /// Emits: {ClearingProgressed}, then {AuctionCleared} or {AuctionNoSale}; for primary
    /// auctions with unsold allowances, the token's {AllowancesReturnedToCap}.
    function submitClearing(AuctionId auctionId, Clearing calldata claim, uint32 maxBidders)
        external
        returns (bool cleared);

    /// @notice Take the allowances won and pay `price × quantity` from the guarantee in the same
    /// transaction (delivery versus payment); the rest of the guarantee is refunded.
    /// @param auctionId The auction.
    /// Requirements: auction cleared; caller revealed and won a quantity > 0; not yet claimed.
    /// Emits: {AllowancesClaimed}, the tokens' transfer events.
    function claim(AuctionId auctionId) external;

    /// @notice Take back the guarantee of a bid that won nothing, or of a schedule never
    /// revealed (less the forfeit, which goes to the seller).
    /// @param auctionId The auction.
    /// Requirements: auction cleared or no sale; caller committed, won nothing, not yet refunded.
    /// Emits: {GuaranteeRefunded}, the cash token's {Transfer}.
    function refund(AuctionId auctionId) external;

    /// @notice Pay the seller (secondary) or the treasury (primary) the proceeds — the clearing
    /// price × allowances sold plus forfeits — and return unsold allowances to a secondary seller.
    /// @param auctionId The auction.
    /// Requirements: auction cleared or no sale; caller is the seller (secondary) or has
    /// REGULATOR_ROLE and is active (primary, `CallerNotActive` when suspended); not yet withdrawn.
    /// Emits: {ProceedsWithdrawn}, the tokens' transfer events.
    function withdrawProceeds(AuctionId auctionId) external;

    /// @notice Public state of an auction.
    function auction(AuctionId auctionId) external view returns (AuctionView memory);

    /// @notice The named bidders of an auction created by {createRestrictedPrimary} (empty otherwise).
    function restrictedBidders(AuctionId auctionId) external view returns (address[] memory);

    /// @notice While this contract delivers a restricted primary auction's allowances in `claim`:
    /// the claimant (the permits gate lets the delivery through); otherwise the zero address.
    function projectClaimant() external view returns (address);

    /// @notice Number of auctions created.
    function auctionCount() external view returns (uint256);

    /// @notice A bidder's commitment state: sequence (commitment order, from 0), guarantee, whether
    /// revealed, whether settled (claimed or refunded).
    function bidderState(AuctionId auctionId, address bidder)
        external
        view
        returns (bool committed, uint32 sequence, uint256 guarantee, bool revealed, bool settled);

    /// @notice The bidder's demand after reveal: valid bids after the purchase limit; empty for
    /// an address that did not bid or has not revealed.
    function demandOf(AuctionId auctionId, address bidder)
        external
        view
        returns (uint64[] memory prices, uint64[] memory quantities);

    /// @notice Allowances the bidder won (0 before clearing, for losers and non-revealers).
    function allocationOf(AuctionId auctionId, address bidder) external view returns (uint64);

    /// @notice The commitment hash a bidder must submit for this schedule and salt.
    function commitmentOf(
        AuctionId auctionId,
        address bidder,
        uint64[] calldata prices,
        uint64[] calldata quantities,
        bytes32 salt
    ) external pure returns (bytes32);
}
