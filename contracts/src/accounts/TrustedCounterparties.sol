// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {ITrustedCounterparties} from "../interfaces/ITrustedCounterparties.sol";

/// @title TrustedCounterparties
/// @notice Each enterprise's trusted counterparties, additions in effect after a governed delay.
/// See {ITrustedCounterparties}.
contract TrustedCounterparties is ITrustedCounterparties, RegistryGated {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @inheritdoc ITrustedCounterparties
    uint64 public constant MAX_DELAY = 90 days;

    mapping(address enterprise => EnumerableSet.AddressSet) private _lists;
    mapping(address enterprise => mapping(address counterparty => uint64)) private _activeFrom;
    uint64 private _delay;
    uint256 private _limit;

    /// @param registry_ The ConsortiumRegistry.
    /// @param delay_ Seconds an addition waits (EU: 4 business days; 4 days by default).
    /// @param limit_ Largest amount to an untrusted account.
    constructor(address registry_, uint64 delay_, uint256 limit_) RegistryGated(registry_) {
        if (delay_ > MAX_DELAY) revert TrustedCounterpartiesDelayTooLong(delay_, MAX_DELAY);
        _delay = delay_;
        _limit = limit_;
        emit TrustedDelaySet(0, delay_);
        emit TrustedLimitSet(0, limit_);
    }

    /// @inheritdoc ITrustedCounterparties
    function addCounterparty(address enterprise, address counterparty) external {
        _requireOwner(enterprise);
        if (counterparty == address(0) || counterparty == enterprise) {
            revert TrustedCounterpartyInvalid(enterprise, counterparty);
        }
        if (!_lists[enterprise].add(counterparty)) {
            revert TrustedCounterpartyListed(enterprise, counterparty, _activeFrom[enterprise][counterparty]);
        }
        uint64 from = uint64(block.timestamp) + _delay;
        _activeFrom[enterprise][counterparty] = from;
        emit TrustedCounterpartyAdded(enterprise, counterparty, from);
    }

    /// @inheritdoc ITrustedCounterparties
    function removeCounterparty(address enterprise, address counterparty) external {
        _requireOwner(enterprise);
        if (!_lists[enterprise].remove(counterparty)) revert TrustedCounterpartyNotListed(enterprise, counterparty);
        delete _activeFrom[enterprise][counterparty];
        emit TrustedCounterpartyRemoved(enterprise, counterparty);
    }

    /// @inheritdoc ITrustedCounterparties
    function setDelay(uint64 delay_) external onlyGovernance {
        if (delay_ > MAX_DELAY) revert TrustedCounterpartiesDelayTooLong(delay_, MAX_DELAY);
        emit TrustedDelaySet(_delay, delay_);
        _delay = delay_;
    }

    /// @inheritdoc ITrustedCounterparties
    function setLimit(uint256 limit_) external onlyGovernance {
        emit TrustedLimitSet(_limit, limit_);
        _limit = limit_;
    }

    /// @inheritdoc ITrustedCounterparties
    function delay() external view returns (uint64) {
        return _delay;
    }

    /// @inheritdoc ITrustedCounterparties
    function limit() external view returns (uint256) {
        return _limit;
    }

    /// @inheritdoc ITrustedCounterparties
    function activeFrom(address enterprise, address counterparty) external view returns (uint64) {
        return _activeFrom[enterprise][counterparty];
    }

    /// @inheritdoc ITrustedCounterparties
    function isTrusted(address enterprise, address counterparty) public view returns (bool) {
        uint64 from = _activeFrom[enterprise][counterparty];
        return from != 0 && from <= block.timestamp;
    }

    /// @inheritdoc ITrustedCounterparties
    function counterparties(address enterprise) external view returns (address[] memory) {
        return _lists[enterprise].values();
    }

    /// @inheritdoc ITrustedCounterparties
    function transferLimit(address from, address to) external view returns (uint256) {
        return isTrusted(from, to) ? type(uint256).max : _limit;
    }

    function _requireOwner(address enterprise) private view {
        if (msg.sender != enterprise) revert TrustedCounterpartiesNotOwner(enterprise, msg.sender);
        if (!_registry.isActiveEnterprise(enterprise)) revert TrustedCounterpartiesNotActiveEnterprise(enterprise);
    }
}
