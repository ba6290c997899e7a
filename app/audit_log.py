"""The audit log: every change of ownership, account, setting or record, with before/after.

(Not to be confused with the follow-up audit, 核查, in app.followup_audit.)
"""

from datetime import datetime

from flask_login import current_user

from .extensions import db
from .models import AuditAction, AuditEntry, User, utcnow


def record(
    action: AuditAction,
    *,
    customer_id: int | None = None,
    subject: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    actor: User | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add an entry to the current transaction (it commits with the change it describes)."""
    if actor is None and current_user and current_user.is_authenticated:
        actor = current_user
    entry = AuditEntry(
        action=action,
        customer_id=customer_id,
        subject=subject,
        before=before,
        after=after,
        actor_id=actor.id if actor else None,
        at=at or utcnow(),  # given when the change happened at another time than now (the demo's history)
    )
    db.session.add(entry)
    return entry


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after) with JSON-safe values."""
    keys = [k for k in after if before.get(k) != after[k]]
    return ({k: _plain(before.get(k)) for k in keys}, {k: _plain(after[k]) for k in keys})


def _plain(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
