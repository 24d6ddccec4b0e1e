// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {INodeAllowlist} from "../interfaces/INodeAllowlist.sol";

/// @title NodeAllowlist
/// @notice Besu node permissioning (EEA v2 interface) managed by the consortium's governance.
/// @dev Entries are keyed by keccak256(abi.encode(enodeId, hexHost, port)) where hexHost is the
/// host text hex-encoded with a 0x prefix, exactly as Besu's NodeSmartContractV2PermissioningController
/// passes it, so `connectionAllowed` is one hash and one SLOAD.
contract NodeAllowlist is INodeAllowlist {
    address private immutable _registry;
    Node[] private _nodes;
    /// @dev index + 1 in `_nodes`; 0 means absent.
    mapping(bytes32 key => uint256 position) private _positions;

    bytes16 private constant _HEX = "0123456789abcdef";

    modifier onlyGovernance() {
        if (msg.sender != _registry) revert NodeAllowlistOnlyGovernance(msg.sender);
        _;
    }

    constructor(address registry_) {
        if (registry_.code.length == 0) revert NodeAllowlistInvalidRegistry(registry_);
        _registry = registry_;
    }

    /// @inheritdoc INodeAllowlist
    function allowNode(string calldata enodeId, string calldata host, uint16 port) external onlyGovernance {
        _checkNode(enodeId, host, port);
        bytes32 key = _key(enodeId, _hexOf(bytes(host)), port);
        if (_positions[key] != 0) revert NodeAllowlistAlreadyAllowed(enodeId, host, port);
        _nodes.push(Node(enodeId, host, port));
        _positions[key] = _nodes.length;
        emit NodeAllowed(key, enodeId, host, port);
    }

    /// @inheritdoc INodeAllowlist
    function disallowNode(string calldata enodeId, string calldata host, uint16 port) external onlyGovernance {
        bytes32 key = _key(enodeId, _hexOf(bytes(host)), port);
        uint256 position = _positions[key];
        if (position == 0) revert NodeAllowlistNotAllowed(enodeId, host, port);
        uint256 last = _nodes.length;
        if (position != last) {
            Node storage moved = _nodes[last - 1];
            _nodes[position - 1] = moved;
            _positions[_key(moved.enodeId, _hexOf(bytes(moved.host)), moved.port)] = position;
        }
        _nodes.pop();
        delete _positions[key];
        emit NodeDisallowed(key, enodeId, host, port);
    }

    /// @inheritdoc INodeAllowlist
    function connectionAllowed(string calldata enodeId, string calldata enodeHost, uint16 enodePort)
        external
        view
        returns (bool)
    {
        return _positions[_key(enodeId, enodeHost, enodePort)] != 0;
    }

    /// @inheritdoc INodeAllowlist
    function isAllowed(string calldata enodeId, string calldata host, uint16 port) external view returns (bool) {
        return _positions[_key(enodeId, _hexOf(bytes(host)), port)] != 0;
    }

    /// @inheritdoc INodeAllowlist
    function nodeCount() external view returns (uint256) {
        return _nodes.length;
    }

    /// @inheritdoc INodeAllowlist
    function nodeAt(uint256 index) external view returns (Node memory) {
        return _nodes[index];
    }

    /// @inheritdoc INodeAllowlist
    function nodes() external view returns (Node[] memory) {
        return _nodes;
    }

    /// @inheritdoc INodeAllowlist
    function registry() external view returns (address) {
        return _registry;
    }

    function _checkNode(string calldata enodeId, string calldata host, uint16 port) private pure {
        bytes calldata id = bytes(enodeId);
        if (id.length != 128) revert NodeAllowlistInvalidEnodeId(enodeId);
        for (uint256 i; i < 128; ++i) {
            bytes1 c = id[i];
            if (!((c >= "0" && c <= "9") || (c >= "a" && c <= "f"))) revert NodeAllowlistInvalidEnodeId(enodeId);
        }
        uint256 hostLength = bytes(host).length;
        if (hostLength == 0 || hostLength > 45) revert NodeAllowlistInvalidHost(host);
        if (port == 0) revert NodeAllowlistInvalidPort(port);
    }

    function _key(string memory enodeId, string memory hexHost, uint16 port) private pure returns (bytes32) {
        return keccak256(abi.encode(enodeId, hexHost, port));
    }

    /// @dev "0x" + lowercase hex of `data` (Tuweni's Bytes.toHexString, as Besu encodes the IP).
    function _hexOf(bytes memory data) private pure returns (string memory) {
        bytes memory out = new bytes(2 + data.length * 2);
        out[0] = "0";
        out[1] = "x";
        for (uint256 i; i < data.length; ++i) {
            out[2 + i * 2] = _HEX[uint8(data[i]) >> 4];
            out[3 + i * 2] = _HEX[uint8(data[i]) & 0x0f];
        }
        return string(out);
    }
}
