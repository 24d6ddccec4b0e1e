// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ITrustedCounterparties
/// @notice Each enterprise's list of trusted counterparties (after the EU Union Registry's
/// trusted account list): an addition takes effect only after a delay set by governance (the EU
/// waits 4 business days; here seconds, 4 days by default), a removal at once. While governance has
/// wired this contract into the AllowanceToken ({IAllowanceToken-setTrustedCounterparties}), a
/// direct transfer above the governance-set limit to an account that is not on the sender's list
/// (or not yet in effect) is refused with {IAllowanceToken-AllowanceUntrustedCounterparty};
/// movements by the market, the auction house and the compliance manager (system contracts) are
/// never affected. Python reference of the rule: `chain.trusted.transfer_allowed`.
interface ITrustedCounterparties {
    /// @notice Only the enterprise itself may change its list (`caller` tried to change `enterprise`'s).
    error TrustedCounterpartiesNotOwner(address enterprise, address caller);
    /// @notice The list's owner is not an active enterprise (unregistered, another role, or suspended).
    error TrustedCounterpartiesNotActiveEnterprise(address enterprise);
    /// @notice The counterparty is the zero address or the enterprise itself.
    error TrustedCounterpartyInvalid(address enterprise, address counterparty);
    /// @notice The counterparty is already on the list (in effect from `activeFrom`).
    error TrustedCounterpartyListed(address enterprise, address counterparty, uint64 activeFrom);
    /// @notice The counterparty is not on the list.
    error TrustedCounterpartyNotListed(address enterprise, address counterparty);
    /// @notice The delay is longer than {MAX_DELAY}.
    error TrustedCounterpartiesDelayTooLong(uint64 delay, uint64 maxDelay);

    /// @notice `counterparty` was added to `enterprise`'s list; trusted from `activeFrom` (unix s).
    event TrustedCounterpartyAdded(address indexed enterprise, address indexed counterparty, uint64 activeFrom);
    /// @notice `counterparty` was removed from `enterprise`'s list (untrusted at once).
    event TrustedCounterpartyRemoved(address indexed enterprise, address indexed counterparty);
    /// @notice Governance set the delay before an addition takes effect.
    event TrustedDelaySet(uint64 previous, uint64 delay);
    /// @notice Governance set the largest amount (tonnes, all ids of a transfer together) that may
    /// go to an untrusted account.
    event TrustedLimitSet(uint256 previous, uint256 limit);

    /// @notice Add `counterparty` to `enterprise`'s trusted list, in effect after the delay.
    /// @param enterprise The list's owner: must be the caller (a Safe calls for itself).
    /// @param counterparty The account to trust.
    /// Requirements: the caller is `enterprise` ({TrustedCounterpartiesNotOwner}) and an active
    /// enterprise, not suspended ({TrustedCounterpartiesNotActiveEnterprise}); `counterparty` not
    /// zero nor `enterprise` ({TrustedCounterpartyInvalid}) and not listed yet
    /// ({TrustedCounterpartyListed}).
    /// Emits: {TrustedCounterpartyAdded}.
    function addCounterparty(address enterprise, address counterparty) external;

    /// @notice Remove `counterparty` from `enterprise`'s trusted list, at once.
    /// @param enterprise The list's owner: must be the caller.
    /// @param counterparty The account to remove.
    /// Requirements: as {addCounterparty}; `counterparty` listed ({TrustedCounterpartyNotListed}).
    /// Emits: {TrustedCounterpartyRemoved}.
    function removeCounterparty(address enterprise, address counterparty) external;

    /// @notice Set the delay before an addition takes effect.
    /// @param delay_ Seconds (at most {MAX_DELAY}); applies to additions made from now on.
    /// Requirements: called by the registry (governance, {IRegistryGated-OnlyGovernance});
    /// `delay_` at most {MAX_DELAY} ({TrustedCounterpartiesDelayTooLong}).
    /// Emits: {TrustedDelaySet}.
    function setDelay(uint64 delay_) external;

    /// @notice Set the largest amount a transfer may send to an untrusted account.
    /// @param limit_ Tonnes, summed over the ids of one transfer (0: nothing untrusted).
    /// Requirements: called by the registry (governance, {IRegistryGated-OnlyGovernance}).
    /// Emits: {TrustedLimitSet}.
    function setLimit(uint256 limit_) external;

    /// @notice The longest delay governance may set (90 days).
    function MAX_DELAY() external view returns (uint64);

    /// @notice Seconds an addition waits before it takes effect.
    function delay() external view returns (uint64);

    /// @notice The largest amount a transfer may send to an untrusted account.
    function limit() external view returns (uint256);

    /// @notice When `counterparty` became (or becomes) trusted by `enterprise`; 0 if not listed.
    function activeFrom(address enterprise, address counterparty) external view returns (uint64);

    /// @notice Whether `counterparty` is on `enterprise`'s list and in effect now.
    function isTrusted(address enterprise, address counterparty) external view returns (bool);

    /// @notice `enterprise`'s list (pending additions included; see {activeFrom}).
    function counterparties(address enterprise) external view returns (address[] memory);

    /// @notice The largest amount `from` may transfer to `to` now: unlimited when `to` is trusted
    /// by `from` and in effect, else {limit}. Asked by the AllowanceToken on direct transfers.
    function transferLimit(address from, address to) external view returns (uint256);
}
