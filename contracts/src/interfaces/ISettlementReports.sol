// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementReports
/// @notice The exchange's daily settlement reports, anchored on-chain: once per trading day the
/// exchange publishes the hash of the day's report bundle (CSV, PDF, statements) with its signature,
/// so anyone can later check that a report in hand is the one published and who signed it.
/// Trading days are written `YYYYMMDD` in the Asia/Shanghai calendar (UTC+8, no daylight saving),
/// e.g. `20270630`; a block's trading day is the date of its timestamp in that calendar
/// ({currentTradingDay}), and no report may be published for a later day.
/// A published day is never overwritten: a correction, decided by governance (k-of-n members
/// through the ConsortiumRegistry), appends a new revision; every revision stays readable.
interface ISettlementReports {
    /// @notice A published report (one revision of a trading day's report).
    /// @param reportHash SHA-256 of the report bundle's manifest.
    /// @param signer The EXCHANGE account whose EIP-191 signature over {reportDigest} was checked.
    /// @param publisher The EXCHANGE account that sent the transaction (the registry for a correction).
    /// @param publishedAt Block timestamp of the publication.
    /// @param signature The 65-byte signature (r, s, v).
    struct Report {
        bytes32 reportHash;
        address signer;
        address publisher;
        uint64 publishedAt;
        bytes signature;
    }

    /// @notice The trading day already has a report; only governance may correct it ({correct}).
    error ReportAlreadyPublished(uint32 tradingDay, bytes32 existingHash);
    /// @notice The trading day is not a date written YYYYMMDD (years 2000-2200).
    error ReportInvalidDay(uint32 tradingDay);
    /// @notice The trading day is later than the current block's trading day.
    error ReportFutureDay(uint32 tradingDay, uint32 currentDay);
    /// @notice The report hash is zero.
    error ReportZeroHash(uint32 tradingDay);
    /// @notice The signature is malformed (length, s or v out of range).
    error ReportInvalidSignature(uint32 tradingDay);
    /// @notice The signature recovers to an account without EXCHANGE_ROLE.
    error ReportSignerNotExchange(uint32 tradingDay, address signer);
    /// @notice The signature recovers to an EXCHANGE account that is suspended.
    error ReportSignerNotActive(uint32 tradingDay, address signer);
    /// @notice A correction was proposed for a day that has no report.
    error ReportNotPublished(uint32 tradingDay);
    /// @notice A correction carries the hash the day already has.
    error ReportUnchanged(uint32 tradingDay, bytes32 reportHash);
    /// @notice No revision with this index for the trading day.
    error ReportRevisionUnknown(uint32 tradingDay, uint256 revision);

    /// @notice A trading day's settlement report was published (revision 0).
    event ReportPublished(
        uint32 indexed tradingDay, bytes32 indexed reportHash, address indexed signer, address publisher
    );

    /// @notice Governance corrected a trading day's report: `revision` (from 1) replaces
    /// `previousHash` as the day's current report; earlier revisions stay readable.
    event ReportCorrected(
        uint32 indexed tradingDay,
        uint256 revision,
        bytes32 indexed previousHash,
        bytes32 indexed reportHash,
        address signer
    );

    /// @notice Publish the hash of a trading day's settlement report, signed by an exchange key.
    /// @param tradingDay The trading day, YYYYMMDD, not after {currentTradingDay}.
    /// @param reportHash SHA-256 of the report bundle's manifest, not zero.
    /// @param signature EIP-191 signature of {reportDigest}(tradingDay, reportHash) by an EXCHANGE account.
    /// Requirements: caller has EXCHANGE_ROLE (`UnauthorizedRole`) and is active (`CallerNotActive`);
    /// day valid (`ReportInvalidDay`), not in the future (`ReportFutureDay`) and not yet published
    /// (`ReportAlreadyPublished`); hash not zero; signer has EXCHANGE_ROLE and is active
    /// (`ReportSignerNotExchange`, `ReportSignerNotActive`).
    /// Emits: {ReportPublished}.
    function publish(uint32 tradingDay, bytes32 reportHash, bytes calldata signature) external;

    /// @notice Correct a published trading day: append a revision that becomes the day's report.
    /// @param tradingDay A published trading day.
    /// @param reportHash The corrected bundle's hash: not zero, different from the current one.
    /// @param signature EIP-191 signature of {reportDigest}(tradingDay, reportHash) by an EXCHANGE account.
    /// Requirements: called by the registry (an executed governance proposal, `OnlyGovernance`);
    /// day published (`ReportNotPublished`); hash not zero and changed (`ReportUnchanged`); signer
    /// has EXCHANGE_ROLE and is active.
    /// Emits: {ReportCorrected}.
    function correct(uint32 tradingDay, bytes32 reportHash, bytes calldata signature) external;

    /// @notice The current report of `tradingDay`: its latest revision (all zero when none was published).
    function report(uint32 tradingDay) external view returns (Report memory);

    /// @notice Number of revisions of `tradingDay`'s report (0 none, 1 published, more when corrected).
    function revisionCount(uint32 tradingDay) external view returns (uint256);

    /// @notice Revision `index` of `tradingDay`'s report (0 is the original publication).
    /// Requirements: index < {revisionCount} (`ReportRevisionUnknown`).
    function reportRevision(uint32 tradingDay, uint256 index) external view returns (Report memory);

    /// @notice Whether `reportHash` is the current report of `tradingDay` (a corrected-away
    /// revision no longer verifies; read it with {reportRevision}).
    function verify(uint32 tradingDay, bytes32 reportHash) external view returns (bool);

    /// @notice The digest an exchange key signs (before the EIP-191 prefix):
    /// keccak256(abi.encode(this contract, chain id, tradingDay, reportHash)).
    function reportDigest(uint32 tradingDay, bytes32 reportHash) external view returns (bytes32);

    /// @notice The latest trading day with a published report (0 when none).
    function lastTradingDay() external view returns (uint32);

    /// @notice The current block's trading day, YYYYMMDD (its timestamp's date at UTC+8).
    function currentTradingDay() external view returns (uint32);
}
