// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test-only account: a contract that acts for its owner (any call, {execute}) and accepts
/// ERC-1155 tokens until told to refuse them ({setRefusing}); then its receiver hooks answer a
/// wrong value, so a pushed transfer to it reverts (`ERC1155InvalidReceiver`). Registered as an
/// enterprise, it shows that nothing it does can block the compliance manager.
contract RefusingReceiver {
    address private immutable _owner;
    bool private _refusing;

    /// @notice Only the deployer may drive this account.
    error RefusingReceiverNotOwner(address caller);

    /// @notice It now refuses (or accepts again) ERC-1155 tokens.
    event RefusingSet(bool refusing);

    constructor() {
        _owner = msg.sender;
    }

    /// @notice Refuse (true) or accept (false) ERC-1155 tokens from now on.
    /// Requirements: caller is the deployer. Emits: {RefusingSet}.
    function setRefusing(bool refusing) external {
        if (msg.sender != _owner) revert RefusingReceiverNotOwner(msg.sender);
        _refusing = refusing;
        emit RefusingSet(refusing);
    }

    /// @notice Call `target` with `data` as this account; a revert is passed on unchanged.
    /// Requirements: caller is the deployer.
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != _owner) revert RefusingReceiverNotOwner(msg.sender);
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) {
            // pass the callee's revert data on as is, so tests see its named error
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    /// @notice ERC-1155 single receiver hook: accepts unless refusing.
    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external view returns (bytes4) {
        return _refusing ? bytes4(0) : this.onERC1155Received.selector;
    }

    /// @notice ERC-1155 batch receiver hook: accepts unless refusing.
    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        view
        returns (bytes4)
    {
        return _refusing ? bytes4(0) : this.onERC1155BatchReceived.selector;
    }
}
