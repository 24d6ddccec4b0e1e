// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IRegistryGated
/// @notice What every consortium contract shares: membership and roles come from the
/// ConsortiumRegistry, and a role is a power only while its holder is not suspended
/// (`UnauthorizedRole` without the role, `CallerNotActive` with it but suspended); value moves
/// only between active participants and system contracts; governance (the registry executing an
/// approved proposal) configures the system contracts.
interface IRegistryGated {
    /// @notice The caller lacks the registry role the function needs.
    error UnauthorizedRole(address account, bytes32 role);
    /// @notice The caller holds the registry role the function needs but is suspended.
    error CallerNotActive(address account);
    /// @notice Only the registry (an executed governance proposal) may call this function.
    error OnlyGovernance(address caller);
    /// @notice The account may not hold or move this asset: not an active participant nor a system contract.
    error PartyNotAllowed(address account);
    /// @notice The registry address is zero or not a contract.
    error InvalidRegistry(address registry);
    /// @notice A governed address setting of this base (`field`: a system contract's `account`, a
    /// `treasury`) was given the zero address.
    error RegistryGatedZeroAddress(string field);

    /// @notice A system contract (auction, compliance) was allowed or disallowed to hold the asset.
    event SystemContractSet(address indexed account, bool allowed);

    /// @notice Allow or disallow a system contract (e.g. the auction or the compliance manager).
    /// @param account The contract.
    /// @param allowed Whether it may hold and move the asset.
    /// Requirements: called by the registry (governance); account not zero
    /// ({RegistryGatedZeroAddress}).
    /// Emits: {SystemContractSet}.
    function setSystemContract(address account, bool allowed) external;

    /// @notice The ConsortiumRegistry this contract asks.
    function registry() external view returns (address);

    /// @notice Whether `account` is an allowed system contract.
    function isSystemContract(address account) external view returns (bool);
}
