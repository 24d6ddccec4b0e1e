// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IEmissionsLedger
/// @notice Anchors Merkle roots of device-signed reading batches, with their per-pollutant
/// totals, and lets anyone check that a signed reading belongs to an anchored batch.
///
/// A reading is the EIP-712 struct
/// `Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,uint8 decimals,bytes8 unit,bytes1 flag)`
/// under the domain `("ETS EmissionsLedger", "1", chainid, address(this))`. A device (its address
/// is bound to an enterprise in the ConsortiumRegistry) signs one signature per data frame: the
/// frame's readings as the EIP-712 struct `Frame(Reading[] readings)`, whose digest is
/// `_hashTypedDataV4(keccak256(abi.encode(FRAME_TYPEHASH, keccak256(abi.encodePacked(h0, h1, ...)))))`
/// with `hi` the struct hash of the frame's i-th reading ({hashReading}). A reading's signature is
/// shown by its frame's {SignedFrame}: the struct hashes of all the frame's readings, the
/// reading's index among them and the frame signature ({frameDigest}).
///
/// A batch is one device's readings committed as an OpenZeppelin StandardMerkleTree with leaf
/// encoding `["bytes32"]` over each reading's own EIP-712 digest (`Reading` as primary type,
/// {readingDigest}): leaf = `keccak256(bytes.concat(keccak256(abi.encode(digest))))`.
/// Its id is `keccak256(abi.encode(device, firstSequence, lastSequence, root))`.
///
/// Storage: ONE word per anchored batch, `anchoredBlock << 192 | uint192(keccak256(abi.encode(header)))`
/// with `header` its {AnchoredBatch} (root, device, enterprise, sequence range, period, count,
/// anchoring time and block, and `totalsHash = keccak256(totals)` of the packed totals
/// ({packTotals})). The header's fields and the packed totals are in the {BatchAnchored} event
/// (the anchoring time is its block's timestamp), so anyone who verifies supplies the preimage:
/// {verifyReading}, {verifyCitedReading} and {checkBatch} take the header, and refuse a forged one
/// by name ({LedgerBatchHeaderMismatch}); {checkBatch} also takes the packed totals
/// ({LedgerTotalsMismatch}). `totals` sums only the valid readings; readings quality control
/// flagged invalid, outlier or fault are summed apart by reason (`excluded`), and gap estimates
/// (unsigned, with their method) apart again, never mixed into measured totals.
///
/// Packed totals (`bytes`, {packTotals}; Python `chain.anchoring.pack_totals`): three big-endian
/// `uint16` counts (valid totals, excluded totals, estimates), then each valid total as
/// `pollutant ‖ unit ‖ int128 total ‖ uint8 decimals` (33 bytes), each excluded total as
/// `pollutant ‖ unit ‖ uint8 reason ‖ int128 total ‖ uint8 decimals ‖ uint32 count` (38 bytes),
/// each estimate as `pollutant ‖ unit ‖ method ‖ int128 total ‖ uint8 decimals ‖ uint32 count`
/// (45 bytes): `abi.encodePacked` of the {PollutantTotal}, {ExcludedTotal} and {EstimateTotal}
/// fields in order.
///
/// Review: the regulator, or an auditor assigned to the enterprise, decides on doubtful data
/// (accept, reject, or substitute by a stated method) with an EIP-712 `ReviewDecision`
/// `ReviewDecision(address reviewer,address enterprise,bytes32 subject,bytes8 pollutant,uint32 month,uint8 action,bytes8 method,int256 value,uint8 decimals,bytes32 noteHash)`
/// signed in its wallet and relayed by anyone ({recordReview}); one decision per (enterprise,
/// subject). An attestation cites decisions by listing their ids in its evidence ({reviewerOf}
/// tells a decision id from a batch id).
///
/// Anchoring: only the device's own oracle (the site gateway key the regulator set with the
/// registry's `setDeviceOracle`) may anchor its readings, and a batch may reach at most
/// {MAX_SEQUENCE_SPAN} sequences past the device's last anchored one, so no key can push a device's
/// sequence out of reach (2**64 - 1) and block it for good.
///
/// Attestations: an auditor (AUDITOR_ROLE in the registry, active, and assigned to the enterprise
/// by the regulator with the registry's `assignAuditor`) attests, for an enterprise, a
/// pollutant (AllowanceToken pollutant code) and a year, the verified emissions and the offsets
/// eligible, in whole tonnes (allowance units), with the evidence relied on (anchored batch ids of
/// this ledger and/or hashes of external evidence) and a report hash. An attestation is the
/// EIP-712 struct
/// `Attestation(address auditor,address enterprise,uint8 pollutant,uint16 year,uint256 verifiedEmissions,uint256 offsetsEligible,bytes32[] evidence,bytes32 reportHash,bytes32 supersedes,uint256 nonce)`
/// under the same domain as readings; its id is its EIP-712 digest ({attestationDigest}). It is
/// submitted by the auditor ({attest}) or by anyone carrying the auditor's signature
/// ({attestBySig}); `nonce` is the auditor's next nonce ({nonces}), so each signature is used once.
/// An auditor has at most one Active attestation per (enterprise, pollutant, year): a new one must
/// name it in `supersedes`. The auditor can revoke its Active attestation, the regulator can
/// reject one. Storage keeps `evidenceHash = keccak256(abi.encodePacked(evidence))`; the list
/// itself is in the {AttestationSubmitted} event ({verifyCitedReading} takes it back).
///
/// Attestation of record (what a compliance outcome may rest on, {attestationOfRecord}): the
/// latest attestation of (enterprise, pollutant, year) that was Active at a cut-off time (the
/// compliance submission deadline): submitted at or before it and neither superseded nor revoked
/// at or before it; an attestation the regulator rejected never counts, whenever rejected. So what
/// an auditor does after the deadline (a new attestation, a supersede, a revocation) cannot change
/// an outcome, while the regulator's rejection of a wrong attestation still can. Every
/// attestation's submission and closing times are stored, so anyone can recompute it.
interface IEmissionsLedger {
    /// @notice One signed reading (the fields of the EIP-712 struct, in order).
    /// @param device The signing device's address.
    /// @param sequence The device's monotonic reading counter.
    /// @param time Unix seconds (UTC).
    /// @param pollutant HJ 212 factor code, ASCII, left-aligned and zero-padded ("w01018").
    /// @param value The reading scaled by 10**decimals.
    /// @param decimals Decimal places of `value`.
    /// @param unit Unit, ASCII, left-aligned and zero-padded ("mg/L").
    /// @param flag HJ 212 data flag letter ("N" normal, "D" fault, ...).
    struct Reading {
        address device;
        uint64 sequence;
        uint64 time;
        bytes8 pollutant;
        int256 value;
        uint8 decimals;
        bytes8 unit;
        bytes1 flag;
    }

    /// @notice The signature of the frame a reading was signed in, and the reading's place in it.
    /// @param readings `hashStruct` of each Reading of the frame ({hashReading}), in frame order.
    /// @param index The position of the reading being shown among `readings`.
    /// @param signature The device's 65-byte `r ‖ s ‖ v` signature over the Frame digest
    /// ({frameDigest} of `readings`).
    struct SignedFrame {
        bytes32[] readings;
        uint256 index;
        bytes signature;
    }

    /// @notice Sum of a batch's readings of one pollutant in one unit.
    /// @param pollutant HJ 212 factor code (as in {Reading}).
    /// @param unit Unit (as in {Reading}).
    /// @param total Exact sum, scaled by 10**decimals.
    /// @param decimals The largest precision among the summed readings.
    struct PollutantTotal {
        bytes8 pollutant;
        bytes8 unit;
        int128 total;
        uint8 decimals;
    }

    /// @notice Sum and count of a batch's readings of one pollutant in one unit that quality
    /// control excluded from the valid {PollutantTotal}, by reason.
    /// @param pollutant HJ 212 factor code (as in {Reading}).
    /// @param unit Unit (as in {Reading}).
    /// @param reason 1 invalid (out of plausible range, unknown flag), 2 outlier (far from the
    /// rolling median), 3 fault (a data flag other than "N": fault, maintenance, calibration ...).
    /// @param total Exact sum, scaled by 10**decimals.
    /// @param decimals The largest precision among the summed readings.
    /// @param count Number of readings summed.
    struct ExcludedTotal {
        bytes8 pollutant;
        bytes8 unit;
        uint8 reason;
        int128 total;
        uint8 decimals;
        uint32 count;
    }

    /// @notice Unsigned gap estimates of a batch's period (values quality control filled in for
    /// missing frames): never measured, never part of a {PollutantTotal}.
    /// @param pollutant HJ 212 factor code.
    /// @param unit Unit.
    /// @param method How they were estimated, ASCII, left-aligned and zero-padded ("linear").
    /// @param total Exact sum of the estimates, scaled by 10**decimals.
    /// @param decimals The largest precision among them.
    /// @param count Number of estimated readings.
    struct EstimateTotal {
        bytes8 pollutant;
        bytes8 unit;
        bytes8 method;
        int128 total;
        uint8 decimals;
        uint32 count;
    }

    /// @notice A reviewer's decision on doubtful data of an enterprise (the fields of the EIP-712
    /// struct `ReviewDecision`, in order; rules in `domain/review.py`).
    /// @param reviewer The regulator, or an auditor assigned to the enterprise; the signer.
    /// @param enterprise The enterprise whose data is reviewed.
    /// @param subject What is decided on: the id of a review item (a flagged reading's leaf, or
    /// `domain.review.gap_subject` of a gap), unique per enterprise.
    /// @param pollutant HJ 212 factor code of the data (as in {Reading}).
    /// @param month The data's month as YYYYMM.
    /// @param action 1 accept (the data counts as measured), 2 reject (it stays excluded),
    /// 3 substitute (a value computed by `method` replaces it).
    /// @param method Substitution method, ASCII, left-aligned and zero-padded ("prevhour",
    /// "permmax"); zero for accept and reject.
    /// @param value The substituted value scaled by 10**decimals (zero unless substituted).
    /// @param decimals Decimal places of `value`.
    /// @param noteHash Hash of the reviewer's written reasons (zero for none).
    struct ReviewDecision {
        address reviewer;
        address enterprise;
        bytes32 subject;
        bytes8 pollutant;
        uint32 month;
        uint8 action;
        bytes8 method;
        int256 value;
        uint8 decimals;
        bytes32 noteHash;
    }

    /// @notice A batch as the gateway submits it.
    /// @param batchId `keccak256(abi.encode(device, firstSequence, lastSequence, root))`.
    /// @param device The device whose readings these are.
    /// @param firstSequence Lowest reading sequence in the batch.
    /// @param lastSequence Highest reading sequence in the batch.
    /// @param periodStart Earliest reading time (unix seconds).
    /// @param periodEnd Latest reading time (unix seconds).
    /// @param count Number of readings (may be below the sequence span: readings can be missing).
    /// @param root StandardMerkleTree root over the readings' digests.
    /// @param totals The three totals lists packed ({packTotals}): per (pollutant, unit) sums of
    /// the VALID readings (measured, in range, not an outlier, flag "N"), strictly ascending by
    /// (pollutant, unit); sums of the readings quality control excluded, strictly ascending by
    /// (pollutant, unit, reason) (every reading of the batch is in a valid or an excluded total);
    /// sums of the gap estimates of the batch's period, strictly ascending by (pollutant, unit,
    /// method).
    struct Batch {
        bytes32 batchId;
        address device;
        uint64 firstSequence;
        uint64 lastSequence;
        uint64 periodStart;
        uint64 periodEnd;
        uint32 count;
        bytes32 root;
        bytes totals;
    }

    /// @notice An anchored batch's header: the preimage of its stored word (see the contract
    /// notice); every field is in its {BatchAnchored} event or that event's block.
    /// @param root Merkle root of the readings.
    /// @param device The device.
    /// @param firstSequence Lowest sequence.
    /// @param count Number of readings.
    /// @param enterprise The enterprise the device was bound to when anchored.
    /// @param lastSequence Highest sequence.
    /// @param periodStart Earliest reading time.
    /// @param periodEnd Latest reading time.
    /// @param anchoredAt Block timestamp of the anchoring (of the {BatchAnchored} event's block).
    /// @param anchoredBlock Block number of the anchoring (where the {BatchAnchored} event with
    /// the totals is; {anchoredBlock} gives it from the stored word).
    /// @param totalsHash `keccak256(totals)` of the event's packed totals.
    struct AnchoredBatch {
        bytes32 root;
        address device;
        uint64 firstSequence;
        uint32 count;
        address enterprise;
        uint64 lastSequence;
        uint64 periodStart;
        uint64 periodEnd;
        uint64 anchoredAt;
        uint64 anchoredBlock;
        bytes32 totalsHash;
    }

    /// @notice Life cycle of an attestation. `None`: no attestation under this id.
    enum AttestationStatus {
        None,
        Active,
        Superseded,
        Revoked,
        Rejected
    }

    /// @notice An auditor's attestation (the fields of the EIP-712 struct, in order).
    /// @param auditor The attesting auditor (AUDITOR_ROLE); the signer for {attestBySig}.
    /// @param enterprise The attested enterprise (an active registered enterprise).
    /// @param pollutant AllowanceToken pollutant code (1 CO2, 2 SO2, ...).
    /// @param year The compliance year (the allowance vintage).
    /// @param verifiedEmissions Verified emissions, whole tonnes (allowance units).
    /// @param offsetsEligible Offsets eligible for the year, whole tonnes (allowance units).
    /// @param evidence Anchored batch ids of this ledger and/or hashes of external evidence.
    /// @param reportHash Hash of the audit report (e.g. keccak256 of the PDF).
    /// @param supersedes The auditor's Active attestation of the same (enterprise, pollutant,
    /// year) this one replaces, or zero.
    /// @param nonce The auditor's next nonce ({nonces}).
    struct Attestation {
        address auditor;
        address enterprise;
        uint8 pollutant;
        uint16 year;
        uint256 verifiedEmissions;
        uint256 offsetsEligible;
        bytes32[] evidence;
        bytes32 reportHash;
        bytes32 supersedes;
        uint256 nonce;
    }

    /// @notice An attestation as stored.
    /// @param auditor The attesting auditor.
    /// @param pollutant AllowanceToken pollutant code.
    /// @param year The compliance year.
    /// @param status Its life-cycle status.
    /// @param attestedAt Block timestamp of its submission.
    /// @param enterprise The attested enterprise.
    /// @param evidenceCount Number of evidence entries.
    /// @param closedAt Block timestamp at which it was superseded, revoked or rejected (0 while Active).
    /// @param verifiedEmissions Verified emissions, whole tonnes.
    /// @param offsetsEligible Offsets eligible, whole tonnes.
    /// @param evidenceHash `keccak256(abi.encodePacked(evidence))`.
    /// @param reportHash Hash of the audit report.
    struct AttestationRecord {
        address auditor;
        uint8 pollutant;
        uint16 year;
        AttestationStatus status;
        uint64 attestedAt;
        address enterprise;
        uint32 evidenceCount;
        uint64 closedAt;
        uint256 verifiedEmissions;
        uint256 offsetsEligible;
        bytes32 evidenceHash;
        bytes32 reportHash;
    }

    // ---------------------------------------------------------------- errors

    /// @notice The device is not bound to an enterprise in the registry.
    error LedgerDeviceNotBound(address device);
    /// @notice The device's enterprise is not an active (registered, unsuspended) enterprise.
    error LedgerEnterpriseNotActive(address device, address enterprise);
    /// @notice The batch id is not `keccak256(abi.encode(device, firstSequence, lastSequence, root))`.
    error LedgerBatchIdMismatch(bytes32 batchId, bytes32 expected);
    /// @notice The batch is already anchored (a re-send after a crash: nothing to do).
    error LedgerBatchAlreadyAnchored(bytes32 batchId);
    /// @notice The batch does not start after the device's last anchored sequence.
    error LedgerSequenceReplayed(address device, uint64 firstSequence, uint64 lastAnchoredSequence);
    /// @notice The last sequence is below the first.
    error LedgerInvalidSequenceRange(uint64 firstSequence, uint64 lastSequence);
    /// @notice The count is zero or more than the sequence span holds.
    error LedgerInvalidCount(uint32 count, uint64 firstSequence, uint64 lastSequence);
    /// @notice The period ends before it starts.
    error LedgerInvalidPeriod(uint64 periodStart, uint64 periodEnd);
    /// @notice The totals are not strictly ascending by (pollutant, unit) at `index`.
    error LedgerTotalsNotSorted(uint256 index);
    /// @notice The packed totals are not `6 + 33 * valid + 38 * excluded + 45 * estimates`
    /// bytes long for the counts they start with (`expected` 0: shorter than the counts).
    error LedgerTotalsMalformed(uint256 length, uint256 expected);
    /// @notice The header supplied for an anchored batch is not the preimage of its stored word
    /// (a forged or mistaken header).
    error LedgerBatchHeaderMismatch(bytes32 batchId);
    /// @notice The packed totals supplied are not the ones the batch's header commits to
    /// (`keccak256(totals) != header.totalsHash`).
    error LedgerTotalsMismatch(bytes32 batchId, bytes32 totalsHash, bytes32 expected);
    /// @notice The batch's Merkle root is zero.
    error LedgerZeroRoot(bytes32 batchId);
    /// @notice No batch is anchored under this id.
    error LedgerBatchUnknown(bytes32 batchId);
    /// @notice The account does not hold AUDITOR_ROLE.
    error LedgerNotAuditor(address account);
    /// @notice The caller is not the attestation's auditor.
    error LedgerNotAttestationAuditor(address caller, address auditor);
    /// @notice The signature is malformed (wrong length, or a high-s / invalid point).
    error LedgerAttestationInvalidSignature(bytes32 digest);
    /// @notice The signature recovers to another address than the attestation's auditor.
    error LedgerAttestationSignerMismatch(address signer, address auditor);
    /// @notice The nonce is not the auditor's next one (a replayed or out-of-order attestation).
    error LedgerInvalidNonce(address auditor, uint256 nonce, uint256 expected);
    /// @notice The attested account is not an active (registered, unsuspended) enterprise.
    error LedgerAttestedEnterpriseNotActive(address enterprise);
    /// @notice The attestation is not Active (`status` is its {AttestationStatus}).
    error LedgerAttestationNotActive(bytes32 id, uint8 status);
    /// @notice The auditor already has this Active attestation of the (enterprise, pollutant,
    /// year): a new one must supersede it.
    error LedgerAttestationExists(bytes32 id);
    /// @notice The superseded attestation is of another auditor, enterprise, pollutant or year.
    error LedgerSupersedeMismatch(bytes32 supersedes);
    /// @notice No attestation under this id.
    error LedgerAttestationUnknown(bytes32 id);
    /// @notice The caller is not the oracle the registry binds to the device (`boundOracle`, zero
    /// when none is set): only the device's own site gateway may anchor its readings.
    error LedgerOracleNotForDevice(address device, address caller, address boundOracle);
    /// @notice The batch reaches more than `maxSpan` sequences past the device's last anchored
    /// sequence (`lastSequence - lastAnchoredSequence(device) > maxSpan`).
    error LedgerSequenceSpanTooLarge(address device, uint64 firstSequence, uint64 lastSequence, uint64 maxSpan);
    /// @notice The regulator has not assigned the auditor to the enterprise (registry `assignAuditor`).
    error LedgerAuditorNotAssigned(address auditor, address enterprise);

    /// @notice The batch's excluded totals (`list` 1) or estimates (`list` 2) are not strictly
    /// ascending at `index`.
    error LedgerQualityTotalsNotSorted(uint8 list, uint256 index);
    /// @notice An excluded total names no known reason (1 invalid, 2 outlier, 3 fault).
    error LedgerExclusionReasonUnknown(uint256 index, uint8 reason);
    /// @notice A gap estimate names no method.
    error LedgerEstimateWithoutMethod(uint256 index);
    /// @notice The review decision's signature does not recover.
    error LedgerReviewInvalidSignature(bytes32 digest);
    /// @notice The review decision was signed by `signer`, not by its `reviewer`.
    error LedgerReviewSignerMismatch(address signer, address reviewer);
    /// @notice `account` is neither the regulator nor an auditor (so may review no data).
    error LedgerNotReviewer(address account);
    /// @notice The action is not 1 accept, 2 reject or 3 substitute.
    error LedgerReviewActionUnknown(uint8 action);
    /// @notice A substitution names no method.
    error LedgerReviewMethodMissing(bytes32 subject);
    /// @notice An accept or reject carries a method or a value (only a substitution has them).
    error LedgerReviewMethodUnexpected(bytes32 subject, bytes8 method);
    /// @notice The subject of the enterprise has been decided already, by decision `decision`.
    error LedgerReviewAlreadyDecided(address enterprise, bytes32 subject, bytes32 decision);

    // ---------------------------------------------------------------- events

    /// @notice A batch of readings was anchored.
    /// @param batchId The batch id.
    /// @param device The device.
    /// @param enterprise The device's enterprise.
    /// @param firstSequence Lowest sequence.
    /// @param lastSequence Highest sequence.
    /// @param previousSequence The device's last anchored sequence before this batch (0 for its
    /// first batch); `firstSequence - previousSequence - 1` readings were skipped (a gap).
    /// @param periodStart Earliest reading time.
    /// @param periodEnd Latest reading time.
    /// @param count Number of readings.
    /// @param root Merkle root.
    /// @param totals The packed valid totals, excluded totals and estimates ({packTotals}); its
    /// keccak256 is the header's `totalsHash`.
    event BatchAnchored(
        bytes32 indexed batchId,
        address indexed device,
        address indexed enterprise,
        uint64 firstSequence,
        uint64 lastSequence,
        uint64 previousSequence,
        uint64 periodStart,
        uint64 periodEnd,
        uint32 count,
        bytes32 root,
        bytes totals
    );

    /// @notice A review decision was recorded.
    /// @param id The decision id (its EIP-712 digest, {reviewDigest}).
    /// @param reviewer The signing reviewer.
    /// @param enterprise The enterprise whose data was reviewed.
    /// @param reviewerRole 1 regulator, 2 the enterprise's assigned auditor.
    /// @param decision The decision as signed.
    event ReviewDecisionRecorded(
        bytes32 indexed id,
        address indexed reviewer,
        address indexed enterprise,
        uint8 reviewerRole,
        ReviewDecision decision
    );

    /// @notice An attestation was submitted (by its auditor or relayed with its signature).
    /// @param id The attestation id (its EIP-712 digest).
    /// @param auditor The auditor.
    /// @param enterprise The attested enterprise.
    /// @param pollutant AllowanceToken pollutant code.
    /// @param year The compliance year.
    /// @param verifiedEmissions Verified emissions, whole tonnes.
    /// @param offsetsEligible Offsets eligible, whole tonnes.
    /// @param evidence The evidence list (batch ids and/or evidence hashes), for indexers.
    /// @param reportHash Hash of the audit report.
    /// @param supersedes The attestation it superseded (now Superseded), or zero.
    event AttestationSubmitted(
        bytes32 indexed id,
        address indexed auditor,
        address indexed enterprise,
        uint8 pollutant,
        uint16 year,
        uint256 verifiedEmissions,
        uint256 offsetsEligible,
        bytes32[] evidence,
        bytes32 reportHash,
        bytes32 supersedes
    );

    /// @notice An attestation was revoked by its auditor.
    /// @param id The attestation id.
    /// @param auditor The auditor.
    /// @param enterprise The attested enterprise.
    /// @param reasonCode Machine-readable reason.
    /// @param reason Human-readable reason.
    event AttestationRevoked(
        bytes32 indexed id, address indexed auditor, address indexed enterprise, uint16 reasonCode, string reason
    );

    /// @notice An attestation was rejected by the regulator.
    /// @param id The attestation id.
    /// @param regulator The rejecting regulator.
    /// @param enterprise The attested enterprise.
    /// @param reasonCode Machine-readable reason.
    /// @param reason Human-readable reason.
    event AttestationRejected(
        bytes32 indexed id, address indexed regulator, address indexed enterprise, uint16 reasonCode, string reason
    );

    // ---------------------------------------------------------------- anchoring

    /// @notice The most sequences a batch may reach past its device's last anchored sequence
    /// (`lastSequence - lastAnchoredSequence(device)`): 2**20 = 1,048,576, sixteen times the
    /// gateway's largest batch (65,536 readings, `oracle.service` `batch_size`), so gaps of lost
    /// readings fit with room to spare while a sequence of 2**64 - 1 cannot be reached.
    function MAX_SEQUENCE_SPAN() external view returns (uint64);

    /// @notice Anchor a batch of one device's signed readings.
    /// @param batch The batch (see {Batch}).
    /// Requirements:
    /// - caller has ORACLE_ROLE (the gateway's service key; `UnauthorizedRole`) and is active
    ///   (`CallerNotActive`);
    /// - `batchId` is the batch's recomputed id ({LedgerBatchIdMismatch}) and not anchored before
    ///   ({LedgerBatchAlreadyAnchored}); `root` not zero ({LedgerZeroRoot});
    /// - the device is bound in the registry ({LedgerDeviceNotBound}) to an active enterprise
    ///   ({LedgerEnterpriseNotActive}), and the caller is the device's oracle in the registry
    ///   ({LedgerOracleNotForDevice}): one registry call, `deviceAnchoring(device)`;
    /// - `firstSequence` is above the device's last anchored sequence (gaps allowed, reported
    ///   in the event; {LedgerSequenceReplayed}) and `lastSequence >= firstSequence`
    ///   ({LedgerInvalidSequenceRange});
    /// - `lastSequence - lastAnchoredSequence(device) <= MAX_SEQUENCE_SPAN`
    ///   ({LedgerSequenceSpanTooLarge});
    /// - `0 < count <= lastSequence - firstSequence + 1` ({LedgerInvalidCount});
    ///   `periodStart <= periodEnd` ({LedgerInvalidPeriod});
    /// - `totals` is well packed for its counts ({LedgerTotalsMalformed}); valid totals strictly
    ///   ascending by (pollutant, unit) ({LedgerTotalsNotSorted}); excluded totals by (pollutant,
    ///   unit, reason) with a known reason, estimates by (pollutant, unit, method) with a method
    ///   ({LedgerQualityTotalsNotSorted}, {LedgerExclusionReasonUnknown},
    ///   {LedgerEstimateWithoutMethod}).
    /// Stores one word (see the contract notice) and updates the device's last anchored sequence.
    /// Emits: {BatchAnchored}.
    function anchorBatch(Batch calldata batch) external;

    // ---------------------------------------------------------------- attestations

    /// @notice Submit an attestation as its auditor.
    /// @param a The attestation (see {Attestation}).
    /// @return id The attestation id ({attestationDigest} of `a`).
    /// Requirements:
    /// - caller is `a.auditor` ({LedgerNotAttestationAuditor}), holds AUDITOR_ROLE
    ///   ({LedgerNotAuditor}) and is not suspended (`CallerNotActive`);
    /// - `a.enterprise` is an active registered enterprise ({LedgerAttestedEnterpriseNotActive});
    /// - the regulator has assigned the auditor to `a.enterprise` ({LedgerAuditorNotAssigned});
    /// - `a.nonce == nonces(a.auditor)` ({LedgerInvalidNonce}); the nonce is consumed;
    /// - `a.supersedes`, if not zero, is a known ({LedgerAttestationUnknown}) attestation of the
    ///   same auditor, enterprise, pollutant and year ({LedgerSupersedeMismatch}) that is Active
    ///   ({LedgerAttestationNotActive}); it becomes Superseded;
    /// - if `a.supersedes` is zero, the auditor has no Active attestation of the same
    ///   (enterprise, pollutant, year) ({LedgerAttestationExists}).
    /// Evidence entries are not checked: anchored batch ids and external hashes are both accepted.
    /// The new attestation becomes {latestAttestation} of its (enterprise, pollutant, year).
    /// Emits: {AttestationSubmitted}.
    function attest(Attestation calldata a) external returns (bytes32 id);

    /// @notice Submit an attestation signed by its auditor (relayed by anyone).
    /// @param a The attestation.
    /// @param signature The auditor's 65-byte `r ‖ s ‖ v` signature over {attestationDigest} of `a`.
    /// @return id The attestation id.
    /// Requirements:
    /// - `signature` is well formed with a low s ({LedgerAttestationInvalidSignature}) and
    ///   recovers to `a.auditor` ({LedgerAttestationSignerMismatch});
    /// - `a.auditor` holds AUDITOR_ROLE ({LedgerNotAuditor}) and is not suspended
    ///   (`CallerNotActive(a.auditor)`: the signer is the acting party);
    /// - the rest as {attest} (active enterprise, assignment, nonce, supersede).
    /// Emits: {AttestationSubmitted}.
    function attestBySig(Attestation calldata a, bytes calldata signature) external returns (bytes32 id);

    /// @notice Revoke one's own Active attestation.
    /// @param id The attestation.
    /// @param reasonCode Machine-readable reason.
    /// @param reason Human-readable reason.
    /// Requirements:
    /// - the attestation exists ({LedgerAttestationUnknown});
    /// - caller is its auditor ({LedgerNotAttestationAuditor}) and not suspended (`CallerNotActive`);
    /// - it is Active ({LedgerAttestationNotActive}).
    /// It becomes Revoked (its `closedAt` is now); {latestAttestation} falls back to the most
    /// recent attestation still Active.
    /// Emits: {AttestationRevoked}.
    function revokeAttestation(bytes32 id, uint16 reasonCode, string calldata reason) external;

    /// @notice Reject an Active attestation as the regulator.
    /// @param id The attestation.
    /// @param reasonCode Machine-readable reason.
    /// @param reason Human-readable reason.
    /// Requirements:
    /// - caller has REGULATOR_ROLE (`UnauthorizedRole`) and is active (`CallerNotActive`);
    /// - the attestation exists ({LedgerAttestationUnknown}) and is Active
    ///   ({LedgerAttestationNotActive}).
    /// It becomes Rejected (its `closedAt` is now) and never counts as {attestationOfRecord};
    /// {latestAttestation} falls back to the most recent attestation still Active.
    /// Emits: {AttestationRejected}.
    function rejectAttestation(bytes32 id, uint16 reasonCode, string calldata reason) external;

    // ---------------------------------------------------------------- views

    /// @notice Whether `reading`, signed by its device in `frame`, is included in the anchored batch.
    /// @param batchId The batch.
    /// @param header The batch's header (from its {BatchAnchored} event and block).
    /// @param reading The reading's fields.
    /// @param frame The frame the reading was signed in: its readings' struct hashes, the
    /// reading's index and the device's signature over the Frame digest.
    /// @param proof StandardMerkleTree proof of the reading's leaf.
    /// @return True iff the batch is anchored, the reading names the batch's device,
    /// `frame.index < frame.readings.length`, `frame.readings[frame.index]` is the reading's struct
    /// hash, the device signed the frame digest of `frame.readings` (non-malleable ECDSA), and the
    /// leaf of the reading's digest is under the batch's root. Malformed input is false, not a
    /// revert, except a header that is not the anchored batch's ({LedgerBatchHeaderMismatch}).
    function verifyReading(
        bytes32 batchId,
        AnchoredBatch calldata header,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice EIP-712 digest of a reading (`Reading` as primary type) under this contract's
    /// domain: the reading's Merkle leaf value.
    /// @param reading The reading's fields.
    /// @return `_hashTypedDataV4(hashReading(reading))`.
    function readingDigest(Reading calldata reading) external view returns (bytes32);

    /// @notice EIP-712 `hashStruct` of a reading: what a frame's `readings` member is built from.
    /// @param reading The reading's fields.
    /// @return `keccak256(abi.encode(READING_TYPEHASH, reading))`.
    function hashReading(Reading calldata reading) external pure returns (bytes32);

    /// @notice EIP-712 digest of a `Frame(Reading[] readings)` under this contract's domain, the
    /// value a device signs.
    /// @param readingHashes `hashStruct` of each of the frame's readings, in frame order.
    /// @return `_hashTypedDataV4(keccak256(abi.encode(FRAME_TYPEHASH, keccak256(abi.encodePacked(readingHashes)))))`.
    function frameDigest(bytes32[] calldata readingHashes) external view returns (bytes32);

    /// @notice The three totals lists packed as {Batch} `totals` and the {BatchAnchored} event
    /// carry them (see the contract notice): the reference encoding.
    /// @param totals Valid totals.
    /// @param excluded Excluded totals.
    /// @param estimates Gap estimates.
    /// @return The packed bytes (their keccak256 is a header's `totalsHash`).
    function packTotals(
        PollutantTotal[] calldata totals,
        ExcludedTotal[] calldata excluded,
        EstimateTotal[] calldata estimates
    ) external pure returns (bytes memory);

    /// @notice Record a reviewer's signed decision on doubtful data of an enterprise; anyone may
    /// relay it (the reviewer signs in its wallet).
    /// @dev Requirements:
    /// - `signature` recovers to `d.reviewer` over {reviewDigest} ({LedgerReviewInvalidSignature},
    ///   {LedgerReviewSignerMismatch});
    /// - the reviewer holds REGULATOR_ROLE, or AUDITOR_ROLE and is assigned to `d.enterprise`
    ///   ({LedgerNotReviewer}, {LedgerAuditorNotAssigned}), and is active ({CallerNotActive});
    /// - `d.action` is 1, 2 or 3 ({LedgerReviewActionUnknown}); a substitution names a method
    ///   ({LedgerReviewMethodMissing}), an accept or reject has neither method nor value
    ///   ({LedgerReviewMethodUnexpected});
    /// - `d.subject` of `d.enterprise` is not decided yet ({LedgerReviewAlreadyDecided}): one
    ///   decision per subject, so a signature is used once.
    ///
    /// Emits {ReviewDecisionRecorded}.
    /// @param d The decision.
    /// @param signature The reviewer's 65-byte signature over {reviewDigest}.
    /// @return id The decision id (the digest); attestations cite it in their evidence.
    function recordReview(ReviewDecision calldata d, bytes calldata signature) external returns (bytes32 id);

    /// @notice The EIP-712 digest of a review decision (its id), under this ledger's domain.
    /// @param d The decision.
    /// @return The digest.
    function reviewDigest(ReviewDecision calldata d) external view returns (bytes32);

    /// @notice The decision recorded on `subject` of `enterprise`, or zero.
    /// @param enterprise The enterprise.
    /// @param subject The review subject.
    /// @return The decision id.
    function reviewDecisionOf(address enterprise, bytes32 subject) external view returns (bytes32);

    /// @notice The reviewer of a recorded decision, or the zero address when `id` names none
    /// (so an attestation's evidence entry can be checked to be a review decision).
    /// @param id The decision id.
    /// @return The reviewer.
    function reviewerOf(bytes32 id) external view returns (address);

    /// @notice Whether a batch is anchored under `batchId`.
    function isAnchored(bytes32 batchId) external view returns (bool);

    /// @notice The block in which a batch was anchored (where its {BatchAnchored} event is), from
    /// its stored word; 0 if it is not anchored.
    /// @param batchId The batch.
    /// @return The block number.
    function anchoredBlock(bytes32 batchId) external view returns (uint64);

    /// @notice Check a header and packed totals against an anchored batch's stored word; returns
    /// nothing, refuses a forged preimage by name.
    /// @param batchId The batch.
    /// @param header Its header (from its {BatchAnchored} event and block).
    /// @param totals Its packed totals (from the event).
    /// Requirements: the batch is anchored ({LedgerBatchUnknown}); `header` is its preimage
    /// ({LedgerBatchHeaderMismatch}); `keccak256(totals) == header.totalsHash`
    /// ({LedgerTotalsMismatch}).
    function checkBatch(bytes32 batchId, AnchoredBatch calldata header, bytes calldata totals) external view;

    /// @notice The highest sequence of the device's anchored batches (0 if none).
    function lastAnchoredSequence(address device) external view returns (uint64);

    /// @notice A stored attestation.
    /// @param id The attestation id.
    /// @return The stored record.
    /// Requirements: the attestation exists ({LedgerAttestationUnknown} otherwise).
    function attestation(bytes32 id) external view returns (AttestationRecord memory);

    /// @notice EIP-712 digest of an attestation under this contract's domain: its id, and the
    /// value its auditor signs.
    /// @param a The attestation.
    /// @return `_hashTypedDataV4(keccak256(abi.encode(ATTESTATION_TYPEHASH, a.auditor, ...,
    /// keccak256(abi.encodePacked(a.evidence)), a.reportHash, a.supersedes, a.nonce)))`.
    function attestationDigest(Attestation calldata a) external view returns (bytes32);

    /// @notice The most recent attestation of (enterprise, pollutant, year), by any auditor, that
    /// is Active now; zero if none.
    function latestAttestation(address enterprise, uint8 pollutant, uint16 year) external view returns (bytes32);

    /// @notice The attestation of record of (enterprise, pollutant, year) at `cutoff`: the most
    /// recent one submitted at or before `cutoff` that was not superseded or revoked at or before
    /// `cutoff` and that the regulator has not rejected (see the contract notice); zero if none.
    /// @param enterprise The attested enterprise.
    /// @param pollutant AllowanceToken pollutant code.
    /// @param year The compliance year.
    /// @param cutoff Unix seconds (the compliance submission deadline, inclusive).
    /// @return id The attestation of record, or zero.
    function attestationOfRecord(address enterprise, uint8 pollutant, uint16 year, uint64 cutoff)
        external
        view
        returns (bytes32 id);

    /// @notice Number of attestations ever submitted for (enterprise, pollutant, year), any status.
    function attestationCount(address enterprise, uint8 pollutant, uint16 year) external view returns (uint256);

    /// @notice Whether the attestation exists and is Active.
    function isAttestationActive(bytes32 id) external view returns (bool);

    /// @notice The next nonce of `auditor` (the one its next attestation must carry).
    function nonces(address auditor) external view returns (uint256);

    /// @notice Whether a reading is included in an anchored batch that an attestation cites.
    /// @param attestationId The attestation.
    /// @param evidence The attestation's evidence list (from its {AttestationSubmitted} event).
    /// @param evidenceIndex The position of `batchId` in `evidence`.
    /// @param batchId The cited batch.
    /// @param header The cited batch's header (as in {verifyReading}).
    /// @param reading The reading's fields.
    /// @param frame The reading's frame signature (as in {verifyReading}).
    /// @param proof The reading's Merkle proof.
    /// @return True iff the attestation exists, `keccak256(abi.encodePacked(evidence))` is its
    /// stored evidence hash, `evidence[evidenceIndex] == batchId` and {verifyReading} of the
    /// reading in `batchId` is true. Malformed input is false, not a revert, except a header that
    /// is not the anchored batch's ({LedgerBatchHeaderMismatch}).
    function verifyCitedReading(
        bytes32 attestationId,
        bytes32[] calldata evidence,
        uint256 evidenceIndex,
        bytes32 batchId,
        AnchoredBatch calldata header,
        Reading calldata reading,
        SignedFrame calldata frame,
        bytes32[] calldata proof
    ) external view returns (bool);
}
