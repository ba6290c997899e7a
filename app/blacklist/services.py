"""The SMS blacklist (SPEC §6): phones that receive no SMS of any kind.

One active entry per phone (the database enforces it: `uq_blacklist_active_phone`); removing
an entry keeps it, with who removed it, when and why, so every entry of a phone is its history.
An entry's source says where it came from: "form" (the blacklist page), "follow_up:<task id>"
("do not contact"), "import:<run id>" (a list of numbers, app.blacklist.jobs).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import defer, joinedload

from .. import audit_log
from ..extensions import db
from ..imports.services import reason_text
from ..labels import BLACKLIST_REASON_LABELS, BLACKLIST_SOURCE_LABELS
from ..models import (
    AuditAction,
    BlacklistEntry,
    BlacklistReason,
    Customer,
    FollowUp,
    ImportRun,
    ImportState,
    User,
    utcnow,
)
from ..redis import get_queue
from ..shop_calendar import shop_time_to_utc
from ..templating import display_phone, localtime
from .lists import NOTES, REASONS, read_list

SOURCE_FORM = "form"  # added by hand on the blacklist page
IMPORT_PRESET = "blacklist"  # ImportRun.preset of an imported list of numbers (app.blacklist.jobs)


class AlreadyBlacklisted(Exception):
    """The phone has an active entry already (`entry`; None when another writer's won the race)."""

    def __init__(self, entry: BlacklistEntry | None = None):
        super().__init__(entry.phone if entry else "")
        self.entry = entry


class AlreadyRemoved(Exception):
    """The entry was removed already (by someone else meanwhile, or by a second click)."""


def source_kind(source: str | None) -> str:
    """The kind of an entry's source: "follow_up" for "follow_up:12"."""
    return (source or "").partition(":")[0]


def active_entry(phone: str | None) -> BlacklistEntry | None:
    if not phone:
        return None
    return db.session.scalar(
        select(BlacklistEntry).where(BlacklistEntry.phone == phone, BlacklistEntry.removed_at.is_(None))
    )


def _insert(
    phone: str,
    reason: BlacklistReason | str,
    *,
    source: str,
    actor: User | None,
    customer_id: int | None,
    note: str | None,
) -> BlacklistEntry:
    """A new active entry and its audit entry, in the session (the phone has no active entry)."""
    entry = BlacklistEntry(
        phone=phone,
        reason=reason,
        source=source,
        customer_id=customer_id,
        note=note,
        added_by_id=actor.id if actor else None,
    )
    db.session.add(entry)
    audit_log.record(
        AuditAction.BLACKLIST_ADDED,
        customer_id=customer_id,
        subject=f"phone:{phone}",
        after={"reason": str(reason), "note": note, "source": source},
        actor=actor,
    )
    return entry


def add(
    phone: str,
    reason: BlacklistReason,
    *,
    source: str,
    actor: User | None,
    customer_id: int | None = None,
    note: str | None = None,
) -> BlacklistEntry:
    """Blacklist `phone`; an already blacklisted phone keeps its entry (returned as it is)."""
    existing = active_entry(phone)
    if existing is not None:
        return existing
    return _insert(phone, reason, source=source, actor=actor, customer_id=customer_id, note=note)


def add_for_follow_up(task: FollowUp, actor: User) -> BlacklistEntry | None:
    """The customer of a do-not-contact task asked not to be contacted: blacklist their phone."""
    phone = task.customer.phone
    if not phone:
        return None
    return add(
        phone,
        BlacklistReason.MANUAL,
        source=f"follow_up:{task.id}",
        actor=actor,
        customer_id=task.customer_id,
    )  # the source says why (the timeline reads it in the reader's language)


def customers_by_phone(phones: Iterable[str]) -> dict[str, int]:
    """The customer of each phone that exactly one customer has (an entry is linked to them)."""
    phones = list(set(phones))
    if not phones:
        return {}
    rows = db.session.execute(
        select(Customer.phone, func.min(Customer.id))
        .where(Customer.phone.in_(phones))
        .group_by(Customer.phone)
        .having(func.count() == 1)
    )
    return dict(rows.all())


def add_by_hand(phone: str, reason: BlacklistReason, note: str | None, actor: User) -> BlacklistEntry:
    """An admin blacklists `phone` (E.164); AlreadyBlacklisted if it is, and nothing is written.

    Two admins adding the same phone at once both pass the check: the database's unique index
    refuses the second at commit (IntegrityError), which the view says the same way.
    """
    existing = active_entry(phone)
    if existing is not None:
        raise AlreadyBlacklisted(existing)
    customer_id = customers_by_phone([phone]).get(phone)
    return _insert(phone, reason, source=SOURCE_FORM, actor=actor, customer_id=customer_id, note=note)


@dataclass
class Added:
    """What add_many did with the rows of a batch."""

    added: list[tuple[int, str]] = field(default_factory=list)  # (line, phone)
    already: list[tuple[int, str]] = field(default_factory=list)  # blacklisted before, or by an earlier row


def add_many(rows: list[tuple[int, str, str | None]], reason: str, source: str, actor: User | None) -> Added:
    """Blacklist the phones of `rows` ((line, E.164 phone, note), a batch of an imported list);
    phones blacklisted already, or by an earlier line, are left as they are."""
    phones = [phone for _, phone, _ in rows]
    active = set(
        db.session.scalars(
            select(BlacklistEntry.phone).where(
                BlacklistEntry.phone.in_(set(phones)), BlacklistEntry.removed_at.is_(None)
            )
        )
    )
    customers = customers_by_phone(phones)
    result = Added()
    for line, phone, note in rows:
        if phone in active:
            result.already.append((line, phone))
            continue
        active.add(phone)
        _insert(phone, reason, source=source, actor=actor, customer_id=customers.get(phone), note=note)
        result.added.append((line, phone))
    db.session.flush()
    return result


def remove(entry: BlacklistEntry, reason: str, actor: User) -> None:
    """Take the phone off the blacklist; the entry stays, with who removed it, when and why.

    AlreadyRemoved if it is removed already: of two people removing it at once, one does.
    """
    removed = db.session.execute(
        update(BlacklistEntry)
        .where(BlacklistEntry.id == entry.id, BlacklistEntry.removed_at.is_(None))
        .values(removed_at=utcnow(), removed_by_id=actor.id, removal_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(entry)
    if not removed:
        raise AlreadyRemoved()
    audit_log.record(
        AuditAction.BLACKLIST_REMOVED,
        customer_id=entry.customer_id,
        subject=f"phone:{entry.phone}",
        before={"reason": entry.reason, "note": entry.note, "source": entry.source},
        after={"removal_reason": reason},
        actor=actor,
    )


def move_entries(from_id: int, to_id: int) -> int:
    """A customer merged into another: their blacklist entries, active or removed, follow."""
    return db.session.execute(
        update(BlacklistEntry)
        .where(BlacklistEntry.customer_id == from_id)
        .values(customer_id=to_id)
        .execution_options(synchronize_session=False)
    ).rowcount


# --- finding entries ----------------------------------------------------------------------------

ACTIVE, REMOVED, ALL = "active", "removed", "all"


@dataclass
class Filters:
    q: str = ""  # digits of the phone, typed any way
    reason: str = ""
    source: str = ""  # a source kind
    added_from: date | None = None
    added_to: date | None = None
    status: str = ACTIVE  # ACTIVE, REMOVED or ALL


def phone_digits(text: str | None) -> str:
    """The digits of a typed phone fragment ("138 1234-5" → "13812345")."""
    return "".join(ch for ch in text or "" if ch.isascii() and ch.isdigit())


def filtered(f: Filters) -> Select:
    """The entries passing the filters, newest first."""
    query = select(BlacklistEntry).options(joinedload(BlacklistEntry.added_by), joinedload(BlacklistEntry.removed_by))
    digits = phone_digits(f.q)
    if digits:
        query = query.where(BlacklistEntry.phone.contains(digits))
    if f.reason:
        query = query.where(BlacklistEntry.reason == f.reason)
    if f.source:
        kind = source_kind(f.source)
        query = query.where(
            or_(BlacklistEntry.source == kind, BlacklistEntry.source.startswith(f"{kind}:", autoescape=True))
        )
    if f.added_from:
        query = query.where(BlacklistEntry.added_at >= shop_time_to_utc(datetime.combine(f.added_from, time())))
    if f.added_to:
        end = datetime.combine(f.added_to + timedelta(days=1), time())
        query = query.where(BlacklistEntry.added_at < shop_time_to_utc(end))
    if f.status == REMOVED:
        query = query.where(BlacklistEntry.removed_at.is_not(None))
    elif f.status != ALL:
        query = query.where(BlacklistEntry.removed_at.is_(None))
    return query.order_by(BlacklistEntry.added_at.desc(), BlacklistEntry.id.desc())


def history(phone: str | None) -> list[BlacklistEntry]:
    """Every entry of `phone`, active or removed, newest first: its blacklist history."""
    if not phone:
        return []
    return list(
        db.session.scalars(
            select(BlacklistEntry)
            .where(BlacklistEntry.phone == phone)
            .options(joinedload(BlacklistEntry.added_by), joinedload(BlacklistEntry.removed_by))
            .order_by(BlacklistEntry.added_at.desc(), BlacklistEntry.id.desc())
        )
    )


def customer_names(entries: Iterable[BlacklistEntry]) -> dict[int, str]:
    """The names of the customers the entries are linked to, by id."""
    ids = {e.customer_id for e in entries if e.customer_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all())


def import_runs(entries: Iterable[BlacklistEntry]) -> dict[int, int]:
    """The import (still on record) each entry came from, by entry id: its source links to the report."""
    run_of = {}
    for e in entries:
        kind, _sep, rest = (e.source or "").partition(":")
        if kind == "import" and rest.isascii() and rest.isdigit() and len(rest) < 10:
            run_of[e.id] = int(rest)
    if not run_of:
        return {}
    kept = set(
        db.session.scalars(
            select(ImportRun.id).where(ImportRun.id.in_(set(run_of.values())), ImportRun.preset == IMPORT_PRESET)
        )
    )
    return {entry_id: run_id for entry_id, run_id in run_of.items() if run_id in kept}


def removed_entries(phone: str | None) -> list[BlacklistEntry]:
    """The removed entries of `phone`, newest first (a customer's page shows them)."""
    return [entry for entry in history(phone) if entry.removed_at is not None]


# The export's columns, headed in the reader's language.
EXPORT_HEADER = [
    _l("Mobile phone"),
    _l("Status"),
    _l("Reason"),
    _l("Source"),
    _l("Note"),
    _l("Added"),
    _l("Added by"),
    _l("Removed"),
    _l("Removed by"),
    _l("Why it was removed"),
    _l("Customer"),
    _l("Customer ID"),
]


def export_rows(query: Select):
    """The header, then one row per entry as the list shows it, streamed."""
    reasons = {value: str(label) for value, label in BLACKLIST_REASON_LABELS.items()}
    sources = {kind: str(label) for kind, label in BLACKLIST_SOURCE_LABELS.items()}
    active, removed = _("Blacklisted"), _("Removed")
    yield [str(label) for label in EXPORT_HEADER]
    rows = db.session.execute(
        query.add_columns(Customer.name)
        .outerjoin(Customer, Customer.id == BlacklistEntry.customer_id)
        .execution_options(yield_per=1000)
    )
    for e, customer_name in rows:
        yield [
            display_phone(e.phone),
            removed if e.removed_at else active,
            reasons.get(e.reason, e.reason),
            sources.get(source_kind(e.source), e.source),
            e.note or "",
            localtime(e.added_at),
            e.added_by.display_name if e.added_by else "",
            localtime(e.removed_at),
            e.removed_by.display_name if e.removed_by else "",
            e.removal_reason or "",
            customer_name or "",
            e.customer_id or "",
        ]


# --- importing a list of numbers (the job: app.blacklist.jobs) -----------------------------------

REPORT_ROWS = 200  # rejected lines (and lines blacklisted already) shown on the page; the CSV has all


def create_import(filename: str, content: bytes, reason: str, actor: User) -> ImportRun:
    """Check the upload and keep it, queued for the job; TableError writes nothing."""
    table, columns = read_list(content, filename, current_app.config["PHONE_REGION"])
    # Counting the rows reads to the end: a file damaged further down is refused here, by the
    # file field, rather than by the job.
    table.row_count  # noqa: B018
    run = ImportRun(
        filename=filename[:255] or "upload",
        content=content,
        preset=IMPORT_PRESET,
        mapping=columns.as_mapping() | {"reason": str(reason)},  # how to read it, and the reason chosen
        state=ImportState.QUEUED,
        job_id=f"blacklist-import-{uuid.uuid4().hex}",
        started_by_id=actor.id,
        started_at=utcnow(),
    )
    db.session.add(run)
    db.session.flush()
    return run


def enqueue_import(run: ImportRun) -> None:
    """Queue the job of a committed run (the worker must find it); RedisError if Redis is away."""
    from .jobs import JOB_TIMEOUT, run_import  # the job uses this module

    get_queue().enqueue(
        run_import, run.id, job_id=run.job_id, job_timeout=JOB_TIMEOUT, description=f"blacklist import {run.id}"
    )


def forget_import(run: ImportRun) -> None:
    """A run whose job could not be queued: nothing was imported, nothing is kept."""
    db.session.execute(delete(ImportRun).where(ImportRun.id == run.id))


def import_or_none(run_id: int) -> ImportRun | None:
    run = db.session.get(ImportRun, run_id)
    return run if run is not None and run.preset == IMPORT_PRESET else None


def recent_imports() -> Select:
    """The imported lists, newest first (a query for the page helper), without their reports."""
    return (
        select(ImportRun)
        .where(ImportRun.preset == IMPORT_PRESET)
        .options(defer(ImportRun.rejected), defer(ImportRun.notes), joinedload(ImportRun.started_by))
        .order_by(ImportRun.created_at.desc(), ImportRun.id.desc())
    )


def _report_lines(entries: list[dict] | None, limit: int | None) -> list[tuple[int, str]]:
    texts = REASONS | NOTES
    lines = []
    for e in (entries or [])[:limit] if limit else entries or []:
        params = dict(e.get("params") or {})
        if params.get("phone"):
            params["phone"] = display_phone(params["phone"])
        lines.append((e["line"], reason_text(e.get("code"), params, e.get("reason", ""), reasons=texts)))
    return lines


def rejected_lines(run: ImportRun, limit: int | None = REPORT_ROWS) -> list[tuple[int, str]]:
    """(line, why it was not added) in the reader's language."""
    return _report_lines(run.rejected, limit)


def already_lines(run: ImportRun, limit: int | None = REPORT_ROWS) -> list[tuple[int, str]]:
    """(line, what is said of it) of the lines whose number was blacklisted already."""
    return _report_lines(run.notes, limit)
