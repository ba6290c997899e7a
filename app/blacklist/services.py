"""The SMS blacklist (SPEC §6): phones that receive no SMS of any kind.

One active entry per phone (the database enforces it); removed entries stay as history.
"""

from sqlalchemy import select, update

from .. import audit_log
from ..extensions import db
from ..models import AuditAction, BlacklistEntry, BlacklistReason, FollowUp, User


def active_entry(phone: str | None) -> BlacklistEntry | None:
    if not phone:
        return None
    return db.session.scalar(
        select(BlacklistEntry).where(BlacklistEntry.phone == phone, BlacklistEntry.removed_at.is_(None))
    )


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


def move_entries(from_id: int, to_id: int) -> int:
    """A customer merged into another: their blacklist entries, active or removed, follow."""
    return db.session.execute(
        update(BlacklistEntry)
        .where(BlacklistEntry.customer_id == from_id)
        .values(customer_id=to_id)
        .execution_options(synchronize_session=False)
    ).rowcount
