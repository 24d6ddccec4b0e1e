"""The audit trail's data access: who may see which accounts, the ordered event history with
keyset paging, anchored batches and their readings, and a reading's Merkle proof checked
against the chain. Keyword-only functions that raise typed errors, never HTTP ones.

Every event query walks one index in ``(block_time, block_number, log_index)`` order, so a page
costs the same on the first row as on the millionth: the account filter walks the
``event_parties`` primary key, a token id ``ix_events_token``, a device ``ix_events_device`` and
anything else ``ix_events_time``. Pages continue from a cursor (the last row's
``block:log``), never from an offset: skipping a million rows is a million index steps, and so
is a ``count(*)`` of them, which is why event pages carry no total.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from api.access import SEALED_PHASES, readable_accounts, redact_args
from api.crud import auction_phase
from api.deps import Principal
from api.errors import ForbiddenError, NotFoundError, QueryError
from chain.anchoring import AnchoredBatch
from chain.errors import ContractRevertError
from chain.ledger import LedgerClient
from chain.merkle import StandardMerkleTree
from chain.registry import checked_address
from domain.errors import InvalidInputError
from oracle.signing.eip712 import ReadingDomain, reading_digest
from oracle.signing.hashing import keccak
from oracle.signing.proof import LEAF_ENCODING, FrameWitness
from oracle.signing.reading import Reading
from readmodel import models as m

#: Rows a CSV export may hold; a larger one must be narrowed or paged.
CSV_MAX_ROWS = 100_000

_CURSOR = re.compile(r"^(\d{1,18}):(\d{1,9})$")
_LAST = 2**62  # above any log index or block number: an inclusive upper bound of a row value


# ---------------------------------------------------------------------- scoping


@dataclass(frozen=True)
class Scope:
    """The accounts a signed-in principal may read.

    Attributes:
        accounts: the readable accounts, or ``None`` for every account (regulator, exchange).
        auditor: the principal is an auditor (it must name the enterprise it reads).
    """

    accounts: frozenset[str] | None
    auditor: bool = False

    def allows(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts


def scope_of(db: Session, *, viewer: Principal) -> Scope:
    """What ``viewer`` may read (:func:`api.access.readable_accounts`): everything (regulator,
    exchange), or its own account plus, for an auditor, the enterprises assigned to it.

    Raises:
        ForbiddenError: no role, or suspended.
    """
    accounts = readable_accounts(db, viewer)
    if accounts is None:
        return Scope(None)
    return Scope(accounts, viewer.has("AUDITOR"))


def scoped_account(scope: Scope, *, account: str | None, caller: str) -> str | None:
    """The account filter an event query runs with.

    Returns:
        ``account`` (checksummed) when ``scope`` allows it; the caller's own account when it
        names none and may read only its own; ``None`` (no account filter) for a privileged
        caller that names none.

    Raises:
        ForbiddenError: the account is not readable, or an auditor names none.
        InvalidInputError: ``account`` is not an address.
    """
    if account is not None:
        account = checked_address(account, "account")
        if not scope.allows(account):
            raise ForbiddenError(f"{caller} may not read the audit trail of {account}")
        return account
    if scope.accounts is None:
        return None
    if scope.auditor and len(scope.accounts) > 1:
        raise ForbiddenError(
            f"{caller} is an auditor: name the enterprise to read with `account` (one assigned to it)"
        )
    return caller


def check_enterprise(scope: Scope, *, enterprise: str, caller: str) -> None:
    """Raises ForbiddenError unless ``scope`` may read ``enterprise``'s batches and readings."""
    if not scope.allows(enterprise):
        raise ForbiddenError(f"{caller} may not read the data of {enterprise}")


class EventRedactor:
    """An event's arguments as one viewer may see them (:func:`api.access.redact_args`): a bid's
    schedule hidden while its auction is sealed (and from anyone but the regulator, the exchange
    and the bidder after), a device's MN from anyone but the regulator, the exchange and its
    enterprise. The rule of ``GET /auctions/{id}/bids``, applied to the audit trail and its CSV.

    Args:
        db: the read model (auctions' reveal windows).
        viewer: who reads.
        clock: the chain's current time (asked once, only when a revealed bid is shown).
    """

    def __init__(self, db: Session, viewer: Principal, clock: Callable[[], int]) -> None:
        self._db = db
        self._viewer = viewer
        self._clock = clock
        self._now: int | None = None
        self._sealed: dict[int, bool] = {}

    def _is_sealed(self, auction_id: int) -> bool:
        found = self._sealed.get(auction_id)
        if found is None:
            auction = self._db.get(m.Auction, auction_id)
            if self._now is None:
                self._now = self._clock()
            found = auction is None or auction_phase(auction, self._now) in SEALED_PHASES
            self._sealed[auction_id] = found
        return found

    def args(self, event: m.Event) -> dict[str, Any]:
        """``event``'s arguments, redacted for the viewer."""
        sealed = False
        if event.contract == "SealedBidAuction" and event.name == "BidRevealed":
            sealed = self._is_sealed(int(event.args["auctionId"]))
        return redact_args(
            self._viewer, contract=event.contract, name=event.name, args=event.args, sealed=sealed
        )


# ---------------------------------------------------------------------- filters and cursors


@dataclass(frozen=True)
class EventFilter:
    """Which events an audit query returns (all given conditions hold).

    Attributes:
        account: a party to the event (sender, recipient, enterprise, bidder ...).
        token_id: an allowance id (0: settlement cash).
        device: a field device.
        contract: the emitting contract's name.
        name: the event's name.
        from_time: earliest block time, unix seconds, inclusive.
        to_time: latest block time, unix seconds, inclusive.
        from_block: first block, inclusive.
        to_block: last block, inclusive.
    """

    account: str | None = None
    token_id: int | None = None
    device: str | None = None
    contract: str | None = None
    name: str | None = None
    from_time: int | None = None
    to_time: int | None = None
    from_block: int | None = None
    to_block: int | None = None

    def check(self) -> EventFilter:
        """The filter with addresses checksummed.

        Raises:
            QueryError: a window that ends before it starts.
            InvalidInputError: a malformed address.
        """
        if self.from_time is not None and self.to_time is not None and self.to_time < self.from_time:
            raise QueryError(f"to_time {self.to_time} is before from_time {self.from_time}")
        if self.from_block is not None and self.to_block is not None and self.to_block < self.from_block:
            raise QueryError(f"to_block {self.to_block} is before from_block {self.from_block}")
        device = None if self.device is None else checked_address(self.device, "device")
        account = None if self.account is None else checked_address(self.account, "account")
        return EventFilter(
            account,
            self.token_id,
            device,
            self.contract,
            self.name,
            self.from_time,
            self.to_time,
            self.from_block,
            self.to_block,
        )


def parse_cursor(text: str) -> tuple[int, int]:
    """``(block_number, log_index)`` of a ``block:log`` cursor.

    Raises:
        QueryError: not of that form.
    """
    match = _CURSOR.match(text)
    if match is None:
        raise QueryError(f"cursor {text[:40]!r} is not `block:log` (the `next` of the previous page)")
    return int(match[1]), int(match[2])


def cursor_of(event: m.Event) -> str:
    return f"{event.block_number}:{event.log_index}"


def iso_time(seconds: int) -> str:
    """``2027-03-01T08:00:00Z``."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _time_bounds(db: Session, f: EventFilter) -> tuple[int | None, int | None] | None:
    """The block-time window of ``f``, narrowed by its block range (block times never
    decrease along the chain, so a block range is also a time range the indexes can seek);
    ``None`` when the block range holds no event."""
    low, high = f.from_time, f.to_time
    e = m.Event
    if f.from_block is not None:
        first = db.execute(
            select(e.block_time)
            .where(e.block_number >= f.from_block)
            .order_by(e.block_number, e.log_index)
            .limit(1)
        ).scalar()
        if first is None:
            return None
        low = first if low is None else max(low, first)
    if f.to_block is not None:
        last = db.execute(
            select(e.block_time)
            .where(e.block_number <= f.to_block)
            .order_by(e.block_number.desc(), e.log_index.desc())
            .limit(1)
        ).scalar()
        if last is None:
            return None
        high = last if high is None else min(high, last)
    if low is not None and high is not None and high < low:
        return None
    return low, high


def events_query(
    db: Session, *, filters: EventFilter, after: tuple[int, int] | None = None
) -> Select[m.Event] | None:
    """The ordered query of the events matching ``filters`` after the ``after`` event.

    Returns:
        The statement, or ``None`` when nothing can match (an empty block range).

    Raises:
        QueryError: ``after`` names no indexed event.
    """
    f = filters
    bounds = _time_bounds(db, f)
    if bounds is None:
        return None
    low, high = bounds
    e = m.Event
    if f.account is not None:
        p = m.EventParty
        key: Any = (p.block_time, p.block_number, p.log_index)
        stmt = select(e).join(p, p.event_id == e.id).where(p.account == f.account)
        if f.token_id is not None:
            stmt = stmt.where(e.token_id == f.token_id)
        if f.device is not None:
            stmt = stmt.where(e.device == f.device)
    else:
        key = (e.block_time, e.block_number, e.log_index)
        stmt = select(e)
        if f.token_id is not None:
            stmt = stmt.where(e.token_id == f.token_id)
            if f.device is not None:
                stmt = stmt.where(e.device == f.device)
        elif f.device is not None:
            stmt = stmt.where(e.device == f.device)
    by_kind = f.account is None and f.token_id is None and f.device is None and bool(f.contract and f.name)
    if by_kind and db.get_bind().dialect.name == "sqlite":
        # With ANALYZE statistics SQLite prices (contract, name) at its average count and may
        # scan the whole log in time order looking for a rare event; ``unlikely`` makes it
        # walk ix_events_kind (contract, name, block_time) instead, as it does without them.
        stmt = stmt.where(func.unlikely(e.contract == f.contract), func.unlikely(e.name == f.name))
    else:
        if f.contract is not None:
            stmt = stmt.where(e.contract == f.contract)
        if f.name is not None:
            stmt = stmt.where(e.name == f.name)
    if low is not None:
        stmt = stmt.where(key[0] >= low)
    if high is not None:
        stmt = stmt.where(key[0] <= high)
    if f.from_block is not None:
        stmt = stmt.where(key[1] >= f.from_block)
    if f.to_block is not None:
        stmt = stmt.where(key[1] <= f.to_block)
    if after is not None:
        at = db.execute(
            select(e.block_time).where(e.block_number == after[0], e.log_index == after[1])
        ).scalar()
        if at is None:
            raise QueryError(f"cursor {after[0]}:{after[1]} names no indexed event")
        stmt = stmt.where(tuple_(*key) > tuple_(at, after[0], after[1]))
    if by_kind:
        # Both fixed: ordering by them first changes nothing, but tells the planner that
        # ix_events_kind (contract, name, block_time) gives the order.
        return stmt.order_by(e.contract, e.name, *key)
    return stmt.order_by(*key)


def events_page(
    db: Session, *, filters: EventFilter, after: str | None = None, limit: int = 100
) -> tuple[list[m.Event], str | None]:
    """One page of the audit trail in chain order.

    Args:
        filters: what to match (checked with :meth:`EventFilter.check`).
        after: the cursor of the previous page (``None``: from the start).
        limit: most rows to return.

    Returns:
        The events and the cursor of the next page (``None`` after the last row).

    Raises:
        QueryError: a bad cursor or window.
    """
    stmt = events_query(db, filters=filters.check(), after=None if after is None else parse_cursor(after))
    if stmt is None:
        return [], None
    rows = list(db.execute(stmt.limit(limit + 1)).scalars())
    if len(rows) > limit:
        return rows[:limit], cursor_of(rows[limit - 1])
    return rows, None


def count_capped(db: Session, *, filters: EventFilter, cap: int) -> int:
    """How many events match, counted up to ``cap + 1`` (an index walk of at most that many)."""
    stmt = events_query(db, filters=filters.check())
    if stmt is None:
        return 0
    inner = stmt.with_only_columns(m.Event.id).limit(cap + 1).subquery()
    return int(db.execute(select(func.count()).select_from(inner)).scalar_one())


def iter_events(db: Session, *, filters: EventFilter, page: int = 1_000) -> Iterator[m.Event]:
    """Every matching event in chain order, fetched ``page`` rows at a time by cursor."""
    after: str | None = None
    while True:
        rows, after = events_page(db, filters=filters, after=after, limit=page)
        yield from rows
        db.expunge_all()
        if after is None:
            return


# ---------------------------------------------------------------------- batches and readings


@dataclass(frozen=True)
class BatchFilter:
    """Which anchored batches to list.

    Attributes:
        enterprise: the enterprise whose device measured them.
        device: the device.
        from_time: batches whose reading period ends at or after this (unix s).
        to_time: batches whose reading period starts at or before this (unix s).
    """

    enterprise: str | None = None
    device: str | None = None
    from_time: int | None = None
    to_time: int | None = None


def batches_query(*, filters: BatchFilter, scope: Scope, caller: str) -> Select[m.Batch]:
    """Batches matching ``filters`` that ``scope`` may read, by reading period then id.

    Raises:
        QueryError: a window that ends before it starts.
        ForbiddenError: ``filters`` names an enterprise ``scope`` may not read.
        InvalidInputError: a malformed address.
    """
    f, b = filters, m.Batch
    if f.from_time is not None and f.to_time is not None and f.to_time < f.from_time:
        raise QueryError(f"to_time {f.to_time} is before from_time {f.from_time}")
    stmt = select(b)
    if f.enterprise is not None:
        enterprise = checked_address(f.enterprise, "enterprise")
        check_enterprise(scope, enterprise=enterprise, caller=caller)
        stmt = stmt.where(b.enterprise == enterprise)
    if scope.accounts is not None:
        stmt = stmt.where(b.enterprise.in_(sorted(scope.accounts)))
    if f.device is not None:
        stmt = stmt.where(b.device == checked_address(f.device, "device"))
    if f.from_time is not None:
        stmt = stmt.where(b.period_end >= f.from_time)
    if f.to_time is not None:
        stmt = stmt.where(b.period_start <= f.to_time)
    return stmt.order_by(b.period_start, b.batch_id)


def _batch_key(batch_id: str) -> str:
    text = batch_id.lower()
    if not re.fullmatch(r"0x[0-9a-f]{64}", text):
        raise InvalidInputError(f"batch id {batch_id[:70]!r} is not 32 bytes of 0x-hex")
    return text


def get_batch(db: Session, *, batch_id: str, scope: Scope, caller: str) -> m.Batch:
    """An anchored batch ``scope`` may read.

    Raises:
        NotFoundError: no such batch in the read model.
        ForbiddenError: another enterprise's batch.
        InvalidInputError: a malformed id.
    """
    batch = db.get(m.Batch, _batch_key(batch_id))
    if batch is None:
        raise NotFoundError(f"batch {batch_id} is not anchored (or not indexed yet)")
    check_enterprise(scope, enterprise=batch.enterprise, caller=caller)
    return batch


def readings_query(*, batch_id: str) -> Select[m.Reading]:
    """The imported readings of a batch, in tree-value order."""
    r = m.Reading
    return select(r).where(r.batch_id == _batch_key(batch_id)).order_by(r.position)


@dataclass(frozen=True)
class DecodedTotal:
    """An anchored per-pollutant total, decoded: HJ 212 code and unit as text, the exact sum."""

    pollutant: str
    unit: str
    total: str
    raw: str
    decimals: int


def _text(raw_hex: str) -> str:
    return bytes.fromhex(raw_hex.removeprefix("0x")).rstrip(b"\0").decode("ascii", "replace")


def decimal_text(value: int, decimals: int) -> str:
    """``value * 10**-decimals`` as plain decimal text (``"12.345"``)."""
    return format(Decimal(value).scaleb(-decimals), "f")


def decode_totals(totals: Sequence[dict[str, Any]]) -> list[DecodedTotal]:
    """A batch's totals as the event carries them (bytes8 hex, scaled integers), decoded."""
    return [
        DecodedTotal(
            _text(t["pollutant"]),
            _text(t["unit"]),
            decimal_text(int(t["total"]), int(t["decimals"])),
            str(int(t["total"])),
            int(t["decimals"]),
        )
        for t in totals
    ]


@dataclass(frozen=True)
class ProofCheck:
    """A reading's Merkle proof and what the checks of it found.

    Attributes:
        reading: the stored reading.
        batch: its batch.
        proof: sibling hashes from the leaf up (0x-hex).
        computed_root: root of the tree rebuilt from the batch's stored leaves.
        anchored_root: the root the EmissionsLedger stores for the batch (``None``: not found).
        root_matches: the two roots are equal.
        leaf_matches: the reading's EIP-712 digest is its stored leaf.
        on_chain: the ledger's ``verifyReading`` accepted reading, frame signature and proof.
        error: why a check could not run (a malformed stored field, a refused call).
    """

    reading: m.Reading
    batch: m.Batch
    proof: list[str]
    computed_root: str
    anchored_root: str | None
    root_matches: bool
    leaf_matches: bool
    on_chain: bool
    error: str | None

    @property
    def verified(self) -> bool:
        return self.root_matches and self.leaf_matches and self.on_chain


def reading_of(row: m.Reading) -> Reading:
    """The signed reading's fields as stored.

    Raises:
        ReadingValueError: a stored field does not fit its EIP-712 type.
    """
    return Reading(
        row.device, row.sequence, row.time, row.pollutant, int(row.value), row.decimals, row.unit, row.flag
    )


def witness_of(row: m.Reading) -> FrameWitness:
    """The frame witness as stored.

    Raises:
        ReadingSignatureError: a malformed stored witness.
    """
    hashes = tuple(bytes.fromhex(str(h).removeprefix("0x")) for h in row.frame_hashes)
    return FrameWitness(hashes, row.frame_index, bytes.fromhex(row.signature.removeprefix("0x")))


def header_of(batch: m.Batch) -> AnchoredBatch:
    """The batch's header (the preimage of its stored word on the ledger) from the read model:
    the ``BatchAnchored`` event's fields, its block, and the keccak256 of its packed totals."""
    packed = bytes.fromhex(batch.totals_packed.removeprefix("0x"))
    return AnchoredBatch(
        batch_id=bytes.fromhex(batch.batch_id.removeprefix("0x")),
        root=bytes.fromhex(batch.root.removeprefix("0x")),
        device=batch.device,
        first_sequence=batch.first_sequence,
        count=batch.count,
        enterprise=batch.enterprise,
        last_sequence=batch.last_sequence,
        period_start=batch.period_start,
        period_end=batch.period_end,
        anchored_at=batch.block_time,
        anchored_block=batch.block_number,
        totals_hash=keccak(packed),
    )


def prove_reading(
    db: Session, *, ledger: LedgerClient, batch_id: str, position: int, scope: Scope, caller: str
) -> ProofCheck:
    """Rebuild a reading's Merkle proof from its batch's stored leaves and check it: the
    rebuilt root against the anchored one, the reading against its leaf, and the whole
    (reading, frame signature, proof) with the ledger's ``verifyReading``.

    A check that fails is reported in the result, not raised.

    Raises:
        NotFoundError: no such batch, or no reading at ``position`` (not imported yet?).
        ForbiddenError: another enterprise's batch.
        ChainUnavailableError: the node does not answer.
    """
    batch = get_batch(db, batch_id=batch_id, scope=scope, caller=caller)
    leaves = list(
        db.execute(
            select(m.Reading.position, m.Reading.leaf)
            .where(m.Reading.batch_id == batch.batch_id)
            .order_by(m.Reading.position)
        )
    )
    row = db.get(m.Reading, (batch.batch_id, position))
    if row is None or position >= len(leaves) or leaves[position][0] != position:
        raise NotFoundError(f"batch {batch.batch_id} has no imported reading at position {position}")
    tree = StandardMerkleTree.of([[leaf] for _, leaf in leaves], LEAF_ENCODING)
    proof = tree.get_proof(position)
    error: str | None = None
    anchored: str | None = None
    header = header_of(batch)
    try:
        # the read model's header and packed totals, checked against the batch's stored word
        ledger.check_batch(batch.batch_id, header, bytes.fromhex(batch.totals_packed.removeprefix("0x")))
        anchored = "0x" + header.root.hex()
    except ContractRevertError as exc:
        error = f"the ledger refuses the batch's header: {exc.error}"
    leaf_matches = on_chain = False
    try:
        reading, witness = reading_of(row), witness_of(row)
        domain = ReadingDomain(ledger.chain.chain_id, ledger.address)
        leaf_matches = "0x" + reading_digest(domain, reading).hex() == row.leaf.lower()
        on_chain = ledger.verify_reading(batch.batch_id, reading, witness, proof, header=header)
    except ContractRevertError as exc:
        error = f"verifyReading refused the call: {exc.error}"
    except ValueError as exc:  # a stored field that no longer fits its type (altered)
        error = f"the stored reading is malformed: {exc}"
    return ProofCheck(
        row, batch, proof, tree.root, anchored, anchored == tree.root, leaf_matches, on_chain, error
    )
