// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ITreasuryHolder
/// @notice A consortium contract that pays the regulator's treasury account, set by governance:
/// the auction house (primary-auction proceeds) and the compliance manager (fines). Each says
/// what it pays and refuses to pay while no treasury is set (its own `*TreasuryNotSet` error).
interface ITreasuryHolder {
    /// @notice The treasury account changed.
    event TreasurySet(address indexed treasury);

    /// @notice Set the treasury account this contract pays.
    /// @param treasury The account.
    /// Requirements: called by the registry (governance, `OnlyGovernance`); not zero
    /// (`RegistryGatedZeroAddress("treasury")`).
    /// Emits: {TreasurySet}.
    function setTreasury(address treasury) external;

    /// @notice The treasury account this contract pays (zero until set).
    function treasury() external view returns (address);
}
