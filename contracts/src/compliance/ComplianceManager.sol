// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IAllowanceToken} from "../interfaces/IAllowanceToken.sol";
import {IComplianceManager} from "../interfaces/IComplianceManager.sol";
import {IEmissionsLedger} from "../interfaces/IEmissionsLedger.sol";
import {Roles} from "../libraries/Roles.sol";
import {TreasuryHolder} from "../treasury/TreasuryHolder.sol";
import {Kind, TokenId} from "../types/TokenId.sol";

/// @title ComplianceManager
/// @notice The compliance cycle, one obligation per (enterprise, pollutant, year): notices, acknowledgements, applications with escrow, review,
/// finalization and penalties. The rules are in {IComplianceManager}.
///
/// To work it must be, in the AllowanceToken, a system contract (to hold the escrow) and the
/// compliance manager (to retire it); fines move enterprise → treasury directly, so the
/// SettlementToken needs no change.
contract ComplianceManager is IComplianceManager, TreasuryHolder, ERC1155Holder, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    IAllowanceToken private immutable _allowances;
    IEmissionsLedger private immutable _ledger;
    IERC20 private immutable _cash;
    uint256 private _applicationCount;

    mapping(uint16 year => YearConfig) private _configs;
    mapping(uint16 year => YearStats) private _stats;
    mapping(address enterprise => mapping(uint8 pollutant => mapping(uint16 year => Notice))) private _notices;
    mapping(uint256 applicationId => Application) private _applications;
    /// @dev Make-good debts keyed by the first vintage they are due from (compliance year + 1)
    mapping(address enterprise => mapping(uint8 pollutant => mapping(uint16 year => uint256))) private _makeGood;
    /// @dev The keys of an enterprise's unpaid make-good debts of a pollutant, in recording order
    mapping(address enterprise => mapping(uint8 pollutant => uint16[] dueFrom)) private _makeGoodYears;
    mapping(uint256 id => uint256) private _escrowed;
    mapping(address enterprise => mapping(uint256 id => uint256)) private _returned;
    mapping(uint256 id => uint256) private _returnedTotal;
    mapping(bytes32 rulesHash => string) private _rulesUris;

    /// @param registry_ The ConsortiumRegistry.
    /// @param allowances_ The AllowanceToken.
    /// @param ledger_ The EmissionsLedger.
    /// @param cash_ The SettlementToken.
    constructor(address registry_, address allowances_, address ledger_, address cash_) RegistryGated(registry_) {
        if (allowances_ == address(0)) revert ComplianceZeroAddress("allowances");
        if (ledger_ == address(0)) revert ComplianceZeroAddress("ledger");
        if (cash_ == address(0)) revert ComplianceZeroAddress("cash");
        _allowances = IAllowanceToken(allowances_);
        _ledger = IEmissionsLedger(ledger_);
        _cash = IERC20(cash_);
    }

    // ------------------------------------------------------------------ governance and rules

    /// @inheritdoc IComplianceManager
    function configureYear(uint16 year, YearConfig calldata config) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        if (_stats[year].notices != 0) revert ComplianceYearConfigLocked(year);
        if (config.offsetCapBps > BPS) revert ComplianceInvalidConfig(config.offsetCapBps);
        _configs[year] = YearConfig({
            offsetCapBps: config.offsetCapBps,
            makeGoodBps: config.makeGoodBps,
            finePerTonne: config.finePerTonne,
            noReportFine: config.noReportFine,
            configured: true
        });
        emit YearConfigured(year, config.offsetCapBps, config.makeGoodBps, config.finePerTonne, config.noReportFine);
    }

    // ------------------------------------------------------------------ notices

    /// @inheritdoc IComplianceManager
    function issueNotices(NoticeBatch calldata batch) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        uint16 year = batch.year;
        if (!_configs[year].configured) revert ComplianceYearNotConfigured(year);
        if (bytes(_allowances.pollutantSymbol(batch.pollutant)).length == 0) {
            revert ComplianceUnknownPollutant(batch.pollutant);
        }
        uint64 now_ = uint64(block.timestamp);
        if (batch.submissionDeadline <= now_ || batch.ackDeadline > batch.submissionDeadline) {
            revert ComplianceInvalidDeadlines(batch.ackDeadline, batch.submissionDeadline, now_);
        }
        uint256 n = batch.enterprises.length;
        if (n == 0 || n != batch.allocated.length) revert ComplianceLengthMismatch(n, batch.allocated.length);
        if (bytes(_rulesUris[batch.rulesHash]).length == 0) _rulesUris[batch.rulesHash] = batch.rulesUri;
        emit RulesPublished(batch.rulesHash, year, batch.rulesUri);
        for (uint256 i = 0; i < n; ++i) {
            _issue(batch, batch.enterprises[i], batch.allocated[i], now_);
        }
        _stats[year].notices += uint32(n);
    }

    function _issue(NoticeBatch calldata batch, address enterprise, uint256 allocated, uint64 now_) private {
        if (!_registry.isActiveEnterprise(enterprise)) revert ComplianceNotEnterprise(enterprise);
        Notice storage nt = _notices[enterprise][batch.pollutant][batch.year];
        if (nt.status != ObligationStatus.None) revert ComplianceNoticeExists(enterprise, batch.pollutant, batch.year);
        nt.pollutant = batch.pollutant;
        nt.status = ObligationStatus.Open;
        nt.issuedAt = now_;
        nt.submissionDeadline = batch.submissionDeadline;
        nt.ackDeadline = batch.ackDeadline;
        nt.rulesHash = batch.rulesHash;
        nt.allocated = allocated;
        emit NoticeIssued(
            enterprise,
            batch.year,
            batch.rulesHash,
            batch.pollutant,
            allocated,
            batch.submissionDeadline,
            batch.ackDeadline
        );
    }

    /// @inheritdoc IComplianceManager
    function acknowledge(uint8 pollutant, uint16 year) external onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        Notice storage nt = _notice(msg.sender, pollutant, year);
        if (nt.acknowledgedAt != 0) {
            revert ComplianceAlreadyAcknowledged(msg.sender, pollutant, year, nt.acknowledgedAt);
        }
        uint64 now_ = uint64(block.timestamp);
        bool late = now_ > nt.ackDeadline;
        nt.acknowledgedAt = now_;
        YearStats storage s = _stats[year];
        s.acknowledged += 1;
        if (late) s.lateAcknowledgements += 1;
        emit NoticeAcknowledged(msg.sender, pollutant, year, now_, late);
    }

    // ------------------------------------------------------------------ applications

    /// @inheritdoc IComplianceManager
    function submitApplication(uint8 pollutant, uint16 year, ApplicationInput calldata input)
        external
        nonReentrant
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
        returns (uint256 applicationId)
    {
        Notice storage nt = _notice(msg.sender, pollutant, year);
        _requireOpenForApplication(nt, pollutant, year);
        applicationId = ++_applicationCount;
        Application storage app = _applications[applicationId];
        app.enterprise = msg.sender;
        app.pollutant = pollutant;
        app.year = year;
        app.status = ApplicationStatus.UnderReview;
        app.submittedAt = uint64(block.timestamp);
        app.attestationId = input.attestationId;
        _fill(app, nt, input);
        nt.pending = applicationId;
        _stats[year].applications += 1;
        IERC1155(address(_allowances)).safeBatchTransferFrom(msg.sender, address(this), app.ids, app.amounts, "");
        emit ApplicationSubmitted(
            applicationId, msg.sender, pollutant, year, app.verified, app.offsets, app.allowances, input
        );
    }

    /// @dev Check the attestation and the tokens against the settlement rule; store the escrow list.
    function _fill(Application storage app, Notice storage nt, ApplicationInput calldata input) private {
        uint16 year = app.year;
        (uint256 verified, uint256 eligible) = _checkAttestation(input.attestationId, msg.sender, nt.pollutant, year);
        uint256 nAllow = input.allowanceIds.length;
        if (nAllow != input.allowanceAmounts.length) revert ComplianceLengthMismatch(nAllow, input.allowanceAmounts.length);
        uint256 nOff = input.offsetIds.length;
        if (nOff != input.offsetAmounts.length) revert ComplianceLengthMismatch(nOff, input.offsetAmounts.length);
        if (nAllow + nOff == 0) revert ComplianceEmptyApplication();
        uint256 allowances = _collect(app, input.allowanceIds, input.allowanceAmounts, Kind.Allowance, nt.pollutant);
        uint256 offsets = _collect(app, input.offsetIds, input.offsetAmounts, Kind.Offset, nt.pollutant);
        uint256 cap = _openOffsetCap(nt, year, verified, eligible);
        if (offsets > cap) revert ComplianceOffsetsOverCap(offsets, cap);
        uint256 uncovered = verified > nt.surrendered ? verified - nt.surrendered : 0;
        if (offsets + allowances > uncovered) revert ComplianceSurplus(offsets + allowances, uncovered);
        app.verified = verified;
        app.offsets = offsets;
        app.allowances = allowances;
    }

    function _requireOpenForApplication(Notice storage nt, uint8 pollutant, uint16 year) private view {
        if (nt.status == ObligationStatus.Fulfilled) revert ComplianceAlreadyFulfilled(msg.sender, pollutant, year);
        if (nt.finalizedAt != 0) revert ComplianceAlreadyFinalized(msg.sender, pollutant, year);
        uint64 now_ = uint64(block.timestamp);
        if (now_ > nt.submissionDeadline) {
            revert ComplianceDeadlinePassed(msg.sender, pollutant, year, nt.submissionDeadline, now_);
        }
        if (nt.acknowledgedAt == 0) revert ComplianceNotAcknowledged(msg.sender, pollutant, year);
        if (nt.pending != 0) revert ComplianceApplicationPending(nt.pending);
    }

    function _checkAttestation(bytes32 id, address enterprise, uint8 pollutant, uint16 year)
        private
        view
        returns (uint256 verified, uint256 eligible)
    {
        if (!_ledger.isAttestationActive(id)) revert ComplianceAttestationNotActive(id);
        IEmissionsLedger.AttestationRecord memory r = _ledger.attestation(id);
        if (r.enterprise != enterprise || r.pollutant != pollutant || r.year != year) {
            revert ComplianceAttestationMismatch(id, r.enterprise, r.pollutant, r.year);
        }
        return (r.verifiedEmissions, r.offsetsEligible);
    }

    /// @dev Check one list of the application and append it to the stored escrow; returns its sum.
    function _collect(
        Application storage app,
        uint256[] calldata ids,
        uint256[] calldata amounts,
        Kind kind,
        uint8 pollutant
    ) private returns (uint256 total) {
        uint256 base = app.ids.length;
        for (uint256 i = 0; i < ids.length; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) revert ComplianceZeroAmount(base + i);
            _checkToken(ids[i], kind, pollutant, app.year);
            total += amount;
            _escrowed[ids[i]] += amount;
            app.ids.push(ids[i]);
            app.amounts.push(amount);
        }
    }

    function _checkToken(uint256 id, Kind kind, uint8 pollutant, uint16 year) private pure {
        TokenId token = TokenId.wrap(id);
        if (!token.isOf(kind, pollutant)) revert ComplianceWrongToken(id, uint8(kind), pollutant);
        uint16 vintage = token.vintage();
        if (vintage > year) revert ComplianceVintageAfterYear(id, vintage, year);
    }

    function _openOffsetCap(Notice storage nt, uint16 year, uint256 verified, uint256 eligible)
        private
        view
        returns (uint256)
    {
        uint256 cap = verified * _configs[year].offsetCapBps / BPS;
        if (eligible < cap) cap = eligible;
        return cap > nt.offsetsSurrendered ? cap - nt.offsetsSurrendered : 0;
    }

    /// @inheritdoc IComplianceManager
    function approve(uint256 applicationId) external nonReentrant onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Application storage app = _underReview(applicationId);
        if (!_ledger.isAttestationActive(app.attestationId)) revert ComplianceAttestationNotActive(app.attestationId);
        address enterprise = app.enterprise;
        uint8 pollutant = app.pollutant;
        uint16 year = app.year;
        Notice storage nt = _notices[enterprise][pollutant][year];
        app.status = ApplicationStatus.Approved;
        app.reviewedAt = uint64(block.timestamp);
        nt.pending = 0;
        nt.verified = app.verified;
        nt.surrendered += app.offsets + app.allowances;
        nt.offsetsSurrendered += app.offsets;

        uint256 n = app.ids.length;
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = app.ids[i];
            _escrowed[id] -= app.amounts[i];
            _allowances.retire(enterprise, id, app.amounts[i], year);
        }
        uint256 uncovered = nt.verified > nt.surrendered ? nt.verified - nt.surrendered : 0;
        emit ApplicationApproved(
            applicationId, enterprise, pollutant, year, app.offsets, app.allowances, nt.surrendered, uncovered
        );
        if (uncovered == 0) {
            nt.status = ObligationStatus.Fulfilled;
            _stats[year].fulfilled += 1;
            _record(enterprise, pollutant, year, nt, Outcome.Covered, 0);
        }
    }

    /// @inheritdoc IComplianceManager
    function reject(uint256 applicationId, uint16 reasonCode, string calldata reason)
        external
        nonReentrant
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        Application storage app = _underReview(applicationId);
        if (reasonCode == 0) revert ComplianceInvalidReason(reasonCode);
        app.status = ApplicationStatus.Rejected;
        app.reviewedAt = uint64(block.timestamp);
        app.reasonCode = reasonCode;
        address enterprise = app.enterprise;
        _notices[enterprise][app.pollutant][app.year].pending = 0;
        uint256 n = app.ids.length;
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = app.ids[i];
            uint256 amount = app.amounts[i];
            _escrowed[id] -= amount;
            _returned[enterprise][id] += amount;
            _returnedTotal[id] += amount;
        }
        // credited, not pushed: the enterprise withdraws ({withdrawReturned}), so no receiver can block this
        emit EscrowReturned(applicationId, enterprise, app.ids, app.amounts);
        emit ApplicationRejected(applicationId, enterprise, app.pollutant, app.year, reasonCode, reason);
    }

    /// @inheritdoc IComplianceManager
    function withdrawReturned(uint256[] calldata ids) external nonReentrant {
        uint256 n = ids.length;
        uint256[] memory amounts = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = ids[i];
            uint256 amount = _returned[msg.sender][id];
            if (amount == 0) revert ComplianceNothingReturned(msg.sender, id);
            delete _returned[msg.sender][id];
            _returnedTotal[id] -= amount;
            amounts[i] = amount;
        }
        IERC1155(address(_allowances)).safeBatchTransferFrom(address(this), msg.sender, ids, amounts, "");
        emit ReturnedWithdrawn(msg.sender, ids, amounts);
    }

    function _underReview(uint256 applicationId) private view returns (Application storage app) {
        app = _applications[applicationId];
        ApplicationStatus status = app.status;
        if (status == ApplicationStatus.None) revert ComplianceUnknownApplication(applicationId);
        if (status == ApplicationStatus.Approved) revert ComplianceAlreadyApproved(applicationId);
        if (status != ApplicationStatus.UnderReview) revert ComplianceNotUnderReview(applicationId, uint8(status));
    }

    // ------------------------------------------------------------------ outcome and penalty

    /// @inheritdoc IComplianceManager
    function finalize(address enterprise, uint8 pollutant, uint16 year) external {
        Notice storage nt = _notice(enterprise, pollutant, year);
        if (nt.finalizedAt != 0) revert ComplianceAlreadyFinalized(enterprise, pollutant, year);
        uint64 now_ = uint64(block.timestamp);
        if (now_ <= nt.submissionDeadline) {
            revert ComplianceDeadlineNotPassed(enterprise, pollutant, year, nt.submissionDeadline, now_);
        }
        if (nt.pending != 0) revert ComplianceApplicationPending(nt.pending);

        bool known = nt.surrendered != 0;
        if (!known) {
            // what the auditors had said when the deadline passed (see the interface notice)
            bytes32 id = _ledger.attestationOfRecord(enterprise, pollutant, year, nt.submissionDeadline);
            if (id != bytes32(0)) {
                known = true;
                nt.verified = _ledger.attestation(id).verifiedEmissions;
            }
        }
        if (!known) {
            nt.status = ObligationStatus.NonCompliant;
            _record(enterprise, pollutant, year, nt, Outcome.NoVerifiedEmissions, 0);
        } else if (nt.surrendered >= nt.verified) {
            nt.status = ObligationStatus.Fulfilled;
            _record(enterprise, pollutant, year, nt, Outcome.Covered, 0);
        } else {
            nt.status = ObligationStatus.NonCompliant;
            _record(enterprise, pollutant, year, nt, Outcome.Shortfall, nt.verified - nt.surrendered);
        }
    }

    /// @dev Store the outcome with its penalty, count it, emit.
    function _record(
        address enterprise,
        uint8 pollutant,
        uint16 year,
        Notice storage nt,
        Outcome outcome,
        uint256 shortfall
    ) private {
        YearConfig storage cfg = _configs[year];
        YearStats storage s = _stats[year];
        uint256 fine;
        uint256 makeGood;
        if (outcome == Outcome.Covered) {
            s.covered += 1;
        } else if (outcome == Outcome.Shortfall) {
            s.shortfall += 1;
            fine = shortfall * cfg.finePerTonne;
            makeGood = shortfall * cfg.makeGoodBps / BPS;
        } else {
            s.noVerifiedEmissions += 1;
            fine = cfg.noReportFine;
        }
        s.finalized += 1;
        nt.outcome = outcome;
        nt.finalizedAt = uint64(block.timestamp);
        nt.shortfall = shortfall;
        nt.fine = fine;
        nt.makeGood = makeGood;
        emit ObligationFinalized(
            enterprise, pollutant, year, outcome, nt.verified, nt.surrendered, shortfall, fine, makeGood
        );
        if (makeGood != 0) {
            mapping(uint16 year => uint256) storage debts = _makeGood[enterprise][pollutant];
            if (debts[year + 1] == 0) _makeGoodYears[enterprise][pollutant].push(year + 1);
            debts[year + 1] += makeGood;
            emit MakeGoodRecorded(enterprise, pollutant, year + 1, year, makeGood);
        }
    }

    /// @inheritdoc IComplianceManager
    function deductMakeGood(uint8 pollutant, uint16 year, address[] calldata enterprises, uint256[] calldata offered)
        external
        returns (uint256[] memory deducted)
    {
        if (msg.sender != address(_allowances)) revert ComplianceOnlyAllowanceToken(msg.sender);
        uint256 n = enterprises.length;
        if (n != offered.length) revert ComplianceLengthMismatch(n, offered.length);
        deducted = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            deducted[i] = _deduct(enterprises[i], pollutant, year, offered[i]);
        }
    }

    /// @dev Pay an enterprise's debts due by vintage `vintage` from `offered` units, oldest first;
    /// drop the paid ones from its list (kept in order). Returns the units withheld.
    function _deduct(address enterprise, uint8 pollutant, uint16 vintage, uint256 offered)
        private
        returns (uint256 units)
    {
        uint16[] storage keys = _makeGoodYears[enterprise][pollutant];
        uint256 n = keys.length;
        if (n == 0) return 0;
        mapping(uint16 year => uint256) storage debts = _makeGood[enterprise][pollutant];
        uint256 kept = 0;
        for (uint256 k = 0; k < n; ++k) {
            uint16 dueFrom = keys[k];
            uint256 owed = debts[dueFrom];
            if (dueFrom <= vintage && units < offered) {
                uint256 paid = owed < offered - units ? owed : offered - units;
                units += paid;
                owed -= paid;
                debts[dueFrom] = owed;
                emit MakeGoodDeducted(enterprise, pollutant, vintage, dueFrom - 1, paid, owed);
            }
            if (owed != 0) {
                if (kept != k) keys[kept] = dueFrom;
                ++kept;
            }
        }
        for (uint256 k = kept; k < n; ++k) {
            keys.pop();
        }
    }

    /// @inheritdoc IComplianceManager
    function payPenalty(uint8 pollutant, uint16 year) external nonReentrant onlyRegistryRole(Roles.ENTERPRISE_ROLE) {
        Notice storage nt = _notice(msg.sender, pollutant, year);
        if (nt.fine == 0 || nt.finePaid) revert CompliancePenaltyNotDue(msg.sender, pollutant, year);
        address to = _treasury;
        if (to == address(0)) revert ComplianceTreasuryNotSet();
        nt.finePaid = true;
        _cash.safeTransferFrom(msg.sender, to, nt.fine);
        emit PenaltyPaid(msg.sender, pollutant, year, to, nt.fine);
    }

    // ------------------------------------------------------------------ escrow receiver

    /// @dev Accept tokens only when this contract pulls them ({submitApplication}).
    function onERC1155Received(address operator, address, uint256, uint256, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (operator != address(this)) revert ComplianceUnsolicitedTransfer(operator);
        return this.onERC1155Received.selector;
    }

    /// @dev Accept tokens only when this contract pulls them ({submitApplication}).
    function onERC1155BatchReceived(address operator, address, uint256[] memory, uint256[] memory, bytes memory)
        public
        view
        override
        returns (bytes4)
    {
        if (operator != address(this)) revert ComplianceUnsolicitedTransfer(operator);
        return this.onERC1155BatchReceived.selector;
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IComplianceManager
    function yearConfig(uint16 year) external view returns (YearConfig memory) {
        return _configs[year];
    }

    /// @inheritdoc IComplianceManager
    function yearStats(uint16 year) external view returns (YearStats memory) {
        return _stats[year];
    }

    /// @inheritdoc IComplianceManager
    function complianceRateBps(uint16 year) external view returns (uint256) {
        YearStats storage s = _stats[year];
        return s.notices == 0 ? 0 : uint256(s.covered) * BPS / s.notices;
    }

    /// @inheritdoc IComplianceManager
    function notice(address enterprise, uint8 pollutant, uint16 year) external view returns (Notice memory) {
        return _notices[enterprise][pollutant][year];
    }

    /// @inheritdoc IComplianceManager
    function application(uint256 applicationId) external view returns (Application memory) {
        Application storage app = _applications[applicationId];
        if (app.status == ApplicationStatus.None) revert ComplianceUnknownApplication(applicationId);
        return app;
    }

    /// @inheritdoc IComplianceManager
    function applicationCount() external view returns (uint256) {
        return _applicationCount;
    }

    /// @inheritdoc IComplianceManager
    function offsetCap(address enterprise, uint8 pollutant, uint16 year, uint256 verified, uint256 offsetsEligible)
        external
        view
        returns (uint256)
    {
        return _openOffsetCap(_notices[enterprise][pollutant][year], year, verified, offsetsEligible);
    }

    /// @inheritdoc IComplianceManager
    function makeGoodOwed(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256) {
        return _makeGood[enterprise][pollutant][year];
    }

    /// @inheritdoc IComplianceManager
    function makeGoodDue(address enterprise, uint8 pollutant, uint16 vintage) external view returns (uint256 due) {
        uint16[] storage keys = _makeGoodYears[enterprise][pollutant];
        for (uint256 k = 0; k < keys.length; ++k) {
            if (keys[k] <= vintage) due += _makeGood[enterprise][pollutant][keys[k]];
        }
    }

    /// @inheritdoc IComplianceManager
    function escrowed(uint256 id) external view returns (uint256) {
        return _escrowed[id];
    }

    /// @inheritdoc IComplianceManager
    function returned(address enterprise, uint256 id) external view returns (uint256) {
        return _returned[enterprise][id];
    }

    /// @inheritdoc IComplianceManager
    function returnedTotal(uint256 id) external view returns (uint256) {
        return _returnedTotal[id];
    }

    /// @inheritdoc IComplianceManager
    function rulesUri(bytes32 rulesHash) external view returns (string memory) {
        return _rulesUris[rulesHash];
    }

    // ------------------------------------------------------------------ internal

    function _notice(address enterprise, uint8 pollutant, uint16 year) private view returns (Notice storage nt) {
        nt = _notices[enterprise][pollutant][year];
        if (nt.status == ObligationStatus.None) revert ComplianceNoNotice(enterprise, pollutant, year);
    }
}
