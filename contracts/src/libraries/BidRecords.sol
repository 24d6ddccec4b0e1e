// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice A sealed-bid auction bidder's record word: bidder (bits 0-159) | guarantee (160-247) |
/// state (248-255). State: bit 0 committed, bit 1 revealed, bit 2 settled, bits 3-7 the number
/// of bids kept at the reveal.
type BidRecord is uint256;

using BidRecords for BidRecord global;

/// @title BidRecords
/// @notice The storage packing of {SealedBidAuction}: one {BidRecord} per bidder, and bid words
/// holding two bids each (`price << 64 | quantity` per 128-bit half, the lower half first).
library BidRecords {
    /// @notice The largest guarantee a record holds.
    uint256 internal constant MAX_GUARANTEE = type(uint88).max;

    uint256 private constant GUARANTEE_SHIFT = 160;
    uint256 private constant STATE_SHIFT = 248;
    uint256 private constant COMMITTED = 1;
    uint256 private constant REVEALED = 2;
    uint256 private constant SETTLED = 4;
    uint256 private constant COUNT_SHIFT = 3; // within the state byte
    uint256 private constant COUNT_IN_WORD = 251; // STATE_SHIFT + COUNT_SHIFT, as a literal: no runtime addition
    uint256 private constant HALF = 128;

    // ------------------------------------------------------------------ records

    /// @notice The record of a fresh commitment (guarantee at most {MAX_GUARANTEE}).
    function committed(address bidder, uint256 guarantee_) internal pure returns (BidRecord) {
        return BidRecord.wrap(
            uint256(uint160(bidder)) | (guarantee_ << GUARANTEE_SHIFT) | (COMMITTED << STATE_SHIFT)
        );
    }

    /// @notice The guarantee escrowed with the commitment.
    function guarantee(BidRecord record) internal pure returns (uint256) {
        return (BidRecord.unwrap(record) >> GUARANTEE_SHIFT) & MAX_GUARANTEE;
    }

    /// @notice Whether the bidder revealed its schedule.
    function isRevealed(BidRecord record) internal pure returns (bool) {
        return BidRecord.unwrap(record) & (REVEALED << STATE_SHIFT) != 0;
    }

    /// @notice Whether the bidder claimed or was refunded.
    function isSettled(BidRecord record) internal pure returns (bool) {
        return BidRecord.unwrap(record) & (SETTLED << STATE_SHIFT) != 0;
    }

    /// @notice The number of bids kept at the reveal (0 before it).
    function bidCount(BidRecord record) internal pure returns (uint256) {
        return BidRecord.unwrap(record) >> COUNT_IN_WORD;
    }

    /// @notice The record marked revealed with `count` bids kept (at most 31).
    function revealed(BidRecord record, uint256 count) internal pure returns (BidRecord) {
        return BidRecord.wrap(BidRecord.unwrap(record) | ((REVEALED | (count << COUNT_SHIFT)) << STATE_SHIFT));
    }

    /// @notice The record marked settled.
    function settled(BidRecord record) internal pure returns (BidRecord) {
        return BidRecord.wrap(BidRecord.unwrap(record) | (SETTLED << STATE_SHIFT));
    }

    // ------------------------------------------------------------------ bid words

    /// @notice Store a schedule two bids per word over `words` (index 0 holds the commitment hash
    /// until then: an empty schedule clears it).
    function storeBids(mapping(uint256 => uint256) storage words, uint64[] memory prices, uint64[] memory quantities)
        internal
    {
        uint256 kept = prices.length;
        if (kept == 0) delete words[0];
        for (uint256 k = 0; k < kept; ++k) {
            uint256 bid = (uint256(prices[k]) << 64) | quantities[k];
            if (k & 1 == 0) words[k >> 1] = bid;
            else words[k >> 1] |= bid << HALF;
        }
    }

    /// @notice The word holding bid `k`, shifted so the bid is in its lower half (the upper half,
    /// when it is the word's first bid, is the next bid).
    function wordOf(mapping(uint256 => uint256) storage words, uint256 k) internal view returns (uint256) {
        return words[k >> 1] >> ((k & 1) * HALF);
    }

    /// @notice `word` with its upper bid moved to the lower half (the next bid of a cached word).
    function upperBid(uint256 word) internal pure returns (uint256) {
        return word >> HALF;
    }

    /// @notice The bid in the lower half of `word`.
    function bidIn(uint256 word) internal pure returns (uint64 price, uint64 quantity) {
        return (uint64(word >> 64), uint64(word));
    }
}
