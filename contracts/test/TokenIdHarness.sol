// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Kind, TokenId, TokenIdLib} from "../src/types/TokenId.sol";

/// @title TokenIdHarness
/// @notice Test-only: {TokenIdLib}'s internal functions as external views, so tests compare the
/// on-chain id layout with the Python one.
contract TokenIdHarness {
    /// @notice {TokenIdLib.encode}.
    function encode(Kind kind, uint8 pollutant, uint16 vintage) external pure returns (uint256) {
        return TokenId.unwrap(TokenIdLib.encode(kind, pollutant, vintage));
    }

    /// @notice {TokenIdLib.decode}, {TokenIdLib.fits} and the single accessors of one id.
    function inspect(uint256 id)
        external
        pure
        returns (bool fits, Kind kind, uint8 pollutant, uint16 vintage, Kind kindOnly, uint8 pollutantOnly, uint16 vintageOnly)
    {
        TokenId token = TokenId.wrap(id);
        (kind, pollutant, vintage) = token.decode();
        return (token.fits(), kind, pollutant, vintage, token.kind(), token.pollutant(), token.vintage());
    }

    /// @notice {TokenIdLib.isOf}.
    function isOf(uint256 id, Kind kind, uint8 pollutant) external pure returns (bool) {
        return TokenId.wrap(id).isOf(kind, pollutant);
    }
}
