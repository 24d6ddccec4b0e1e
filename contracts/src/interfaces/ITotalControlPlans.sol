// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ITotalControlPlans
/// @notice Total-amount control plans: five-year plans (a period of five years, a base year, per
/// pollutant the base-year emissions, the yearly path of caps and the reduction target against the
/// base year, a regional breakdown by GB/T 2260 region code) and the annual plans that implement
/// them (per pollutant and region: cap, reserve share, guide price; per-enterprise reduction
/// targets). The regulator drafts; registry governance (k-of-n proposals) adopts; an adopted plan
/// is immutable (there is no edit function) and is replaced only by adopting a new version that
/// names it in `supersedes`. The regulator executes the vintage cap of a pollutant from the
/// current annual plan of that year: `AllowanceToken.setCap(id, total)`, and while this contract
/// is wired into the AllowanceToken no other cap change is accepted.
///
/// Rules (their Python reference is `domain.plans`, tested equal):
/// - Five-year plan: `endYear = startYear + 4`, `baseYear < startYear`; pollutants 1..255, unique,
///   at least one; per pollutant `targetBps ≤ 10,000` and the path's last year
///   `path[4] × 10,000 ≤ base × (10,000 − targetBps)`; regions: at least one, 6-digit codes
///   (110000..999999), unique, each share > 0, shares summing to exactly 10,000 bps.
/// - Annual plan: its five-year plan adopted and current, covering the year; every (pollutant,
///   region) line names a pollutant and a region of the five-year plan, once; `reserveShareBps ≤
///   10,000`; per pollutant the total of its lines ≤ the five-year path of that year; enterprise
///   targets name a pollutant of the plan and `targetBps ≤ 10,000`.
/// - A plan that supersedes another is of the same kind, period (five-year: same start year;
///   annual: same year) and the superseded plan is adopted and current when the new one is drafted
///   and when it is adopted. At most one current plan per five-year start year and per annual year.
interface ITotalControlPlans {
    /// @notice Kind of a plan.
    enum PlanKind {
        None,
        FiveYear,
        Annual
    }

    /// @notice Lifecycle of a plan: Draft → Adopted → Superseded.
    enum PlanStatus {
        None,
        Draft,
        Adopted,
        Superseded
    }

    /// @notice A pollutant's line of a five-year plan.
    struct PollutantPath {
        uint8 pollutant;
        uint256 baseEmissions;
        uint16 targetBps;
        uint256[5] path;
    }

    /// @notice A region's share (bps) of each year's path.
    struct RegionShare {
        uint32 region;
        uint16 shareBps;
    }

    /// @notice A five-year plan as drafted.
    struct FiveYearPlanInput {
        uint256 supersedes;
        uint16 startYear;
        uint16 baseYear;
        PollutantPath[] pollutants;
        RegionShare[] regions;
        bytes32 documentHash;
        string uri;
    }

    /// @notice An annual plan's (pollutant, region) line.
    struct RegionCap {
        uint8 pollutant;
        uint32 region;
        uint256 cap;
        uint16 reserveShareBps;
        uint256 guidePrice;
    }

    /// @notice An enterprise's reduction target in an annual plan.
    struct EnterpriseTarget {
        address enterprise;
        uint8 pollutant;
        uint16 targetBps;
    }

    /// @notice An annual plan as drafted.
    struct AnnualPlanInput {
        uint256 supersedes;
        uint256 fiveYearPlanId;
        uint16 year;
        RegionCap[] caps;
        EnterpriseTarget[] targets;
        bytes32 documentHash;
        string uri;
    }

    /// @notice What every plan has.
    struct PlanHeader {
        PlanKind kind;
        PlanStatus status;
        uint32 version;
        uint256 supersedes;
        uint256 supersededBy;
        uint256 fiveYearPlanId;
        uint16 startYear;
        uint16 endYear;
        uint16 baseYear;
        bytes32 documentHash;
        string uri;
        address drafter;
    }

    /// @notice No plan has this id (or it is of the other kind than the call needs).
    error PlanNotFound(uint256 planId);
    /// @notice The plan was adopted already (or superseded since): adoption happens once.
    error PlanAlreadyAdopted(uint256 planId);
    /// @notice The period is not five years after a base year (`endYear = startYear + 4`, base before start).
    error PlanInvalidPeriod(uint16 startYear, uint16 baseYear);
    /// @notice A pollutant is 0, repeated, missing from the five-year plan, or there is none.
    error PlanInvalidPollutant(uint8 pollutant);
    /// @notice A reduction target or reserve share is above 10,000 bps.
    error PlanInvalidBps(uint8 pollutant, uint16 bps);
    /// @notice The path's last year is above base × (1 − target).
    error PlanTargetMissed(uint8 pollutant, uint256 lastYearCap, uint256 allowed);
    /// @notice A region code is not a 6-digit GB/T 2260 code, is repeated, has a zero share, or is
    /// not in the five-year plan.
    error PlanInvalidRegion(uint32 region);
    /// @notice The regional shares do not sum to 10,000 bps.
    error PlanRegionSharesInvalid(uint256 totalBps);
    /// @notice An annual plan's total of a pollutant is above the five-year path of its year.
    error PlanAboveFiveYearPath(uint256 planId, uint8 pollutant, uint16 year, uint256 total, uint256 path);
    /// @notice The five-year plan an annual plan implements is not adopted and current.
    error PlanFiveYearNotAdopted(uint256 fiveYearPlanId);
    /// @notice The five-year plan does not cover the year.
    error PlanYearNotCovered(uint256 fiveYearPlanId, uint16 year);
    /// @notice The plan named in `supersedes` is not a current adopted plan of the same kind and period.
    error PlanSupersedesInvalid(uint256 planId, uint256 supersedes);
    /// @notice The period already has a current plan, which the new one does not supersede.
    error PlanPeriodTaken(uint16 year, uint256 currentPlanId);
    /// @notice The annual plan is not the current (adopted, not superseded) plan of its year.
    error PlanNotCurrent(uint256 planId);
    /// @notice The annual plan sets no cap for the pollutant.
    error PlanPollutantNotInPlan(uint256 planId, uint8 pollutant);

    /// @notice A plan was drafted.
    event PlanDrafted(
        uint256 indexed planId, PlanKind kind, uint32 version, uint256 supersedes, uint16 startYear, uint16 endYear
    );
    /// @notice A drafted five-year plan's content, as given (for indexers: the read model's paths).
    event FiveYearPlanContent(uint256 indexed planId, FiveYearPlanInput plan);
    /// @notice A drafted annual plan's content, as given (for indexers: the read model's caps).
    event AnnualPlanContent(uint256 indexed planId, AnnualPlanInput plan);
    /// @notice A plan was adopted by governance.
    event PlanAdopted(uint256 indexed planId, PlanKind kind, uint16 startYear);
    /// @notice An adopted plan was superseded by the adoption of its new version.
    event PlanSuperseded(uint256 indexed planId, uint256 indexed byPlanId);
    /// @notice A vintage cap was set on the AllowanceToken from an annual plan.
    event CapExecuted(uint256 indexed planId, uint256 indexed tokenId, uint256 cap);

    /// @notice Draft a five-year plan.
    /// @return planId The new plan's id (ids count from 1, shared by both kinds).
    /// Requirements: caller has REGULATOR_ROLE and is active; the five-year rules above
    /// ({PlanInvalidPeriod}, {PlanInvalidPollutant}, {PlanInvalidBps}, {PlanTargetMissed},
    /// {PlanInvalidRegion}, {PlanRegionSharesInvalid}, {PlanSupersedesInvalid}).
    /// Emits: {PlanDrafted}, {FiveYearPlanContent}.
    function draftFiveYearPlan(FiveYearPlanInput calldata plan) external returns (uint256 planId);

    /// @notice Draft an annual plan implementing an adopted five-year plan.
    /// @return planId The new plan's id.
    /// Requirements: caller has REGULATOR_ROLE and is active; the annual rules above
    /// ({PlanNotFound}, {PlanFiveYearNotAdopted}, {PlanYearNotCovered}, {PlanInvalidPollutant},
    /// {PlanInvalidRegion}, {PlanInvalidBps}, {PlanAboveFiveYearPath}, {PlanSupersedesInvalid}).
    /// Emits: {PlanDrafted}, {AnnualPlanContent}.
    function draftAnnualPlan(AnnualPlanInput calldata plan) external returns (uint256 planId);

    /// @notice Adopt a drafted plan; the plan it supersedes, if any, becomes superseded.
    /// Requirements: called by the registry (governance, k-of-n); the plan exists
    /// ({PlanNotFound}) and is a draft ({PlanAlreadyAdopted}); the plan it supersedes is still
    /// current ({PlanSupersedesInvalid}); else its period has no current plan ({PlanPeriodTaken});
    /// an annual plan's five-year plan is still current ({PlanFiveYearNotAdopted}).
    /// Emits: {PlanAdopted}, {PlanSuperseded} when it supersedes a plan.
    function adopt(uint256 planId) external;

    /// @notice Set the vintage cap of `pollutant` for the annual plan's year to the plan's total of
    /// that pollutant, through `AllowanceToken.setCap`.
    /// Requirements: caller has REGULATOR_ROLE and is active; the plan is the current annual plan
    /// of its year ({PlanNotFound}, {PlanNotCurrent}); it caps the pollutant
    /// ({PlanPollutantNotInPlan}); the token accepts the cap (this contract is its plans contract;
    /// `CapBelowIssued`).
    /// Emits: {CapExecuted} (and the token's `CapSet`).
    function executeCap(uint256 annualPlanId, uint8 pollutant) external returns (uint256 cap);

    /// @notice The AllowanceToken whose caps this contract sets.
    function allowanceToken() external view returns (address);
    /// @notice Number of plans drafted (the last id).
    function planCount() external view returns (uint256);
    /// @notice A plan's header.
    function plan(uint256 planId) external view returns (PlanHeader memory);
    /// @notice A five-year plan's pollutant lines.
    function pollutantPaths(uint256 planId) external view returns (PollutantPath[] memory);
    /// @notice A five-year plan's regional breakdown.
    function regionShares(uint256 planId) external view returns (RegionShare[] memory);
    /// @notice A five-year plan's path of `pollutant` in `year` (0 when not in the plan or period).
    function pathOf(uint256 planId, uint8 pollutant, uint16 year) external view returns (uint256);
    /// @notice An annual plan's (pollutant, region) lines.
    function regionCaps(uint256 planId) external view returns (RegionCap[] memory);
    /// @notice An annual plan's enterprise targets.
    function enterpriseTargets(uint256 planId) external view returns (EnterpriseTarget[] memory);
    /// @notice An annual plan's total cap of `pollutant` (sum of its region lines).
    function totalOf(uint256 planId, uint8 pollutant) external view returns (uint256);
    /// @notice The current (adopted, not superseded) annual plan of `year`, 0 when none.
    function currentAnnualPlan(uint16 year) external view returns (uint256);
    /// @notice The current five-year plan starting in `startYear`, 0 when none.
    function currentFiveYearPlan(uint16 startYear) external view returns (uint256);
    /// @notice The annual plan whose execution set the cap of `tokenId` last, 0 when none.
    function capPlanOf(uint256 tokenId) external view returns (uint256);
}
