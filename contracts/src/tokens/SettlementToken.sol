// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {ISettlementToken} from "../interfaces/ISettlementToken.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title SettlementToken
/// @notice Restricted ERC-20 settlement cash in fen. See {ISettlementToken}.
contract SettlementToken is ISettlementToken, ERC20, RegistryGated {
    mapping(bytes32 bankRef => bool) private _bankRefs;

    /// @param registry_ The ConsortiumRegistry.
    constructor(address registry_) ERC20("ETS Settlement Cash", "ETSC") RegistryGated(registry_) {}

    /// @notice Two decimals: amounts are in fen (0.01 CNY).
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @inheritdoc ISettlementToken
    function deposit(address account, uint256 amount, bytes32 bankRef) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        _useBankRef(amount, bankRef);
        _requireParties(address(0), account);
        _mint(account, amount);
        emit CashDeposited(account, amount, bankRef);
    }

    /// @inheritdoc ISettlementToken
    function withdraw(address account, uint256 amount, bytes32 bankRef) external onlyRegistryRole(Roles.EXCHANGE_ROLE) {
        _useBankRef(amount, bankRef);
        _spendAllowance(account, msg.sender, amount);
        _burn(account, amount);
        emit CashWithdrawn(account, amount, bankRef);
    }

    /// @inheritdoc ISettlementToken
    function bankRefUsed(bytes32 bankRef) external view returns (bool) {
        return _bankRefs[bankRef];
    }

    /// @dev The one hook for balance changes: transfers only between allowed parties. A system
    /// contract moving its own cash (e.g. the market paying out escrow) is an allowed sender, so
    /// only the receiver is asked of the registry (the same rule, one cold read fewer).
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (from == msg.sender && from.code.length != 0 && isSystemContract(from)) _requireReceiver(to);
            else _requireParties(from, to);
        }
        super._update(from, to, value);
    }

    function _useBankRef(uint256 amount, bytes32 bankRef) private {
        if (amount == 0) revert SettlementZeroAmount();
        if (_bankRefs[bankRef]) revert SettlementDuplicateBankRef(bankRef);
        _bankRefs[bankRef] = true;
    }
}
