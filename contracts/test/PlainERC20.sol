// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only baseline: a plain OpenZeppelin ERC-20 with open minting, to compare the gas
/// of a market trade (delivery versus payment) against a plain ERC-1155 plus ERC-20 transfer.
contract PlainERC20 is ERC20("Plain", "PLN") {
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
