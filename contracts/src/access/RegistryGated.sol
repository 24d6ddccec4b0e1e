// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IRegistryGated} from "../interfaces/IRegistryGated.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title RegistryGated
/// @notice Base of consortium contracts: roles and membership from the ConsortiumRegistry,
/// system contracts set by governance. Role ids come from {Roles}.
abstract contract RegistryGated is IRegistryGated {
    IConsortiumRegistry internal immutable _registry;
    mapping(address account => bool) private _systemContracts;

    modifier onlyRegistryRole(bytes32 role) {
        if (!_registry.hasRole(role, msg.sender)) revert UnauthorizedRole(msg.sender, role);
        if (!_registry.isActiveParticipant(msg.sender)) revert CallerNotActive(msg.sender);
        _;
    }

    modifier onlyGovernance() {
        if (msg.sender != address(_registry)) revert OnlyGovernance(msg.sender);
        _;
    }

    constructor(address registry_) {
        if (registry_.code.length == 0) revert InvalidRegistry(registry_);
        _registry = IConsortiumRegistry(registry_);
    }

    /// @inheritdoc IRegistryGated
    function setSystemContract(address account, bool allowed) external onlyGovernance {
        if (account == address(0)) revert RegistryGatedZeroAddress("account");
        _systemContracts[account] = allowed;
        emit SystemContractSet(account, allowed);
    }

    /// @inheritdoc IRegistryGated
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IRegistryGated
    function isSystemContract(address account) public view returns (bool) {
        return _systemContracts[account];
    }

    /// @dev Refuse a movement unless each non-zero party is an active participant or a system
    /// contract. One registry call checks both parties.
    function _requireParties(address from, address to) internal view {
        (bool fromOk, bool toOk) = _registry.areActiveParticipants(from, to);
        if (from != address(0) && !fromOk && !_systemContracts[from]) revert PartyNotAllowed(from);
        if (to != address(0) && !toOk && !_systemContracts[to]) revert PartyNotAllowed(to);
    }

    /// @dev {_requireParties} of a movement whose sender is known to be allowed: only `to`.
    function _requireReceiver(address to) internal view {
        if (!_registry.isActiveParticipant(to) && !_systemContracts[to]) revert PartyNotAllowed(to);
    }
}
