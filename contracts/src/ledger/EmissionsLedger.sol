// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {RegistryGated} from "../access/RegistryGated.sol";
import {IEmissionsLedger} from "../interfaces/IEmissionsLedger.sol";
import {Roles} from "../libraries/Roles.sol";

/// @title EmissionsLedger
/// @notice Anchors Merkle roots of device-signed reading batches; verifies a reading's frame
/// signature and inclusion; records auditors' EIP-712 attestations. The rules are in
/// {IEmissionsLedger}.
///
/// Storage per batch: one word, `anchoredBlock << 192 | uint192(keccak256(abi.encode(header)))`
/// (the block, so readers find the {BatchAnchored} event with the header's fields and the packed
/// totals at once; the hash, so a verifier's header and totals are checked), plus one word per
/// device for its last anchored sequence. A new storage word costs 20,000 gas: five of them (the
/// header as fields) were most of a batch's gas. 192 bits of hash leave finding a second header
/// for a stored word at 2**192 work.
///
/// Storage per attestation: six words (auditor | pollutant | year | status | attestedAt;
/// enterprise | evidenceCount | closedAt; verifiedEmissions; offsetsEligible; evidenceHash;
/// reportHash), one word per (auditor, enterprise, pollutant, year) for the auditor's Active
/// attestation and one per attestation in the history of its (enterprise, pollutant, year), in
/// submission order (so submission times ascend), which {attestationOfRecord} and
/// {latestAttestation} search. The evidence list lives in the event only.
contract EmissionsLedger is IEmissionsLedger, RegistryGated, EIP712, Nonces {
    /// @inheritdoc IEmissionsLedger
    uint64 public constant MAX_SEQUENCE_SPAN = 1 << 20;

    bytes32 private constant READING_TYPEHASH = keccak256(
        "Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,uint8 decimals,bytes8 unit,bytes1 flag)"
    );
    bytes32 private constant FRAME_TYPEHASH = keccak256(
        "Frame(Reading[] readings)Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,uint8 decimals,bytes8 unit,bytes1 flag)"
    );

    bytes32 private constant ATTESTATION_TYPEHASH = keccak256(
        "Attestation(address auditor,address enterprise,uint8 pollutant,uint16 year,uint256 verifiedEmissions,uint256 offsetsEligible,bytes32[] evidence,bytes32 reportHash,bytes32 supersedes,uint256 nonce)"
    );

    bytes32 private constant REVIEW_TYPEHASH = keccak256(
        "ReviewDecision(address reviewer,address enterprise,bytes32 subject,bytes8 pollutant,uint32 month,uint8 action,bytes8 method,int256 value,uint8 decimals,bytes32 noteHash)"
    );
    uint8 private constant REVIEW_SUBSTITUTE = 3;
    uint8 private constant EXCLUSION_REASONS = 3;

    /// @dev Sizes of the packed totals (see {IEmissionsLedger-packTotals}): the three uint16
    /// counts, then one valid total, excluded total and estimate.
    uint256 private constant TOTALS_HEAD = 6;
    uint256 private constant VALID_SIZE = 33;
    uint256 private constant EXCLUDED_SIZE = 38;
    uint256 private constant ESTIMATE_SIZE = 45;
    uint256 private constant HASH_BITS = 192;

    /// @dev batchId => anchoredBlock << 192 | uint192(keccak256(abi.encode(header)))
    mapping(bytes32 batchId => bytes32 anchor) private _anchors;
    /// @dev keccak256(abi.encode(enterprise, subject)) => the decision id
    mapping(bytes32 subjectKey => bytes32 id) private _reviewOf;
    mapping(bytes32 id => address reviewer) private _reviewers;
    mapping(address device => uint64) private _lastSequence;
    mapping(bytes32 id => AttestationRecord) private _attestations;
    /// @dev keccak256(abi.encode(auditor, enterprise, pollutant, year)) => the auditor's Active one
    mapping(bytes32 auditorKey => bytes32 id) private _activeByAuditor;
    mapping(address enterprise => mapping(uint8 pollutant => mapping(uint16 year => bytes32[] ids))) private _history;

    constructor(address registry_) RegistryGated(registry_) EIP712("ETS EmissionsLedger", "1") {}

    // ---------------------------------------------------------------- anchoring

    /// @inheritdoc IEmissionsLedger
    function anchorBatch(Batch calldata b) external onlyRegistryRole(Roles.ORACLE_ROLE) {
        address device = b.device;
        uint64 first = b.firstSequence;
        uint64 last = b.lastSequence;

        bytes32 expected = keccak256(abi.encode(device, first, last, b.root));
        if (b.batchId != expected) revert LedgerBatchIdMismatch(b.batchId, expected);
        if (_anchors[expected] != bytes32(0)) revert LedgerBatchAlreadyAnchored(expected);
        if (b.root == bytes32(0)) revert LedgerZeroRoot(expected);

        address enterprise = _enterpriseOf(device);

        uint64 previous = _lastSequence[device];
        if (first <= previous) revert LedgerSequenceReplayed(device, first, previous);
        if (last < first) revert LedgerInvalidSequenceRange(first, last);
        // last >= first > previous: no underflow
        if (last - previous > MAX_SEQUENCE_SPAN) {
            revert LedgerSequenceSpanTooLarge(device, first, last, MAX_SEQUENCE_SPAN);
        }
        // last >= first > previous >= 0, so the span fits uint64 and cannot overflow past it
        if (b.count == 0 || b.count > uint256(last - first) + 1) revert LedgerInvalidCount(b.count, first, last);
        if (b.periodStart > b.periodEnd) revert LedgerInvalidPeriod(b.periodStart, b.periodEnd);
        _requireWellPackedTotals(b.totals);

        _anchors[expected] = _word(
            AnchoredBatch({
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
                totalsHash: keccak256(b.totals)
            })
        );
        _lastSequence[device] = last;
        _emitAnchored(b, enterprise, previous);
    }

    /// @dev The stored word of a header: its block above the low 192 bits of its hash.
    function _word(AnchoredBatch memory header) private pure returns (bytes32) {
        uint256 hash = uint256(keccak256(abi.encode(header)));
        return bytes32((uint256(header.anchoredBlock) << HASH_BITS) | (hash & type(uint192).max));
    }

    /// @dev The device's enterprise from the registry (one call); refuses an unbound device, an
    /// inactive enterprise and a caller that is not the device's oracle, in this order.
    function _enterpriseOf(address device) private view returns (address enterprise) {
        bool active;
        address bound;
        (enterprise, active, bound) = _registry.deviceAnchoring(device);
        if (enterprise == address(0)) revert LedgerDeviceNotBound(device);
        if (!active) revert LedgerEnterpriseNotActive(device, enterprise);
        if (bound != msg.sender) revert LedgerOracleNotForDevice(device, msg.sender, bound);
    }

    /// @dev The packed totals' length fits their counts; valid totals strictly ascending by
    /// (pollutant, unit); excluded totals by (pollutant, unit, reason) with reasons 1..3;
    /// estimates by (pollutant, unit, method) with a method. Each key is read as the leading
    /// bytes of one calldata word, so a strict order is a strict order of integers.
    function _requireWellPackedTotals(bytes calldata t) private pure {
        if (t.length < TOTALS_HEAD) revert LedgerTotalsMalformed(t.length, 0);
        uint256 at;
        uint256 head;
        // calldataload past the end of calldata reads zeros; the length is checked before use
        assembly ("memory-safe") {
            at := t.offset
            head := calldataload(at)
        }
        uint256 valid = head >> 240;
        uint256 excluded = (head >> 224) & 0xffff;
        uint256 estimates = (head >> 208) & 0xffff;
        uint256 length = TOTALS_HEAD + valid * VALID_SIZE + excluded * EXCLUDED_SIZE + estimates * ESTIMATE_SIZE;
        if (t.length != length) revert LedgerTotalsMalformed(t.length, length);
        at += TOTALS_HEAD;
        uint256 previous;
        for (uint256 i = 0; i < valid; ++i) {
            uint256 key = _load(at) >> 128; // pollutant | unit
            if (i != 0 && key <= previous) revert LedgerTotalsNotSorted(i);
            previous = key;
            at += VALID_SIZE;
        }
        for (uint256 i = 0; i < excluded; ++i) {
            uint256 key = _load(at) >> 120; // pollutant | unit | reason
            uint8 reason = uint8(key);
            if (reason == 0 || reason > EXCLUSION_REASONS) revert LedgerExclusionReasonUnknown(i, reason);
            if (i != 0 && key <= previous) revert LedgerQualityTotalsNotSorted(1, i);
            previous = key;
            at += EXCLUDED_SIZE;
        }
        for (uint256 i = 0; i < estimates; ++i) {
            uint256 key = _load(at) >> 64; // pollutant | unit | method
            if (uint64(key) == 0) revert LedgerEstimateWithoutMethod(i);
            if (i != 0 && key <= previous) revert LedgerQualityTotalsNotSorted(2, i);
            previous = key;
            at += ESTIMATE_SIZE;
        }
    }

    /// @dev One calldata word at an absolute offset.
    function _load(uint256 at) private pure returns (uint256 word) {
        // a plain read of calldata, bounds checked by the caller's length check
        assembly ("memory-safe") {
            word := calldataload(at)
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

    // ---------------------------------------------------------------- review

    /// @inheritdoc IEmissionsLedger
    function recordReview(ReviewDecision calldata d, bytes calldata signature) external returns (bytes32 id) {
        id = reviewDigest(d);
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(id, signature);
        if (error != ECDSA.RecoverError.NoError) revert LedgerReviewInvalidSignature(id);
        if (signer != d.reviewer) revert LedgerReviewSignerMismatch(signer, d.reviewer);
        uint8 role = _requireReviewer(d.reviewer, d.enterprise);
        if (d.action == 0 || d.action > REVIEW_SUBSTITUTE) revert LedgerReviewActionUnknown(d.action);
        if (d.action == REVIEW_SUBSTITUTE) {
            if (d.method == bytes8(0)) revert LedgerReviewMethodMissing(d.subject);
        } else if (d.method != bytes8(0) || d.value != 0) {
            revert LedgerReviewMethodUnexpected(d.subject, d.method);
        }
        bytes32 key = keccak256(abi.encode(d.enterprise, d.subject));
        bytes32 existing = _reviewOf[key];
        if (existing != bytes32(0)) revert LedgerReviewAlreadyDecided(d.enterprise, d.subject, existing);
        _reviewOf[key] = id;
        _reviewers[id] = d.reviewer;
        emit ReviewDecisionRecorded(id, d.reviewer, d.enterprise, role, d);
    }

    /// @dev The reviewer's role (1 regulator, 2 assigned auditor); refuses anyone else and a
    /// suspended reviewer.
    function _requireReviewer(address account, address enterprise) private view returns (uint8 role) {
        if (_registry.hasRole(Roles.REGULATOR_ROLE, account)) {
            role = 1;
        } else if (_registry.hasRole(Roles.AUDITOR_ROLE, account)) {
            if (!_registry.isAuditorAssigned(account, enterprise)) revert LedgerAuditorNotAssigned(account, enterprise);
            role = 2;
        } else {
            revert LedgerNotReviewer(account);
        }
        if (!_registry.isActiveParticipant(account)) revert CallerNotActive(account);
    }

    /// @inheritdoc IEmissionsLedger
    function reviewDigest(ReviewDecision calldata d) public view returns (bytes32) {
        // a ReviewDecision is all static fields, so abi.encode(struct) is abi.encode(field, ...)
        return _hashTypedDataV4(keccak256(abi.encode(REVIEW_TYPEHASH, d)));
    }

    /// @inheritdoc IEmissionsLedger
    function reviewDecisionOf(address enterprise, bytes32 subject) external view returns (bytes32) {
        return _reviewOf[keccak256(abi.encode(enterprise, subject))];
    }

    /// @inheritdoc IEmissionsLedger
    function reviewerOf(bytes32 id) external view returns (address) {
        return _reviewers[id];
    }

    // ---------------------------------------------------------------- attestations

    /// @inheritdoc IEmissionsLedger
    function attest(Attestation calldata a) external returns (bytes32 id) {
        if (msg.sender != a.auditor) revert LedgerNotAttestationAuditor(msg.sender, a.auditor);
        _requireAuditor(a.auditor, a.enterprise);
        id = attestationDigest(a);
        _record(a, id);
    }

    /// @inheritdoc IEmissionsLedger
    function attestBySig(Attestation calldata a, bytes calldata signature) external returns (bytes32 id) {
        id = attestationDigest(a);
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecover(id, signature);
        if (error != ECDSA.RecoverError.NoError) revert LedgerAttestationInvalidSignature(id);
        if (signer != a.auditor) revert LedgerAttestationSignerMismatch(signer, a.auditor);
        _requireAuditor(a.auditor, a.enterprise);
        _record(a, id);
    }

    /// @inheritdoc IEmissionsLedger
    function revokeAttestation(bytes32 id, uint16 reasonCode, string calldata reason) external {
        AttestationRecord storage record = _known(id);
        address auditor = record.auditor;
        if (msg.sender != auditor) revert LedgerNotAttestationAuditor(msg.sender, auditor);
        if (!_registry.isActiveParticipant(auditor)) revert CallerNotActive(auditor);
        _close(record, id, AttestationStatus.Revoked);
        emit AttestationRevoked(id, auditor, record.enterprise, reasonCode, reason);
    }

    /// @inheritdoc IEmissionsLedger
    function rejectAttestation(bytes32 id, uint16 reasonCode, string calldata reason)
        external
        onlyRegistryRole(Roles.REGULATOR_ROLE)
    {
        AttestationRecord storage record = _known(id);
        _close(record, id, AttestationStatus.Rejected);
        emit AttestationRejected(id, msg.sender, record.enterprise, reasonCode, reason);
    }

    /// @dev Refuse an account without AUDITOR_ROLE or a suspended one, an inactive enterprise, and
    /// an auditor the regulator has not assigned to the enterprise, in this order.
    function _requireAuditor(address account, address enterprise) private view {
        if (!_registry.hasRole(Roles.AUDITOR_ROLE, account)) revert LedgerNotAuditor(account);
        if (!_registry.isActiveParticipant(account)) revert CallerNotActive(account);
        if (!_registry.isActiveEnterprise(enterprise)) revert LedgerAttestedEnterpriseNotActive(enterprise);
        if (!_registry.isAuditorAssigned(account, enterprise)) revert LedgerAuditorNotAssigned(account, enterprise);
    }

    /// @dev The checks and effects shared by {attest} and {attestBySig}, once the auditor is known
    /// to have submitted or signed `a`.
    function _record(Attestation calldata a, bytes32 id) private {
        uint256 expected = nonces(a.auditor);
        if (a.nonce != expected) revert LedgerInvalidNonce(a.auditor, a.nonce, expected);
        _useNonce(a.auditor);

        bytes32 auditorKey = keccak256(abi.encode(a.auditor, a.enterprise, a.pollutant, a.year));
        bytes32 active = _activeByAuditor[auditorKey];
        bytes32 supersedes = a.supersedes;
        if (supersedes == bytes32(0)) {
            if (active != bytes32(0)) revert LedgerAttestationExists(active);
        } else {
            AttestationRecord storage old = _known(supersedes);
            if (old.auditor != a.auditor || old.enterprise != a.enterprise || old.pollutant != a.pollutant
                || old.year != a.year) revert LedgerSupersedeMismatch(supersedes);
            if (old.status != AttestationStatus.Active) {
                revert LedgerAttestationNotActive(supersedes, uint8(old.status));
            }
            old.status = AttestationStatus.Superseded;
            old.closedAt = uint64(block.timestamp);
        }

        _attestations[id] = AttestationRecord({
            auditor: a.auditor,
            pollutant: a.pollutant,
            year: a.year,
            status: AttestationStatus.Active,
            attestedAt: uint64(block.timestamp),
            enterprise: a.enterprise,
            // a calldata array of 2**32 words could not be paid for in one block
            evidenceCount: uint32(a.evidence.length),
            closedAt: 0,
            verifiedEmissions: a.verifiedEmissions,
            offsetsEligible: a.offsetsEligible,
            evidenceHash: keccak256(abi.encodePacked(a.evidence)),
            reportHash: a.reportHash
        });
        _activeByAuditor[auditorKey] = id;
        _history[a.enterprise][a.pollutant][a.year].push(id);
        _emitSubmitted(a, id);
    }

    /// @dev Separate frame: the event's ten fields would not fit the caller's stack.
    function _emitSubmitted(Attestation calldata a, bytes32 id) private {
        emit AttestationSubmitted(
            id,
            a.auditor,
            a.enterprise,
            a.pollutant,
            a.year,
            a.verifiedEmissions,
            a.offsetsEligible,
            a.evidence,
            a.reportHash,
            a.supersedes
        );
    }

    /// @dev The stored attestation; refuses an unknown id.
    function _known(bytes32 id) private view returns (AttestationRecord storage record) {
        record = _attestations[id];
        if (record.status == AttestationStatus.None) revert LedgerAttestationUnknown(id);
    }

    /// @dev Move an Active attestation to `status` (Revoked or Rejected), note when, and drop it
    /// from the auditor's Active slot (its history entry stays: {attestationOfRecord} needs it).
    function _close(AttestationRecord storage record, bytes32 id, AttestationStatus status) private {
        if (record.status != AttestationStatus.Active) revert LedgerAttestationNotActive(id, uint8(record.status));
        record.status = status;
        record.closedAt = uint64(block.timestamp);
        delete _activeByAuditor[keccak256(abi.encode(record.auditor, record.enterprise, record.pollutant, record.year))];
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IEmissionsLedger
    function verifyReading(
        bytes32 batchId,
        AnchoredBatch calldata header,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return _verifyReading(batchId, header, reading, frame, proof);
    }

    /// @inheritdoc IEmissionsLedger
    function verifyCitedReading(
        bytes32 attestationId,
        bytes32[] calldata evidence,
        uint256 evidenceIndex,
        bytes32 batchId,
        AnchoredBatch calldata header,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) external view returns (bool) {
        AttestationRecord storage record = _attestations[attestationId];
        if (record.status == AttestationStatus.None) return false;
        if (keccak256(abi.encodePacked(evidence)) != record.evidenceHash) return false;
        if (evidenceIndex >= evidence.length || evidence[evidenceIndex] != batchId) return false;
        return _verifyReading(batchId, header, reading, frame, proof);
    }

    /// @dev {verifyReading}'s rule, shared with {verifyCitedReading}.
    function _verifyReading(
        bytes32 batchId,
        AnchoredBatch calldata header,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) private view returns (bool) {
        bytes32 stored = _anchors[batchId];
        if (stored == bytes32(0)) return false;
        if (_word(header) != stored) revert LedgerBatchHeaderMismatch(batchId);
        bytes32 root = header.root;
        if (reading.device != header.device) return false;
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
    function packTotals(
        PollutantTotal[] calldata totals,
        ExcludedTotal[] calldata excluded,
        EstimateTotal[] calldata estimates
    ) external pure returns (bytes memory packed) {
        packed = abi.encodePacked(uint16(totals.length), uint16(excluded.length), uint16(estimates.length));
        for (uint256 i = 0; i < totals.length; ++i) {
            PollutantTotal calldata v = totals[i];
            packed = bytes.concat(packed, abi.encodePacked(v.pollutant, v.unit, v.total, v.decimals));
        }
        for (uint256 i = 0; i < excluded.length; ++i) {
            ExcludedTotal calldata x = excluded[i];
            packed = bytes.concat(packed, abi.encodePacked(x.pollutant, x.unit, x.reason, x.total, x.decimals, x.count));
        }
        for (uint256 i = 0; i < estimates.length; ++i) {
            EstimateTotal calldata e = estimates[i];
            packed = bytes.concat(packed, abi.encodePacked(e.pollutant, e.unit, e.method, e.total, e.decimals, e.count));
        }
    }

    /// @inheritdoc IEmissionsLedger
    function isAnchored(bytes32 batchId) external view returns (bool) {
        return _anchors[batchId] != bytes32(0);
    }

    /// @inheritdoc IEmissionsLedger
    function anchoredBlock(bytes32 batchId) external view returns (uint64) {
        return uint64(uint256(_anchors[batchId]) >> HASH_BITS);
    }

    /// @inheritdoc IEmissionsLedger
    function checkBatch(bytes32 batchId, AnchoredBatch calldata header, bytes calldata totals) external view {
        bytes32 stored = _anchors[batchId];
        if (stored == bytes32(0)) revert LedgerBatchUnknown(batchId);
        if (_word(header) != stored) revert LedgerBatchHeaderMismatch(batchId);
        bytes32 hash = keccak256(totals);
        if (hash != header.totalsHash) revert LedgerTotalsMismatch(batchId, hash, header.totalsHash);
    }

    /// @inheritdoc IEmissionsLedger
    function lastAnchoredSequence(address device) external view returns (uint64) {
        return _lastSequence[device];
    }

    /// @inheritdoc IEmissionsLedger
    function attestation(bytes32 id) external view returns (AttestationRecord memory) {
        return _known(id);
    }

    /// @inheritdoc IEmissionsLedger
    function attestationDigest(Attestation calldata a) public view returns (bytes32) {
        // EIP-712 encodes a bytes32[] member as the keccak of its packed elements
        bytes memory head = abi.encode(ATTESTATION_TYPEHASH, a.auditor, a.enterprise, a.pollutant, a.year);
        bytes memory tail = abi.encode(
            a.verifiedEmissions,
            a.offsetsEligible,
            keccak256(abi.encodePacked(a.evidence)),
            a.reportHash,
            a.supersedes,
            a.nonce
        );
        return _hashTypedDataV4(keccak256(bytes.concat(head, tail)));
    }

    /// @inheritdoc IEmissionsLedger
    function latestAttestation(address enterprise, uint8 pollutant, uint16 year) external view returns (bytes32) {
        bytes32[] storage ids = _history[enterprise][pollutant][year];
        for (uint256 i = ids.length; i > 0; --i) {
            if (_attestations[ids[i - 1]].status == AttestationStatus.Active) return ids[i - 1];
        }
        return bytes32(0);
    }

    /// @inheritdoc IEmissionsLedger
    function attestationOfRecord(address enterprise, uint8 pollutant, uint16 year, uint64 cutoff)
        external
        view
        returns (bytes32)
    {
        bytes32[] storage ids = _history[enterprise][pollutant][year];
        // submission times ascend along the history: find how many were submitted by the cutoff
        // (binary search, so attestations submitted after it cost nothing to skip)
        uint256 low = 0;
        uint256 high = ids.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (_attestations[ids[mid]].attestedAt <= cutoff) low = mid + 1;
            else high = mid;
        }
        for (uint256 i = low; i > 0; --i) {
            AttestationRecord storage r = _attestations[ids[i - 1]];
            AttestationStatus status = r.status;
            if (status == AttestationStatus.Active) return ids[i - 1];
            if (status != AttestationStatus.Rejected && r.closedAt > cutoff) return ids[i - 1];
        }
        return bytes32(0);
    }

    /// @inheritdoc IEmissionsLedger
    function attestationCount(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256) {
        return _history[enterprise][pollutant][year].length;
    }

    /// @inheritdoc IEmissionsLedger
    function isAttestationActive(bytes32 id) external view returns (bool) {
        return _attestations[id].status == AttestationStatus.Active;
    }

    /// @inheritdoc IEmissionsLedger
    function nonces(address auditor) public view override(IEmissionsLedger, Nonces) returns (uint256) {
        return super.nonces(auditor);
    }
}
