// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {ISettlementReports} from "../interfaces/ISettlementReports.sol";

/// @title SettlementReports
/// @notice Anchors the exchange's signed daily settlement reports. See {ISettlementReports}.
contract SettlementReports is ISettlementReports, RegistryGated {
    mapping(uint32 tradingDay => Report) private _reports;
    uint32 private _lastTradingDay;

    /// @param registry_ The ConsortiumRegistry.
    constructor(address registry_) RegistryGated(registry_) {}

    /// @inheritdoc ISettlementReports
    function publish(uint32 tradingDay, bytes32 reportHash, bytes calldata signature)
        external
        onlyRegistryRole(EXCHANGE_ROLE)
    {
        if (!_validDay(tradingDay)) revert ReportInvalidDay(tradingDay);
        if (reportHash == bytes32(0)) revert ReportZeroHash(tradingDay);
        bytes32 existing = _reports[tradingDay].reportHash;
        if (existing != bytes32(0)) revert ReportAlreadyPublished(tradingDay, existing);
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(reportDigest(tradingDay, reportHash));
        (address signer, ECDSA.RecoverError failure,) = ECDSA.tryRecover(digest, signature);
        if (failure != ECDSA.RecoverError.NoError) revert ReportInvalidSignature(tradingDay);
        if (!_registry.hasRole(EXCHANGE_ROLE, signer)) revert ReportSignerNotExchange(tradingDay, signer);
        _reports[tradingDay] = Report({
            reportHash: reportHash,
            signer: signer,
            publisher: msg.sender,
            publishedAt: uint64(block.timestamp),
            signature: signature
        });
        if (tradingDay > _lastTradingDay) _lastTradingDay = tradingDay;
        emit ReportPublished(tradingDay, reportHash, signer, msg.sender);
    }

    /// @inheritdoc ISettlementReports
    function report(uint32 tradingDay) external view returns (Report memory) {
        return _reports[tradingDay];
    }

    /// @inheritdoc ISettlementReports
    function verify(uint32 tradingDay, bytes32 reportHash) external view returns (bool) {
        return reportHash != bytes32(0) && _reports[tradingDay].reportHash == reportHash;
    }

    /// @inheritdoc ISettlementReports
    function reportDigest(uint32 tradingDay, bytes32 reportHash) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), block.chainid, tradingDay, reportHash));
    }

    /// @inheritdoc ISettlementReports
    function lastTradingDay() external view returns (uint32) {
        return _lastTradingDay;
    }

    /// @dev YYYYMMDD with year 2000-2200, month 1-12, day 1-31 (the calendar's own check is off-chain).
    function _validDay(uint32 day) private pure returns (bool) {
        uint32 year = day / 10_000;
        uint32 month = (day / 100) % 100;
        uint32 dom = day % 100;
        return year >= 2000 && year <= 2200 && month >= 1 && month <= 12 && dom >= 1 && dom <= 31;
    }
}
