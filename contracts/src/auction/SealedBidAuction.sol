// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {AuctionId, ISealedBidAuction} from "../interfaces/ISealedBidAuction.sol";
import {BidRecord, BidRecords} from "../libraries/BidRecords.sol";
import {Roles} from "../libraries/Roles.sol";
import {TreasuryHolder} from "../treasury/TreasuryHolder.sol";
import {TokenId} from "../types/TokenId.sol";

/// @title SealedBidAuction
/// @notice Commit-reveal, uniform-price allowance auctions with bid guarantees and
/// delivery-versus-payment claims. The clearing rules are in {ISealedBidAuction}.
///
/// Storage per bidder: one record word (address, guarantee, state) addressed by commitment
/// sequence, and bid words holding two bids each (price, quantity as 64-bit halves), packed by
/// {BidRecords}. The first bid word holds the commitment hash until the reveal overwrites it
/// with bids, so a reveal of one or two bids writes no new slot.
contract SealedBidAuction is ISealedBidAuction, TreasuryHolder, ERC1155Holder, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 private constant MAX_BIDS = 16;
    uint256 private constant BPS = 10_000;

    struct Auction {
        address seller;
        uint32 tokenId;
        PriceRule priceRule;
        bool primary;
        uint16 forfeitBps;
        Status status;
        bool proceedsWithdrawn;
        bool restricted;
        uint64 supply;
        uint64 reservePrice;
        uint64 purchaseLimit;
        uint32 bidders;
        uint32 revealed;
        uint64 commitStart;
        uint64 commitEnd;
        uint64 revealEnd;
        uint128 totalDemand;
        uint128 forfeitPending;
        bytes32 eligibilityRoot;
        uint64 clearingPrice;
        uint64 sold;
        uint64 allocationPrice;
        uint64 leftover;
        uint128 demandAbove;
        uint128 demandAt;
        uint256 proceeds;
        bytes32 run;
    }

    /// @dev A revealed schedule after rules 2 and 3, with its total quantity and value.
    struct Demand {
        uint64[] prices;
        uint64[] quantities;
        uint128 total;
        uint256 value;
    }

    /// @dev Progress of one clearing claim's verification (runs are keyed by the claim, so a
    /// wrong claim left half-way never blocks the right one).
    struct Run {
        uint32 cursor;
        uint32 tied;
        uint64 maxBelow;
        uint128 floorSum;
        uint128 above;
        uint128 at;
    }

    IAllowanceToken private immutable _allowances;
    IERC20 private immutable _cash;
    uint256 private _auctionCount;

    mapping(AuctionId auctionId => Auction) private _auctions;
    mapping(AuctionId auctionId => mapping(address bidder => uint32 sequencePlusOne)) private _sequences;
    mapping(AuctionId auctionId => mapping(uint256 sequence => BidRecord)) private _records;
    mapping(AuctionId auctionId => mapping(uint256 sequence => mapping(uint256 index => uint256 word))) private _bids;
    mapping(AuctionId auctionId => mapping(bytes32 run => Run)) private _runs;
    mapping(AuctionId auctionId => mapping(bytes32 run => mapping(uint256 sequence => uint32 rank))) private _tieRanks;
    mapping(AuctionId auctionId => address[] bidders) private _restrictedBidders;
    /// @dev Set only for the delivery of a restricted primary auction's claim, cleared right after.
    address private _projectClaimant;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address allowances_, address cash_) RegistryGated(registry_) {
        if (allowances_ == address(0)) revert AuctionZeroAddress("allowances");
        if (cash_ == address(0)) revert AuctionZeroAddress("cash");
        _allowances = IAllowanceToken(allowances_);
        _cash = IERC20(cash_);
    }

    // ------------------------------------------------------------------ create

    /// @inheritdoc ISealedBidAuction
    function createPrimary(AuctionParams calldata params)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (AuctionId auctionId)
    {
        if (_treasury == address(0)) revert AuctionTreasuryNotSet();
        auctionId = _create(params, true);
        _allowances.issueToAuction(params.tokenId, params.supply);
    }

    /// @inheritdoc ISealedBidAuction
    function createRestrictedPrimary(AuctionParams calldata params, address[] calldata bidders)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
        returns (AuctionId auctionId)
    {
        if (_treasury == address(0)) revert AuctionTreasuryNotSet();
        if (params.eligibilityRoot != bytes32(0)) revert AuctionRestrictionNotAllowed();
        if (bidders.length == 0 || bidders.length > MAX_BIDS) revert AuctionBidderListInvalid(bidders.length);
        auctionId = _create(params, true);
        for (uint256 i = 0; i < bidders.length; ++i) {
            if (!_registry.isActiveEnterprise(bidders[i])) revert AuctionBidderNotEligible(auctionId, bidders[i]);
        }
        _auctions[auctionId].restricted = true;
        _restrictedBidders[auctionId] = bidders;
        emit AuctionRestricted(auctionId, bidders);
        _allowances.issueToAuction(params.tokenId, params.supply);
    }

    /// @inheritdoc ISealedBidAuction
    function createSecondary(AuctionParams calldata params) external returns (AuctionId auctionId) {
        if (!_registry.hasRole(Roles.ENTERPRISE_ROLE, msg.sender) && !_registry.hasRole(Roles.EXCHANGE_ROLE, msg.sender)) {
            revert UnauthorizedRole(msg.sender, Roles.ENTERPRISE_ROLE);
        }
        if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
        if (params.eligibilityRoot != bytes32(0)) revert AuctionRestrictionNotAllowed();
        auctionId = _create(params, false);
        IERC1155(address(_allowances)).safeTransferFrom(msg.sender, address(this), params.tokenId, params.supply, "");
    }

    function _create(AuctionParams calldata p, bool primary) private returns (AuctionId auctionId) {
        if (p.supply == 0) revert AuctionZeroSupply();
        if (p.reservePrice == 0) revert AuctionZeroReserve();
        if (!TokenId.wrap(p.tokenId).fits()) revert AuctionInvalidToken(p.tokenId);
        if (p.forfeitBps > BPS) revert AuctionInvalidForfeit(p.forfeitBps);
        uint64 start = p.commitStart == 0 ? uint64(block.timestamp) : p.commitStart;
        if (start < block.timestamp || p.commitEnd <= start || p.revealEnd <= p.commitEnd) {
            revert AuctionInvalidWindow(start, p.commitEnd, p.revealEnd);
        }
        auctionId = AuctionId.wrap(++_auctionCount);
        Auction storage a = _auctions[auctionId];
        a.seller = msg.sender;
        a.tokenId = uint32(p.tokenId);
        a.priceRule = p.priceRule;
        a.primary = primary;
        a.forfeitBps = p.forfeitBps;
        a.status = Status.Open;
        a.supply = p.supply;
        a.reservePrice = p.reservePrice;
        a.purchaseLimit = p.purchaseLimit;
        a.commitStart = start;
        a.commitEnd = p.commitEnd;
        a.revealEnd = p.revealEnd;
        a.eligibilityRoot = p.eligibilityRoot;
        AuctionParams memory logged = p;
        logged.commitStart = start;
        emit AuctionCreated(auctionId, msg.sender, p.tokenId, primary, logged);
    }

    // ------------------------------------------------------------------ bid

    /// @inheritdoc ISealedBidAuction
    function commit(AuctionId auctionId, bytes32 commitment, uint256 guarantee, bytes32[] calldata eligibilityProof)
        external
    {
        Auction storage a = _auction(auctionId);
        uint64 now_ = uint64(block.timestamp);
        if (a.status != Status.Open || now_ < a.commitStart || now_ >= a.commitEnd) {
            revert AuctionNotInCommitPhase(auctionId, now_, a.commitStart, a.commitEnd);
        }
        if (msg.sender == a.seller) revert AuctionSellerCannotBid(auctionId, msg.sender);
        if (!_registry.isActiveEnterprise(msg.sender)) revert AuctionBidderNotEligible(auctionId, msg.sender);
        bytes32 root = a.eligibilityRoot;
        if (root != bytes32(0)) {
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender))));
            if (!MerkleProof.verifyCalldata(eligibilityProof, root, leaf)) {
                revert AuctionBidderNotEligible(auctionId, msg.sender);
            }
        }
        if (a.restricted && !_named(auctionId, msg.sender)) revert AuctionBidderNotAllowed(auctionId, msg.sender);
        if (_sequences[auctionId][msg.sender] != 0) revert AuctionAlreadyCommitted(auctionId, msg.sender);
        if (guarantee == 0 || guarantee > BidRecords.MAX_GUARANTEE) revert AuctionInvalidGuarantee(guarantee);

        uint32 sequence = a.bidders;
        a.bidders = sequence + 1;
        a.forfeitPending += uint128(guarantee * a.forfeitBps / BPS);
        _sequences[auctionId][msg.sender] = sequence + 1;
        _records[auctionId][sequence] = BidRecords.committed(msg.sender, guarantee);
        _bids[auctionId][sequence][0] = uint256(commitment);
        _cash.safeTransferFrom(msg.sender, address(this), guarantee);
        emit BidCommitted(auctionId, msg.sender, sequence, commitment, guarantee);
    }

    /// @inheritdoc ISealedBidAuction
    function reveal(AuctionId auctionId, uint64[] calldata prices, uint64[] calldata quantities, bytes32 salt)
        external
    {
        Auction storage a = _auction(auctionId);
        uint256 sequence = _openCommitment(auctionId, a, prices, quantities, salt);
        BidRecord record = _records[auctionId][sequence];
        Demand memory d = _applyRules(prices, quantities, a.reservePrice, a.purchaseLimit);
        uint256 guarantee = record.guarantee();
        if (d.value > guarantee) revert AuctionGuaranteeTooSmall(auctionId, msg.sender, guarantee, d.value);
        BidRecords.storeBids(_bids[auctionId][sequence], d.prices, d.quantities);
        _records[auctionId][sequence] = record.revealed(d.prices.length);
        a.revealed += 1;
        a.totalDemand += d.total;
        a.forfeitPending -= uint128(guarantee * a.forfeitBps / BPS);
        emit BidRevealed(auctionId, msg.sender, d.prices, d.quantities, d.total);
    }

    /// @dev Check the phase, the caller's commitment and the schedule's shape; return its sequence.
    function _openCommitment(
        AuctionId auctionId,
        Auction storage a,
        uint64[] calldata prices,
        uint64[] calldata quantities,
        bytes32 salt
    ) private view returns (uint256 sequence) {
        uint64 now_ = uint64(block.timestamp);
        if (a.status != Status.Open || now_ < a.commitEnd || now_ >= a.revealEnd) {
            revert AuctionNotInRevealPhase(auctionId, now_, a.commitEnd, a.revealEnd);
        }
        BidRecord record;
        (sequence, record) = _bidder(auctionId, msg.sender);
        if (record.isRevealed()) revert AuctionAlreadyRevealed(auctionId, msg.sender);
        uint256 n = prices.length;
        if (n == 0 || n > MAX_BIDS || n != quantities.length) revert AuctionInvalidSchedule(auctionId, n);
        if (keccak256(abi.encode(auctionId, msg.sender, prices, quantities, salt)) != bytes32(_bids[auctionId][sequence][0])) {
            revert AuctionCommitmentMismatch(auctionId, msg.sender);
        }
        for (uint256 k = 1; k < n; ++k) {
            if (prices[k] >= prices[k - 1]) revert AuctionInvalidSchedule(auctionId, k);
        }
    }

    /// @dev Rules 2 and 3: drop invalid bids, apply the purchase limit from the top price down.
    function _applyRules(uint64[] calldata prices, uint64[] calldata quantities, uint64 reserve, uint64 limit)
        private
        pure
        returns (Demand memory d)
    {
        uint256 n = prices.length;
        uint64[] memory keptPrices = new uint64[](n);
        uint64[] memory keptQuantities = new uint64[](n);
        uint128 demand = 0;
        uint256 value = 0;
        uint256 remaining = limit == 0 ? type(uint256).max : limit;
        uint256 kept = 0;
        for (uint256 k = 0; k < n && remaining != 0; ++k) {
            uint64 price = prices[k];
            if (price < reserve) break; // prices descend: every later bid is below the reserve too
            uint256 quantity = quantities[k];
            if (quantity == 0) continue;
            if (quantity > remaining) quantity = remaining;
            remaining -= quantity;
            keptPrices[kept] = price;
            keptQuantities[kept] = uint64(quantity);
            demand += uint128(quantity);
            value += quantity * price;
            ++kept;
        }
        // Safe: shrinking the length of a memory array we own, to the kept count.
        assembly ("memory-safe") {
            mstore(keptPrices, kept)
            mstore(keptQuantities, kept)
        }
        d = Demand(keptPrices, keptQuantities, demand, value);
    }

    // ------------------------------------------------------------------ clear

    /// @inheritdoc ISealedBidAuction
    function submitClearing(AuctionId auctionId, Clearing calldata claim, uint32 maxBidders)
        external
        returns (bool cleared)
    {
        Auction storage a = _auction(auctionId);
        uint64 now_ = uint64(block.timestamp);
        if (a.status != Status.Open || now_ < a.revealEnd) revert AuctionNotInClearingPhase(auctionId, now_, a.revealEnd);
        uint128 total = a.totalDemand;
        uint64 supply = a.supply;
        if (total < supply) {
            bool right = total == 0
                ? claim.price == 0 && claim.demandAbove == 0 && claim.demandAt == 0
                : claim.price == a.reservePrice && claim.demandAbove == total && claim.demandAt == 0;
            if (!right) _wrongClearing(auctionId, claim);
            _finishUndersubscribed(auctionId, a, total);
            return true;
        }
        if (
            claim.demandAt == 0 || claim.demandAbove >= supply || claim.demandAbove + claim.demandAt < supply
                || claim.price < a.reservePrice
        ) _wrongClearing(auctionId, claim);

        bytes32 runKey = keccak256(abi.encode(claim.price, claim.demandAbove, claim.demandAt));
        Run memory run = _runs[auctionId][runKey];
        uint32 bidders = a.bidders;
        uint32 end = maxBidders == 0 || bidders - run.cursor <= maxBidders ? bidders : run.cursor + maxBidders;
        _verifyPage(auctionId, runKey, run, claim, supply, end);
        if (run.above > claim.demandAbove || run.at > claim.demandAt) _wrongClearing(auctionId, claim);
        emit ClearingProgressed(auctionId, runKey, end, bidders);
        if (end < bidders) {
            _runs[auctionId][runKey] = run;
            return false;
        }
        if (run.above != claim.demandAbove || run.at != claim.demandAt) _wrongClearing(auctionId, claim);
        _finishOversubscribed(auctionId, a, run, claim, runKey);
        return true;
    }

    /// @dev Scan committed bidders [run.cursor, end) against the claimed allocation price:
    /// demand above and at it, the highest price below it, floors of the tie shares, tie ranks.
    function _verifyPage(
        AuctionId auctionId,
        bytes32 runKey,
        Run memory run,
        Clearing calldata claim,
        uint64 supply,
        uint32 end
    ) private {
        uint64 price = claim.price;
        uint256 rest = supply - claim.demandAbove;
        for (uint256 sequence = run.cursor; sequence < end; ++sequence) {
            uint256 count = _records[auctionId][sequence].bidCount(); // 0 until revealed
            if (count == 0) continue;
            (uint128 above, uint64 at, uint64 below) = _scan(_bids[auctionId][sequence], count, price);
            run.above += above;
            if (below > run.maxBelow) run.maxBelow = below;
            if (at != 0) {
                run.at += at;
                run.floorSum += uint128(rest * at / claim.demandAt);
                _tieRanks[auctionId][runKey][sequence] = ++run.tied;
            }
        }
        run.cursor = end;
    }

    /// @dev One bidder's demand strictly above `price`, at `price`, and its highest bid below it.
    function _scan(mapping(uint256 => uint256) storage words, uint256 count, uint64 price)
        private
        view
        returns (uint128 above, uint64 at, uint64 below)
    {
        uint256 word;
        for (uint256 k = 0; k < count; ++k) {
            if (k & 1 == 0) word = words[k >> 1];
            else word = BidRecords.upperBid(word);
            (uint64 bidPrice, uint64 quantity) = BidRecords.bidIn(word);
            if (bidPrice > price) {
                above += quantity;
            } else {
                if (bidPrice == price) at = quantity;
                else below = bidPrice;
                if (bidPrice == price && k + 1 < count) {
                    // The next bid (the highest below) lives in this word's upper half or the next word.
                    uint256 next = (k + 1) & 1 == 0 ? words[(k + 1) >> 1] : BidRecords.upperBid(word);
                    (below,) = BidRecords.bidIn(next);
                }
                break;
            }
        }
    }

    function _finishUndersubscribed(AuctionId auctionId, Auction storage a, uint128 total) private {
        uint64 sold = uint64(total);
        uint64 unsold = a.supply - sold;
        if (total == 0) {
            a.status = Status.NoSale;
            a.proceeds = a.forfeitPending;
            emit AuctionNoSale(auctionId, unsold);
        } else {
            uint64 price = a.reservePrice;
            a.status = Status.Cleared;
            a.clearingPrice = price;
            a.allocationPrice = price;
            a.sold = sold;
            a.demandAbove = total;
            a.proceeds = uint256(price) * sold + a.forfeitPending;
            emit AuctionCleared(auctionId, price, sold, unsold, price);
        }
        if (a.primary && unsold != 0) _allowances.returnToCap(a.tokenId, unsold);
    }

    function _finishOversubscribed(
        AuctionId auctionId,
        Auction storage a,
        Run memory run,
        Clearing calldata claim,
        bytes32 runKey
    ) private {
        uint64 supply = a.supply;
        uint64 price = claim.price;
        if (a.priceRule == PriceRule.HighestRejected && claim.demandAbove + claim.demandAt == supply) {
            // Every bid at the allocation price is filled: the highest rejected bid is below it.
            price = run.maxBelow != 0 ? run.maxBelow : a.reservePrice;
        }
        a.status = Status.Cleared;
        a.clearingPrice = price;
        a.allocationPrice = claim.price;
        a.sold = supply;
        a.demandAbove = claim.demandAbove;
        a.demandAt = claim.demandAt;
        a.leftover = uint64(supply - claim.demandAbove - run.floorSum);
        a.run = runKey;
        a.proceeds = uint256(price) * supply + a.forfeitPending;
        emit AuctionCleared(auctionId, price, supply, 0, claim.price);
    }

    function _wrongClearing(AuctionId auctionId, Clearing calldata claim) private pure {
        revert AuctionWrongClearing(auctionId, claim.price, claim.demandAbove, claim.demandAt);
    }

    // ------------------------------------------------------------------ settle

    /// @inheritdoc ISealedBidAuction
    function claim(AuctionId auctionId) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (a.status == Status.Open) revert AuctionNotCleared(auctionId);
        (uint256 sequence, BidRecord record) = _bidder(auctionId, msg.sender);
        if (record.isSettled()) revert AuctionAlreadySettled(auctionId, msg.sender);
        uint64 quantity = _allocation(auctionId, a, sequence, record);
        if (quantity == 0) revert AuctionNotAWinner(auctionId, msg.sender);
        uint256 guarantee = record.guarantee();
        uint256 payment = uint256(quantity) * a.clearingPrice;
        uint256 change = guarantee - payment;
        _records[auctionId][sequence] = record.settled();
        bool restricted = a.restricted;
        if (restricted) _projectClaimant = msg.sender;
        IERC1155(address(_allowances)).safeTransferFrom(address(this), msg.sender, a.tokenId, quantity, "");
        if (restricted) _projectClaimant = address(0);
        if (change != 0) _cash.safeTransfer(msg.sender, change);
        emit AllowancesClaimed(auctionId, msg.sender, quantity, payment, change);
    }

    /// @inheritdoc ISealedBidAuction
    function refund(AuctionId auctionId) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (a.status == Status.Open) revert AuctionNotCleared(auctionId);
        (uint256 sequence, BidRecord record) = _bidder(auctionId, msg.sender);
        if (record.isSettled()) revert AuctionAlreadySettled(auctionId, msg.sender);
        uint256 guarantee = record.guarantee();
        uint256 forfeit = 0;
        if (!record.isRevealed()) {
            forfeit = guarantee * a.forfeitBps / BPS;
        } else if (_allocation(auctionId, a, sequence, record) != 0) {
            revert AuctionWinnerMustClaim(auctionId, msg.sender);
        }
        uint256 amount = guarantee - forfeit;
        _records[auctionId][sequence] = record.settled();
        if (amount != 0) _cash.safeTransfer(msg.sender, amount);
        emit GuaranteeRefunded(auctionId, msg.sender, amount, forfeit);
    }

    /// @inheritdoc ISealedBidAuction
    function withdrawProceeds(AuctionId auctionId) external nonReentrant {
        Auction storage a = _auction(auctionId);
        if (a.status == Status.Open) revert AuctionNotCleared(auctionId);
        address to;
        if (a.primary) {
            if (!_registry.hasRole(Roles.REGULATOR_ROLE, msg.sender)) revert AuctionNotSeller(auctionId, msg.sender);
            if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
            to = _treasury;
        } else {
            if (msg.sender != a.seller) revert AuctionNotSeller(auctionId, msg.sender);
            to = a.seller;
        }
        if (a.proceedsWithdrawn) revert AuctionAlreadyWithdrawn(auctionId);
        a.proceedsWithdrawn = true;
        uint256 proceeds = a.proceeds;
        uint64 unsold = a.primary ? 0 : a.supply - a.sold;
        if (proceeds != 0) _cash.safeTransfer(to, proceeds);
        if (unsold != 0) {
            IERC1155(address(_allowances)).safeTransferFrom(address(this), to, a.tokenId, unsold, "");
        }
        emit ProceedsWithdrawn(auctionId, to, proceeds, unsold);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc ISealedBidAuction
    function auction(AuctionId auctionId) external view returns (AuctionView memory v) {
        Auction storage a = _auction(auctionId);
        v.seller = a.seller;
        v.primary = a.primary;
        v.status = a.status;
        v.priceRule = a.priceRule;
        v.tokenId = a.tokenId;
        v.supply = a.supply;
        v.reservePrice = a.reservePrice;
        v.purchaseLimit = a.purchaseLimit;
        v.commitStart = a.commitStart;
        v.commitEnd = a.commitEnd;
        v.revealEnd = a.revealEnd;
        v.forfeitBps = a.forfeitBps;
        v.eligibilityRoot = a.eligibilityRoot;
        v.bidders = a.bidders;
        v.revealed = a.revealed;
        v.totalDemand = a.totalDemand;
        v.clearingPrice = a.clearingPrice;
        v.sold = a.sold;
        v.proceeds = a.proceeds;
        v.proceedsWithdrawn = a.proceedsWithdrawn;
    }

    /// @inheritdoc ISealedBidAuction
    function restrictedBidders(AuctionId auctionId) external view returns (address[] memory) {
        return _restrictedBidders[auctionId];
    }

    /// @inheritdoc ISealedBidAuction
    function projectClaimant() external view returns (address) {
        return _projectClaimant;
    }

    /// @inheritdoc ISealedBidAuction
    function auctionCount() external view returns (uint256) {
        return _auctionCount;
    }

    /// @inheritdoc ISealedBidAuction
    function bidderState(AuctionId auctionId, address bidder)
        external
        view
        returns (bool committed, uint32 sequence, uint256 guarantee, bool revealed, bool settled)
    {
        uint32 plusOne = _sequences[auctionId][bidder];
        if (plusOne == 0) return (false, 0, 0, false, false);
        BidRecord record = _records[auctionId][plusOne - 1];
        return (true, plusOne - 1, record.guarantee(), record.isRevealed(), record.isSettled());
    }

    /// @inheritdoc ISealedBidAuction
    function demandOf(AuctionId auctionId, address bidder)
        external
        view
        returns (uint64[] memory prices, uint64[] memory quantities)
    {
        uint32 plusOne = _sequences[auctionId][bidder];
        if (plusOne == 0) return (new uint64[](0), new uint64[](0));
        BidRecord record = _records[auctionId][plusOne - 1];
        uint256 count = record.isRevealed() ? record.bidCount() : 0;
        prices = new uint64[](count);
        quantities = new uint64[](count);
        mapping(uint256 => uint256) storage words = _bids[auctionId][plusOne - 1];
        for (uint256 k = 0; k < count; ++k) {
            (prices[k], quantities[k]) = BidRecords.bidIn(BidRecords.wordOf(words, k));
        }
    }

    /// @inheritdoc ISealedBidAuction
    function allocationOf(AuctionId auctionId, address bidder) external view returns (uint64) {
        Auction storage a = _auctions[auctionId];
        uint32 plusOne = _sequences[auctionId][bidder];
        if (plusOne == 0) return 0;
        return _allocation(auctionId, a, plusOne - 1, _records[auctionId][plusOne - 1]);
    }

    /// @inheritdoc ISealedBidAuction
    function commitmentOf(
        AuctionId auctionId,
        address bidder,
        uint64[] calldata prices,
        uint64[] calldata quantities,
        bytes32 salt
    ) external pure returns (bytes32) {
        return keccak256(abi.encode(auctionId, bidder, prices, quantities, salt));
    }

    // ------------------------------------------------------------------ internal

    function _auction(AuctionId auctionId) private view returns (Auction storage a) {
        a = _auctions[auctionId];
        if (a.status == Status.None) revert AuctionUnknown(auctionId);
    }

    /// @dev Whether `bidder` is on the auction's named list (at most 16 entries).
    function _named(AuctionId auctionId, address bidder) private view returns (bool) {
        address[] storage bidders = _restrictedBidders[auctionId];
        for (uint256 i = 0; i < bidders.length; ++i) {
            if (bidders[i] == bidder) return true;
        }
        return false;
    }

    function _bidder(AuctionId auctionId, address bidder) private view returns (uint256 sequence, BidRecord record) {
        uint32 plusOne = _sequences[auctionId][bidder];
        if (plusOne == 0) revert AuctionNoCommitment(auctionId, bidder);
        sequence = plusOne - 1;
        record = _records[auctionId][sequence];
    }

    /// @dev Rules 4-6: what a revealed bidder won, from its kept bids and the stored clearing.
    function _allocation(AuctionId auctionId, Auction storage a, uint256 sequence, BidRecord record)
        private
        view
        returns (uint64)
    {
        uint256 count = record.bidCount(); // 0 until revealed
        if (a.status != Status.Cleared || count == 0) return 0;
        mapping(uint256 => uint256) storage words = _bids[auctionId][sequence];
        if (a.totalDemand < a.supply) {
            // Undersubscribed: every kept bid is filled (0 is below every valid price).
            (uint128 all,,) = _scan(words, count, 0);
            return uint64(all);
        }
        (uint128 above, uint64 at,) = _scan(words, count, a.allocationPrice);
        uint256 quantity = above;
        if (at != 0) {
            uint256 rest = a.supply - a.demandAbove;
            quantity += rest * at / a.demandAt;
            if (_tieRanks[auctionId][a.run][sequence] <= a.leftover) quantity += 1;
        }
        return uint64(quantity);
    }
}
