// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @title IConsortiumRegistry
/// @notice Who is who in the ETS consortium and who may do what: roles, enterprise profiles,
/// monitoring devices, suspension, and the k-of-n governance through which all of these change.
/// @dev Role grants and revocations, registrations, suspensions and governance parameters change
/// only through `execute` of a proposal approved by `threshold()` governance members. Other
/// contracts ask this registry (`isActiveParticipant`, `hasRole`) before they move value.
interface IConsortiumRegistry is IAccessControl {
    /// @notice Lifecycle of a participant account.
    enum ParticipantStatus {
        None,
        Active,
        Suspended
    }

    /// @notice Profile of a covered enterprise (pollution-source unit).
    /// @param creditCode Unified social credit code, GB 32100-2015 (18 characters, check character last).
    /// @param name Registered name.
    /// @param regionCode Administrative division code, GB/T 2260 (6 digits).
    /// @param industryCode Industry classification, GB/T 4754 (section letter + up to 4 digits, e.g. "D4411").
    /// @param latitude Latitude in micro-degrees (WGS 84).
    /// @param longitude Longitude in micro-degrees (WGS 84).
    struct EnterpriseProfile {
        string creditCode;
        string name;
        uint32 regionCode;
        string industryCode;
        int32 latitude;
        int32 longitude;
    }

    /// @notice A monitoring device (data-acquisition unit / total-amount controller).
    /// @param enterprise The enterprise the device is bound to.
    /// @param mn HJ 212 MN code of the device.
    /// @param boundAt Block timestamp of the binding.
    struct Device {
        address enterprise;
        string mn;
        uint64 boundAt;
    }

    /// @notice A governance proposal: one call, made by the registry itself when executed.
    /// @param proposer Member who proposed it.
    /// @param deadline Last timestamp at which it can be approved or executed.
    /// @param executed Whether it has been executed.
    /// @param target Contract called: this registry, or a consortium contract that accepts
    /// governance calls from the registry (e.g. AllowanceToken.addPollutant).
    /// @param data ABI-encoded call (may be a `multicall` on this registry).
    /// @param description Free text shown to the approving members.
    struct Proposal {
        address proposer;
        uint64 deadline;
        bool executed;
        address target;
        bytes data;
        string description;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The caller is not a governance member.
    error GovernanceNotMember(address account);
    /// @notice Only the registry itself (an executed proposal) may call this function.
    error GovernanceOnlySelf(address caller);
    /// @notice The threshold is zero or larger than the number of members.
    error GovernanceInvalidThreshold(uint256 threshold, uint256 members);
    /// @notice The proposal lifetime is zero or longer than the allowed maximum.
    error GovernanceInvalidLifetime(uint64 lifetime);
    /// @notice No proposal with this id.
    error ProposalUnknown(uint256 proposalId);
    /// @notice The proposal's deadline has passed.
    error ProposalExpired(uint256 proposalId, uint64 deadline, uint64 now);
    /// @notice The proposal has already been executed.
    error ProposalAlreadyExecuted(uint256 proposalId);
    /// @notice This member has already approved the proposal.
    error ProposalAlreadyApproved(uint256 proposalId, address member);
    /// @notice The proposal has fewer approvals from current members than the threshold.
    error ProposalThresholdNotMet(uint256 proposalId, uint256 approvals, uint256 threshold);
    /// @notice The proposal carries no call.
    error ProposalEmpty();
    /// @notice The proposal's target is neither this registry nor a contract.
    error ProposalTargetNotContract(address target);
    /// @notice The address is the zero address.
    error RegistryZeroAddress();
    /// @notice The unified social credit code is malformed or its check character is wrong.
    error RegistryInvalidCreditCode(string creditCode);
    /// @notice The region code is not a 6-digit GB/T 2260 code.
    error RegistryInvalidRegionCode(uint32 regionCode);
    /// @notice The industry code is not a GB/T 4754 code.
    error RegistryInvalidIndustryCode(string industryCode);
    /// @notice Latitude or longitude outside the globe.
    error RegistryInvalidLocation(int32 latitude, int32 longitude);
    /// @notice The enterprise name is empty or longer than 200 bytes.
    error RegistryInvalidName();
    /// @notice Another account is already registered with this credit code.
    error RegistryDuplicateEnterprise(string creditCode, address existing);
    /// @notice The account is already a registered enterprise.
    error RegistryAlreadyRegistered(address account);
    /// @notice The account is not a registered enterprise.
    error RegistryNotEnterprise(address account);
    /// @notice The account holds no participant role.
    error RegistryNotParticipant(address account);
    /// @notice The participant is not in the status the action needs.
    error RegistryWrongStatus(address account, ParticipantStatus status);
    /// @notice The device is already bound to an enterprise.
    error RegistryDeviceAlreadyBound(address device, address enterprise);
    /// @notice The MN code is already used by another device.
    error RegistryDuplicateMn(string mn, address device);
    /// @notice The MN code is empty, longer than 24 characters or not alphanumeric.
    error RegistryInvalidMn(string mn);
    /// @notice The device is not bound.
    error RegistryDeviceUnknown(address device);
    /// @notice The role is not one the consortium knows.
    error RegistryUnknownRole(bytes32 role);
    /// @notice Revoking would leave fewer members than the threshold.
    error GovernanceMembersBelowThreshold(uint256 members, uint256 threshold);
    /// @notice Accounts may not renounce roles: revocation goes through governance.
    error RegistryRenounceDisabled();
    /// @notice The caller holds the role the function needs but is suspended.
    error RegistryCallerNotActive(address account);
    /// @notice The governance member is suspended: it may not propose, approve or execute.
    error GovernanceMemberSuspended(address account);
    /// @notice The account does not hold ORACLE_ROLE.
    error RegistryNotOracle(address account);
    /// @notice The account does not hold AUDITOR_ROLE.
    error RegistryNotAuditor(address account);
    /// @notice The auditor is already assigned to the enterprise.
    error RegistryAuditorAlreadyAssigned(address auditor, address enterprise);
    /// @notice The auditor is not assigned to the enterprise.
    error RegistryAuditorNotAssigned(address auditor, address enterprise);
    /// @notice While discharge permits are wired ({setPermits}), a device binds only to an outlet
    /// listed on a valid permit of that enterprise ({IDischargePermits-outletEnterprise}).
    error RegistryDeviceNotOnPermit(string mn, address enterprise);

    // ---------------------------------------------------------------- events

    /// @notice A member proposed a call.
    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address target,
        uint64 deadline,
        bytes data,
        string description
    );
    /// @notice A member approved a proposal.
    event ProposalApproved(uint256 indexed proposalId, address indexed member, uint256 approvals);
    /// @notice A proposal was executed.
    event ProposalExecuted(uint256 indexed proposalId, address indexed executor);
    /// @notice The approval threshold changed.
    event ThresholdChanged(uint256 oldThreshold, uint256 newThreshold);
    /// @notice The proposal lifetime changed.
    event ProposalLifetimeChanged(uint64 oldLifetime, uint64 newLifetime);
    /// @notice An enterprise was registered (it also receives ENTERPRISE_ROLE).
    event EnterpriseRegistered(
        address indexed account, string creditCode, string name, uint32 regionCode, string industryCode,
        int32 latitude, int32 longitude
    );
    /// @notice An enterprise's profile changed.
    event EnterpriseProfileUpdated(
        address indexed account, string name, uint32 regionCode, string industryCode, int32 latitude, int32 longitude
    );
    /// @notice A participant was suspended.
    event ParticipantSuspended(address indexed account, uint16 reasonCode);
    /// @notice A suspended participant was reinstated.
    event ParticipantReinstated(address indexed account);
    /// @notice A device was bound to an enterprise.
    event DeviceBound(address indexed device, address indexed enterprise, string mn);
    /// @notice The discharge permits contract that gates device binding was wired.
    event RegistryPermitsSet(address indexed permits);
    /// @notice A device was unbound.
    event DeviceUnbound(address indexed device, address indexed enterprise, string mn);
    /// @notice The oracle (site gateway) that may anchor a device's readings was set; zero when
    /// unbinding the device cleared it.
    event DeviceOracleSet(address indexed device, address indexed oracle);
    /// @notice An enterprise was closed (关停) by governance: its allowances of the current and
    /// future vintages were swept into `reserve` (closure `closureId` there), its permit
    /// `permitId` cancelled (0: none to cancel), `devices` devices unbound, and it was suspended.
    event EnterpriseClosed(
        address indexed enterprise,
        uint256 indexed closureId,
        address reserve,
        uint256 permitId,
        uint256 devices,
        uint16 reasonCode,
        string reason
    );
    /// @notice The regulator assigned an auditor to verify an enterprise.
    event AuditorAssigned(address indexed auditor, address indexed enterprise);
    /// @notice The regulator ended an auditor's assignment to an enterprise.
    event AuditorUnassigned(address indexed auditor, address indexed enterprise);

    // ---------------------------------------------------------------- governance

    /// @notice Propose a call; the proposer's approval is counted at once.
    /// @param target This registry, or a consortium contract governed by it.
    /// @param data ABI-encoded call (e.g. `grantRole`, `registerEnterprise`, or a `multicall` of several).
    /// @param description Text for the other members.
    /// @return proposalId Sequential id, starting at 1.
    /// Requirements: caller is a governance member (`GovernanceNotMember`) and not suspended
    /// (`GovernanceMemberSuspended`); `data` is not empty; target is a contract.
    /// Emits: {ProposalCreated}, {ProposalApproved}.
    function propose(address target, bytes calldata data, string calldata description)
        external
        returns (uint256 proposalId);

    /// @notice Approve a proposal.
    /// @param proposalId The proposal.
    /// Requirements: caller is a member, not suspended; proposal exists, is not executed or expired;
    /// caller has not approved it.
    /// Emits: {ProposalApproved}.
    function approve(uint256 proposalId) external;

    /// @notice Execute a proposal approved by at least `threshold()` current, unsuspended members.
    /// @param proposalId The proposal.
    /// Requirements: caller is a member, not suspended; proposal exists, is not executed or expired;
    /// threshold met.
    /// A revert of the proposed call is passed through unchanged.
    /// Emits: {ProposalExecuted} and the events of the executed call.
    function execute(uint256 proposalId) external;

    /// @notice Set the approval threshold.
    /// @param newThreshold Between 1 and the number of members.
    /// Requirements: called by the registry itself (an executed proposal).
    /// Emits: {ThresholdChanged}.
    function setThreshold(uint256 newThreshold) external;

    /// @notice Set how long a new proposal stays open.
    /// @param newLifetime Seconds, 1 to 365 days.
    /// Requirements: called by the registry itself.
    /// Emits: {ProposalLifetimeChanged}.
    function setProposalLifetime(uint64 newLifetime) external;

    // ---------------------------------------------------------------- participants

    /// @notice Register an enterprise and grant it ENTERPRISE_ROLE.
    /// @param account The enterprise's account.
    /// @param profile Its profile; the credit code's check character is verified here.
    /// Requirements: called by the registry itself; account not zero, not yet registered; credit code
    /// valid and unused; region, industry, location and name valid.
    /// Emits: {EnterpriseRegistered}, {RoleGranted}.
    function registerEnterprise(address account, EnterpriseProfile calldata profile) external;

    /// @notice Update an enterprise's profile (the credit code stays).
    /// Requirements: called by the registry itself; account is a registered enterprise.
    /// Emits: {EnterpriseProfileUpdated}.
    function updateEnterprise(
        address account,
        string calldata name,
        uint32 regionCode,
        string calldata industryCode,
        int32 latitude,
        int32 longitude
    ) external;

    /// @notice Suspend a participant: it can no longer transact or hold moving value.
    /// @param reasonCode Application-defined reason.
    /// Requirements: called by the registry itself; account is an active participant.
    /// Emits: {ParticipantSuspended}.
    function suspendParticipant(address account, uint16 reasonCode) external;

    /// @notice Close (关停) an active enterprise in one governance proposal: sweep its allowances of
    /// `ids` (current and future vintages) into the government `reserve`
    /// (`IGovernmentReserve.sweepClosure`), cancel its permit while permits are wired and it holds
    /// a valid or expired one (`IDischargePermits.cancel`), unbind all its devices, suspend it.
    /// The events of each step and {EnterpriseClosed} make the audit trail. Allowances escrowed in
    /// the market stay there (cancel its orders first); past vintages stay with it.
    /// @param enterprise A registered, active enterprise.
    /// @param reasonCode The suspension's reason code.
    /// @param reason Text recorded with the permit's cancellation and the sweep.
    /// @param reserve The GovernmentReserve (wired into the AllowanceToken).
    /// @param ids Allowance ids it may hold (each taken whole; zero balances move nothing).
    /// Requirements: called by the registry itself (an executed proposal approved by `threshold`
    /// members, `GovernanceOnlySelf`); enterprise registered (`RegistryNotEnterprise`) and active
    /// (`RegistryWrongStatus`); reserve not zero (`RegistryZeroAddress`); the reserve's checks
    /// (`ReserveInvalidId`, `ReserveVintagePast`).
    /// Emits: the reserve's `ReserveConfiscated`, the token's `AllowancesConfiscated`,
    /// `PermitCancelled`, {DeviceUnbound} per device, {ParticipantSuspended}, {EnterpriseClosed}.
    function closeEnterprise(
        address enterprise,
        uint16 reasonCode,
        string calldata reason,
        address reserve,
        uint256[] calldata ids
    ) external;

    /// @notice Reinstate a suspended participant.
    /// Requirements: called by the registry itself; account is suspended.
    /// Emits: {ParticipantReinstated}.
    function reinstateParticipant(address account) external;

    // ---------------------------------------------------------------- devices

    /// @notice Bind a monitoring device to an enterprise.
    /// @param device The device's signing address.
    /// @param enterprise A registered, active enterprise.
    /// @param mn The device's HJ 212 MN code (1-24 alphanumeric characters), unique.
    /// Requirements: caller has REGULATOR_ROLE and is active (`RegistryCallerNotActive`); device
    /// not bound; MN unused; while permits are wired, the MN is an outlet on a valid permit of
    /// `enterprise` (`RegistryDeviceNotOnPermit`).
    /// Emits: {DeviceBound}.
    function bindDevice(address device, address enterprise, string calldata mn) external;

    /// @notice Wire the discharge permits contract that gates {bindDevice}.
    /// Requirements: called by the registry itself (an executed proposal, `GovernanceOnlySelf`);
    /// not zero (`RegistryZeroAddress`).
    /// Emits: {RegistryPermitsSet}.
    function setPermits(address permits) external;

    /// @notice Unbind a device (e.g. replaced hardware); also clears its oracle.
    /// @param device The device's signing address.
    /// Requirements: caller has REGULATOR_ROLE and is active; device bound.
    /// Emits: {DeviceUnbound}, and {DeviceOracleSet} with oracle zero when an oracle was set.
    function unbindDevice(address device) external;

    /// @notice Set the oracle (site gateway key) that alone may anchor the device's readings in
    /// the EmissionsLedger; replaces any previous one.
    /// @param device A bound device.
    /// @param oracle An active account holding ORACLE_ROLE.
    /// Requirements: caller has REGULATOR_ROLE and is active; device bound (`RegistryDeviceUnknown`);
    /// oracle holds ORACLE_ROLE (`RegistryNotOracle`) and is not suspended (`RegistryWrongStatus`).
    /// Emits: {DeviceOracleSet}.
    function setDeviceOracle(address device, address oracle) external;

    // ---------------------------------------------------------------- auditors

    /// @notice Assign an auditor to verify an enterprise: only an assigned auditor may attest the
    /// enterprise's emissions and read its records.
    /// @param auditor An account holding AUDITOR_ROLE.
    /// @param enterprise A registered enterprise.
    /// Requirements: caller has REGULATOR_ROLE and is active; auditor holds AUDITOR_ROLE
    /// (`RegistryNotAuditor`); enterprise registered (`RegistryNotEnterprise`); not yet assigned
    /// (`RegistryAuditorAlreadyAssigned`).
    /// Emits: {AuditorAssigned}.
    function assignAuditor(address auditor, address enterprise) external;

    /// @notice End an auditor's assignment to an enterprise.
    /// @param auditor The assigned auditor.
    /// @param enterprise The enterprise.
    /// Requirements: caller has REGULATOR_ROLE and is active; the auditor is assigned to the
    /// enterprise (`RegistryAuditorNotAssigned`).
    /// Emits: {AuditorUnassigned}.
    function unassignAuditor(address auditor, address enterprise) external;

    // ---------------------------------------------------------------- views

    /// @notice Number of governance members required to execute a proposal.
    function threshold() external view returns (uint256);
    /// @notice Lifetime of new proposals, in seconds.
    function proposalLifetime() external view returns (uint64);
    /// @notice Number of proposals created so far (ids are 1..count).
    function proposalCount() external view returns (uint256);
    /// @notice A proposal by id.
    function getProposal(uint256 proposalId) external view returns (Proposal memory);
    /// @notice Approvals of a proposal counted among current members that are not suspended (a
    /// member suspended after approving no longer counts until reinstated).
    function approvalCount(uint256 proposalId) external view returns (uint256);
    /// @notice Whether `member` has approved the proposal.
    function hasApproved(uint256 proposalId, address member) external view returns (bool);
    /// @notice Current governance members.
    function members() external view returns (address[] memory);
    /// @notice Whether the account is a governance member.
    function isMember(address account) external view returns (bool);
    /// @notice Status of an account (None if it never held a participant role).
    function statusOf(address account) external view returns (ParticipantStatus);
    /// @notice True if the account holds a participant role and is not suspended.
    function isActiveParticipant(address account) external view returns (bool);
    /// @notice `isActiveParticipant` of two accounts in one call (used by token transfers).
    function areActiveParticipants(address a, address b) external view returns (bool, bool);
    /// @notice `hasRole(role, account)` and `isActiveParticipant(account)` in one call (one
    /// storage read for a participant role; the market's caller check).
    /// @param account The account.
    /// @param role The role id.
    /// @return held Whether the account holds the role.
    /// @return active Whether the account is an active participant.
    function roleStatus(address account, bytes32 role) external view returns (bool held, bool active);
    /// @notice True if the account is a registered enterprise that is not suspended.
    function isActiveEnterprise(address account) external view returns (bool);
    /// @notice Number of registered enterprises.
    function enterpriseCount() external view returns (uint256);
    /// @notice Enterprise account at `index` (registration order).
    function enterpriseAt(uint256 index) external view returns (address);
    /// @notice Profile of an enterprise.
    function getEnterprise(address account) external view returns (EnterpriseProfile memory);
    /// @notice Account registered under a credit code (zero if none).
    function enterpriseByCreditCode(string calldata creditCode) external view returns (address);
    /// @notice Number of bound devices.
    function deviceCount() external view returns (uint256);
    /// @notice Device address at `index`.
    function deviceAt(uint256 index) external view returns (address);
    /// @notice A device's binding.
    function getDevice(address device) external view returns (Device memory);
    /// @notice Device bound under an MN code (zero if none).
    function deviceByMn(string calldata mn) external view returns (address);
    /// @notice Devices bound to an enterprise.
    function devicesOf(address enterprise) external view returns (address[] memory);
    /// @notice The oracle that may anchor the device's readings (zero when none).
    function oracleOf(address device) external view returns (address);
    /// @notice What anchoring a device's readings checks, in one call (the EmissionsLedger's
    /// `anchorBatch`): the device's enterprise, whether it is active ({isActiveEnterprise}) and
    /// the device's oracle ({oracleOf}).
    /// @param device The device.
    /// @return enterprise The enterprise the device is bound to (zero when unbound).
    /// @return enterpriseActive Whether that enterprise is an active enterprise (false when unbound).
    /// @return oracle The oracle that may anchor the device's readings (zero when none).
    function deviceAnchoring(address device)
        external
        view
        returns (address enterprise, bool enterpriseActive, address oracle);
    /// @notice The discharge permits contract gating device binding (zero when not wired).
    function permits() external view returns (address);
    /// @notice Whether the regulator has assigned `auditor` to `enterprise`.
    function isAuditorAssigned(address auditor, address enterprise) external view returns (bool);
    /// @notice Enterprises `auditor` is assigned to (unordered).
    function enterprisesOfAuditor(address auditor) external view returns (address[] memory);
    /// @notice Whether a credit code is well formed with a correct check character (GB 32100-2015).
    function isValidCreditCode(string calldata creditCode) external pure returns (bool);

    /// @notice Besu account-permissioning hook (selector 0x936421d5): may `sender` transact?
    /// @return True for governance members and active participants; false for unknown accounts and
    /// for suspended ones, governance members included.
    function transactionAllowed(
        address sender,
        address target,
        uint256 value,
        uint256 gasPrice,
        uint256 gasLimit,
        bytes calldata payload
    ) external view returns (bool);
}
