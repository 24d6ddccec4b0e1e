"""Device signatures over readings: EIP-712 digests computed by hand, coincurve signing and recovery.

One module per concept: :mod:`~oracle.signing.hashing` (the fast keccak-256, EIP-55 addresses),
:mod:`~oracle.signing.reading` (the reading and its field checks), :mod:`~oracle.signing.eip712`
(types, domain, struct hashes and digests, typed data), :mod:`~oracle.signing.proof` (signed
frames and readings, their witnesses, recovery and verification, Merkle leaves of batches) and
:mod:`~oracle.signing.signer` (the device signer). The replay tracker lives in
:mod:`oracle.gateway`.

A reading is one pollutant value at one time from one device: the EIP-712 struct

    Reading(address device,uint64 sequence,uint64 time,bytes8 pollutant,int256 value,
            uint8 decimals,bytes8 unit,bytes1 flag)

A device signs **one signature per frame**: the readings one HJ 212 data frame gives (about
fourteen in a minute frame of eight factors) are signed together as the EIP-712 struct

    Frame(Reading[] readings)

whose ``readings`` member EIP-712 encodes as ``keccak256(hashStruct(r0) ‖ hashStruct(r1) ‖
...)``. Every reading is covered by its device's signature, at a fourteenth of the cost of
signing each one. A frame's readings are one device's, with consecutive sequence numbers.

Both are hashed under the domain ``EIP712Domain(string name,string version,uint256 chainId,
address verifyingContract)`` with name ``"ETS EmissionsLedger"`` and version ``"1"``, so that
the EmissionsLedger contract (OpenZeppelin ``EIP712`` + ``ECDSA``) recomputes the same digests
and recovers the device address. Digests are computed here by direct byte packing (type hashes
and domain separator precomputed), an order of magnitude faster than eth-account's generic
encoder; the tests check both agree.

To show one reading was signed, its :class:`~oracle.signing.proof.FrameWitness` gives the struct hashes of its
frame's readings, its index among them and the frame signature: anyone can hash the reading,
find it at its index, rebuild the frame digest and recover the device.

Field encodings:

* ``time`` is unix seconds (UTC);
* ``pollutant`` is the HJ 212 factor code (``"w01018"``, ``"a21026"``) in ASCII, left-aligned
  and zero-padded into ``bytes8``; ``unit`` likewise (``"mg/L"``, ``"kg"``, ``"m3"``);
* ``value`` is the decimal reading scaled by ``10**decimals``, keeping the text's own precision
  (``"12.345"`` → ``value=12345, decimals=3``; ``"-0.50"`` → ``-50, 2``);
* ``flag`` is the HJ 212 data flag letter (``N F M S D C T B``) as ``bytes1``.

Batches of signed readings are committed with :mod:`chain.merkle`'s standard tree, one leaf
per reading with leaf encoding ``["bytes32"]`` and value the reading's own EIP-712 digest
(``Reading`` as primary type), so the contract checks
``keccak256(bytes.concat(keccak256(abi.encode(digest))))`` with ``MerkleProof``.
"""
