// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ISettlementReports
/// @notice The exchange's daily settlement reports, anchored on-chain: once per trading day the
/// exchange publishes the hash of the day's report bundle (CSV, PDF, statements) with its signature,
/// so anyone can later check that a report in hand is the one published and who signed it.
/// Trading days are written `YYYYMMDD` (Asia/Shanghai calendar), e.g. `20270630`.
interface ISettlementReports {
    /// @notice A published report.
    /// @param reportHash SHA-256 of the report bundle's manifest.
    /// @param signer The EXCHANGE account whose EIP-191 signature over {reportDigest} was checked.
    /// @param publisher The EXCHANGE account that sent the transaction.
    /// @param publishedAt Block timestamp of the publication.
    /// @param signature The 65-byte signature (r, s, v).
    struct Report {
        bytes32 reportHash;
        address signer;
        address publisher;
        uint64 publishedAt;
        bytes signature;
    }

    /// @notice The trading day already has a report; reports are never replaced.
    error ReportAlreadyPublished(uint32 tradingDay, bytes32 existingHash);
    /// @notice The trading day is not a date written YYYYMMDD (years 2000-2200).
    error ReportInvalidDay(uint32 tradingDay);
    /// @notice The report hash is zero.
    error ReportZeroHash(uint32 tradingDay);
    /// @notice The signature is malformed (length, s or v out of range).
    error ReportInvalidSignature(uint32 tradingDay);
    /// @notice The signature recovers to an account without EXCHANGE_ROLE.
    error ReportSignerNotExchange(uint32 tradingDay, address signer);

    /// @notice A trading day's settlement report was published.
    event ReportPublished(
        uint32 indexed tradingDay, bytes32 indexed reportHash, address indexed signer, address publisher
    );

    /// @notice Publish the hash of a trading day's settlement report, signed by an exchange key.
    /// @param tradingDay The trading day, YYYYMMDD.
    /// @param reportHash SHA-256 of the report bundle's manifest, not zero.
    /// @param signature EIP-191 signature of {reportDigest}(tradingDay, reportHash) by an EXCHANGE account.
    /// Requirements: caller has EXCHANGE_ROLE; day valid and not yet published; hash not zero;
    /// signer has EXCHANGE_ROLE.
    /// Emits: {ReportPublished}.
    function publish(uint32 tradingDay, bytes32 reportHash, bytes calldata signature) external;

    /// @notice The report of `tradingDay` (all zero when none was published).
    function report(uint32 tradingDay) external view returns (Report memory);

    /// @notice Whether `reportHash` is the published report of `tradingDay`.
    function verify(uint32 tradingDay, bytes32 reportHash) external view returns (bool);

    /// @notice The digest an exchange key signs (before the EIP-191 prefix):
    /// keccak256(abi.encode(this contract, chain id, tradingDay, reportHash)).
    function reportDigest(uint32 tradingDay, bytes32 reportHash) external view returns (bytes32);

    /// @notice The latest trading day with a published report (0 when none).
    function lastTradingDay() external view returns (uint32);
}
