// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IEmissionCards
/// @notice IC cards of the card-swipe total-amount controllers, registered beside the devices
/// they serve and tied to the allowances the enterprise holds (Taizhou's IC cards: issued,
/// recharged and queried against the rights bought).
///
/// The regulator issues a card for a device bound to an enterprise in the ConsortiumRegistry,
/// replaces it (the old card void, its commitments carried to the new one: both share one
/// card account) and revokes it. A month's load is the enterprise's own transaction: it commits
/// allowances it holds (id = ALLOWANCE | pollutant | vintage, the vintage being the month's year)
/// to the card for that month; the allowances move into this contract's custody (a system
/// contract of the AllowanceToken, admitted by governance), so they can be neither sold nor
/// transferred while committed. A recharge is a further load in the same month. The swipe loads
/// the committed amount into the controller as the month's quota.
///
/// At month end the device's oracle records the metered use (`settleMonth`): the used amount,
/// capped at the committed one, stays in custody held for surrender (the emissions of that month
/// must be surrendered at compliance and may not be sold meanwhile); the unused rest returns to
/// the enterprise. Before the compliance surrender the regulator releases the held allowances
/// back to the enterprise (`releaseForSurrender`), where the compliance manager retires them.
/// Nothing is minted or burnt here: holders + this contract's custody + retired = issued.
interface IEmissionCards {
    /// @notice Lifecycle of a card number.
    enum CardStatus {
        None,
        Active,
        Replaced,
        Revoked
    }

    /// @notice A card: the enterprise and device it serves, its account (the first card's number,
    /// kept by replacements so commitments carry over), status and issue time.
    struct Card {
        address enterprise;
        address device;
        uint64 account;
        CardStatus status;
        uint64 issuedAt;
    }

    /// @notice One card account's month for one allowance id: committed, used (after settlement).
    struct CardMonth {
        uint128 committed;
        uint128 used;
        bool settled;
    }

    /// @notice Card number zero or already used.
    error CardNumberTaken(uint64 card);
    /// @notice The card is not active (unknown, replaced or revoked).
    error CardNotActive(uint64 card, CardStatus status);
    /// @notice The card number was never issued.
    error CardUnknown(uint64 card);
    /// @notice The device already has an active card.
    error CardDeviceHasCard(address device, uint64 card);
    /// @notice The enterprise the card or device belongs to is not an active enterprise.
    error CardEnterpriseNotActive(address enterprise);
    /// @notice The caller is not the enterprise holding the card.
    error CardNotHolder(uint64 card, address enterprise, address caller);
    /// @notice The id is not an ALLOWANCE token id.
    error CardInvalidId(uint256 id);
    /// @notice The month is not 1-12.
    error CardInvalidMonth(uint8 month);
    /// @notice Amount zero.
    error CardZeroAmount();
    /// @notice The load exceeds the holdings not yet committed (the enterprise's balance).
    error CardLoadExceedsHoldings(address enterprise, uint256 id, uint256 amount, uint256 available);
    /// @notice The card's month for this id is settled already.
    error CardMonthAlreadySettled(uint64 card, uint256 id, uint8 month);
    /// @notice The caller is not the oracle the registry set for the card's device.
    error CardNotDeviceOracle(uint64 card, address device, address caller);
    /// @notice Nothing is held for surrender for the enterprise and id.
    error CardNothingHeld(address enterprise, uint256 id);

    /// @notice A card was issued for `device` of `enterprise`.
    event CardIssued(uint64 indexed card, address indexed enterprise, address indexed device, string mn);
    /// @notice `oldCard` was voided and `newCard` issued in its place, on the same account.
    event CardReplaced(uint64 indexed oldCard, uint64 indexed newCard, address indexed enterprise, uint64 account);
    /// @notice A card was revoked.
    event CardRevoked(uint64 indexed card, address indexed enterprise, uint16 reasonCode);
    /// @notice Allowances committed to a card for a month (a load or a recharge).
    event CardLoaded(
        uint64 indexed card,
        address indexed enterprise,
        uint256 indexed id,
        uint64 account,
        uint8 month,
        uint256 amount,
        uint256 committed
    );
    /// @notice A card's month settled: metered use, used (capped at committed) held for
    /// surrender, the rest returned.
    event CardMonthSettled(
        uint64 indexed card,
        address indexed enterprise,
        uint256 indexed id,
        uint64 account,
        uint8 month,
        uint256 metered,
        uint256 used,
        uint256 returned
    );
    /// @notice Allowances held for surrender released to the enterprise for the compliance surrender.
    event CardUsedReleased(address indexed enterprise, uint256 indexed id, uint256 amount);

    /// @notice Issue card `card` for `device` (the enterprise is the device's, from the registry).
    /// @param card The card number (non-zero, never used before).
    /// @param device A device bound in the registry.
    /// Requirements: caller has REGULATOR_ROLE and is active; card number unused
    /// (`CardNumberTaken`); device bound (the registry's `RegistryDeviceUnknown`) and without an active card
    /// (`CardDeviceHasCard`); its enterprise active (`CardEnterpriseNotActive`).
    /// Emits: {CardIssued}.
    function issueCard(uint64 card, address device) external;

    /// @notice Replace a lost or broken card: `oldCard` becomes void, `newCard` serves the same
    /// device on the same account, so committed and settled months carry over.
    /// Requirements: caller has REGULATOR_ROLE and is active; `oldCard` active (`CardNotActive`);
    /// `newCard` unused (`CardNumberTaken`).
    /// Emits: {CardReplaced}.
    function replaceCard(uint64 oldCard, uint64 newCard) external;

    /// @notice Revoke a card: no further loads; its committed months are still settled by the oracle.
    /// Requirements: caller has REGULATOR_ROLE and is active; card active (`CardNotActive`).
    /// Emits: {CardRevoked}.
    function revokeCard(uint64 card, uint16 reasonCode) external;

    /// @notice Commit `amount` of allowance `id` held by the caller to `card` for `month` of the
    /// id's vintage (a load; again in the same month: a recharge). The allowances move into this
    /// contract's custody (the caller approves this contract on the AllowanceToken first).
    /// @param card An active card of the caller.
    /// @param id An ALLOWANCE token id; its vintage is the year of `month`.
    /// @param month 1-12.
    /// @param amount Tonnes to commit, at most the caller's balance (holdings not yet committed).
    /// Requirements: caller has ENTERPRISE_ROLE and is active; holds the card (`CardNotHolder`);
    /// card active (`CardNotActive`); `id` an allowance id (`CardInvalidId`); month 1-12
    /// (`CardInvalidMonth`); month not settled (`CardMonthAlreadySettled`); amount non-zero
    /// (`CardZeroAmount`) and at most the balance (`CardLoadExceedsHoldings`); the token's own
    /// transfer rules (freezes, T+1 lock of today's purchases, permits) apply.
    /// Emits: {CardLoaded} (and the token's TransferSingle).
    function load(uint64 card, uint256 id, uint8 month, uint256 amount) external;

    /// @notice Record the card's metered use for `month`: used = min(metered, committed) held for
    /// surrender, committed - used returned to the enterprise.
    /// Requirements: caller has ORACLE_ROLE and is active; if the registry names an oracle for the
    /// card's device, the caller is that oracle (`CardNotDeviceOracle`); card issued (any status,
    /// `CardUnknown`); month 1-12; not settled (`CardMonthAlreadySettled`).
    /// Emits: {CardMonthSettled}.
    function settleMonth(uint64 card, uint256 id, uint8 month, uint256 metered) external;

    /// @notice Release everything held for surrender of `enterprise` and `id` back to it, before
    /// the compliance surrender retires it.
    /// Requirements: caller has REGULATOR_ROLE and is active; something held (`CardNothingHeld`).
    /// Emits: {CardUsedReleased}.
    function releaseForSurrender(address enterprise, uint256 id) external;

    /// @notice A card (status None when never issued).
    function getCard(uint64 card) external view returns (Card memory);
    /// @notice The active card of a device (zero if none).
    function cardOfDevice(address device) external view returns (uint64);
    /// @notice Every card number issued to an enterprise, in issue order (void ones included).
    function cardsOf(address enterprise) external view returns (uint64[] memory);
    /// @notice A card's month for an allowance id (through the card's account).
    function cardMonth(uint64 card, uint256 id, uint8 month) external view returns (CardMonth memory);
    /// @notice Used allowances of `enterprise` and `id` held for surrender.
    function heldForSurrender(address enterprise, uint256 id) external view returns (uint256);
    /// @notice Every allowance of `id` in this contract's custody (committed and held).
    function custody(uint256 id) external view returns (uint256);
    /// @notice The AllowanceToken whose allowances are committed.
    function allowanceToken() external view returns (address);
}
