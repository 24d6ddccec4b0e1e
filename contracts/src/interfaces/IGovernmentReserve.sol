// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IGovernmentReserve
/// @notice The government reserve of allowances, one balance per token id (pollutant and vintage),
/// held by this contract (a system contract of the AllowanceToken). It is fed three ways:
/// - the reserve share of an annual plan ({feed}): for a vintage whose cap was executed from the
///   current annual plan of its year, the reserve receives Σ over the plan's (pollutant, region)
///   lines of `cap × reserveShareBps / 10,000` (each line rounded down), minted within the cap and
///   never more in total than that share (a later feed tops up only what a superseding plan adds);
/// - confiscations decided by governance ({confiscate});
/// - closures (关停) ({sweepClosure}): one governance proposal,
///   `ConsortiumRegistry.closeEnterprise`, sweeps the enterprise's allowances of the current and
///   future vintages here, cancels its permit, unbinds its devices and suspends it.
///
/// A new or expanded project obtains rights from the reserve as a paid allocation at the annual
/// plan's guide price, delivery versus payment in settlement cash: the regulator offers a quantity
/// of one id to a registered enterprise ({offer}: the price is the guide price of the current
/// annual plan of the vintage for the project's region, fixed in the offer, with a deadline; the
/// quantity is set aside from what the reserve can offer); the project accepts it ({accept}) in
/// one transaction that pays `quantity × price` fen from its cash (an ERC-20 allowance to this
/// contract) to the treasury account (the one the primary auctions pay) and delivers the
/// allowances. The project needs no valid permit: the AllowanceToken's permits gate does not
/// refuse the reserve's deliveries, because the rights come before the permit; the sale does not
/// count against a later permit's allocation. Until accepted, the regulator may withdraw an offer
/// (expired ones included), which frees its quantity.
interface IGovernmentReserve {
    /// @notice Lifecycle of an offer: Open → Accepted | Withdrawn.
    enum OfferState {
        None,
        Open,
        Accepted,
        Withdrawn
    }

    /// @notice A paid allocation offered to a project.
    /// @param project The enterprise it is offered to.
    /// @param id Allowance token id (pollutant, vintage).
    /// @param quantity Allowances (tonnes).
    /// @param price Guide price in fen per tonne, from `annualPlanId`.
    /// @param annualPlanId The annual plan whose guide price applies.
    /// @param deadline Last timestamp at which the project may accept.
    /// @param state Open, Accepted or Withdrawn.
    struct Offer {
        address project;
        uint256 id;
        uint256 quantity;
        uint256 price;
        uint256 annualPlanId;
        uint64 deadline;
        OfferState state;
    }

    /// @notice The vintage's cap was not executed from this annual plan, or it is not the current plan of its year.
    error ReserveNotPlanCap(uint256 annualPlanId, uint256 id);
    /// @notice The plan's reserve share of the id is fed already (`fed` ≥ `share`).
    error ReserveNothingToFeed(uint256 id, uint256 share, uint256 fed);
    /// @notice The account is not an active registered enterprise.
    error ReserveNotProject(address account);
    /// @notice The reserve cannot offer that much of the id (its balance less open offers).
    error ReserveInsufficient(uint256 id, uint256 requested, uint256 available);
    /// @notice The vintage has no current annual plan, or the plan has no line of the pollutant
    /// for the project's region (exact, prefecture or province code).
    error ReserveNoGuidePrice(uint256 id, uint32 region);
    /// @notice No offer has this id.
    error ReserveOfferUnknown(uint256 offerId);
    /// @notice The offer is not open.
    error ReserveOfferNotOpen(uint256 offerId, OfferState state);
    /// @notice The offer's deadline has passed.
    error ReserveOfferExpired(uint256 offerId, uint64 deadline);
    /// @notice Only the project the offer names may accept it.
    error ReserveNotOfferee(uint256 offerId, address caller);
    /// @notice The deadline is not in the future.
    error ReserveInvalidDeadline(uint64 deadline);
    /// @notice A quantity is zero.
    error ReserveZeroAmount();
    /// @notice Not an allowance id, or repeated in one call.
    error ReserveInvalidId(uint256 id);
    /// @notice A closure takes only current and future vintages (the current year in China, UTC+8).
    error ReserveVintagePast(uint256 id, uint16 vintage, uint16 currentYear);
    /// @notice The caller is neither an active regulator nor the registry (governance).
    error ReserveNotRegulatorOrGovernance(address caller);
    /// @notice A contract the reserve needs (`what`: plans, treasury) is not wired.
    error ReserveNotWired(string what);

    /// @notice The plans contract (guide prices, reserve shares) changed.
    event ReservePlansSet(address indexed plans);
    /// @notice An annual plan's reserve share of `id` was minted into the reserve.
    /// @param fedTotal Fed of the id so far (the plan's share).
    event ReserveFed(uint256 indexed annualPlanId, uint256 indexed id, uint256 amount, uint256 fedTotal);
    /// @notice A paid allocation was offered to a project.
    event ReserveOffered(
        uint256 indexed offerId,
        address indexed project,
        uint256 indexed id,
        uint256 quantity,
        uint256 price,
        uint256 annualPlanId,
        uint64 deadline
    );
    /// @notice The project accepted and paid: `payment` fen to `treasury`, `quantity` delivered.
    event ReserveSold(
        uint256 indexed offerId,
        address indexed project,
        uint256 indexed id,
        uint256 quantity,
        uint256 payment,
        address treasury
    );
    /// @notice The regulator withdrew an open offer.
    event ReserveOfferWithdrawn(uint256 indexed offerId, address indexed by);
    /// @notice Allowances were taken into the reserve: a confiscation (`closureId` 0) or closure
    /// number `closureId` (its other steps are in the registry's `EnterpriseClosed`).
    event ReserveConfiscated(
        uint256 indexed closureId, address indexed holder, uint256[] ids, uint256[] amounts, string reason
    );

    /// @notice Wire the plans contract whose annual plans give reserve shares and guide prices.
    /// Requirements: called by the registry (governance, `OnlyGovernance`); not zero
    /// (`RegistryGatedZeroAddress("plans")`).
    /// Emits: {ReservePlansSet}.
    function setPlans(address plans) external;

    /// @notice Mint the reserve share of `pollutant` of the current annual plan `annualPlanId`
    /// (whose cap of that vintage it executed) into the reserve, less what was fed already.
    /// @return amount Allowances fed now.
    /// Requirements: caller is an active regulator or the registry
    /// ({ReserveNotRegulatorOrGovernance}); plans wired ({ReserveNotWired}); the vintage's cap was
    /// executed from the plan and the plan is current ({ReserveNotPlanCap}); something left to feed
    /// ({ReserveNothingToFeed}); within the cap (`CapExceeded`).
    /// Emits: {ReserveFed}, the token's `AllowancesIssuedToReserve`.
    function feed(uint256 annualPlanId, uint8 pollutant) external returns (uint256 amount);

    /// @notice Offer `quantity` of `id` to `project` at the guide price, open until `deadline`.
    /// @return offerId The new offer's id (counted from 1).
    /// Requirements: caller has REGULATOR_ROLE and is active; `project` is an active enterprise
    /// ({ReserveNotProject}); an allowance id ({ReserveInvalidId}); quantity > 0
    /// ({ReserveZeroAmount}) and within the reserve's balance less open offers
    /// ({ReserveInsufficient}); deadline in the future ({ReserveInvalidDeadline}); a guide price for
    /// the project's region in the vintage's current annual plan ({ReserveNoGuidePrice}).
    /// Emits: {ReserveOffered}.
    function offer(address project, uint256 id, uint256 quantity, uint64 deadline) external returns (uint256 offerId);

    /// @notice Accept an offer: pay `quantity × price` fen to the treasury and receive the
    /// allowances, in this one transaction (delivery versus payment).
    /// Requirements: caller has ENTERPRISE_ROLE and is active; it is the offer's project
    /// ({ReserveNotOfferee}); the offer is open ({ReserveOfferNotOpen}) and not past its deadline
    /// ({ReserveOfferExpired}); a treasury is set ({ReserveNotWired}); the caller approved this
    /// contract for the payment on the SettlementToken (`ERC20InsufficientAllowance`,
    /// `ERC20InsufficientBalance`).
    /// Emits: {ReserveSold}, the tokens' `Transfer` and `TransferSingle`.
    function accept(uint256 offerId) external;

    /// @notice Withdraw an open offer (expired or not); its quantity can be offered again.
    /// Requirements: caller has REGULATOR_ROLE and is active; the offer is open ({ReserveOfferNotOpen}).
    /// Emits: {ReserveOfferWithdrawn}.
    function withdrawOffer(uint256 offerId) external;

    /// @notice Confiscate `amounts` of allowance `ids` from `holder` into the reserve.
    /// Requirements: called by the registry (governance, `OnlyGovernance`); allowance ids, not
    /// repeated ({ReserveInvalidId}); same lengths (`AllowanceLengthMismatch`); amounts held
    /// (`ERC1155InsufficientBalance`).
    /// Emits: {ReserveConfiscated} with closure id 0, the token's `AllowancesConfiscated`.
    function confiscate(address holder, uint256[] calldata ids, uint256[] calldata amounts, string calldata reason)
        external;

    /// @notice The allowance part of a closure: take `enterprise`'s whole balance of each of `ids`
    /// (allowances of the current or a future vintage) into the reserve. Called by the registry's
    /// `closeEnterprise`, the one governance proposal of a closure. Allowances escrowed in the
    /// market (resting sell orders) are not the enterprise's balance and stay there: the exchange
    /// cancels its resting sell orders before the proposal is executed.
    /// @return closureId The closure's number (counted from 1).
    /// Requirements: called by the registry (governance, `OnlyGovernance`); allowance ids, not
    /// repeated ({ReserveInvalidId}), of a vintage not before the current year ({ReserveVintagePast}).
    /// Emits: {ReserveConfiscated}, the token's `AllowancesConfiscated`.
    function sweepClosure(address enterprise, uint256[] calldata ids, string calldata reason)
        external
        returns (uint256 closureId);

    /// @notice The AllowanceToken.
    function allowanceToken() external view returns (address);
    /// @notice The SettlementToken (the cash projects pay in).
    function settlementToken() external view returns (address);
    /// @notice The plans contract (zero until governance sets it).
    function plans() external view returns (address);
    /// @notice The reserve's balance of `id` not set aside for open offers.
    function available(uint256 id) external view returns (uint256);
    /// @notice Set aside for open offers of `id`.
    function committed(uint256 id) external view returns (uint256);
    /// @notice Fed into the reserve of `id` from annual plans' reserve shares.
    function fed(uint256 id) external view returns (uint256);
    /// @notice The reserve share of `pollutant` in an annual plan (Σ cap × bps / 10,000 per line).
    function reserveShareOf(uint256 annualPlanId, uint8 pollutant) external view returns (uint256);
    /// @notice The guide price (fen per tonne) of `id` for `region` in the vintage's current annual
    /// plan, and that plan's id (reverts {ReserveNoGuidePrice} when there is none).
    function guidePrice(uint256 id, uint32 region) external view returns (uint256 price, uint256 annualPlanId);
    /// @notice An offer.
    function getOffer(uint256 offerId) external view returns (Offer memory);
    /// @notice Number of offers made (the last id).
    function offerCount() external view returns (uint256);
    /// @notice Number of closures swept (the last closure id).
    function closureCount() external view returns (uint256);
    /// @notice The current year in China (UTC+8) at `timestamp`, the year a closure's vintages start from.
    function yearOf(uint256 timestamp) external pure returns (uint16);
}
