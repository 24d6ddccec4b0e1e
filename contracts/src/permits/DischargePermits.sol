// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {RegistryGated} from "../access/RegistryGated.sol";
import {IDischargePermits} from "../interfaces/IDischargePermits.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title DischargePermits
/// @notice Discharge permits: applications, issue, change, renew, revoke, cancel, annual review.
/// See {IDischargePermits} for the state machines.
contract DischargePermits is IDischargePermits, RegistryGated {
    uint8 private constant CO2 = 1;
    uint64 private constant DEFAULT_VALIDITY = 5 * 365 days;
    uint64 private constant MAX_START_OFFSET = 365 days;
    uint16 private constant MIN_YEAR = 2000;
    uint16 private constant MAX_YEAR = 2200;

    uint256 private _applicationCount;
    uint256 private _permitCount;
    mapping(uint256 applicationId => Application) private _applications;
    mapping(uint256 permitId => Permit) private _permits;
    mapping(uint256 permitId => mapping(uint8 pollutant => uint256)) private _amounts;
    mapping(address enterprise => uint256 permitId) private _permitOf;
    mapping(bytes32 mnHash => uint256 permitId) private _outletPermit;
    mapping(bytes32 numberHash => bool) private _numbers;
    mapping(uint256 permitId => mapping(uint16 year => uint8 outcome)) private _reviews; // 1 failed, 2 passed

    /// @param registry_ The ConsortiumRegistry.
    constructor(address registry_) RegistryGated(registry_) {}

    // ------------------------------------------------------------------ enterprise

    /// @inheritdoc IDischargePermits
    function applyForPermit(Outlet[] calldata outlets, Term[] calldata terms, bytes32 documentHash)
        external
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
        returns (uint256 applicationId)
    {
        _checkOutlets(outlets, msg.sender);
        _checkTerms(terms);
        applicationId = ++_applicationCount;
        Application storage a = _applications[applicationId];
        a.enterprise = msg.sender;
        _fillApplication(a, outlets, terms, documentHash);
        emit PermitApplied(applicationId, msg.sender, documentHash, false);
        emit ApplicationContent(applicationId, outlets, terms);
    }

    /// @inheritdoc IDischargePermits
    function resubmit(uint256 applicationId, Outlet[] calldata outlets, Term[] calldata terms, bytes32 documentHash)
        external
        onlyRegistryRole(Roles.ENTERPRISE_ROLE)
    {
        Application storage a = _application(applicationId);
        if (a.enterprise != msg.sender) revert PermitNotApplicant(applicationId, msg.sender);
        if (a.state != ApplicationState.Returned) revert PermitApplicationWrongState(applicationId, a.state);
        _checkOutlets(outlets, msg.sender);
        _checkTerms(terms);
        delete a.outlets;
        delete a.terms;
        _fillApplication(a, outlets, terms, documentHash);
        emit PermitApplied(applicationId, msg.sender, documentHash, true);
        emit ApplicationContent(applicationId, outlets, terms);
    }

    // ------------------------------------------------------------------ regulator

    /// @inheritdoc IDischargePermits
    function reviewReturn(uint256 applicationId, string calldata reason)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        Application storage a = _application(applicationId);
        if (a.state != ApplicationState.Submitted) revert PermitApplicationWrongState(applicationId, a.state);
        a.state = ApplicationState.Returned;
        a.reason = reason;
        emit ApplicationReturned(applicationId, reason);
    }

    /// @inheritdoc IDischargePermits
    function refuse(uint256 applicationId, string calldata reason) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Application storage a = _application(applicationId);
        if (a.state != ApplicationState.Submitted && a.state != ApplicationState.Returned) {
            revert PermitApplicationWrongState(applicationId, a.state);
        }
        a.state = ApplicationState.Refused;
        a.reason = reason;
        emit ApplicationRefused(applicationId, reason);
    }

    /// @inheritdoc IDischargePermits
    function issue(
        uint256 applicationId,
        string calldata number,
        uint64 validFrom,
        uint64 validUntil,
        uint256[] calldata granted
    ) external onlyRegistryRole(Roles.REGULATOR_ROLE) returns (uint256 permitId) {
        Application storage a = _application(applicationId);
        if (a.state != ApplicationState.Submitted) revert PermitApplicationWrongState(applicationId, a.state);
        uint256 held = _permitOf[a.enterprise];
        if (held != 0 && _permits[held].state == PermitState.Valid) revert PermitAlreadyHeld(a.enterprise, held);
        uint256 length = bytes(number).length;
        bytes32 numberHash = keccak256(bytes(number));
        if (length == 0 || length > 64 || _numbers[numberHash]) revert PermitInvalidNumber(number);
        _numbers[numberHash] = true;
        (validFrom, validUntil) = _validity(validFrom, validUntil);
        if (granted.length != a.terms.length) revert PermitGrantLengthMismatch(a.terms.length, granted.length);

        permitId = _open(a, applicationId, number, validFrom, validUntil);
        _grant(_permits[permitId], permitId, a, granted);
    }

    /// @dev A new Valid permit of the application's enterprise (no outlets nor terms yet).
    function _open(
        Application storage a,
        uint256 applicationId,
        string calldata number,
        uint64 validFrom,
        uint64 validUntil
    ) private returns (uint256 permitId) {
        permitId = ++_permitCount;
        a.state = ApplicationState.Issued;
        a.permitId = permitId;
        address enterprise = a.enterprise;
        _permitOf[enterprise] = permitId;
        Permit storage p = _permits[permitId];
        p.enterprise = enterprise;
        p.state = PermitState.Valid;
        p.validFrom = validFrom;
        p.validUntil = validUntil;
        p.applicationId = applicationId;
        p.number = number;
        emit PermitIssued(permitId, applicationId, enterprise, number, validFrom, validUntil);
    }

    /// @dev The issued permit's outlets and granted terms from its application.
    function _grant(Permit storage p, uint256 permitId, Application storage a, uint256[] calldata granted) private {
        for (uint256 i = 0; i < a.outlets.length; ++i) {
            Outlet memory o = a.outlets[i];
            _setOutlet(p, permitId, o.code, o.mn);
        }
        for (uint256 i = 0; i < granted.length; ++i) {
            Term memory t = a.terms[i];
            if (granted[i] == 0 || granted[i] > t.annualAmount) {
                revert PermitGrantAboveRequest(t.pollutant, t.annualAmount, granted[i]);
            }
            _setTerm(p, permitId, Term(t.pollutant, granted[i], t.concentrationLimit));
        }
    }

    /// @inheritdoc IDischargePermits
    function change(uint256 permitId, Outlet[] calldata outlets, Term[] calldata terms)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        Permit storage p = _permit(permitId);
        PermitState s = _status(p);
        if (s != PermitState.Valid) revert PermitWrongState(permitId, s);
        _checkOutlets(outlets, p.enterprise);
        _checkTerms(terms);
        for (uint256 i = 0; i < p.outlets.length; ++i) {
            delete _outletPermit[keccak256(bytes(p.outlets[i].mn))];
        }
        for (uint256 i = 0; i < p.terms.length; ++i) {
            delete _amounts[permitId][p.terms[i].pollutant];
        }
        delete p.outlets;
        delete p.terms;
        uint32 revision = ++p.revision;
        emit PermitChanged(permitId, revision);
        for (uint256 i = 0; i < outlets.length; ++i) {
            _setOutlet(p, permitId, outlets[i].code, outlets[i].mn);
        }
        for (uint256 i = 0; i < terms.length; ++i) {
            _setTerm(p, permitId, terms[i]);
        }
    }

    /// @inheritdoc IDischargePermits
    function renew(uint256 permitId, uint64 newValidUntil) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Permit storage p = _permit(permitId);
        PermitState s = _status(p);
        if (s != PermitState.Valid && s != PermitState.Expired) revert PermitWrongState(permitId, s);
        uint64 old = p.validUntil;
        if (newValidUntil <= old || newValidUntil <= block.timestamp) {
            revert PermitInvalidValidity(p.validFrom, newValidUntil);
        }
        p.validUntil = newValidUntil;
        emit PermitRenewed(permitId, old, newValidUntil);
    }

    /// @inheritdoc IDischargePermits
    function revoke(uint256 permitId, string calldata reason) external onlyRegistryRole(Roles.REGULATOR_ROLE) {
        Permit storage p = _end(permitId, PermitState.Revoked, reason);
        p.reason = reason;
        emit PermitRevoked(permitId, reason);
    }

    /// @inheritdoc IDischargePermits
    function cancel(uint256 permitId, string calldata reason) external {
        if (msg.sender != address(_registry)) {
            (bool held, bool active) = _registry.roleStatus(msg.sender, Roles.REGULATOR_ROLE);
            if (!held || !active) revert PermitNotRegulatorOrGovernance(msg.sender);
        }
        _end(permitId, PermitState.Cancelled, reason);
        emit PermitCancelled(permitId, msg.sender, reason);
    }

    /// @inheritdoc IDischargePermits
    function annualReview(uint256 permitId, uint16 year, bool passed, string calldata note)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        Permit storage p = _permit(permitId);
        PermitState s = _status(p);
        if (s != PermitState.Valid) revert PermitWrongState(permitId, s);
        if (year < MIN_YEAR || year > MAX_YEAR || _reviews[permitId][year] != 0) revert PermitReviewYear(permitId, year);
        _reviews[permitId][year] = passed ? 2 : 1;
        emit AnnualReviewRecorded(permitId, year, passed, note);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDischargePermits
    function permitOf(address enterprise) external view returns (uint256) {
        return _permitOf[enterprise];
    }

    /// @inheritdoc IDischargePermits
    function isValid(address enterprise, uint8 pollutant, uint256 timestamp) public view returns (bool) {
        uint256 id = _permitOf[enterprise];
        if (id == 0) return false;
        Permit storage p = _permits[id];
        return p.state == PermitState.Valid && timestamp >= p.validFrom && timestamp <= p.validUntil
            && _amounts[id][pollutant] != 0;
    }

    /// @inheritdoc IDischargePermits
    function mayTrade(address account, uint8 pollutant) external view returns (bool) {
        if (!gates(pollutant) || !_registry.hasRole(Roles.ENTERPRISE_ROLE, account)) return true;
        return isValid(account, pollutant, block.timestamp);
    }

    /// @inheritdoc IDischargePermits
    function permittedAmount(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256) {
        uint256 id = _permitOf[enterprise];
        if (id == 0 || year < MIN_YEAR || year > MAX_YEAR) return 0;
        Permit storage p = _permits[id];
        if (p.state != PermitState.Valid || block.timestamp > p.validUntil) return 0;
        if (p.validUntil < _yearStart(year) || p.validFrom >= _yearStart(year + 1)) return 0;
        return _amounts[id][pollutant];
    }

    /// @inheritdoc IDischargePermits
    function outletEnterprise(string calldata mn) external view returns (address) {
        uint256 id = _outletPermit[keccak256(bytes(mn))];
        if (id == 0) return address(0);
        Permit storage p = _permits[id];
        if (p.state != PermitState.Valid || block.timestamp < p.validFrom || block.timestamp > p.validUntil) {
            return address(0);
        }
        return p.enterprise;
    }

    /// @inheritdoc IDischargePermits
    function gates(uint8 pollutant) public pure returns (bool) {
        return pollutant != 0 && pollutant != CO2;
    }

    /// @inheritdoc IDischargePermits
    function permitStatus(uint256 permitId) external view returns (PermitState) {
        return _status(_permits[permitId]);
    }

    /// @inheritdoc IDischargePermits
    function getPermit(uint256 permitId) external view returns (Permit memory) {
        return _permit(permitId);
    }

    /// @inheritdoc IDischargePermits
    function getApplication(uint256 applicationId) external view returns (Application memory) {
        return _application(applicationId);
    }

    /// @inheritdoc IDischargePermits
    function annualReviewOf(uint256 permitId, uint16 year) external view returns (bool recorded, bool passed) {
        uint8 outcome = _reviews[permitId][year];
        return (outcome != 0, outcome == 2);
    }

    /// @inheritdoc IDischargePermits
    function applicationCount() external view returns (uint256) {
        return _applicationCount;
    }

    /// @inheritdoc IDischargePermits
    function permitCount() external view returns (uint256) {
        return _permitCount;
    }

    // ------------------------------------------------------------------ internal

    function _application(uint256 applicationId) private view returns (Application storage a) {
        a = _applications[applicationId];
        if (a.state == ApplicationState.None) revert PermitApplicationUnknown(applicationId);
    }

    function _permit(uint256 permitId) private view returns (Permit storage p) {
        p = _permits[permitId];
        if (p.state == PermitState.None) revert PermitUnknown(permitId);
    }

    function _status(Permit storage p) private view returns (PermitState) {
        PermitState s = p.state;
        if (s == PermitState.Valid && block.timestamp > p.validUntil) return PermitState.Expired;
        return s;
    }

    /// @dev End a Valid or Expired permit with `final_`; its outlets are freed.
    function _end(uint256 permitId, PermitState final_, string calldata reason) private returns (Permit storage p) {
        p = _permit(permitId);
        PermitState s = _status(p);
        if (s != PermitState.Valid && s != PermitState.Expired) revert PermitWrongState(permitId, s);
        p.state = final_;
        p.reason = reason;
    }

    function _validity(uint64 validFrom, uint64 validUntil) private view returns (uint64, uint64) {
        uint64 now_ = uint64(block.timestamp);
        if (validFrom == 0) validFrom = now_;
        if (validUntil == 0) validUntil = validFrom + DEFAULT_VALIDITY;
        bool startOk = validFrom + MAX_START_OFFSET >= now_ && validFrom <= now_ + MAX_START_OFFSET;
        if (!startOk || validUntil <= validFrom || validUntil <= now_) revert PermitInvalidValidity(validFrom, validUntil);
        return (validFrom, validUntil);
    }

    function _fillApplication(
        Application storage a,
        Outlet[] calldata outlets,
        Term[] calldata terms,
        bytes32 documentHash
    ) private {
        a.state = ApplicationState.Submitted;
        a.submittedAt = uint64(block.timestamp);
        a.documentHash = documentHash;
        a.reason = "";
        for (uint256 i = 0; i < outlets.length; ++i) {
            a.outlets.push(Outlet(outlets[i].code, outlets[i].mn));
        }
        for (uint256 i = 0; i < terms.length; ++i) {
            a.terms.push(terms[i]);
        }
    }

    function _setOutlet(Permit storage p, uint256 permitId, string memory code, string memory mn) private {
        bytes32 mnHash = keccak256(bytes(mn));
        uint256 other = _outletPermit[mnHash];
        if (other != 0 && other != permitId && _permits[other].state == PermitState.Valid) {
            revert PermitOutletTaken(mn, other);
        }
        _outletPermit[mnHash] = permitId;
        p.outlets.push(Outlet(code, mn));
        emit PermitOutletSet(permitId, p.revision, code, mn);
    }

    function _setTerm(Permit storage p, uint256 permitId, Term memory t) private {
        _amounts[permitId][t.pollutant] = t.annualAmount;
        p.terms.push(t);
        emit PermitTermSet(permitId, p.revision, t.pollutant, t.annualAmount, t.concentrationLimit);
    }

    /// @dev Outlets: at least one, codes 1..32 bytes, MNs valid, listed once, on no other
    /// enterprise's valid permit.
    function _checkOutlets(Outlet[] calldata outlets, address enterprise) private view {
        uint256 n = outlets.length;
        if (n == 0) revert PermitNoOutlets();
        for (uint256 i = 0; i < n; ++i) {
            uint256 codeLength = bytes(outlets[i].code).length;
            if (codeLength == 0 || codeLength > 32) revert PermitInvalidOutletCode(outlets[i].code);
            bytes calldata mn = bytes(outlets[i].mn);
            if (!_isValidMn(mn)) revert PermitInvalidMn(outlets[i].mn);
            bytes32 mnHash = keccak256(mn);
            for (uint256 j = 0; j < i; ++j) {
                if (keccak256(bytes(outlets[j].mn)) == mnHash) revert PermitOutletTaken(outlets[i].mn, 0);
            }
            uint256 other = _outletPermit[mnHash];
            if (other != 0 && _permits[other].enterprise != enterprise && _permits[other].state == PermitState.Valid) {
                revert PermitOutletTaken(outlets[i].mn, other);
            }
        }
    }

    /// @dev Terms: at least one; each a gated pollutant, once, with a non-zero amount.
    function _checkTerms(Term[] calldata terms) private pure {
        uint256 n = terms.length;
        if (n == 0) revert PermitNoTerms();
        uint256 seen = 0;
        for (uint256 i = 0; i < n; ++i) {
            uint8 pollutant = terms[i].pollutant;
            uint256 bit = uint256(1) << pollutant;
            if (pollutant == 0 || pollutant == CO2 || terms[i].annualAmount == 0 || seen & bit != 0) {
                revert PermitInvalidTerm(i, pollutant, terms[i].annualAmount);
            }
            seen |= bit;
        }
    }

    /// @dev HJ 212 MN as the registry checks it: 1..24 ASCII letters or digits.
    function _isValidMn(bytes calldata mn) private pure returns (bool) {
        uint256 n = mn.length;
        if (n == 0 || n > 24) return false;
        for (uint256 i = 0; i < n; ++i) {
            bytes1 c = mn[i];
            bool alnum = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
            if (!alnum) return false;
        }
        return true;
    }

    /// @dev 00:00 UTC on 1 January of `year` (year >= 1970) as a Unix time.
    function _yearStart(uint16 year) private pure returns (uint256) {
        uint256 y = uint256(year) - 1;
        uint256 leaps = (y / 4 - 492) - (y / 100 - 19) + (y / 400 - 4);
        return (365 * (uint256(year) - 1970) + leaps) * 1 days;
    }
}
