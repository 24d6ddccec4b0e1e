// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";

/// @notice Test-only baseline: a plain OpenZeppelin ERC-1155 with open minting, to compare the
/// gas of a restricted AllowanceToken transfer against in the same run.
contract PlainERC1155 is ERC1155("") {
    function mint(address to, uint256 id, uint256 amount) external {
        _mint(to, id, amount, "");
    }
}
