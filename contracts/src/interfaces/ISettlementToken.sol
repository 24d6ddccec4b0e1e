// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementToken
/// @notice Settlement cash (ERC-20, 2 decimals: fen) issued by the exchange as settlement bank
/// against bank deposits and burned on withdrawals; held and moved only by active registered
/// participants and system contracts. Each bank movement carries a unique bank reference so the
/// chain reconciles one-to-one with the bank statement.
interface ISettlementToken {
    /// @notice The amount is zero.
    error SettlementZeroAmount();
    /// @notice The bank reference was used before.
    error SettlementDuplicateBankRef(bytes32 bankRef);

    /// @notice Cash was issued against a bank deposit.
    event CashDeposited(address indexed account, uint256 amount, bytes32 indexed bankRef);
    /// @notice Cash was burned for a bank withdrawal.
    event CashWithdrawn(address indexed account, uint256 amount, bytes32 indexed bankRef);

    /// @notice Issue cash to `account` against a bank deposit.
    /// @param account An active participant or system contract.
    /// @param amount In minor units (fen), > 0.
    /// @param bankRef The bank transaction reference, unique.
    /// Requirements: caller has EXCHANGE_ROLE and is active (`CallerNotActive` when suspended).
    /// Emits: {Transfer} (from zero), {CashDeposited}.
    function deposit(address account, uint256 amount, bytes32 bankRef) external;

    /// @notice Burn `account`'s cash for a bank withdrawal it approved (ERC-20 allowance to the caller).
    /// @param account The holder, who approved the exchange for at least `amount`.
    /// @param amount In minor units, > 0.
    /// @param bankRef The bank transaction reference, unique.
    /// Requirements: caller has EXCHANGE_ROLE and is active
    /// (`CallerNotActive` when suspended); allowance and balance suffice.
    /// Emits: {Transfer} (to zero), {CashWithdrawn}.
    function withdraw(address account, uint256 amount, bytes32 bankRef) external;

    /// @notice Whether a bank reference has been used.
    function bankRefUsed(bytes32 bankRef) external view returns (bool);
}
