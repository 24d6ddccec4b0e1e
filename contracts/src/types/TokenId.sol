// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @notice Kinds of AllowanceToken token.
enum Kind {
    None,
    Allowance,
    Offset
}

/// @notice An AllowanceToken id: `kind << 24 | pollutant << 16 | vintage`, nothing above bit 31.
/// The one place of this layout on chain; its Python twin is `encode_id` / `decode_id`.
type TokenId is uint256;

using TokenIdLib for TokenId global;

/// @title TokenIdLib
/// @notice Encoding and decoding of {TokenId}s. Decoding does not validate: check {fits} first
/// where an id comes from outside.
library TokenIdLib {
    uint256 private constant KIND_SHIFT = 24;
    uint256 private constant POLLUTANT_SHIFT = 16;
    uint256 private constant WIDTH = 32;
    uint256 private constant KIND_ABOVE_POLLUTANT = 8; // KIND_SHIFT - POLLUTANT_SHIFT, as a literal

    /// @notice The id of (kind, pollutant, vintage).
    function encode(Kind kind_, uint8 pollutant_, uint16 vintage_) internal pure returns (TokenId) {
        return TokenId.wrap(
            (uint256(uint8(kind_)) << KIND_SHIFT) | (uint256(pollutant_) << POLLUTANT_SHIFT) | uint256(vintage_)
        );
    }

    /// @notice (kind, pollutant, vintage) of an id; an unknown kind byte reads as {Kind.None}.
    function decode(TokenId id) internal pure returns (Kind kind_, uint8 pollutant_, uint16 vintage_) {
        uint256 raw = TokenId.unwrap(id);
        uint256 k = (raw >> KIND_SHIFT) & 0xff;
        kind_ = k > uint256(uint8(Kind.Offset)) ? Kind.None : Kind(k);
        pollutant_ = uint8(raw >> POLLUTANT_SHIFT);
        vintage_ = uint16(raw);
    }

    /// @notice Whether the id is a token of `kind_` and `pollutant_` (any vintage) with no bit above
    /// the layout's 32: one comparison of everything above the vintage.
    function isOf(TokenId id, Kind kind_, uint8 pollutant_) internal pure returns (bool) {
        return TokenId.unwrap(id) >> POLLUTANT_SHIFT
            == (uint256(uint8(kind_)) << KIND_ABOVE_POLLUTANT) | uint256(pollutant_);
    }

    /// @notice Whether the id uses no bit above the layout's 32.
    function fits(TokenId id) internal pure returns (bool) {
        return TokenId.unwrap(id) >> WIDTH == 0;
    }

    /// @notice The kind byte as a {Kind}; {Kind.None} when it is not a known kind.
    function kind(TokenId id) internal pure returns (Kind) {
        uint256 k = (TokenId.unwrap(id) >> KIND_SHIFT) & 0xff;
        return k > uint256(uint8(Kind.Offset)) ? Kind.None : Kind(k);
    }

    /// @notice The pollutant code.
    function pollutant(TokenId id) internal pure returns (uint8) {
        return uint8(TokenId.unwrap(id) >> POLLUTANT_SHIFT);
    }

    /// @notice The vintage year.
    function vintage(TokenId id) internal pure returns (uint16) {
        return uint16(TokenId.unwrap(id));
    }
}
