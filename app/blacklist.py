"""The SMS blacklist (SPEC §6): phones that receive no SMS of any kind.

One active entry per phone (the database enforces it); removed entries stay as history.
"""

from sqlalchemy import select

from . import audit
from .extensions import db
from .models import BlacklistEntry, BlacklistReason, User


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
    audit.record(
        "blacklist.added",
        customer_id=customer_id,
        subject=f"phone:{phone}",
        after={"reason": str(reason), "note": note, "source": source},
        actor=actor,
    )
    return entry
