// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {ISettlementReports} from "../interfaces/ISettlementReports.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title SettlementReports
/// @notice Anchors the exchange's signed daily settlement reports. See {ISettlementReports}.
contract SettlementReports is ISettlementReports, RegistryGated {
    /// @dev Asia/Shanghai is UTC+8 all year (no daylight saving since 1991).
    uint256 private constant UTC_OFFSET = 8 hours;

    mapping(uint32 tradingDay => Report[]) private _revisions;
    uint32 private _lastTradingDay;

    /// @param registry_ The ConsortiumRegistry.
    constructor(address registry_) RegistryGated(registry_) {}

    /// @inheritdoc ISettlementReports
    function publish(uint32 tradingDay, bytes32 reportHash, bytes calldata signature)
        external
        onlyRegistryRole(Roles.EXCHANGE_ROLE)
    {
        if (!_validDay(tradingDay)) revert ReportInvalidDay(tradingDay);
        uint32 today = currentTradingDay();
        if (tradingDay > today) revert ReportFutureDay(tradingDay, today);
        if (reportHash == bytes32(0)) revert ReportZeroHash(tradingDay);
        Report[] storage revisions = _revisions[tradingDay];
        uint256 count = revisions.length;
        if (count != 0) revert ReportAlreadyPublished(tradingDay, revisions[count - 1].reportHash);
        address signer = _checkSigner(tradingDay, reportHash, signature);
        revisions.push(_report(reportHash, signer, signature));
        if (tradingDay > _lastTradingDay) _lastTradingDay = tradingDay;
        emit ReportPublished(tradingDay, reportHash, signer, msg.sender);
    }

    /// @inheritdoc ISettlementReports
    function correct(uint32 tradingDay, bytes32 reportHash, bytes calldata signature) external onlyGovernance {
        Report[] storage revisions = _revisions[tradingDay];
        uint256 count = revisions.length;
        if (count == 0) revert ReportNotPublished(tradingDay);
        if (reportHash == bytes32(0)) revert ReportZeroHash(tradingDay);
        bytes32 previous = revisions[count - 1].reportHash;
        if (reportHash == previous) revert ReportUnchanged(tradingDay, reportHash);
        address signer = _checkSigner(tradingDay, reportHash, signature);
        revisions.push(_report(reportHash, signer, signature));
        emit ReportCorrected(tradingDay, count, previous, reportHash, signer);
    }

    /// @inheritdoc ISettlementReports
    function report(uint32 tradingDay) external view returns (Report memory current) {
        Report[] storage revisions = _revisions[tradingDay];
        if (revisions.length != 0) current = revisions[revisions.length - 1];
    }

    /// @inheritdoc ISettlementReports
    function revisionCount(uint32 tradingDay) external view returns (uint256) {
        return _revisions[tradingDay].length;
    }

    /// @inheritdoc ISettlementReports
    function reportRevision(uint32 tradingDay, uint256 index) external view returns (Report memory) {
        Report[] storage revisions = _revisions[tradingDay];
        if (index >= revisions.length) revert ReportRevisionUnknown(tradingDay, index);
        return revisions[index];
    }

    /// @inheritdoc ISettlementReports
    function verify(uint32 tradingDay, bytes32 reportHash) external view returns (bool) {
        Report[] storage revisions = _revisions[tradingDay];
        uint256 count = revisions.length;
        return reportHash != bytes32(0) && count != 0 && revisions[count - 1].reportHash == reportHash;
    }

    /// @inheritdoc ISettlementReports
    function reportDigest(uint32 tradingDay, bytes32 reportHash) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, tradingDay, reportHash));
    }

    /// @inheritdoc ISettlementReports
    function lastTradingDay() external view returns (uint32) {
        return _lastTradingDay;
    }

    /// @inheritdoc ISettlementReports
    function currentTradingDay() public view returns (uint32) {
        return _dayCode((block.timestamp + UTC_OFFSET) / 1 days);
    }

    /// @dev The EXCHANGE account that signed the digest; refuses malformed signatures, other
    /// accounts and suspended exchange accounts.
    function _checkSigner(uint32 tradingDay, bytes32 reportHash, bytes calldata signature)
        private
        view
        returns (address signer)
    {
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(reportDigest(tradingDay, reportHash));
        ECDSA.RecoverError failure;
        (signer, failure,) = ECDSA.tryRecover(digest, signature);
        if (failure != ECDSA.RecoverError.NoError) revert ReportInvalidSignature(tradingDay);
        if (!_registry.hasRole(Roles.EXCHANGE_ROLE, signer)) revert ReportSignerNotExchange(tradingDay, signer);
        if (!_registry.isActiveParticipant(signer)) revert ReportSignerNotActive(tradingDay, signer);
    }

    function _report(bytes32 reportHash, address signer, bytes calldata signature)
        private
        view
        returns (Report memory)
    {
        return Report({
            reportHash: reportHash,
            signer: signer,
            publisher: msg.sender,
            publishedAt: uint64(block.timestamp),
            signature: signature
        });
    }

    /// @dev YYYYMMDD of a count of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's
    /// `civil_from_days`, for non-negative day counts).
    function _dayCode(uint256 days_) private pure returns (uint32) {
        uint256 z = days_ + 719_468;
        uint256 era = z / 146_097;
        uint256 doe = z - era * 146_097;
        uint256 yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        uint256 mp = (5 * doy + 2) / 153;
        uint256 day = doy - (153 * mp + 2) / 5 + 1;
        uint256 month = mp < 10 ? mp + 3 : mp - 9;
        uint256 year = yoe + era * 400 + (month <= 2 ? 1 : 0);
        return uint32(year * 10_000 + month * 100 + day);
    }

    /// @dev YYYYMMDD with year 2000-2200, month 1-12, day 1-31 (the calendar's own check is off-chain).
    function _validDay(uint32 day) private pure returns (bool) {
        uint32 year = day / 10_000;
        uint32 month = (day / 100) % 100;
        uint32 dom = day % 100;
        return year >= 2000 && year <= 2200 && month >= 1 && month <= 12 && dom >= 1 && dom <= 31;
    }
}
