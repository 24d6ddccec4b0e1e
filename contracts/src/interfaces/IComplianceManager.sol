// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ITreasuryHolder} from "./ITreasuryHolder.sol";

/// @title IComplianceManager
/// @notice The annual compliance cycle of covered enterprises: the regulator issues a notice per
/// obligation, keyed by (enterprise, pollutant, compliance year) → the enterprise acknowledges it → the enterprise applies,
/// escrowing the allowances and offsets it surrenders against an auditor's Active attestation of
/// its verified emissions → the regulator approves (the escrow is retired through
/// `AllowanceToken.retire`) or rejects with a reason (the escrow is credited back to the
/// enterprise, which withdraws it when it likes, {withdrawReturned}; it may apply again until the
/// submission deadline) → after the deadline anyone finalizes the obligation: shortfall, fine and
/// make-good units are recorded.
///
/// An enterprise may owe several pollutants in one year (a wastewater plant COD and NH3-N, a power
/// plant SO2, NOx and CO2): each (enterprise, pollutant, year) is its own obligation, with its own
/// notice, acknowledgement, applications, outcome and fine, settled exactly as it would be alone.
/// Tokens of one pollutant never cover another ({ComplianceWrongToken}).
///
/// Nothing an enterprise does or is can block the regulator: a rejection moves no token (the
/// escrow is returned by pull, not push), so a suspended enterprise or a contract account that
/// refuses ERC-1155 tokens cannot make {reject}, and so {finalize}, revert.
///
/// Settlement rule (what may be surrendered):
/// 1. The verified emissions V are those of the cited attestation (EmissionsLedger), which must
///    be Active and for the notice's enterprise, pollutant and year.
/// 2. Offsets (Kind.Offset ids of the notice's pollutant) count first, up to the offset cap
///    `min(floor(V × offsetCapBps / 10,000), offsetsEligible)` minus offsets already retired for
///    the obligation; more is refused ({ComplianceOffsetsOverCap}).
/// 3. Allowances (Kind.Allowance ids of the notice's pollutant, vintage ≤ the year: banking yes,
///    borrowing no) cover the rest.
/// 4. Nothing beyond V is surrendered: an application whose offsets + allowances exceed what is
///    still uncovered (V − already surrendered) is refused as a whole ({ComplianceSurplus});
///    nothing is ever taken and returned later. An application may cover less than V: once
///    approved, the obligation stays open and the enterprise may top it up before the deadline;
///    whatever is still uncovered at finalization is the shortfall.
///
/// Outcomes (one per obligation, counted per year in {yearStats}):
/// - `Covered` (A): surrendered ≥ V. Recorded when an approval covers V (status Fulfilled), or at
///   finalization when V is 0.
/// - `Shortfall` (B): V known (an approved application's, or else that of the attestation of
///   record at the submission deadline), surrendered < V. Status NonCompliant; fine = shortfall ×
///   `finePerTonne` (settlement cash, owed, {payPenalty}); make-good = floor(shortfall ×
///   `makeGoodBps` / 10,000) units owed from the next allocation of that pollutant's allowances of
///   any later vintage (see below).
/// - `NoVerifiedEmissions` (C): no approved application and no attestation of record at the
///   deadline: the shortfall is unknown (recorded as 0). Status NonCompliant; fine =
///   `noReportFine`, no make-good.
///
/// The attestation of record ({IEmissionsLedger-attestationOfRecord} with the submission deadline
/// as cut-off) is the latest attestation that was Active at the deadline — submitted by it and
/// not superseded or revoked by it — unless the regulator rejected it. The outcome is thus fixed
/// by what the auditors had said when the deadline passed: an attestation made, superseded or
/// revoked after the deadline changes nothing (an auditor cannot turn a shortfall B into a flat
/// fine C, nor change V, once the enterprise can no longer act), and only the regulator's
/// rejection of a wrong attestation can still remove it. This rule was chosen over freezing the
/// ledger because the ledger keeps working for other purposes (later corrections stay visible),
/// and the outcome can be recomputed by anyone from the ledger's stored times.
///
/// Make-good: units owed from a shortfall of compliance year N are withheld from the first
/// allocations of the pollutant's allowances of any vintage later than N
/// ({deductMakeGood}, oldest debt first), so a debt recorded after vintage N+1 was already
/// allocated (the usual calendar: N+1 is allocated before N's deadline) rolls forward to the next
/// allocation instead of being lost. The AllowanceToken retires withheld units against the
/// allocation's vintage − 1.
///
/// Fines are paid to the treasury ({ITreasuryHolder}).
interface IComplianceManager is ITreasuryHolder {
    // ---------------------------------------------------------------- types

    /// @notice Life cycle of an obligation (one notice).
    enum ObligationStatus {
        None,
        Open,
        Fulfilled,
        NonCompliant
    }

    /// @notice Outcome code of a finalized obligation: A, B, C (see the contract notice).
    enum Outcome {
        None,
        Covered,
        Shortfall,
        NoVerifiedEmissions
    }

    /// @notice Life cycle of an application.
    enum ApplicationStatus {
        None,
        UnderReview,
        Approved,
        Rejected
    }

    /// @notice Rules of a compliance year, fixed once its first notice is issued.
    /// @param offsetCapBps Offsets may cover at most this share of the verified emissions (bps).
    /// @param makeGoodBps Make-good units per tonne of shortfall, in bps (10,000 = one for one).
    /// @param finePerTonne Fine per tonne of shortfall, settlement cash minor units (fen).
    /// @param noReportFine Flat fine when no verified emissions exist by the deadline (outcome C).
    /// @param configured Whether the year has been configured.
    struct YearConfig {
        uint16 offsetCapBps;
        uint32 makeGoodBps;
        uint128 finePerTonne;
        uint128 noReportFine;
        bool configured;
    }

    /// @notice Counters of a compliance year (the compliance rate is `covered / notices`).
    /// @param notices Notices issued.
    /// @param acknowledged Notices acknowledged.
    /// @param lateAcknowledgements Of those, acknowledged after the acknowledgement deadline.
    /// @param applications Applications submitted.
    /// @param fulfilled Obligations fulfilled by an approved application.
    /// @param finalized Obligations with an outcome.
    /// @param covered Outcome A.
    /// @param shortfall Outcome B.
    /// @param noVerifiedEmissions Outcome C.
    struct YearStats {
        uint32 notices;
        uint32 acknowledged;
        uint32 lateAcknowledgements;
        uint32 applications;
        uint32 fulfilled;
        uint32 finalized;
        uint32 covered;
        uint32 shortfall;
        uint32 noVerifiedEmissions;
    }

    /// @notice A batch of notices of one year and one pollutant, under the same rules.
    /// @param year The compliance year.
    /// @param pollutant AllowanceToken pollutant code.
    /// @param rulesHash Hash of the rules document.
    /// @param rulesUri Where the rules document is published.
    /// @param submissionDeadline Last second (inclusive) an application can be submitted.
    /// @param ackDeadline Acknowledgements after it are recorded as late.
    /// @param enterprises Active registered enterprises, one notice each.
    /// @param allocated Allowances allocated to each (informative), same length.
    struct NoticeBatch {
        uint16 year;
        uint8 pollutant;
        bytes32 rulesHash;
        string rulesUri;
        uint64 submissionDeadline;
        uint64 ackDeadline;
        address[] enterprises;
        uint256[] allocated;
    }

    /// @notice An obligation: the notice and where its compliance stands.
    /// @param pollutant AllowanceToken pollutant code.
    /// @param status Life cycle.
    /// @param outcome Outcome code once finalized (or covered by an approval).
    /// @param finePaid Whether the fine has been paid.
    /// @param issuedAt When the notice was issued.
    /// @param acknowledgedAt When it was acknowledged (0: not yet).
    /// @param submissionDeadline Last second an application can be submitted.
    /// @param ackDeadline Acknowledgement deadline.
    /// @param finalizedAt When the outcome was recorded (0: not yet).
    /// @param rulesHash Hash of the rules document ({rulesUri}).
    /// @param allocated Allowances allocated for the year (informative).
    /// @param pending The application under review (0: none).
    /// @param verified Verified emissions of the last approved application (or, after
    /// finalization without approval, of the attestation used).
    /// @param surrendered Offsets + allowances retired for the obligation.
    /// @param offsetsSurrendered Of which offsets.
    /// @param shortfall Verified − surrendered at finalization (0 for outcomes A and C).
    /// @param fine Settlement cash owed.
    /// @param makeGood Units to deduct from next year's allocation.
    struct Notice {
        uint8 pollutant;
        ObligationStatus status;
        Outcome outcome;
        bool finePaid;
        uint64 issuedAt;
        uint64 acknowledgedAt;
        uint64 submissionDeadline;
        uint64 ackDeadline;
        uint64 finalizedAt;
        bytes32 rulesHash;
        uint256 allocated;
        uint256 pending;
        uint256 verified;
        uint256 surrendered;
        uint256 offsetsSurrendered;
        uint256 shortfall;
        uint256 fine;
        uint256 makeGood;
    }

    /// @notice What an enterprise surrenders in one application.
    /// @param attestationId The EmissionsLedger attestation of its verified emissions.
    /// @param allowanceIds Allowance token ids (notice's pollutant, vintage ≤ year).
    /// @param allowanceAmounts Positive amounts, same length.
    /// @param offsetIds Offset token ids (notice's pollutant, vintage ≤ year).
    /// @param offsetAmounts Positive amounts, same length.
    struct ApplicationInput {
        bytes32 attestationId;
        uint256[] allowanceIds;
        uint256[] allowanceAmounts;
        uint256[] offsetIds;
        uint256[] offsetAmounts;
    }

    /// @notice An application as stored.
    /// @param enterprise The applicant.
    /// @param pollutant The obligation's pollutant (AllowanceToken pollutant code).
    /// @param year The compliance year.
    /// @param status Life cycle.
    /// @param submittedAt Submission time.
    /// @param reviewedAt Approval or rejection time (0: under review).
    /// @param reasonCode Rejection reason code (0 unless rejected).
    /// @param attestationId The cited attestation.
    /// @param verified Its verified emissions.
    /// @param offsets Offsets escrowed.
    /// @param allowances Allowances escrowed.
    /// @param ids Token ids escrowed (allowances first, then offsets).
    /// @param amounts Amounts escrowed, same order.
    struct Application {
        address enterprise;
        uint8 pollutant;
        uint16 year;
        ApplicationStatus status;
        uint64 submittedAt;
        uint64 reviewedAt;
        uint16 reasonCode;
        bytes32 attestationId;
        uint256 verified;
        uint256 offsets;
        uint256 allowances;
        uint256[] ids;
        uint256[] amounts;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The year's rules are fixed: notices of it have been issued.
    error ComplianceYearConfigLocked(uint16 year);
    /// @notice The year has no rules yet ({configureYear} first).
    error ComplianceYearNotConfigured(uint16 year);
    /// @notice The offset cap is above 10,000 bps.
    error ComplianceInvalidConfig(uint16 offsetCapBps);
    /// @notice Enterprise and allocation lists differ in length, are empty, or ids and amounts differ.
    error ComplianceLengthMismatch(uint256 left, uint256 right);
    /// @notice The deadlines are not `now < submissionDeadline` and `ackDeadline <= submissionDeadline`.
    error ComplianceInvalidDeadlines(uint64 ackDeadline, uint64 submissionDeadline, uint64 now);
    /// @notice The pollutant code is not registered in the AllowanceToken.
    error ComplianceUnknownPollutant(uint8 pollutant);
    /// @notice The account is not an active registered enterprise.
    error ComplianceNotEnterprise(address account);
    /// @notice A notice of this enterprise, pollutant and year exists already.
    error ComplianceNoticeExists(address enterprise, uint8 pollutant, uint16 year);
    /// @notice No notice of this enterprise, pollutant and year.
    error ComplianceNoNotice(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The notice was acknowledged already.
    error ComplianceAlreadyAcknowledged(address enterprise, uint8 pollutant, uint16 year, uint64 acknowledgedAt);
    /// @notice The notice must be acknowledged before applying.
    error ComplianceNotAcknowledged(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The submission deadline has passed.
    error ComplianceDeadlinePassed(address enterprise, uint8 pollutant, uint16 year, uint64 deadline, uint64 now);
    /// @notice The submission deadline has not passed yet (finalization waits for it).
    error ComplianceDeadlineNotPassed(address enterprise, uint8 pollutant, uint16 year, uint64 deadline, uint64 now);
    /// @notice An application of this obligation is under review.
    error ComplianceApplicationPending(uint256 applicationId);
    /// @notice The obligation is already fulfilled.
    error ComplianceAlreadyFulfilled(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The obligation already has its outcome.
    error ComplianceAlreadyFinalized(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The attestation is not Active (unknown, superseded, revoked or rejected).
    error ComplianceAttestationNotActive(bytes32 id);
    /// @notice The attestation is of another enterprise, pollutant or year.
    error ComplianceAttestationMismatch(bytes32 id, address enterprise, uint8 pollutant, uint16 year);
    /// @notice The application surrenders nothing.
    error ComplianceEmptyApplication();
    /// @notice An amount is zero (at list position `index`).
    error ComplianceZeroAmount(uint256 index);
    /// @notice The token is not of the expected kind (1 allowance, 2 offset) and the notice's pollutant.
    error ComplianceWrongToken(uint256 id, uint8 kind, uint8 pollutant);
    /// @notice The token's vintage is later than the compliance year (no borrowing).
    error ComplianceVintageAfterYear(uint256 id, uint16 vintage, uint16 year);
    /// @notice Offsets over the cap still open for the obligation.
    error ComplianceOffsetsOverCap(uint256 requested, uint256 cap);
    /// @notice The application surrenders more than what is still uncovered.
    error ComplianceSurplus(uint256 offered, uint256 uncovered);
    /// @notice No application under this id.
    error ComplianceUnknownApplication(uint256 applicationId);
    /// @notice The application was approved already.
    error ComplianceAlreadyApproved(uint256 applicationId);
    /// @notice The application is not under review (`status` is its {ApplicationStatus}).
    error ComplianceNotUnderReview(uint256 applicationId, uint8 status);
    /// @notice A rejection needs a reason code > 0.
    error ComplianceInvalidReason(uint16 reasonCode);
    /// @notice No unpaid fine for this obligation.
    error CompliancePenaltyNotDue(address enterprise, uint8 pollutant, uint16 year);
    /// @notice The treasury has not been set.
    error ComplianceTreasuryNotSet();
    /// @notice A constructor argument (`field`: allowances, ledger, cash) is the zero address.
    error ComplianceZeroAddress(string field);
    /// @notice Tokens may only enter the escrow through {submitApplication}.
    error ComplianceUnsolicitedTransfer(address operator);
    /// @notice Only the AllowanceToken may deduct make-good units (from an allocation it mints).
    error ComplianceOnlyAllowanceToken(address caller);
    /// @notice Nothing of token `id` is credited back to the enterprise (or `id` is listed twice).
    error ComplianceNothingReturned(address enterprise, uint256 id);

    // ---------------------------------------------------------------- events

    /// @notice A compliance year's rules were set.
    event YearConfigured(
        uint16 indexed year, uint16 offsetCapBps, uint32 makeGoodBps, uint128 finePerTonne, uint128 noReportFine
    );
    /// @notice A rules document was published with a batch of notices.
    event RulesPublished(bytes32 indexed rulesHash, uint16 indexed year, string uri);
    /// @notice A notice was issued.
    event NoticeIssued(
        address indexed enterprise,
        uint16 indexed year,
        bytes32 indexed rulesHash,
        uint8 pollutant,
        uint256 allocated,
        uint64 submissionDeadline,
        uint64 ackDeadline
    );
    /// @notice A notice was acknowledged; `late` when after its acknowledgement deadline.
    event NoticeAcknowledged(
        address indexed enterprise, uint8 pollutant, uint16 indexed year, uint64 acknowledgedAt, bool late
    );
    /// @notice An application was submitted and its tokens escrowed.
    event ApplicationSubmitted(
        uint256 indexed applicationId,
        address indexed enterprise,
        uint8 pollutant,
        uint16 indexed year,
        uint256 verified,
        uint256 offsets,
        uint256 allowances,
        ApplicationInput input
    );
    /// @notice An application was approved and its tokens retired.
    event ApplicationApproved(
        uint256 indexed applicationId,
        address indexed enterprise,
        uint8 pollutant,
        uint16 indexed year,
        uint256 offsets,
        uint256 allowances,
        uint256 surrendered,
        uint256 uncovered
    );
    /// @notice An application was rejected; its tokens are credited back ({EscrowReturned}).
    event ApplicationRejected(
        uint256 indexed applicationId,
        address indexed enterprise,
        uint8 pollutant,
        uint16 indexed year,
        uint16 reasonCode,
        string reason
    );
    /// @notice A rejected application's escrow was credited back to its enterprise, to withdraw
    /// with {withdrawReturned} (the tokens stay in this contract until then).
    event EscrowReturned(uint256 indexed applicationId, address indexed enterprise, uint256[] ids, uint256[] amounts);
    /// @notice An enterprise withdrew tokens credited back to it.
    event ReturnedWithdrawn(address indexed enterprise, uint256[] ids, uint256[] amounts);
    /// @notice An obligation got its outcome (at an approval covering it, or at finalization).
    event ObligationFinalized(
        address indexed enterprise,
        uint8 pollutant,
        uint16 indexed year,
        Outcome indexed outcome,
        uint256 verified,
        uint256 surrendered,
        uint256 shortfall,
        uint256 fine,
        uint256 makeGood
    );
    /// @notice Make-good units were recorded against `deductFromYear`'s allocation of `pollutant`.
    event MakeGoodRecorded(
        address indexed enterprise, uint8 indexed pollutant, uint16 indexed deductFromYear, uint16 complianceYear, uint256 units
    );
    /// @notice Make-good units owed from the shortfall of `complianceYear` were withheld from an
    /// allocation of `pollutant` allowances of vintage `year` (retired against `year - 1`);
    /// `remaining` units of that debt are still owed.
    event MakeGoodDeducted(
        address indexed enterprise,
        uint8 indexed pollutant,
        uint16 indexed year,
        uint16 complianceYear,
        uint256 units,
        uint256 remaining
    );
    /// @notice A fine was paid to the treasury.
    event PenaltyPaid(
        address indexed enterprise, uint8 pollutant, uint16 indexed year, address treasury, uint256 amount
    );

    // ---------------------------------------------------------------- governance and rules

    /// @notice Set the rules of a compliance year.
    /// @param year The compliance year.
    /// @param config Offset cap, make-good ratio, fines (`configured` is ignored).
    /// Requirements: caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active
    /// (`CallerNotActive`); no notice of the year issued yet
    /// ({ComplianceYearConfigLocked}); `offsetCapBps <= 10,000` ({ComplianceInvalidConfig}).
    /// Emits: {YearConfigured}.
    function configureYear(uint16 year, YearConfig calldata config) external;

    // ---------------------------------------------------------------- cycle

    /// @notice Issue notices to many enterprises in one call.
    /// @param batch Year, pollutant, rules, deadlines, enterprises and allocations.
    /// Requirements:
    /// - caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active (`CallerNotActive`);
    /// - the year is configured ({ComplianceYearNotConfigured}); the pollutant is registered
    ///   ({ComplianceUnknownPollutant});
    /// - `now < submissionDeadline`, `ackDeadline <= submissionDeadline` ({ComplianceInvalidDeadlines});
    /// - non-empty lists of equal length ({ComplianceLengthMismatch});
    /// - each enterprise active ({ComplianceNotEnterprise}) without a notice of the pollutant and
    ///   year ({ComplianceNoticeExists}); a notice of another pollutant of the same year is no bar.
    /// Emits: {RulesPublished}, {NoticeIssued} per enterprise.
    function issueNotices(NoticeBatch calldata batch) external;

    /// @notice Acknowledge one's notice of a pollutant; late acknowledgements are accepted and
    /// marked late.
    /// @param pollutant The obligation's pollutant.
    /// @param year The compliance year.
    /// Requirements: caller has ENTERPRISE_ROLE (`UnauthorizedRole`), is active
    /// (`CallerNotActive`) and has a notice of the pollutant and year ({ComplianceNoNotice}) not
    /// yet acknowledged ({ComplianceAlreadyAcknowledged}).
    /// Emits: {NoticeAcknowledged}.
    function acknowledge(uint8 pollutant, uint16 year) external;

    /// @notice Apply for compliance: escrow the tokens surrendered (the caller must have approved
    /// this contract with `setApprovalForAll`).
    /// @param pollutant The obligation's pollutant.
    /// @param year The compliance year.
    /// @param input The attestation cited and the tokens surrendered.
    /// @return applicationId The new application (ids run 1, 2, 3 ... across all enterprises).
    /// Requirements:
    /// - caller has ENTERPRISE_ROLE (`UnauthorizedRole`), is active (`CallerNotActive`) and has a
    ///   notice of the pollutant and year ({ComplianceNoNotice}), acknowledged
    ///   ({ComplianceNotAcknowledged}), not fulfilled ({ComplianceAlreadyFulfilled});
    /// - `now <= submissionDeadline` ({ComplianceDeadlinePassed});
    /// - no application of the obligation under review ({ComplianceApplicationPending});
    /// - the attestation is Active ({ComplianceAttestationNotActive}) and of the caller, the
    ///   notice's pollutant and the year ({ComplianceAttestationMismatch});
    /// - lists of equal length ({ComplianceLengthMismatch}), not all empty
    ///   ({ComplianceEmptyApplication}), amounts > 0 ({ComplianceZeroAmount}); tokens of the right
    ///   kind and of the obligation's pollutant ({ComplianceWrongToken}: allowances of one
    ///   pollutant never cover another), vintage ≤ year ({ComplianceVintageAfterYear});
    /// - offsets within the cap ({ComplianceOffsetsOverCap}); total within the uncovered
    ///   emissions ({ComplianceSurplus});
    /// - the caller holds the tokens, unfrozen, and approved this contract (token errors).
    /// Emits: {TransferBatch} (into escrow), {ApplicationSubmitted}.
    function submitApplication(uint8 pollutant, uint16 year, ApplicationInput calldata input)
        external
        returns (uint256 applicationId);

    /// @notice Approve an application: retire its escrow against the obligation.
    /// @param applicationId The application.
    /// Requirements: caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active
    /// (`CallerNotActive`); the application exists ({ComplianceUnknownApplication}), is under review ({ComplianceAlreadyApproved},
    /// {ComplianceNotUnderReview}); its attestation is still Active ({ComplianceAttestationNotActive}).
    /// Emits: {TransferSingle} (burn) and {AllowancesRetired} per token entry,
    /// {ApplicationApproved}; {ObligationFinalized} (Covered) when nothing is left uncovered.
    function approve(uint256 applicationId) external;

    /// @notice Reject an application: its escrow is credited back to the enterprise, which
    /// withdraws it with {withdrawReturned}. No token moves, so nothing about the enterprise (a
    /// suspension, a contract refusing ERC-1155) can make a rejection fail.
    /// @param applicationId The application.
    /// @param reasonCode Machine-readable reason, > 0.
    /// @param reason Human-readable reason.
    /// Requirements: caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active
    /// (`CallerNotActive`); the application exists ({ComplianceUnknownApplication}) and is under
    /// review ({ComplianceNotUnderReview}); `reasonCode > 0` ({ComplianceInvalidReason}).
    /// Emits: {EscrowReturned}, {ApplicationRejected}.
    function reject(uint256 applicationId, uint16 reasonCode, string calldata reason) external;

    /// @notice Withdraw tokens credited back by rejections: the caller's whole credit of each id.
    /// @param ids Token ids to withdraw, each credited to the caller and listed once.
    /// Requirements: each id has a credit for the caller ({ComplianceNothingReturned}); the caller
    /// may hold the tokens (the token's own rules: an active participant that accepts ERC-1155,
    /// e.g. `PartyNotAllowed` while suspended, `ERC1155InvalidReceiver`; the credit stays until
    /// it can).
    /// Emits: {TransferBatch} (out of this contract), {ReturnedWithdrawn}.
    function withdrawReturned(uint256[] calldata ids) external;

    /// @notice Record the outcome of an obligation after its submission deadline.
    /// @param enterprise The enterprise.
    /// @param pollutant The obligation's pollutant.
    /// @param year The compliance year.
    /// Requirements: anyone (the outcome follows from on-chain state); a notice exists
    /// ({ComplianceNoNotice}); `now > submissionDeadline` ({ComplianceDeadlineNotPassed}); no
    /// outcome yet ({ComplianceAlreadyFinalized}); no application under review
    /// ({ComplianceApplicationPending}: the regulator reviews it first).
    /// Emits: {ObligationFinalized}; {MakeGoodRecorded} when make-good units are owed.
    function finalize(address enterprise, uint8 pollutant, uint16 year) external;

    /// @notice Pay one's fine of an obligation in settlement cash to the treasury (approve this
    /// contract first).
    /// @param pollutant The obligation's pollutant.
    /// @param year The compliance year.
    /// Requirements: caller has ENTERPRISE_ROLE (`UnauthorizedRole`) and is active
    /// (`CallerNotActive`); a fine is owed and unpaid
    /// ({CompliancePenaltyNotDue}); the treasury is set ({ComplianceTreasuryNotSet}).
    /// Emits: {Transfer} (cash), {PenaltyPaid}.
    function payPenalty(uint8 pollutant, uint16 year) external;

    /// @notice Withhold make-good units owed from an allocation being minted: for each enterprise,
    /// `min(owed, offered)` units of its allocation of `pollutant` allowances of vintage `year`
    /// are not minted but retired against `year - 1`, and its debts shrink by as much. `owed` is
    /// what it still owes from shortfalls of compliance years before `year` (debts recorded
    /// against vintage `year` or earlier, {makeGoodDue}), oldest first.
    /// @param pollutant The allocation's pollutant.
    /// @param year The allocation's vintage.
    /// @param enterprises The allocation's recipients.
    /// @param offered Their allocated amounts, same length.
    /// @return deducted Units withheld per recipient.
    /// Requirements: caller is the AllowanceToken ({ComplianceOnlyAllowanceToken}); same lengths
    /// ({ComplianceLengthMismatch}).
    /// Emits: {MakeGoodDeducted} per recipient and debt paid from.
    function deductMakeGood(uint8 pollutant, uint16 year, address[] calldata enterprises, uint256[] calldata offered)
        external
        returns (uint256[] memory deducted);

    // ---------------------------------------------------------------- views

    /// @notice The rules of a year.
    function yearConfig(uint16 year) external view returns (YearConfig memory);
    /// @notice The counters of a year (over the obligations of every pollutant).
    function yearStats(uint16 year) external view returns (YearStats memory);
    /// @notice Outcome A obligations over notices issued, every pollutant, in bps (0 when no notice).
    function complianceRateBps(uint16 year) external view returns (uint256);
    /// @notice The notice and state of an obligation (status None: no notice of that pollutant and year).
    function notice(address enterprise, uint8 pollutant, uint16 year) external view returns (Notice memory);
    /// @notice An application. Requirements: it exists ({ComplianceUnknownApplication}).
    function application(uint256 applicationId) external view returns (Application memory);
    /// @notice Applications submitted so far (the last id).
    function applicationCount() external view returns (uint256);
    /// @notice Offset cap still open for an obligation given verified emissions and offsets eligible.
    function offsetCap(address enterprise, uint8 pollutant, uint16 year, uint256 verified, uint256 offsetsEligible)
        external
        view
        returns (uint256);
    /// @notice Make-good units still owed from shortfalls of compliance year `year - 1` (first due
    /// from the allocation of vintage `year`, then from any later one).
    function makeGoodOwed(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256);
    /// @notice Make-good units an allocation of `pollutant` allowances of vintage `vintage` would
    /// withhold from `enterprise` (all its debts from compliance years before `vintage`).
    function makeGoodDue(address enterprise, uint8 pollutant, uint16 vintage) external view returns (uint256);
    /// @notice Tokens of `id` held in escrow for applications under review.
    function escrowed(uint256 id) external view returns (uint256);
    /// @notice Tokens of `id` credited back to `enterprise` by rejections, not yet withdrawn.
    function returned(address enterprise, uint256 id) external view returns (uint256);
    /// @notice Tokens of `id` credited back by rejections to all enterprises, not yet withdrawn
    /// (this contract holds `escrowed(id) + returnedTotal(id)`).
    function returnedTotal(uint256 id) external view returns (uint256);
    /// @notice URI of a published rules document ("" if unknown).
    function rulesUri(bytes32 rulesHash) external view returns (string memory);
}
