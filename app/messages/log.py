"""The message log (SPEC §7): every SMS with its state, searched and filtered; an admin settles
a message whose outcome is unknown, from what the provider's console says."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import joinedload

from .. import audit_log
from ..access import visible_messages
from ..extensions import db
from ..models import AuditAction, Customer, Message, MessageStatus, SmsTemplate, User
from ..search import MAX_QUERY
from ..shop_calendar import day_start

# What an admin may settle an "outcome unknown" message as: never sent again either way.
SETTLED_AS = (MessageStatus.SENT, MessageStatus.FAILED)

# A phone as people type it: digits with spaces, dashes, dots, brackets or a leading +.
_PHONE_TYPING = re.compile(r"[\s+\-().]")


@dataclass
class LogFilters:
    q: str = ""  # a fragment of the phone, or of the customer's name
    template: int | None = None
    status: str = ""
    day_from: date | None = None  # shop days, both included
    day_to: date | None = None


def when():
    """A message's time as the log shows it: when it left, else when it is (was) due to."""
    return func.coalesce(Message.sent_at, Message.due_at)


def messages_of(user: User, f: LogFilters) -> Select:
    """The messages `user` may see that pass the filters, newest first."""
    query = visible_messages(user)
    q = f.q.strip()[:MAX_QUERY]
    if q:
        digits = _PHONE_TYPING.sub("", q)
        if digits.isascii() and digits.isdigit():
            query = query.where(Message.phone.contains(digits, autoescape=True))
        else:
            named = select(Customer.id).where(Customer.name.contains(q, autoescape=True))
            query = query.where(Message.customer_id.in_(named))
    if f.template is not None:
        query = query.where(Message.template_id == f.template)
    if f.status:
        query = query.where(Message.status == f.status)
    if f.day_from:
        query = query.where(when() >= day_start(f.day_from))
    if f.day_to:
        query = query.where(when() < day_start(f.day_to + timedelta(days=1)))
    counted = query
    return (
        query.options(joinedload(Message.customer), joinedload(Message.template))
        .order_by(Message.id.desc())
        .execution_options(count_query=counted)
    )


def unknown_count(user: User) -> int:
    """Messages of `user`'s view whose outcome is unknown: handed over, no answer recorded."""
    counted = visible_messages(user).where(Message.status == MessageStatus.UNKNOWN).with_only_columns(func.count())
    return db.session.scalar(counted)


def template_choices() -> list[tuple[int, str]]:
    """Every template a message may name, archived ones included (their messages stay)."""
    return [
        tuple(row) for row in db.session.execute(select(SmsTemplate.id, SmsTemplate.name).order_by(SmsTemplate.name))
    ]


class NotUnknown(Exception):
    """The message is no longer "outcome unknown" (a receipt came, or another admin settled it)."""


def settle(message: Message, outcome: MessageStatus, note: str, actor: User) -> None:
    """Record what became of a message whose outcome was unknown. Only the record changes:
    nothing is sent again, whatever the outcome."""
    if outcome not in SETTLED_AS:
        raise ValueError(outcome)
    # Only while it is still unknown: a delivery receipt may have settled it meanwhile.
    changed = db.session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == MessageStatus.UNKNOWN)
        .values(status=outcome)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise NotUnknown
    db.session.expire(message, ["status"])
    audit_log.record(
        AuditAction.SMS_OUTCOME_RESOLVED,
        customer_id=message.customer_id,
        subject=f"message:{message.id}",
        before={"status": MessageStatus.UNKNOWN.value},
        after={"status": outcome.value, "note": note},
        actor=actor,
    )
