// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDischargePermits
/// @notice Discharge permits (排污许可证, "one enterprise, one permit"): an enterprise applies for
/// itself, the regulator reviews and issues, changes, renews, revokes or cancels, and records the
/// annual review (年审). Permits gate what follows: AllowanceToken allocation and transfers of a
/// gated pollutant (the sender's permit always; the receiver's on direct transfers, not when the
/// market moves allowances, so its escrow returns and deliveries to a lapsed enterprise go through),
/// and the registry's device binding (a device only on an outlet of a valid permit).
///
/// State machine of an application:
///
///     (none) --applyForPermit--> Submitted --issue--> Issued
///                                  |   ^  \--refuse--> Refused
///                    reviewReturn  v   |  resubmit
///                                 Returned --refuse--> Refused
///
/// State machine of a permit (Expired is not stored: a Valid permit past `validUntil` reads as
/// Expired and becomes Valid again when renewed):
///
///     issue --> Valid --change (new revision)--> Valid
///                 |  \--renew--> Valid (new validUntil; also from Expired)
///                 |--revoke--> Revoked   (final)
///                 \--cancel--> Cancelled (final; also from Expired; regulator or governance, e.g. a closure)
///
/// Amounts are tonnes a year; concentration limits are mg/m3 (air) or mg/L (water) × 1000.
/// CO2 (code 1) is never gated: carbon is under the carbon market, not discharge permits.
interface IDischargePermits {
    /// @notice State of an application.
    enum ApplicationState {
        None,
        Submitted,
        Returned,
        Refused,
        Issued
    }

    /// @notice Stored state of a permit ({permitStatus} also reports Expired).
    enum PermitState {
        None,
        Valid,
        Revoked,
        Cancelled,
        Expired
    }

    /// @notice One discharge outlet: its code (e.g. "DA001") and its monitoring device's HJ 212 MN code.
    struct Outlet {
        string code;
        string mn;
    }

    /// @notice One pollutant of an application or permit: annual amount (t) and concentration limit (×1000).
    struct Term {
        uint8 pollutant;
        uint256 annualAmount;
        uint32 concentrationLimit;
    }

    /// @notice An application as stored.
    struct Application {
        address enterprise;
        ApplicationState state;
        uint64 submittedAt;
        bytes32 documentHash;
        uint256 permitId;
        string reason;
        Outlet[] outlets;
        Term[] terms;
    }

    /// @notice A permit as stored (its current revision).
    struct Permit {
        address enterprise;
        PermitState state;
        uint64 validFrom;
        uint64 validUntil;
        uint32 revision;
        uint256 applicationId;
        string number;
        string reason;
        Outlet[] outlets;
        Term[] terms;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The application does not exist.
    error PermitApplicationUnknown(uint256 applicationId);
    /// @notice The application is not in a state that allows the action.
    error PermitApplicationWrongState(uint256 applicationId, ApplicationState state);
    /// @notice Only the applying enterprise may resubmit its application.
    error PermitNotApplicant(uint256 applicationId, address caller);
    /// @notice The permit does not exist.
    error PermitUnknown(uint256 permitId);
    /// @notice The permit is not in a state that allows the action.
    error PermitWrongState(uint256 permitId, PermitState state);
    /// @notice An application or change lists no outlet.
    error PermitNoOutlets();
    /// @notice An outlet's code is empty or longer than 32 bytes.
    error PermitInvalidOutletCode(string code);
    /// @notice An outlet's MN code is not a valid HJ 212 MN (1..24 letters or digits).
    error PermitInvalidMn(string mn);
    /// @notice The MN code is listed twice, or on another enterprise's permit.
    error PermitOutletTaken(string mn, uint256 permitId);
    /// @notice An application or change lists no pollutant.
    error PermitNoTerms();
    /// @notice Term `index` names pollutant 0, CO2 (not gated), a pollutant twice, or a zero amount.
    error PermitInvalidTerm(uint256 index, uint8 pollutant, uint256 annualAmount);
    /// @notice `issue` got `got` granted amounts for an application of `expected` pollutants.
    error PermitGrantLengthMismatch(uint256 expected, uint256 got);
    /// @notice A granted amount is zero or exceeds the requested one.
    error PermitGrantAboveRequest(uint8 pollutant, uint256 requested, uint256 granted);
    /// @notice Validity not in the future of its start, or its start too far from now.
    error PermitInvalidValidity(uint64 validFrom, uint64 validUntil);
    /// @notice The permit number is empty or longer than 64 bytes, or already used.
    error PermitInvalidNumber(string number);
    /// @notice The enterprise already holds a permit that is not revoked or cancelled.
    error PermitAlreadyHeld(address enterprise, uint256 permitId);
    /// @notice The annual review of that year is already recorded, or the year is outside 2000..2200.
    error PermitReviewYear(uint256 permitId, uint16 year);
    /// @notice `cancel` from neither an active REGULATOR nor governance.
    error PermitNotRegulatorOrGovernance(address caller);

    // ---------------------------------------------------------------- events

    /// @notice An enterprise applied (or resubmitted: `resubmission` true).
    event PermitApplied(
        uint256 indexed applicationId, address indexed enterprise, bytes32 documentHash, bool resubmission
    );
    /// @notice What an application (or its resubmission) asks for, for indexers.
    event ApplicationContent(uint256 indexed applicationId, Outlet[] outlets, Term[] terms);
    /// @notice The regulator returned an application for more information.
    event ApplicationReturned(uint256 indexed applicationId, string reason);
    /// @notice The regulator refused an application.
    event ApplicationRefused(uint256 indexed applicationId, string reason);
    /// @notice A permit was issued from an application.
    event PermitIssued(
        uint256 indexed permitId,
        uint256 indexed applicationId,
        address indexed enterprise,
        string number,
        uint64 validFrom,
        uint64 validUntil
    );
    /// @notice One pollutant's terms of a permit revision.
    event PermitTermSet(
        uint256 indexed permitId, uint32 revision, uint8 pollutant, uint256 annualAmount, uint32 concentrationLimit
    );
    /// @notice One outlet of a permit revision.
    event PermitOutletSet(uint256 indexed permitId, uint32 revision, string code, string mn);
    /// @notice A permit changed: revision `revision` replaces its outlets and terms.
    event PermitChanged(uint256 indexed permitId, uint32 revision);
    /// @notice A permit's validity was extended.
    event PermitRenewed(uint256 indexed permitId, uint64 oldValidUntil, uint64 newValidUntil);
    /// @notice A permit was revoked.
    event PermitRevoked(uint256 indexed permitId, string reason);
    /// @notice A permit was cancelled (by the regulator or governance).
    event PermitCancelled(uint256 indexed permitId, address indexed by, string reason);
    /// @notice The annual review of `year` was recorded.
    event AnnualReviewRecorded(uint256 indexed permitId, uint16 indexed year, bool passed, string note);

    // ---------------------------------------------------------------- enterprise

    /// @notice Apply for a permit for the caller.
    /// Requirements: caller has ENTERPRISE_ROLE and is active (`UnauthorizedRole`, `CallerNotActive`);
    /// at least one outlet (`PermitNoOutlets`), each with a code of 1..32 bytes (`PermitInvalidOutletCode`)
    /// and a valid MN (`PermitInvalidMn`) not listed twice nor on another enterprise's permit
    /// (`PermitOutletTaken`); at least one term (`PermitNoTerms`), each a gated pollutant, listed
    /// once, with a non-zero amount (`PermitInvalidTerm`).
    /// Emits: {PermitApplied}, {ApplicationContent}.
    /// @return applicationId The new application's id (from 1).
    function applyForPermit(Outlet[] calldata outlets, Term[] calldata terms, bytes32 documentHash)
        external
        returns (uint256 applicationId);

    /// @notice Resubmit a returned application with new outlets, terms and documents.
    /// Requirements: as {applyForPermit}; the caller is the applicant (`PermitNotApplicant`); the application
    /// is Returned (`PermitApplicationWrongState`).
    /// Emits: {PermitApplied} with `resubmission` true, {ApplicationContent}.
    function resubmit(uint256 applicationId, Outlet[] calldata outlets, Term[] calldata terms, bytes32 documentHash)
        external;

    // ---------------------------------------------------------------- regulator

    /// @notice Return a submitted application for more information.
    /// Requirements: caller has REGULATOR_ROLE and is active; application Submitted
    /// (`PermitApplicationUnknown`, `PermitApplicationWrongState`).
    /// Emits: {ApplicationReturned}.
    function reviewReturn(uint256 applicationId, string calldata reason) external;

    /// @notice Refuse a submitted or returned application.
    /// Requirements: caller has REGULATOR_ROLE and is active; application Submitted or Returned.
    /// Emits: {ApplicationRefused}.
    function refuse(uint256 applicationId, string calldata reason) external;

    /// @notice Issue a permit from a submitted application.
    /// Requirements: caller has REGULATOR_ROLE and is active; application Submitted; the applicant
    /// is an active enterprise holding no permit that is not revoked or cancelled (`PermitAlreadyHeld`);
    /// `number` 1..64 bytes and unused (`PermitInvalidNumber`); `validFrom` 0 (now) or within a year
    /// of now, `validUntil` 0 (five years of 365 days) or after `validFrom` (`PermitInvalidValidity`);
    /// one granted amount per requested term (`PermitGrantLengthMismatch`), each 1..requested
    /// (`PermitGrantAboveRequest`); its outlets not on another permit (`PermitOutletTaken`).
    /// Emits: {PermitIssued}, {PermitOutletSet} per outlet, {PermitTermSet} per pollutant.
    /// @return permitId The new permit's id (from 1).
    function issue(
        uint256 applicationId,
        string calldata number,
        uint64 validFrom,
        uint64 validUntil,
        uint256[] calldata granted
    ) external returns (uint256 permitId);

    /// @notice Change a valid permit's outlets and terms: a new revision.
    /// Requirements: caller has REGULATOR_ROLE and is active; permit Valid and not expired
    /// (`PermitUnknown`, `PermitWrongState`); outlets and terms as in {applyForPermit}.
    /// Emits: {PermitChanged}, {PermitOutletSet} per outlet, {PermitTermSet} per pollutant.
    function change(uint256 permitId, Outlet[] calldata outlets, Term[] calldata terms) external;

    /// @notice Extend a valid or expired permit.
    /// Requirements: caller has REGULATOR_ROLE and is active; permit Valid or Expired; the new end
    /// after the current one and after now (`PermitInvalidValidity`).
    /// Emits: {PermitRenewed}.
    function renew(uint256 permitId, uint64 newValidUntil) external;

    /// @notice Revoke a valid permit (final): allocation and trading of its pollutants stop.
    /// Requirements: caller has REGULATOR_ROLE and is active; permit Valid or Expired.
    /// Emits: {PermitRevoked}.
    function revoke(uint256 permitId, string calldata reason) external;

    /// @notice Cancel a permit (final), e.g. at a closure.
    /// Requirements: caller an active REGULATOR or governance (the registry)
    /// (`PermitNotRegulatorOrGovernance`); permit Valid or Expired.
    /// Emits: {PermitCancelled}.
    function cancel(uint256 permitId, string calldata reason) external;

    /// @notice Record the annual review (年审) of `year`.
    /// Requirements: caller has REGULATOR_ROLE and is active; permit Valid (not expired); year
    /// 2000..2200 and not yet reviewed (`PermitReviewYear`).
    /// Emits: {AnnualReviewRecorded}.
    function annualReview(uint256 permitId, uint16 year, bool passed, string calldata note) external;

    // ---------------------------------------------------------------- views

    /// @notice The enterprise's current (latest issued) permit id, 0 if none.
    function permitOf(address enterprise) external view returns (uint256);
    /// @notice Whether the enterprise's permit is Valid at `timestamp` and covers `pollutant`.
    function isValid(address enterprise, uint8 pollutant, uint256 timestamp) external view returns (bool);
    /// @notice Whether `account` may trade allowances of `pollutant`: true for a pollutant not
    /// gated ({gates}) and for non-enterprises, else {isValid} now. The AllowanceToken asks it on
    /// transfers, the Market on every buy (an order, a take of a sell, a block acceptance).
    function mayTrade(address account, uint8 pollutant) external view returns (bool);
    /// @notice The permitted annual amount of `pollutant` in `year`: the permit's amount when it is
    /// valid now and its validity overlaps that calendar year (UTC), else 0.
    function permittedAmount(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256);
    /// @notice The enterprise whose permit, valid now, lists the outlet device `mn`; zero if none.
    function outletEnterprise(string calldata mn) external view returns (address);
    /// @notice Whether `pollutant` is gated by permits (every pollutant but CO2 and 0).
    function gates(uint8 pollutant) external pure returns (bool);
    /// @notice The permit's state, Expired when Valid and past its end.
    function permitStatus(uint256 permitId) external view returns (PermitState);
    /// @notice A permit as stored.
    function getPermit(uint256 permitId) external view returns (Permit memory);
    /// @notice An application as stored.
    function getApplication(uint256 applicationId) external view returns (Application memory);
    /// @notice Annual review of `year`: (recorded, passed).
    function annualReviewOf(uint256 permitId, uint16 year) external view returns (bool recorded, bool passed);
    /// @notice Number of applications.
    function applicationCount() external view returns (uint256);
    /// @notice Number of permits.
    function permitCount() external view returns (uint256);
}
