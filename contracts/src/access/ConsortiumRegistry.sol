// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl, IAccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AccessControlEnumerable} from "@openzeppelin/contracts/access/extensions/AccessControlEnumerable.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IDischargePermits} from "../interfaces/IDischargePermits.sol";
import {IGovernmentReserve} from "../interfaces/IGovernmentReserve.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title ConsortiumRegistry
/// @notice Roles, enterprise profiles, devices and suspension for the ETS consortium, changed only
/// through k-of-n governance proposals of the consortium members; also Besu's account-permissioning
/// contract (`transactionAllowed`).
/// @dev The registry holds DEFAULT_ADMIN_ROLE itself, so a role changes only when an executed
/// proposal calls `grantRole`/`revokeRole` on it. Governance members hold GOVERNOR_ROLE.
contract ConsortiumRegistry is IConsortiumRegistry, AccessControlEnumerable, Multicall {
    using EnumerableSet for EnumerableSet.AddressSet;

    // The role ids of {Roles}, also readable by callers (`REGULATOR_ROLE()` ...).
    bytes32 public constant GOVERNOR_ROLE = Roles.GOVERNOR_ROLE;
    bytes32 public constant REGULATOR_ROLE = Roles.REGULATOR_ROLE;
    bytes32 public constant EXCHANGE_ROLE = Roles.EXCHANGE_ROLE;
    bytes32 public constant ENTERPRISE_ROLE = Roles.ENTERPRISE_ROLE;
    bytes32 public constant AUDITOR_ROLE = Roles.AUDITOR_ROLE;
    bytes32 public constant ORACLE_ROLE = Roles.ORACLE_ROLE;

    uint64 public constant MAX_PROPOSAL_LIFETIME = 365 days;

    /// @dev GB 32100-2015 character set (no I, O, S, V, Z); a character's value is its index.
    bytes private constant _CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY";

    uint256 private _threshold;
    uint64 private _proposalLifetime;
    uint256 private _proposalCount;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => mapping(address member => bool)) private _approved;

    /// @dev One slot per account so that token transfers check a party with a single SLOAD.
    struct Participant {
        uint8 roleCount; // participant roles held (GOVERNOR not counted)
        bool suspended;
        uint8 roleBits; // the participant roles held, one bit each ({_roleBit})
    }

    mapping(address account => Participant) private _participants;
    address[] private _enterpriseList;
    mapping(address account => EnterpriseProfile) private _profiles;
    mapping(bytes32 creditCodeHash => address account) private _byCreditCode;

    EnumerableSet.AddressSet private _deviceSet;
    mapping(address device => Device) private _devices;
    mapping(bytes32 mnHash => address device) private _byMn;
    mapping(address enterprise => EnumerableSet.AddressSet) private _devicesOf;
    mapping(address device => address oracle) private _oracleOf;
    address private _permits;

    mapping(address auditor => EnumerableSet.AddressSet) private _auditorEnterprises;

    modifier onlySelf() {
        if (msg.sender != address(this)) revert GovernanceOnlySelf(msg.sender);
        _;
    }

    modifier onlyMember() {
        if (!hasRole(GOVERNOR_ROLE, msg.sender)) revert GovernanceNotMember(msg.sender);
        if (_participants[msg.sender].suspended) revert GovernanceMemberSuspended(msg.sender);
        _;
    }

    /// @dev A participant role held by an account that is not suspended.
    modifier onlyActiveRole(bytes32 role) {
        _checkRole(role);
        if (_participants[msg.sender].suspended) revert RegistryCallerNotActive(msg.sender);
        _;
    }

    /// @param initialMembers Governance members (e.g. regulator, exchange, industry bodies).
    /// @param initialThreshold Approvals needed to execute a proposal (1..members).
    /// @param initialLifetime Seconds a proposal stays open.
    constructor(address[] memory initialMembers, uint256 initialThreshold, uint64 initialLifetime) {
        AccessControl._grantRole(DEFAULT_ADMIN_ROLE, address(this));
        for (uint256 i = 0; i < initialMembers.length; ++i) {
            _grantRole(GOVERNOR_ROLE, initialMembers[i]);
        }
        _setThreshold(initialThreshold);
        _setProposalLifetime(initialLifetime);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IConsortiumRegistry
    function propose(address target, bytes calldata data, string calldata description)
        external
        onlyMember
        returns (uint256 proposalId)
    {
        if (data.length == 0) revert ProposalEmpty();
        if (target != address(this) && target.code.length == 0) revert ProposalTargetNotContract(target);
        proposalId = ++_proposalCount;
        uint64 deadline = uint64(block.timestamp) + _proposalLifetime;
        _proposals[proposalId] = Proposal({
            proposer: msg.sender,
            deadline: deadline,
            executed: false,
            target: target,
            data: data,
            description: description
        });
        emit ProposalCreated(proposalId, msg.sender, target, deadline, data, description);
        _approved[proposalId][msg.sender] = true;
        emit ProposalApproved(proposalId, msg.sender, 1);
    }

    /// @inheritdoc IConsortiumRegistry
    function approve(uint256 proposalId) external onlyMember {
        _requireOpen(proposalId);
        if (_approved[proposalId][msg.sender]) revert ProposalAlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        emit ProposalApproved(proposalId, msg.sender, approvalCount(proposalId));
    }

    /// @inheritdoc IConsortiumRegistry
    function execute(uint256 proposalId) external onlyMember {
        Proposal storage proposal = _requireOpen(proposalId);
        uint256 approvals = approvalCount(proposalId);
        if (approvals < _threshold) revert ProposalThresholdNotMet(proposalId, approvals, _threshold);
        proposal.executed = true;
        (bool ok, bytes memory returned) = proposal.target.call(proposal.data);
        if (!ok) {
            // Pass the proposed call's custom error through unchanged (the whole tx reverts).
            assembly ("memory-safe") {
                revert(add(returned, 0x20), mload(returned))
            }
        }
        emit ProposalExecuted(proposalId, msg.sender);
    }

    /// @inheritdoc IConsortiumRegistry
    function setThreshold(uint256 newThreshold) external onlySelf {
        _setThreshold(newThreshold);
    }

    /// @inheritdoc IConsortiumRegistry
    function setProposalLifetime(uint64 newLifetime) external onlySelf {
        _setProposalLifetime(newLifetime);
    }

    /// @notice Grant a role. Only through governance.
    /// @dev Requirements: called by the registry itself; role is GOVERNOR or one of the five
    /// participant roles; account not zero. Emits {RoleGranted} (nothing if already held).
    function grantRole(bytes32 role, address account) public override(AccessControl, IAccessControl) onlySelf {
        _grantRole(role, account);
    }

    /// @notice Revoke a role. Only through governance.
    /// @dev Requirements: called by the registry itself; revoking GOVERNOR must leave at least
    /// `threshold()` members. Emits {RoleRevoked} (nothing if not held).
    function revokeRole(bytes32 role, address account) public override(AccessControl, IAccessControl) onlySelf {
        _revokeRole(role, account);
    }

    /// @notice Disabled: roles are revoked through governance only.
    function renounceRole(bytes32, address) public pure override(AccessControl, IAccessControl) {
        revert RegistryRenounceDisabled();
    }

    // ------------------------------------------------------------------ participants

    /// @inheritdoc IConsortiumRegistry
    function registerEnterprise(address account, EnterpriseProfile calldata profile) external onlySelf {
        if (account == address(0)) revert RegistryZeroAddress();
        if (bytes(_profiles[account].creditCode).length != 0) revert RegistryAlreadyRegistered(account);
        if (!isValidCreditCode(profile.creditCode)) revert RegistryInvalidCreditCode(profile.creditCode);
        bytes32 codeHash = keccak256(bytes(profile.creditCode));
        address existing = _byCreditCode[codeHash];
        if (existing != address(0)) revert RegistryDuplicateEnterprise(profile.creditCode, existing);
        _checkProfile(profile.name, profile.regionCode, profile.industryCode, profile.latitude, profile.longitude);

        _profiles[account] = profile;
        _byCreditCode[codeHash] = account;
        _enterpriseList.push(account);
        emit EnterpriseRegistered(
            account,
            profile.creditCode,
            profile.name,
            profile.regionCode,
            profile.industryCode,
            profile.latitude,
            profile.longitude
        );
        _grantRole(ENTERPRISE_ROLE, account);
    }

    /// @inheritdoc IConsortiumRegistry
    function updateEnterprise(
        address account,
        string calldata name,
        uint32 regionCode,
        string calldata industryCode,
        int32 latitude,
        int32 longitude
    ) external onlySelf {
        EnterpriseProfile storage profile = _profiles[account];
        if (bytes(profile.creditCode).length == 0) revert RegistryNotEnterprise(account);
        _checkProfile(name, regionCode, industryCode, latitude, longitude);
        profile.name = name;
        profile.regionCode = regionCode;
        profile.industryCode = industryCode;
        profile.latitude = latitude;
        profile.longitude = longitude;
        emit EnterpriseProfileUpdated(account, name, regionCode, industryCode, latitude, longitude);
    }

    /// @inheritdoc IConsortiumRegistry
    function suspendParticipant(address account, uint16 reasonCode) external onlySelf {
        ParticipantStatus status = statusOf(account);
        if (status != ParticipantStatus.Active) revert RegistryWrongStatus(account, status);
        _participants[account].suspended = true;
        emit ParticipantSuspended(account, reasonCode);
    }

    /// @inheritdoc IConsortiumRegistry
    function closeEnterprise(
        address enterprise,
        uint16 reasonCode,
        string calldata reason,
        address reserve,
        uint256[] calldata ids
    ) external onlySelf {
        if (bytes(_profiles[enterprise].creditCode).length == 0) revert RegistryNotEnterprise(enterprise);
        ParticipantStatus status = statusOf(enterprise);
        if (status != ParticipantStatus.Active) revert RegistryWrongStatus(enterprise, status);
        if (reserve == address(0)) revert RegistryZeroAddress();
        uint256 closureId = IGovernmentReserve(reserve).sweepClosure(enterprise, ids, reason);
        uint256 permitId = _cancelPermitOf(enterprise, reason);
        address[] memory devices = _devicesOf[enterprise].values();
        for (uint256 i = 0; i < devices.length; ++i) {
            _unbindDevice(devices[i]);
        }
        _participants[enterprise].suspended = true;
        emit ParticipantSuspended(enterprise, reasonCode);
        emit EnterpriseClosed(enterprise, closureId, reserve, permitId, devices.length, reasonCode, reason);
    }

    /// @dev Cancel the enterprise's valid or expired permit while permits are wired; its id, 0 when none.
    function _cancelPermitOf(address enterprise, string calldata reason) private returns (uint256 permitId) {
        IDischargePermits permits_ = IDischargePermits(_permits);
        if (address(permits_) == address(0)) return 0;
        permitId = permits_.permitOf(enterprise);
        IDischargePermits.PermitState state = permits_.permitStatus(permitId);
        if (state != IDischargePermits.PermitState.Valid && state != IDischargePermits.PermitState.Expired) return 0;
        permits_.cancel(permitId, reason);
    }

    /// @inheritdoc IConsortiumRegistry
    function reinstateParticipant(address account) external onlySelf {
        ParticipantStatus status = statusOf(account);
        if (status != ParticipantStatus.Suspended) revert RegistryWrongStatus(account, status);
        _participants[account].suspended = false;
        emit ParticipantReinstated(account);
    }

    // ------------------------------------------------------------------ devices

    /// @inheritdoc IConsortiumRegistry
    function bindDevice(address device, address enterprise, string calldata mn)
        external
        onlyActiveRole(REGULATOR_ROLE)
    {
        if (device == address(0)) revert RegistryZeroAddress();
        if (!isActiveEnterprise(enterprise)) {
            if (bytes(_profiles[enterprise].creditCode).length == 0) revert RegistryNotEnterprise(enterprise);
            revert RegistryWrongStatus(enterprise, ParticipantStatus.Suspended);
        }
        Device storage current = _devices[device];
        if (current.enterprise != address(0)) revert RegistryDeviceAlreadyBound(device, current.enterprise);
        if (!_isValidMn(bytes(mn))) revert RegistryInvalidMn(mn);
        bytes32 mnHash = keccak256(bytes(mn));
        address holder = _byMn[mnHash];
        if (holder != address(0)) revert RegistryDuplicateMn(mn, holder);
        address permits_ = _permits;
        if (permits_ != address(0) && IDischargePermits(permits_).outletEnterprise(mn) != enterprise) {
            revert RegistryDeviceNotOnPermit(mn, enterprise);
        }

        _devices[device] = Device({enterprise: enterprise, mn: mn, boundAt: uint64(block.timestamp)});
        _byMn[mnHash] = device;
        _deviceSet.add(device);
        _devicesOf[enterprise].add(device);
        emit DeviceBound(device, enterprise, mn);
    }

    /// @inheritdoc IConsortiumRegistry
    function setPermits(address permits_) external onlySelf {
        if (permits_ == address(0)) revert RegistryZeroAddress();
        _permits = permits_;
        emit RegistryPermitsSet(permits_);
    }

    /// @inheritdoc IConsortiumRegistry
    function unbindDevice(address device) external onlyActiveRole(REGULATOR_ROLE) {
        _unbindDevice(device);
    }

    function _unbindDevice(address device) private {
        Device memory current = _devices[device];
        if (current.enterprise == address(0)) revert RegistryDeviceUnknown(device);
        delete _devices[device];
        delete _byMn[keccak256(bytes(current.mn))];
        _deviceSet.remove(device);
        _devicesOf[current.enterprise].remove(device);
        emit DeviceUnbound(device, current.enterprise, current.mn);
        if (_oracleOf[device] != address(0)) {
            delete _oracleOf[device];
            emit DeviceOracleSet(device, address(0));
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function setDeviceOracle(address device, address oracle) external onlyActiveRole(REGULATOR_ROLE) {
        if (_devices[device].enterprise == address(0)) revert RegistryDeviceUnknown(device);
        if (!hasRole(ORACLE_ROLE, oracle)) revert RegistryNotOracle(oracle);
        if (_participants[oracle].suspended) revert RegistryWrongStatus(oracle, ParticipantStatus.Suspended);
        _oracleOf[device] = oracle;
        emit DeviceOracleSet(device, oracle);
    }

    // ------------------------------------------------------------------ auditors

    /// @inheritdoc IConsortiumRegistry
    function assignAuditor(address auditor, address enterprise) external onlyActiveRole(REGULATOR_ROLE) {
        if (!hasRole(AUDITOR_ROLE, auditor)) revert RegistryNotAuditor(auditor);
        if (bytes(_profiles[enterprise].creditCode).length == 0) revert RegistryNotEnterprise(enterprise);
        if (!_auditorEnterprises[auditor].add(enterprise)) revert RegistryAuditorAlreadyAssigned(auditor, enterprise);
        emit AuditorAssigned(auditor, enterprise);
    }

    /// @inheritdoc IConsortiumRegistry
    function unassignAuditor(address auditor, address enterprise) external onlyActiveRole(REGULATOR_ROLE) {
        if (!_auditorEnterprises[auditor].remove(enterprise)) revert RegistryAuditorNotAssigned(auditor, enterprise);
        emit AuditorUnassigned(auditor, enterprise);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IConsortiumRegistry
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc IConsortiumRegistry
    function proposalLifetime() external view returns (uint64) {
        return _proposalLifetime;
    }

    /// @inheritdoc IConsortiumRegistry
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortiumRegistry
    function getProposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId == 0 || proposalId > _proposalCount) revert ProposalUnknown(proposalId);
        return _proposals[proposalId];
    }

    /// @inheritdoc IConsortiumRegistry
    function approvalCount(uint256 proposalId) public view returns (uint256 approvals) {
        uint256 n = getRoleMemberCount(GOVERNOR_ROLE);
        for (uint256 i = 0; i < n; ++i) {
            address member = getRoleMember(GOVERNOR_ROLE, i);
            if (_approved[proposalId][member] && !_participants[member].suspended) ++approvals;
        }
    }

    /// @inheritdoc IConsortiumRegistry
    function hasApproved(uint256 proposalId, address member) external view returns (bool) {
        return _approved[proposalId][member];
    }

    /// @inheritdoc IConsortiumRegistry
    function members() external view returns (address[] memory) {
        return getRoleMembers(GOVERNOR_ROLE);
    }

    /// @inheritdoc IConsortiumRegistry
    function isMember(address account) public view returns (bool) {
        return hasRole(GOVERNOR_ROLE, account);
    }

    /// @inheritdoc IConsortiumRegistry
    function statusOf(address account) public view returns (ParticipantStatus) {
        Participant memory p = _participants[account];
        if (p.roleCount == 0) return ParticipantStatus.None;
        return p.suspended ? ParticipantStatus.Suspended : ParticipantStatus.Active;
    }

    /// @inheritdoc IConsortiumRegistry
    function isActiveParticipant(address account) public view returns (bool) {
        Participant memory p = _participants[account];
        return p.roleCount != 0 && !p.suspended;
    }

    /// @inheritdoc IConsortiumRegistry
    function areActiveParticipants(address a, address b) external view returns (bool, bool) {
        Participant memory pa = _participants[a];
        Participant memory pb = _participants[b];
        return (pa.roleCount != 0 && !pa.suspended, pb.roleCount != 0 && !pb.suspended);
    }

    /// @inheritdoc IConsortiumRegistry
    function roleStatus(address account, bytes32 role) external view returns (bool held, bool active) {
        Participant memory p = _participants[account];
        uint8 bit = _roleBit(role);
        held = bit != 0 ? p.roleBits & bit != 0 : hasRole(role, account);
        active = p.roleCount != 0 && !p.suspended;
    }

    /// @inheritdoc IConsortiumRegistry
    function isActiveEnterprise(address account) public view returns (bool) {
        return !_participants[account].suspended && hasRole(ENTERPRISE_ROLE, account)
            && bytes(_profiles[account].creditCode).length != 0;
    }

    /// @inheritdoc IConsortiumRegistry
    function enterpriseCount() external view returns (uint256) {
        return _enterpriseList.length;
    }

    /// @inheritdoc IConsortiumRegistry
    function enterpriseAt(uint256 index) external view returns (address) {
        return _enterpriseList[index];
    }

    /// @inheritdoc IConsortiumRegistry
    function getEnterprise(address account) external view returns (EnterpriseProfile memory profile) {
        profile = _profiles[account];
        if (bytes(profile.creditCode).length == 0) revert RegistryNotEnterprise(account);
    }

    /// @inheritdoc IConsortiumRegistry
    function enterpriseByCreditCode(string calldata creditCode) external view returns (address) {
        return _byCreditCode[keccak256(bytes(creditCode))];
    }

    /// @inheritdoc IConsortiumRegistry
    function deviceCount() external view returns (uint256) {
        return _deviceSet.length();
    }

    /// @inheritdoc IConsortiumRegistry
    function deviceAt(uint256 index) external view returns (address) {
        return _deviceSet.at(index);
    }

    /// @inheritdoc IConsortiumRegistry
    function getDevice(address device) external view returns (Device memory binding) {
        binding = _devices[device];
        if (binding.enterprise == address(0)) revert RegistryDeviceUnknown(device);
    }

    /// @inheritdoc IConsortiumRegistry
    function deviceByMn(string calldata mn) external view returns (address) {
        return _byMn[keccak256(bytes(mn))];
    }

    /// @inheritdoc IConsortiumRegistry
    function devicesOf(address enterprise) external view returns (address[] memory) {
        return _devicesOf[enterprise].values();
    }

    /// @inheritdoc IConsortiumRegistry
    function oracleOf(address device) external view returns (address) {
        return _oracleOf[device];
    }

    /// @inheritdoc IConsortiumRegistry
    function deviceAnchoring(address device)
        external
        view
        returns (address enterprise, bool enterpriseActive, address oracle)
    {
        enterprise = _devices[device].enterprise;
        if (enterprise != address(0)) enterpriseActive = isActiveEnterprise(enterprise);
        oracle = _oracleOf[device];
    }

    /// @inheritdoc IConsortiumRegistry
    function permits() external view returns (address) {
        return _permits;
    }

    /// @inheritdoc IConsortiumRegistry
    function isAuditorAssigned(address auditor, address enterprise) external view returns (bool) {
        return _auditorEnterprises[auditor].contains(enterprise);
    }

    /// @inheritdoc IConsortiumRegistry
    function enterprisesOfAuditor(address auditor) external view returns (address[] memory) {
        return _auditorEnterprises[auditor].values();
    }

    /// @inheritdoc IConsortiumRegistry
    function isValidCreditCode(string calldata creditCode) public pure returns (bool) {
        bytes memory code = bytes(creditCode);
        if (code.length != 18) return false;
        uint256 sum = 0;
        uint256 weight = 1;
        for (uint256 i = 0; i < 17; ++i) {
            uint256 value = _creditCharValue(code[i]);
            if (value == type(uint256).max) return false;
            sum += value * weight;
            weight = (weight * 3) % 31;
        }
        uint256 check = (31 - (sum % 31)) % 31;
        return code[17] == _CREDIT_CODE_CHARSET[check];
    }

    /// @inheritdoc IConsortiumRegistry
    function transactionAllowed(address sender, address, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bool)
    {
        Participant memory p = _participants[sender];
        return !p.suspended && (p.roleCount != 0 || isMember(sender));
    }

    // ------------------------------------------------------------------ internal

    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (account == address(0)) revert RegistryZeroAddress();
        bool participantRole = _isParticipantRole(role);
        if (role != GOVERNOR_ROLE && !participantRole) revert RegistryUnknownRole(role);
        bool granted = super._grantRole(role, account);
        if (granted && participantRole) {
            Participant storage p = _participants[account];
            ++p.roleCount;
            p.roleBits |= _roleBit(role);
        }
        return granted;
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool) {
        bool revoked = super._revokeRole(role, account);
        if (revoked && _isParticipantRole(role)) {
            Participant storage p = _participants[account];
            --p.roleCount;
            p.roleBits &= ~_roleBit(role);
        }
        if (role == GOVERNOR_ROLE) {
            uint256 count = getRoleMemberCount(GOVERNOR_ROLE);
            if (count < _threshold) revert GovernanceMembersBelowThreshold(count, _threshold);
        }
        return revoked;
    }

    function _setThreshold(uint256 newThreshold) private {
        uint256 count = getRoleMemberCount(GOVERNOR_ROLE);
        if (newThreshold == 0 || newThreshold > count) revert GovernanceInvalidThreshold(newThreshold, count);
        emit ThresholdChanged(_threshold, newThreshold);
        _threshold = newThreshold;
    }

    function _setProposalLifetime(uint64 newLifetime) private {
        if (newLifetime == 0 || newLifetime > MAX_PROPOSAL_LIFETIME) revert GovernanceInvalidLifetime(newLifetime);
        emit ProposalLifetimeChanged(_proposalLifetime, newLifetime);
        _proposalLifetime = newLifetime;
    }

    function _requireOpen(uint256 proposalId) private view returns (Proposal storage proposal) {
        if (proposalId == 0 || proposalId > _proposalCount) revert ProposalUnknown(proposalId);
        proposal = _proposals[proposalId];
        if (proposal.executed) revert ProposalAlreadyExecuted(proposalId);
        if (block.timestamp > proposal.deadline) {
            revert ProposalExpired(proposalId, proposal.deadline, uint64(block.timestamp));
        }
    }

    /// @dev The bit of a participant role in {Participant-roleBits} (0 for any other role).
    function _roleBit(bytes32 role) private pure returns (uint8) {
        if (role == ENTERPRISE_ROLE) return 1;
        if (role == EXCHANGE_ROLE) return 2;
        if (role == REGULATOR_ROLE) return 4;
        if (role == AUDITOR_ROLE) return 8;
        if (role == ORACLE_ROLE) return 16;
        return 0;
    }

    function _isParticipantRole(bytes32 role) private pure returns (bool) {
        return role == REGULATOR_ROLE || role == EXCHANGE_ROLE || role == ENTERPRISE_ROLE || role == AUDITOR_ROLE
            || role == ORACLE_ROLE;
    }

    function _checkProfile(
        string calldata name,
        uint32 regionCode,
        string calldata industryCode,
        int32 latitude,
        int32 longitude
    ) private pure {
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > 200) revert RegistryInvalidName();
        // GB/T 2260: six digits, province prefix 11 (Beijing) .. 82 (Macao).
        if (regionCode < 110000 || regionCode > 829999) revert RegistryInvalidRegionCode(regionCode);
        if (!_isValidIndustryCode(bytes(industryCode))) revert RegistryInvalidIndustryCode(industryCode);
        if (latitude < -90_000_000 || latitude > 90_000_000 || longitude < -180_000_000 || longitude > 180_000_000) {
            revert RegistryInvalidLocation(latitude, longitude);
        }
    }

    /// @dev GB/T 4754: section letter A..T, then nothing, a 2-digit division, 3-digit group or 4-digit class.
    function _isValidIndustryCode(bytes memory code) private pure returns (bool) {
        uint256 n = code.length;
        if (n == 0 || n == 2 || n > 5) return false;
        if (code[0] < "A" || code[0] > "T") return false;
        for (uint256 i = 1; i < n; ++i) {
            if (code[i] < "0" || code[i] > "9") return false;
        }
        return true;
    }

    function _isValidMn(bytes memory mn) private pure returns (bool) {
        uint256 n = mn.length;
        if (n == 0 || n > 24) return false;
        for (uint256 i = 0; i < n; ++i) {
            bytes1 c = mn[i];
            bool alnum = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");
            if (!alnum) return false;
        }
        return true;
    }

    function _creditCharValue(bytes1 c) private pure returns (uint256) {
        bytes memory charset = _CREDIT_CODE_CHARSET;
        for (uint256 i = 0; i < 31; ++i) {
            if (charset[i] == c) return i;
        }
        return type(uint256).max;
    }
}
