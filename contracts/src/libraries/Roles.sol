// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Roles
/// @notice The consortium's roles, declared once: `keccak256("<NAME>_ROLE")`, as Python's
/// `chain.registry.ROLES`. The ConsortiumRegistry grants them (governance); every other
/// contract asks the registry ({RegistryGated}).
library Roles {
    /// @notice Governance members: propose, approve and execute proposals.
    bytes32 internal constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice The regulator: caps, allocation, notices, devices, auditors, primary auctions.
    bytes32 internal constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");
    /// @notice The exchange: settlement cash in and out, settlement reports.
    bytes32 internal constant EXCHANGE_ROLE = keccak256("EXCHANGE_ROLE");
    /// @notice A registered enterprise (granted with its registration).
    bytes32 internal constant ENTERPRISE_ROLE = keccak256("ENTERPRISE_ROLE");
    /// @notice A third-party auditor: attests verified emissions.
    bytes32 internal constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");
    /// @notice An oracle gateway's service key: anchors batches of device readings.
    bytes32 internal constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
}
