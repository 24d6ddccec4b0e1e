// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IEmissionsLedger} from "../interfaces/IEmissionsLedger.sol";

/// @title EmissionsLedger
/// @notice Anchors Merkle roots of device-signed reading batches; verifies a reading's frame
/// signature and inclusion. The rules are in {IEmissionsLedger}.
///
/// Storage per batch: five words (root; device | firstSequence | count; enterprise |
/// lastSequence; periodStart | periodEnd | anchoredAt | anchoredBlock; totalsHash), plus one
/// word per device for its last anchored sequence. The totals themselves live in the event
/// only: storing them would cost a word or two per pollutant for data nothing on-chain reads.
contract EmissionsLedger is IEmissionsLedger, RegistryGated, EIP712 {
    bytes32 private constant READING_TYPEHASH = keccak256(
        "Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,uint8 decimals,bytes8 unit,bytes1 flag)"
    );
    bytes32 private constant FRAME_TYPEHASH = keccak256(
        "Frame(Reading[] readings)Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,uint8 decimals,bytes8 unit,bytes1 flag)"
    );

    mapping(bytes32 batchId => AnchoredBatch) private _batches;
    mapping(address device => uint64) private _lastSequence;

    constructor(address registry_) RegistryGated(registry_) EIP712("ETS EmissionsLedger", "1") {}

    // ---------------------------------------------------------------- anchoring

    /// @inheritdoc IEmissionsLedger
    function anchorBatch(Batch calldata b) external onlyRegistryRole(ORACLE_ROLE) {
        address device = b.device;
        uint64 first = b.firstSequence;
        uint64 last = b.lastSequence;

        bytes32 expected = keccak256(abi.encode(device, first, last, b.root));
        if (b.batchId != expected) revert LedgerBatchIdMismatch(b.batchId, expected);
        if (_batches[expected].root != bytes32(0)) revert LedgerBatchAlreadyAnchored(expected);
        if (b.root == bytes32(0)) revert LedgerZeroRoot(expected);

        address enterprise = _enterpriseOf(device);

        uint64 previous = _lastSequence[device];
        if (first <= previous) revert LedgerSequenceReplayed(device, first, previous);
        if (last < first) revert LedgerInvalidSequenceRange(first, last);
        // last >= first > previous >= 0, so the span fits uint64 and cannot overflow past it
        if (b.count == 0 || b.count > uint256(last - first) + 1) revert LedgerInvalidCount(b.count, first, last);
        if (b.periodStart > b.periodEnd) revert LedgerInvalidPeriod(b.periodStart, b.periodEnd);
        _requireSortedTotals(b.totals);

        _batches[expected] = AnchoredBatch({
            root: b.root,
            device: device,
            firstSequence: first,
            count: b.count,
            enterprise: enterprise,
            lastSequence: last,
            periodStart: b.periodStart,
            periodEnd: b.periodEnd,
            anchoredAt: uint64(block.timestamp),
            anchoredBlock: uint64(block.number),
            totalsHash: keccak256(abi.encode(b.totals))
        });
        _lastSequence[device] = last;
        _emitAnchored(b, enterprise, previous);
    }

    /// @dev The device's enterprise from the registry; refuses unbound devices and inactive
    /// enterprises. Registry failures other than "unknown device" are bubbled up unchanged.
    function _enterpriseOf(address device) private view returns (address enterprise) {
        try _registry.getDevice(device) returns (IConsortiumRegistry.Device memory binding) {
            enterprise = binding.enterprise;
        } catch (bytes memory reason) {
            if (bytes4(reason) == IConsortiumRegistry.RegistryDeviceUnknown.selector) {
                revert LedgerDeviceNotBound(device);
            }
            // not ours to interpret: re-raise the registry's revert data as is
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
        if (!_registry.isActiveEnterprise(enterprise)) revert LedgerEnterpriseNotActive(device, enterprise);
    }

    /// @dev Strictly ascending (pollutant, unit) pairs: one total per pair, a canonical hash.
    function _requireSortedTotals(PollutantTotal[] calldata totals) private pure {
        for (uint256 i = 1; i < totals.length; ++i) {
            PollutantTotal calldata a = totals[i - 1];
            PollutantTotal calldata c = totals[i];
            if (a.pollutant > c.pollutant || (a.pollutant == c.pollutant && a.unit >= c.unit)) {
                revert LedgerTotalsNotSorted(i);
            }
        }
    }

    /// @dev Separate frame: the event's eleven fields would not fit the caller's stack.
    function _emitAnchored(Batch calldata b, address enterprise, uint64 previous) private {
        emit BatchAnchored(
            b.batchId,
            b.device,
            enterprise,
            b.firstSequence,
            b.lastSequence,
            previous,
            b.periodStart,
            b.periodEnd,
            b.count,
            b.root,
            b.totals
        );
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IEmissionsLedger
    function verifyReading(
        bytes32 batchId,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) external view returns (bool) {
        AnchoredBatch storage anchored = _batches[batchId];
        bytes32 root = anchored.root;
        if (root == bytes32(0) || reading.device != anchored.device) return false;
        bytes32 structHash = hashReading(reading);
        if (!_signedInFrame(structHash, reading.device, frame)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(_hashTypedDataV4(structHash)))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @dev Whether `structHash` is at `frame.index` of the frame's readings and `device` signed
    /// the frame digest.
    function _signedInFrame(bytes32 structHash, address device, SignedFrame calldata frame)
        private
        view
        returns (bool)
    {
        bytes32[] calldata hashes = frame.readings;
        if (frame.index >= hashes.length || hashes[frame.index] != structHash) return false;
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(frameDigest(hashes), frame.signature);
        return error == ECDSA.RecoverError.NoError && signer == device;
    }

    /// @inheritdoc IEmissionsLedger
    function readingDigest(Reading calldata reading) external view returns (bytes32) {
        return _hashTypedDataV4(hashReading(reading));
    }

    /// @inheritdoc IEmissionsLedger
    function hashReading(Reading calldata reading) public pure returns (bytes32) {
        // a Reading is all static fields, so abi.encode(struct) is abi.encode(field, ...)
        return keccak256(abi.encode(READING_TYPEHASH, reading));
    }

    /// @inheritdoc IEmissionsLedger
    function frameDigest(bytes32[] calldata readingHashes) public view returns (bytes32) {
        // EIP-712 encodes an array of structs as the keccak of its members' struct hashes
        return _hashTypedDataV4(keccak256(abi.encode(FRAME_TYPEHASH, keccak256(abi.encodePacked(readingHashes)))));
    }

    /// @inheritdoc IEmissionsLedger
    function hashTotals(PollutantTotal[] calldata totals) external pure returns (bytes32) {
        return keccak256(abi.encode(totals));
    }

    /// @inheritdoc IEmissionsLedger
    function isAnchored(bytes32 batchId) external view returns (bool) {
        return _batches[batchId].root != bytes32(0);
    }

    /// @inheritdoc IEmissionsLedger
    function batch(bytes32 batchId) external view returns (AnchoredBatch memory record) {
        record = _batches[batchId];
        if (record.root == bytes32(0)) revert LedgerBatchUnknown(batchId);
    }

    /// @inheritdoc IEmissionsLedger
    function lastAnchoredSequence(address device) external view returns (uint64) {
        return _lastSequence[device];
    }
}
