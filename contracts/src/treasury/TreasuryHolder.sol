// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RegistryGated} from "../access/RegistryGated.sol";
import {ITreasuryHolder} from "../interfaces/ITreasuryHolder.sol";

/// @title TreasuryHolder
/// @notice Base of the consortium contracts that pay the treasury: the account, set by
/// governance. See {ITreasuryHolder}.
abstract contract TreasuryHolder is ITreasuryHolder, RegistryGated {
    address internal _treasury;

    /// @inheritdoc ITreasuryHolder
    function setTreasury(address treasury_) external onlyGovernance {
        if (treasury_ == address(0)) revert RegistryGatedZeroAddress("treasury");
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc ITreasuryHolder
    function treasury() external view returns (address) {
        return _treasury;
    }
}
