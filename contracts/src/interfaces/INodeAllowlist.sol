// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title INodeAllowlist
/// @notice The consortium's node allowlist: which Besu nodes (enode id, IP, port) may connect.
/// Besu (up to 25.5.x, `--permissions-nodes-contract-version=2`) calls `connectionAllowed` for both
/// ends of every peer connection; from Besu 25.6, `ets network sync-allowlist` copies the list into
/// each node's local allowlist. Entries change only through the ConsortiumRegistry's governance
/// (an executed k-of-n proposal targeting this contract).
interface INodeAllowlist {
    /// @notice One allowed node.
    /// @param enodeId The node's public key: 128 lowercase hex characters, no 0x.
    /// @param host The node's IP address as text (e.g. "10.0.0.5").
    /// @param port The node's TCP listening (P2P) port.
    struct Node {
        string enodeId;
        string host;
        uint16 port;
    }

    /// @notice Only the registry (an executed governance proposal) may change the allowlist.
    error NodeAllowlistOnlyGovernance(address caller);
    /// @notice The registry address is zero or not a contract.
    error NodeAllowlistInvalidRegistry(address registry);
    /// @notice The enode id is not 128 lowercase hex characters.
    error NodeAllowlistInvalidEnodeId(string enodeId);
    /// @notice The host is empty or longer than 45 characters (the longest IPv6 text form).
    error NodeAllowlistInvalidHost(string host);
    /// @notice The port is zero.
    error NodeAllowlistInvalidPort(uint16 port);
    /// @notice The node (id, host, port) is already allowed.
    error NodeAllowlistAlreadyAllowed(string enodeId, string host, uint16 port);
    /// @notice The node (id, host, port) is not in the allowlist.
    error NodeAllowlistNotAllowed(string enodeId, string host, uint16 port);

    /// @notice A node was allowed.
    /// @param key keccak256 of the node's (enodeId, Besu's hex host, port): what `connectionAllowed` looks up.
    event NodeAllowed(bytes32 indexed key, string enodeId, string host, uint16 port);
    /// @notice A node was removed from the allowlist.
    event NodeDisallowed(bytes32 indexed key, string enodeId, string host, uint16 port);

    /// @notice Allow a node.
    /// @param enodeId 128 lowercase hex characters.
    /// @param host IP address text as the node is reached (IPv4 dotted, or IPv6 as Java prints it).
    /// @param port P2P listening port.
    /// Requirements: called by the registry (governance); valid id, host and port; not yet allowed.
    /// Emits: {NodeAllowed}.
    function allowNode(string calldata enodeId, string calldata host, uint16 port) external;

    /// @notice Remove a node from the allowlist.
    /// Requirements: called by the registry (governance); the node is allowed.
    /// Emits: {NodeDisallowed}.
    function disallowNode(string calldata enodeId, string calldata host, uint16 port) external;

    /// @notice Besu node-permissioning v2 hook: may this node connect?
    /// @param enodeId 128 lowercase hex characters.
    /// @param enodeHost The IP address text, hex-encoded with a 0x prefix (as Besu sends it).
    /// @param enodePort The P2P listening port.
    /// @return True if the node is allowed.
    function connectionAllowed(string calldata enodeId, string calldata enodeHost, uint16 enodePort)
        external
        view
        returns (bool);

    /// @notice Whether a node is allowed, its host given as plain text.
    function isAllowed(string calldata enodeId, string calldata host, uint16 port) external view returns (bool);

    /// @notice Number of allowed nodes.
    function nodeCount() external view returns (uint256);

    /// @notice The allowed node at `index` (0 <= index < nodeCount(); order changes on removal).
    function nodeAt(uint256 index) external view returns (Node memory);

    /// @notice Every allowed node.
    function nodes() external view returns (Node[] memory);

    /// @notice The ConsortiumRegistry whose governance manages this allowlist.
    function registry() external view returns (address);
}
