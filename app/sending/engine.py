"""The sending engine: the database is the record of every message (SPEC §7).

A message row exists before any job does, with its due time already inside its send window and
a unique `dedupe_key`, so a second plan of the same message inserts nothing. Jobs carry message
ids only, BATCH a job. A worker claims its batch in one statement (only rows still scheduled and
due move to "sending"), checks each message again (blacklist, flags, frequency cap, window) and
hands the rest to the provider; a message handed over is never handed over again. The sweeper
marks what a dead worker held "outcome unknown" and gives due messages that no live job holds
to new jobs.

On SQLite every transaction here that writes starts with its write, so a worker never has to
upgrade a read to a write while another process writes (that fails at once instead of waiting).
"""

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from uuid import uuid4

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import JSON, Row, Select, String, Text, bindparam, cast, func, literal, select, update

from ..extensions import db
from ..models import (
    HANDED_OVER_STATUSES,
    BlacklistEntry,
    Campaign,
    CampaignStatus,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
    SkipReason,
)
from ..redis import get_queue, get_redis
from ..shop_calendar import shop_zone
from . import limiter, settings, windows
from .eligibility import Recipient, skip_reason
from .providers import Handed, Outgoing, Provider, provider

log = logging.getLogger(__name__)


def batched(items: Iterable, size: int):
    """itertools.batched (Python 3.12), for Python 3.11: tuples of `size` items, the last shorter."""
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


BATCH = 500  # messages a job carries and a worker claims at once
_IN = 5000  # ids or phones in one IN (...) list
messages = Message.__table__

# The log provider's receipts say "delivered" this long after it accepted a message.
OWN_RECEIPTS_AFTER = timedelta(seconds=2)
# A started job whose worker has not been heard of for this long is dead (RQ's own heartbeat).
_DEAD_JOB_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class Draft:
    """One message to plan: the final text already made (app.sending.compose)."""

    dedupe_key: str
    kind: str
    body: str
    phone: str | None
    customer_id: int | None = None
    parts: int = 1
    params: dict | None = None
    template_id: int | None = None
    campaign_id: int | None = None
    follow_up_id: int | None = None
    skip_reason: str | None = None  # known at planning: recorded, never sent


@dataclass
class Planned:
    """What plan() wrote: the new messages to send, by the job that will carry them."""

    due_at: datetime
    batches: dict[str, list[int]] = field(default_factory=dict)  # job id -> message ids
    skipped: Counter = field(default_factory=Counter)  # skip reason -> messages
    duplicates: int = 0  # drafts already planned before: nothing written

    @property
    def scheduled(self) -> int:
        return sum(len(ids) for ids in self.batches.values())

    @property
    def jobs(self) -> dict[str, tuple[list[int], datetime]]:
        return {job_id: (ids, self.due_at) for job_id, ids in self.batches.items()}


def leaves_at(kind: str, moment: datetime, sender: Provider | None = None) -> datetime:
    """When a message of `kind` queued at `moment` (naive UTC) leaves: its window's next opening."""
    return settings.leaves_at(kind, moment, (sender or provider()).marketing_curfew)


# --- who may receive -------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the eligibility rule needs about a set of recipients, read in a few queries."""

    blacklisted: frozenset[str]
    flagged: frozenset[int]
    recent_marketing: dict[int, int]

    def recipient(self, phone: str | None, customer_id: int | None, extra_marketing: int = 0) -> Recipient:
        return Recipient(
            phone=phone,
            blacklisted=phone in self.blacklisted,
            flagged=customer_id in self.flagged,
            recent_marketing=self.recent_marketing.get(customer_id, 0) + extra_marketing,
        )


def _chunks(values: Iterable | Select) -> list:
    """IN (...) lists of at most _IN values each; a SELECT of the values is one chunk."""
    if isinstance(values, Select):
        return [values]
    return list(batched(sorted({v for v in values if v}), _IN))


def facts(
    phones: Iterable[str | None] | Select,
    customer_ids: Iterable[int | None] | Select,
    moment: datetime,
    cap_days: int,
    *,
    count_planned: bool,
    leave_out: Sequence[int] = (),
) -> Facts:
    """The blacklisted phones, flagged customers and marketing sent in the `cap_days` before
    `moment`; with `count_planned`, marketing planned to leave by then counts too.

    `phones` and `customer_ids` are the values, or a SELECT of them (a campaign's audience:
    one query each, however many)."""
    blacklisted, flagged, recent = set(), set(), Counter()
    for chunk in _chunks(phones):
        blacklisted.update(
            db.session.scalars(
                select(BlacklistEntry.phone).where(BlacklistEntry.phone.in_(chunk), BlacklistEntry.removed_at.is_(None))
            )
        )
    statuses = [*HANDED_OVER_STATUSES, *((MessageStatus.SCHEDULED,) if count_planned else ())]
    since = moment - timedelta(days=cap_days)
    for chunk in _chunks(customer_ids):
        flagged.update(
            db.session.scalars(
                select(Customer.id).where(Customer.id.in_(chunk), Customer.flag_bad_reviewer | Customer.flag_picky)
            )
        )
        counted = (
            select(Message.customer_id, func.count())
            .where(
                Message.customer_id.in_(chunk),
                Message.kind == MessageKind.MARKETING,
                Message.status.in_(statuses),
                func.coalesce(Message.sent_at, Message.due_at) >= since,
                func.coalesce(Message.sent_at, Message.due_at) <= moment,
            )
            .group_by(Message.customer_id)
        )
        if leave_out:
            counted = counted.where(Message.id.not_in(leave_out))
        recent.update(dict(db.session.execute(counted).all()))
    return Facts(frozenset(blacklisted), frozenset(flagged), dict(recent))


# --- planning --------------------------------------------------------------------------------


def _insert_ignoring_duplicates():
    """INSERT that skips rows whose dedupe_key exists (both databases say ON CONFLICT DO NOTHING)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(messages).on_conflict_do_nothing(index_elements=["dedupe_key"])


_RETURNED = (messages.c.id, messages.c.status, messages.c.skip_reason, messages.c.job_id)
# What differs from one message to the next when they are planned together.
_PER_MESSAGE = (
    "dedupe_key",
    "campaign_id",
    "customer_id",
    "template_id",
    "follow_up_id",
    "kind",
    "phone",
    "body",
    "params",
    "parts",
    "status",
    "skip_reason",
    "job_id",
)


def _insert(rows: list[dict]) -> list:
    """Insert `rows` (all with the same keys, the same value in each key not in _PER_MESSAGE),
    skipping duplicates; returns (id, status, skip_reason, job_id) of those written."""
    dialect = db.engine.dialect
    if dialect.name == "sqlite":
        return _insert_sqlite(rows, dialect)
    if dialect.name != "postgresql":
        return db.session.execute(_insert_ignoring_duplicates().returning(*_RETURNED), rows).all()
    # PostgreSQL: one array a column, unnested into rows. A multi-row VALUES of 2,000 rows has
    # 34,000 placeholders, which psycopg parses in Python for every statement (profiled: 80 % of
    # planning 10,000 messages); this has one a column.
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    first = rows[0]
    # Columns with one value in every row (a campaign's, its template's) go once, not as arrays.
    varying = [name for name in _PER_MESSAGE if any(row[name] != first[name] for row in rows)]
    arrays = []
    for name in varying:
        column = messages.c[name]
        values = [row[name] for row in rows]
        if name == "params":  # JSON: as text, read back as JSON below
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
            array_type = ARRAY(Text)
        else:
            if isinstance(column.type, String):
                values = [None if v is None else str(v) for v in values]
            array_type = ARRAY(column.type)
        arrays.append(bindparam(f"each_{name}", values, type_=array_type))
    same = {name: value for name, value in first.items() if name not in varying}
    chosen = []
    if varying:
        each = func.unnest(*arrays).table_valued(*varying).render_derived()
        chosen = [cast(each.c.params, JSON) if name == "params" else each.c[name] for name in varying]
    chosen += [literal(value, messages.c[name].type) for name, value in same.items()]
    statement = (
        pg_insert(messages)
        .from_select([*varying, *same], select(*chosen))
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(*_RETURNED)
    )
    return db.session.execute(statement).all()


def _insert_sqlite(rows: list[dict], dialect) -> list:
    """SQLite: one multi-row INSERT … RETURNING per page, its values converted as SQLAlchemy
    converts them but each column's shared value once (SQLAlchemy's executemany path spent
    twice as long in Python as SQLite spent writing)."""
    names = list(rows[0])
    convert = {}
    for name in names:
        process = messages.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            shared = rows[0][name]
            if all(row[name] is shared for row in rows):
                convert[name] = (True, process(shared))
            else:
                convert[name] = (False, process)
    page = max(1, dialect.insertmanyvalues_max_parameters // len(names))
    returned = ", ".join(column.name for column in _RETURNED)
    written = []
    for start in range(0, len(rows), page):
        chunk = rows[start : start + page]
        values = []
        for row in chunk:
            for name in names:
                value = row[name]
                if name in convert:
                    shared, process = convert[name]
                    value = process if shared else (None if value is None else process(value))
                values.append(value)
        placeholders = ", ".join([f"({', '.join('?' * len(names))})"] * len(chunk))
        statement = (
            f"INSERT INTO messages ({', '.join(names)}) VALUES {placeholders} "
            f"ON CONFLICT (dedupe_key) DO NOTHING RETURNING {returned}"
        )
        written += db.session.connection().exec_driver_sql(statement, tuple(values)).all()
    return written


def plan(
    drafts: Iterable[Draft], *, sender: Provider, due_at: datetime, created_by_id: int | None, now: datetime
) -> Planned:
    """Write the drafts as messages due at `due_at` (inside a window already). A draft planned
    before writes nothing. Does not commit; hand the result to enqueue() after the commit.

    Each message to send is written with the job that will carry it (BATCH a job, in the
    drafts' order), so no second statement is needed to hold them (100,000 messages: 200
    UPDATEs fewer, half the time)."""
    planned = Planned(due_at)
    job_id, in_job = None, BATCH
    rows = []
    for d in drafts:
        if not d.skip_reason:
            if in_job == BATCH:
                job_id, in_job = f"sms-{uuid4().hex}", 0
            in_job += 1
        rows.append(
            {
                "dedupe_key": d.dedupe_key,
                "campaign_id": d.campaign_id,
                "customer_id": d.customer_id,
                "template_id": d.template_id,
                "follow_up_id": d.follow_up_id,
                "kind": d.kind,
                "phone": d.phone,
                "body": d.body,
                "params": d.params,
                "parts": d.parts,
                "provider": sender.name,
                "status": MessageStatus.SKIPPED if d.skip_reason else MessageStatus.SCHEDULED,
                "skip_reason": d.skip_reason,
                "due_at": due_at,
                "job_id": None if d.skip_reason else job_id,
                "created_by_id": created_by_id,
                "created_at": now,
            }
        )
    for chunk in batched(rows, 2000):
        written = _insert(list(chunk))
        planned.duplicates += len(chunk) - len(written)
        for message_id, status, reason, job in written:
            if status == MessageStatus.SKIPPED:
                planned.skipped[reason] += 1
            else:
                planned.batches.setdefault(job, []).append(message_id)
    for ids in planned.batches.values():
        ids.sort()
    return planned


def _hold(ids: Sequence[int], job_id: str) -> None:
    db.session.execute(
        update(messages)
        .where(messages.c.id.in_(ids), messages.c.status == MessageStatus.SCHEDULED)
        .values(job_id=job_id)
    )


def enqueue(jobs: dict[str, tuple[list[int], datetime]]) -> None:
    """Start each job (id -> its message ids and due time). Call after the messages are
    committed; if Redis is out of reach, the sweeper starts them once they are due (the messages
    are the record)."""
    from .jobs import send_batch

    queue = get_queue()
    try:
        for job_id, (ids, due_at) in jobs.items():
            if due_at <= _utcnow():
                queue.enqueue(send_batch, ids, job_id=job_id)
            else:
                queue.enqueue_at(due_at.replace(tzinfo=UTC), send_batch, ids, job_id=job_id)
    except RedisError:
        log.exception("could not start SMS jobs; the sweeper will start them when they are due")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# --- sending ---------------------------------------------------------------------------------


@dataclass
class BatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    later: int = 0  # outside their window now: wait for its next opening
    unknown: int = 0  # the provider's answer never came


def claim(ids: Sequence[int], token: str, now: datetime) -> list[Row]:
    """Move those of `ids` still scheduled and due to "sending" under `token`: one statement,
    so two workers holding the same ids never both get one. Returns what sending needs of
    each claimed message, in the order of their ids."""
    db.session.commit()  # the claim must open its transaction (see the module's note)
    lease_until = now + timedelta(seconds=current_app.config["SMS_CLAIM_LEASE_SECONDS"])
    claimed = db.session.execute(
        update(messages)
        .where(
            messages.c.id.in_(ids),
            messages.c.status == MessageStatus.SCHEDULED,
            messages.c.due_at <= now,
        )
        .values(status=MessageStatus.SENDING, claim=token, lease_until=lease_until)
        .returning(
            messages.c.id,
            messages.c.phone,
            messages.c.customer_id,
            messages.c.kind,
            messages.c.body,
            messages.c.params,
            messages.c.template_id,
            messages.c.provider,
            messages.c.campaign_id,
        )
    ).all()
    return sorted(claimed, key=lambda row: row.id)


def send_batch(ids: Sequence[int], now: datetime | None = None) -> BatchResult:
    """Claim, check again and send the messages `ids` that are still due (a job's work)."""
    started, now = _utcnow(), now or _utcnow()

    def clock() -> datetime:  # `now` moving on as the batch goes (tests give a `now` of their own)
        return now + (_utcnow() - started)

    token = uuid4().hex
    result = BatchResult()
    rows = claim(ids, token, now)
    result.claimed = len(rows)
    if not rows:
        db.session.commit()
        return result
    claimed = [row.id for row in rows]
    rules = settings.load()
    known = facts(
        (r.phone for r in rows),
        (r.customer_id for r in rows if r.kind == MessageKind.MARKETING),
        now,
        rules.cap_days,
        count_planned=False,
        leave_out=claimed,
    )
    zone = shop_zone()
    weeks: dict[tuple[str, str], windows.WeekWindows] = {}
    open_now: dict[tuple[str, str], bool] = {}
    senders: dict[str, Provider] = {}
    by_sender: dict[str, list] = defaultdict(list)
    skips: list[dict] = []
    later: dict[datetime, list[int]] = defaultdict(list)
    in_batch = Counter()  # marketing given to a customer earlier in this batch
    for row in rows:
        sender = senders.get(row.provider) or senders.setdefault(row.provider, provider(row.provider))
        reason = skip_reason(
            known.recipient(row.phone, row.customer_id, in_batch[row.customer_id]), row.kind, rules.marketing_cap
        )
        if reason is not None:
            skips.append({"message_id": row.id, "reason": reason})
            continue
        week = weeks.get((row.kind, row.provider))
        if week is None:
            week = weeks[row.kind, row.provider] = settings.windows_for(
                row.kind, sender.marketing_curfew, rules.windows
            )
            open_now[row.kind, row.provider] = windows.is_open(now, week, zone)
        if not open_now[row.kind, row.provider]:
            later[windows.next_send_time(now, week, zone)].append(row.id)
            continue
        if row.kind == MessageKind.MARKETING:
            in_batch[row.customer_id] += 1
        by_sender[row.provider].append(row)
    if skips:
        db.session.connection().execute(
            update(messages)
            .where(messages.c.id == bindparam("message_id"))
            .values(status=MessageStatus.SKIPPED, skip_reason=bindparam("reason"), claim=None, lease_until=None),
            skips,
        )
        result.skipped = len(skips)
    waiting = _put_back(later)
    result.later = sum(len(ids) for ids in later.values())
    db.session.commit()
    enqueue(waiting)

    for name, to_send in by_sender.items():
        _hand_over(senders[name], to_send, token, result, clock)
    finish_campaigns({r.campaign_id for r in rows if r.campaign_id})
    db.session.commit()
    return result


def _hand_over(sender: Provider, rows: list, token: str, result: BatchResult, clock) -> None:
    """Give `rows` to the provider within its rate limit, recording each answer as it comes."""
    lease = timedelta(seconds=current_app.config["SMS_CLAIM_LEASE_SECONDS"])
    per_second = current_app.config["SMS_RATE_LIMIT"] or sender.rate_limit
    size = max(1, min(sender.batch_size, per_second))
    chunks = list(batched(rows, size))
    for done, chunk in enumerate(chunks):
        limiter.take(get_redis(), sender.name, len(chunk), per_second)
        outgoing = [
            Outgoing(
                message_id=r.id,
                phone=r.phone,
                text=r.body,
                template_code=(r.params or {}).get("template_code"),
                params=(r.params or {}).get("variables"),
            )
            for r in chunk
        ]
        try:
            answers = sender.send(outgoing)
        except Exception as error:  # the call's outcome is unknown: never resend blindly
            log.exception("%s: no answer for %d messages", sender.name, len(chunk))
            _record_unknown([r.id for r in chunk], token, str(error)[:300] or type(error).__name__)
            result.unknown += len(chunk)
            _release([r.id for c in chunks[done + 1 :] for r in c], token)
            return
        _record_answers(answers, token, clock())
        delivered = [r.message_id for r in sender.own_receipts(answers)]
        result.sent += sum(a.accepted for a in answers)
        result.failed += sum(not a.accepted for a in answers)
        # News from this worker: what it still holds keeps its claim.
        db.session.execute(
            update(messages)
            .where(messages.c.claim == token, messages.c.status == MessageStatus.SENDING)
            .values(lease_until=clock() + lease)
        )
        db.session.commit()
        if delivered:
            _receipts_later(sender.name, delivered)


def _receipts_later(provider_name: str, message_ids: list[int]) -> None:
    from .jobs import record_own_receipts

    try:
        get_queue().enqueue_in(OWN_RECEIPTS_AFTER, record_own_receipts, provider_name, message_ids)
    except RedisError:
        log.exception("%s: receipts of %d messages not recorded", provider_name, len(message_ids))


def _record_answers(answers: Sequence[Handed], token: str, at: datetime) -> None:
    """Record the provider's answer for each message of this worker's claim.

    The claim, not only the status, says the answer is this worker's to record: a message the
    sweeper marked "outcome unknown" meanwhile is settled by the answer that did come, and one
    whose receipt overtook the answer (delivered, failed) stays as the receipt left it.
    One executemany straight to the driver: SQLAlchemy's processing of 500 rows of parameters
    cost more than the updates themselves (23 ms of a 56 ms batch, measured on SQLite).
    """
    connection = db.session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    to_driver = messages.c.sent_at.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    sent_at = to_driver(at) if to_driver else at
    open_statuses = (MessageStatus.SENDING.value, MessageStatus.UNKNOWN.value)
    connection.exec_driver_sql(
        f"UPDATE messages SET status = {mark}, provider_ref = {mark}, error = {mark}, sent_at = {mark}, "
        f"lease_until = NULL WHERE id = {mark} AND claim = {mark} AND status IN ({mark}, {mark})",
        [
            (
                (MessageStatus.SENT if a.accepted else MessageStatus.FAILED).value,
                a.provider_ref,
                (a.error or "")[:300] or None,
                sent_at,
                a.message_id,
                token,
                *open_statuses,
            )
            for a in answers
        ],
    )


def _record_unknown(ids: Sequence[int], token: str, error: str) -> None:
    db.session.execute(
        update(messages)
        .where(messages.c.id.in_(ids), messages.c.claim == token)
        .values(status=MessageStatus.UNKNOWN, error=error, lease_until=None)
    )
    db.session.commit()


def _release(ids: Sequence[int], token: str) -> None:
    """Never handed over: back to scheduled, for the sweeper to give to a new job."""
    if ids:
        db.session.execute(
            update(messages)
            .where(messages.c.id.in_(ids), messages.c.claim == token)
            .values(status=MessageStatus.SCHEDULED, claim=None, lease_until=None, job_id=None)
        )
        db.session.commit()


# --- the sweeper -----------------------------------------------------------------------------


@dataclass
class SweepResult:
    unknown: int = 0  # held by a worker that went silent: outcome unknown
    requeued: int = 0  # due, and no live job held them
    finished: int = 0  # campaigns with nothing left to send


def _job_alive(job_id: str | None, now: datetime) -> bool:
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return True
    if status == JobStatus.STARTED:
        heard = job.last_heartbeat or job.started_at
        return heard is not None and now - heard.replace(tzinfo=None) < _DEAD_JOB_AFTER
    return False


def sweep(now: datetime | None = None) -> SweepResult:
    """Mark what silent workers held "outcome unknown"; give due messages no live job holds to
    new jobs; close campaigns with nothing left to send."""
    now = now or _utcnow()
    result = SweepResult()
    db.session.commit()
    result.unknown = db.session.execute(
        update(messages)
        .where(messages.c.status == MessageStatus.SENDING, messages.c.lease_until < now)
        .values(status=MessageStatus.UNKNOWN, error="the worker stopped before the provider answered")
    ).rowcount
    db.session.commit()

    held: dict[str | None, list[int]] = defaultdict(list)
    for message_id, job_id in db.session.execute(
        select(messages.c.id, messages.c.job_id)
        .where(messages.c.status == MessageStatus.SCHEDULED, messages.c.due_at <= now)
        .order_by(messages.c.id)
    ):
        held[job_id].append(message_id)
    db.session.commit()
    orphans = [i for job_id, ids in held.items() if not _job_alive(job_id, now) for i in ids]
    batches = {}
    for batch in batched(orphans, BATCH):
        job_id = f"sms-{uuid4().hex}"
        _hold(batch, job_id)
        batches[job_id] = list(batch)
    db.session.commit()
    enqueue({job_id: (ids, now) for job_id, ids in batches.items()})
    result.requeued = len(orphans)

    result.finished = finish_campaigns(
        db.session.scalars(select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)).all()
    )
    db.session.commit()
    return result


def finish_campaigns(campaign_ids: Iterable[int]) -> int:
    """Campaigns sending with no message left waiting or in flight are done."""
    campaign_ids = sorted(campaign_ids)
    if not campaign_ids:
        return 0
    waiting = (
        select(messages.c.id)
        .where(
            messages.c.campaign_id == Campaign.id,
            messages.c.status.in_((MessageStatus.SCHEDULED, MessageStatus.PAUSED, MessageStatus.SENDING)),
        )
        .exists()
    )
    return db.session.execute(
        update(Campaign)
        .where(Campaign.id.in_(campaign_ids), Campaign.status == CampaignStatus.SENDING, ~waiting)
        .values(status=CampaignStatus.DONE, finished_at=_utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


# --- campaigns: pause, resume, cancel ----------------------------------------------------------


def pause(campaign_id: int) -> int:
    """Hold a campaign's waiting messages (those already with a worker still go)."""
    return db.session.execute(
        update(messages)
        .where(messages.c.campaign_id == campaign_id, messages.c.status == MessageStatus.SCHEDULED)
        .values(status=MessageStatus.PAUSED, job_id=None)
    ).rowcount


def resume(campaign_id: int, kind: str, sender: Provider, now: datetime) -> dict[str, tuple[list[int], datetime]]:
    """Put a paused campaign's messages back, due at the next opening from `now` (or their own
    time if later). Returns the batches to enqueue() after the commit, with their due times."""
    rows = db.session.execute(
        select(messages.c.id, messages.c.due_at)
        .where(messages.c.campaign_id == campaign_id, messages.c.status == MessageStatus.PAUSED)
        .order_by(messages.c.id)
    ).all()
    week = settings.windows_for(kind, sender.marketing_curfew)
    by_due: dict[datetime, list[int]] = defaultdict(list)
    for message_id, due_at in rows:
        by_due[windows.next_send_time(max(due_at, now), week, shop_zone())].append(message_id)
    return _put_back(by_due)


def _put_back(by_due: dict[datetime, list[int]]) -> dict[str, tuple[list[int], datetime]]:
    """Messages scheduled again at their new due times, BATCH to a new job; returns the jobs to
    enqueue() after the commit."""
    jobs = {}
    for due_at, ids in by_due.items():
        for batch in batched(ids, BATCH):
            job_id = f"sms-{uuid4().hex}"
            db.session.execute(
                update(messages)
                .where(messages.c.id.in_(batch))
                .values(status=MessageStatus.SCHEDULED, due_at=due_at, job_id=job_id, claim=None, lease_until=None)
            )
            jobs[job_id] = (list(batch), due_at)
    return jobs


def cancel(campaign_id: int) -> int:
    """Skip every message of the campaign that has not left."""
    return db.session.execute(
        update(messages)
        .where(
            messages.c.campaign_id == campaign_id,
            messages.c.status.in_((MessageStatus.SCHEDULED, MessageStatus.PAUSED)),
        )
        .values(status=MessageStatus.SKIPPED, skip_reason=SkipReason.CANCELLED, job_id=None)
    ).rowcount


def progress(campaign_id: int) -> Counter:
    """The campaign's messages by status."""
    return Counter(
        dict(
            db.session.execute(
                select(messages.c.status, func.count())
                .where(messages.c.campaign_id == campaign_id)
                .group_by(messages.c.status)
            ).all()
        )
    )
