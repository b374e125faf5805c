"""Verify the audit chain and its signed digests; name the first bad event and what is wrong.

The walk goes through the log in sequence order, recomputing every hash. At the first event
that does not fit, a few extra look-ups tell apart the kinds of tampering:

- ``edited``: an event's content no longer matches its hash (or its predecessor was rewritten
  with a fresh hash, so nothing links to it any more);
- ``missing``: a sequence number is absent (or later events were renumbered to hide it, or
  the log ends before a signed digest's head);
- ``reordered``: an event sits at another position than the one it was chained at;
- ``inserted``: an event that was never part of the chain sits between two that were;
- ``digest_mismatch``: a digest's signature fails, the digest chain is broken, or the log's
  hash at a digest's head differs (history rewritten and re-hashed).

``verify_audit_log`` is what the command, the Audit page and the PDF report run. By default it
resumes from the latest signed digest instead of re-hashing the whole log: it checks every
digest's signature and the chain of digests, that the event each digest names still hashes to
the digest's chain head, and re-hashes only the events after the latest. That proves the events
after the latest digest, and the events at digest heads, are as signed; an event between digest
heads edited, removed or reordered is only caught by the full walk (``full=True``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection, models, transaction
from django.utils import timezone

from lifecycle.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent, AuditVerification
from lifecycle.models.audit import event_hash
from lifecycle.services.audit import chain_head
from lifecycle.services.audit_digests import Digest, DigestError, load_digests
from lifecycle.services.audit_signing import SigningKeyError, default_public_key, verify_document

_CHUNK = 5000


class Problem(models.TextChoices):
    EDITED = "edited", "edited"
    MISSING = "missing", "missing"
    REORDERED = "reordered", "reordered"
    INSERTED = "inserted", "inserted"
    DIGEST_MISMATCH = "digest_mismatch", "digest mismatch"


@dataclass(frozen=True)
class VerificationResult:
    """What verification found: either intact, or the first bad event and the kind of problem."""

    events_checked: int
    head_sequence: int
    head_hash: str
    digests_checked: int
    problem: str | None = None
    sequence: int | None = None
    detail: str = ""
    resumed_from: Digest | None = None  # the signed digest a resumed check started from
    note: str = ""  # why a resumed check ran in full, or why none ran
    nothing_ran: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def resumed(self) -> bool:
        return self.resumed_from is not None

    def method(self) -> str:
        """Which verification ran: resumed from which digest, or full (and why)."""
        digest = self.resumed_from
        if self.nothing_ran:
            return f"none ({self.note})"
        if digest is None:
            full = "full (every event re-hashed from #1)"
            return f"{full}; {self.note}" if self.note else full
        return (
            f"resumed from signed digest {digest.path.name} (head #{digest.last_sequence}, "
            f"signed {digest.document.get('created_at', '?')}): only the events after it were "
            f"re-hashed; events before #{digest.last_sequence} are re-hashed by a full check"
        )

    def summary(self) -> str:
        if self.ok:
            return (
                f"Audit log intact: {self.events_checked} events re-hashed, head "
                f"#{self.head_sequence} {self.head_hash}, {self.digests_checked} signed digests "
                f"verified. Verification: {self.method()}."
            )
        label = Problem(self.problem).label
        where = f"event #{self.sequence}" if self.sequence is not None else "digests"
        return (
            f"Audit log NOT intact: first bad {where}: {label}. {self.detail} "
            f"Verification: {self.method()}."
        )


class _Bad(Exception):
    def __init__(self, problem: Problem, sequence: int | None, detail: str) -> None:
        super().__init__(detail)
        self.problem, self.sequence, self.detail = problem, sequence, detail


class _Lookahead:
    """An iterator over rows that can peek at the next one."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self._rows = rows
        self._next: dict[str, Any] | None = None

    def __iter__(self) -> _Lookahead:
        return self

    def __next__(self) -> dict[str, Any]:
        if self._next is not None:
            row, self._next = self._next, None
            return row
        return next(self._rows)

    def peek(self) -> dict[str, Any] | None:
        if self._next is None:
            self._next = next(self._rows, None)
        return self._next


_ROW_NAMES = (*HASHED_FIELDS, "hash")
_ROW_COLUMNS = ", ".join(
    f"{name}::text" if name in {"before", "after"} else name for name in _ROW_NAMES
)
_ROWS_SQL = (
    f"SELECT {_ROW_COLUMNS} FROM lifecycle_auditevent WHERE sequence > %s "
    "ORDER BY sequence LIMIT %s"
)


def _as_row(values: tuple) -> dict[str, Any]:
    row = dict(zip(_ROW_NAMES, values, strict=True))
    for name in ("before", "after"):
        if row[name] is not None:
            row[name] = json.loads(row[name])
    return row


def database_rows(after: int | None = None) -> Iterator[dict[str, Any]]:
    """Every event (after sequence ``after``) as a dict of its hashed fields and hash, in
    sequence order.

    Keyset batches of plain SQL: verification reads every row, and skipping the ORM's
    per-row conversions makes it about half again as fast. JSON is parsed once, here.
    """
    # From the smallest bigint: a forged row numbered 0 or below is read too.
    last = -(2**63) if after is None else after
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_ROWS_SQL, [last, _CHUNK])
            rows = cursor.fetchall()
        for values in rows:
            yield _as_row(values)
        if len(rows) < _CHUNK:
            return
        last = rows[-1][0]


def position_of_hash(value: str) -> int | None:
    """The sequence of the event whose hash is ``value`` (0 for the genesis hash)."""
    if value == GENESIS_HASH:
        return 0
    return AuditEvent.objects.filter(hash=value).values_list("sequence", flat=True).first()


def check_digests(digests: list[Digest], public_key: Ed25519PublicKey | None) -> None:
    """Signatures and the chain of digests (each names the SHA-256 of the one before)."""
    previous: Digest | None = None
    for digest in digests:
        if public_key is None:
            raise _Bad(Problem.DIGEST_MISMATCH, None, "no public key to check the digests with")
        error = verify_document(digest.document, public_key)
        if error:
            raise _Bad(Problem.DIGEST_MISMATCH, None, f"digest {digest.path.name}: {error}")
        expected = previous.sha256 if previous else None
        if digest.document.get("previous_digest_sha256") != expected:
            raise _Bad(
                Problem.DIGEST_MISMATCH,
                None,
                f"digest {digest.path.name} does not follow the digest before it "
                "(a digest file was removed, replaced or edited)",
            )
        previous = digest


def _classify(
    row: dict[str, Any],
    position: int,
    previous_hash: str,
    rows: _Lookahead,
    find: Callable[[str], int | None],
) -> _Bad:
    """Why ``row`` (at ``position``) does not link to the event before it."""
    found = find(row["previous_hash"])
    if found is not None and found == position - 2:
        return _Bad(
            Problem.INSERTED,
            position - 1,
            f"event #{position - 1} was never chained: event #{position} follows #{position - 2}",
        )
    if found is not None:
        return _Bad(
            Problem.REORDERED,
            position,
            f"event #{position} was chained after event #{found}, not after #{position - 1}",
        )
    if event_hash(row) == row["hash"]:
        return _Bad(
            Problem.EDITED,
            position - 1,
            f"event #{position - 1} was rewritten with a new hash: event #{position} "
            "no longer links to it",
        )
    if event_hash({**row, "sequence": position + 1}) == row["hash"]:
        return _Bad(
            Problem.MISSING,
            position,
            f"event #{position} was removed and the later events renumbered",
        )
    return _never_chained(position, previous_hash, rows) or _Bad(
        Problem.EDITED, position, f"event #{position} does not match its hash"
    )


def _never_chained(position: int, previous_hash: str, rows: _Lookahead) -> _Bad | None:
    """An insertion, if the event after ``position`` links to the one before it."""
    following = rows.peek()
    if following is None or following["previous_hash"] != previous_hash:
        return None
    return _Bad(
        Problem.INSERTED,
        position,
        f"event #{position} was never chained: event #{position + 1} follows #{position - 1}",
    )


#: Told how many events a walk has re-hashed, every ``AuditVerification.PROGRESS_EVERY``.
Progress = Callable[[int], None]


def _walk(
    rows: _Lookahead,
    digests: list[Digest],
    find: Callable[[str], int | None],
    start: tuple[int, str] = (0, GENESIS_HASH),
    progress: Progress | None = None,
) -> tuple[int, str]:
    """Re-hash ``rows``, the events after ``start`` (a position and its hash), in order."""
    by_head = {digest.last_sequence: digest for digest in digests}
    position, previous_hash = start
    for row in rows:
        position += 1
        if progress is not None and position % AuditVerification.PROGRESS_EVERY == 0:
            progress(position - start[0])
        if row["sequence"] < position:
            raise _Bad(
                Problem.INSERTED,
                row["sequence"],
                f"event #{row['sequence']} lies outside the sequence, which starts at #1",
            )
        if row["sequence"] != position:
            raise _Bad(
                Problem.MISSING,
                position,
                f"event #{position} is missing (the next event present is #{row['sequence']})",
            )
        if row["previous_hash"] != previous_hash:
            raise _classify(row, position, previous_hash, rows, find)
        if event_hash(row) != row["hash"]:
            raise _Bad(Problem.EDITED, position, f"event #{position} does not match its hash")
        digest = by_head.get(position)
        if digest is not None and digest.chain_head != row["hash"]:
            # A forged event chained to its predecessor, slipped in at a signed head.
            raise _never_chained(position, previous_hash, rows) or _Bad(
                Problem.DIGEST_MISMATCH,
                position,
                f"digest {digest.path.name} signed hash {digest.chain_head} for event "
                f"#{position}, the log has {row['hash']}: history up to #{position} was rewritten",
            )
        previous_hash = row["hash"]
    signed_up_to = max(by_head, default=0)
    if signed_up_to > position:
        raise _Bad(
            Problem.MISSING,
            position + 1,
            f"the log ends at #{position} but a signed digest covers events up to #{signed_up_to}",
        )
    return position, previous_hash


def verify_audit_chain(
    *,
    digests: list[Digest] | None = None,
    public_key: Ed25519PublicKey | None = None,
    rows: Iterator[dict[str, Any]] | None = None,
    find: Callable[[str], int | None] = position_of_hash,
    progress: Progress | None = None,
) -> VerificationResult:
    """Check every event's hash and link, and the digests; stop at the first problem."""
    digests = digests or []
    lookahead = _Lookahead(rows if rows is not None else database_rows())
    checked = 0
    try:
        check_digests(digests, public_key)
        checked, head = _walk(lookahead, digests, find, progress=progress)
    except _Bad as bad:
        return _failed(bad, max((bad.sequence or 1) - 1, 0), digests)
    return VerificationResult(checked, checked, head, len(digests))


def _failed(
    bad: _Bad, checked: int, digests: list[Digest], resumed_from: Digest | None = None
) -> VerificationResult:
    return VerificationResult(
        events_checked=checked,
        head_sequence=0,
        head_hash="",
        digests_checked=len(digests),
        problem=bad.problem,
        sequence=bad.sequence,
        detail=bad.detail,
        resumed_from=resumed_from,
    )


def verify_audit_log(
    *,
    full: bool = False,
    digests: list[Digest] | None = None,
    public_key: Ed25519PublicKey | None = None,
    progress: Progress | None = None,
) -> VerificationResult:
    """Verify the log: resumed from the latest signed digest, or every event when ``full``.

    The resumed check trusts a digest only once every digest's signature and the chain of
    digests are checked: a forged or edited digest is reported as a digest mismatch, never
    resumed from. Without a digest it runs in full and says so.
    """
    digests = digests or []
    if full or not digests:
        result = verify_audit_chain(digests=digests, public_key=public_key, progress=progress)
        note = "" if full else "no signed digest to resume from"
        return replace(result, note=note) if note else result
    latest = max(digests, key=lambda digest: (digest.last_sequence, digest.path.name))
    try:
        check_digests(digests, public_key)
        start = _digest_heads(digests)
        rows = _Lookahead(database_rows(after=latest.last_sequence))
        head_sequence, head = _walk(rows, [latest], position_of_hash, start, progress)
    except _Bad as bad:
        checked = max((bad.sequence or 1) - latest.last_sequence, 0)
        return _failed(bad, checked, digests, resumed_from=latest)
    checked = head_sequence - latest.last_sequence + 1  # the digest's own event is re-hashed too
    return VerificationResult(checked, head_sequence, head, len(digests), resumed_from=latest)


def _digest_heads(digests: list[Digest]) -> tuple[int, str]:
    """Where to resume: the latest digest's event and hash. The event each digest names must
    still be in the log, still hash to its own hash, and carry the hash the digest signed."""
    heads = sorted({digest.last_sequence: digest for digest in digests}.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_ROW_COLUMNS} FROM lifecycle_auditevent WHERE sequence = ANY(%s)",
            [[sequence for sequence, _ in heads]],
        )
        rows = {row["sequence"]: row for row in map(_as_row, cursor.fetchall())}
    for sequence, digest in heads:
        row = rows.get(sequence)
        if row is None:
            last = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True)
            end = last.first() or 0
            missing = sequence if end > sequence else end + 1
            raise _Bad(
                Problem.MISSING,
                missing,
                f"event #{missing} is missing: signed digest {digest.path.name} covers events "
                f"up to #{sequence}, the log ends at #{end}",
            )
        if event_hash(row) != row["hash"]:
            raise _Bad(Problem.EDITED, sequence, f"event #{sequence} does not match its hash")
        if row["hash"] != digest.chain_head:
            raise _Bad(
                Problem.DIGEST_MISMATCH,
                sequence,
                f"digest {digest.path.name} signed hash {digest.chain_head} for event "
                f"#{sequence}, the log has {row['hash']}: history up to #{sequence} was rewritten",
            )
    return heads[-1][0], heads[-1][1].chain_head


def verify_configured(
    *, full: bool = False, progress: Progress | None = None
) -> VerificationResult:
    """``verify_audit_log`` with the configured digest folder and signing key, as the Audit page
    and the PDF report run it. An unreadable digest file is a digest mismatch, not skipped."""
    try:
        digests = load_digests()
    except DigestError as error:
        return VerificationResult(
            0,
            0,
            "",
            0,
            Problem.DIGEST_MISMATCH,
            None,
            str(error),
            note="the digest files could not be read",
            nothing_ran=True,
        )
    try:
        public_key: Ed25519PublicKey | None = default_public_key()
    except SigningKeyError:
        public_key = None  # digests, if any, are then refused: nothing can check them
    return verify_audit_log(full=full, digests=digests, public_key=public_key, progress=progress)


# Full verification on a worker -------------------------------------------------------------


#: Key of the advisory lock that makes starters of a full verification take turns ("veri").
VERIFICATION_LOCK_KEY = 0x76657269


class VerificationStopped(Exception):
    """The verification a worker runs was taken over (interrupted) meanwhile: stop walking."""


#: The fields of a stored result (``AuditVerification.result``); a full check has no digest.
_STORED = tuple(field.name for field in fields(VerificationResult) if field.name != "resumed_from")


def stored_result(verification: AuditVerification) -> VerificationResult | None:
    """The result a finished full verification stored, as the Audit page shows results."""
    if verification.result is None:
        return None
    return VerificationResult(**{name: verification.result[name] for name in _STORED})


def latest_full_verification() -> AuditVerification | None:
    return AuditVerification.objects.select_related("requested_by").first()


def start_full_verification(user: Any) -> AuditVerification:
    """Queue a full verification for a worker, or return the one already under way (a second
    walk of the same chain would tell nothing new and double the load). One that is stale (its
    worker gone) is marked interrupted first."""
    from lifecycle.tasks import verify_audit_log_in_full

    with transaction.atomic():
        # Starters take turns (to the end of the transaction): the second finds the first's.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [VERIFICATION_LOCK_KEY])
        for pending in AuditVerification.objects.filter(state__in=AuditVerification.UNFINISHED):
            if not pending.stale:
                return pending
            interrupt_verification(pending.pk, "its worker stopped reporting", pending.state)
        verification = AuditVerification.objects.create(requested_by=user)
        verify_audit_log_in_full.delay_on_commit(verification.pk)
    return verification


def interrupt_verification(pk: int, reason: str, state: str | None = None) -> bool:
    """Mark a queued or running verification interrupted (only from ``state`` when given)."""
    states = [state] if state else AuditVerification.UNFINISHED
    return bool(
        AuditVerification.objects.filter(pk=pk, state__in=states).update(
            state=AuditVerification.State.INTERRUPTED, finished_at=timezone.now(), reason=reason
        )
    )


def run_full_verification(pk: int) -> str:
    """What the worker does: claim the queued verification, re-hash every event reporting
    progress, store the result. Returns the state it left (or why it did nothing)."""
    now = timezone.now()
    claimed = AuditVerification.objects.filter(pk=pk, state=AuditVerification.State.QUEUED).update(
        state=AuditVerification.State.RUNNING,
        started_at=now,
        heartbeat_at=now,
        head_sequence=chain_head().sequence,
    )
    if not claimed:
        return "not queued"  # a redelivered message, or interrupted before a worker took it

    def progress(checked: int) -> None:
        running = AuditVerification.objects.filter(pk=pk, state=AuditVerification.State.RUNNING)
        if not running.update(events_checked=checked, heartbeat_at=timezone.now()):
            raise VerificationStopped

    try:
        result = verify_configured(full=True, progress=progress)
    except VerificationStopped:
        return AuditVerification.State.INTERRUPTED
    stored = {name: getattr(result, name) for name in _STORED}
    finished = AuditVerification.objects.filter(pk=pk, state=AuditVerification.State.RUNNING)
    now = timezone.now()
    finished.update(
        state=AuditVerification.State.FINISHED,
        finished_at=now,
        heartbeat_at=now,
        events_checked=result.events_checked,
        result=stored,
    )
    return AuditVerification.State.FINISHED
