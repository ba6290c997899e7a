"""What providers tell us back (SPEC §6–7): delivery receipts and customers' replies.

Services: no HTTP (the webhooks in app.webhooks read the requests through the adapters) and no
commit (the caller commits). The engine records the log provider's receipts here too.
"""

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..blacklist import services as blacklist
from ..extensions import db
from ..models import BlacklistReason, Customer, Message, MessageStatus, SmsReply, utcnow
from .keywords import is_opt_out
from .providers import Receipt, Reply

logger = logging.getLogger(__name__)

# What a receipt settles: messages handed over (or maybe handed over) whose outcome is still
# open. "sending": the receipt overtook the worker's own record of the provider's answer.
# Delivered and failed are final; scheduled, paused and skipped ones were never handed over.
SETTLED_BY_RECEIPT = (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.UNKNOWN)


def record_receipts(provider_name: str, receipts: list[Receipt]) -> int:
    """Settle the messages these receipts are about; returns how many changed.

    A receipt finds its message by our id (when the provider echoes it, and the message went
    through this provider), else by the provider's id of it. It never moves a message back: a
    delivered or failed message stays as it is; receipts about no message of ours are ignored.
    Each change is one conditional UPDATE, so a receipt racing the worker that sends the message
    (or another copy of itself) settles it once.
    """
    changed = ignored = 0
    for receipt in receipts:
        ids = _messages_of(provider_name, receipt)
        if not ids:
            ignored += 1
            continue
        values = (
            {"status": MessageStatus.DELIVERED, "delivered_at": receipt.at or utcnow(), "error": None}
            if receipt.delivered
            else {"status": MessageStatus.FAILED, "error": receipt.error}
        )
        if receipt.provider_ref:  # an "outcome unknown" message learns the provider's id of it
            values["provider_ref"] = func.coalesce(Message.provider_ref, receipt.provider_ref)
        result = db.session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.status.in_(SETTLED_BY_RECEIPT))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        changed += result.rowcount
    if ignored:
        logger.info("%s receipts: %d about no message of ours, ignored", provider_name, ignored)
    return changed


def record_deliveries(provider_name: str, message_ids: list[int], at: datetime | None = None) -> int:
    """Receipts saying "delivered" (at `at`, default now) for messages known by our own ids, in
    one UPDATE: what the log provider reports for every batch it accepts."""
    return db.session.execute(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.provider == provider_name,
            Message.status.in_(SETTLED_BY_RECEIPT),
        )
        .values(status=MessageStatus.DELIVERED, delivered_at=at or utcnow(), error=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def _messages_of(provider_name: str, receipt: Receipt) -> list[int]:
    if receipt.message_id is not None:
        found = db.session.execute(
            select(Message.id, Message.provider_ref).where(
                Message.id == receipt.message_id, Message.provider == provider_name
            )
        ).first()
        # Our id, unless the provider's id of it says it is another message.
        if found and not (found.provider_ref and receipt.provider_ref and found.provider_ref != receipt.provider_ref):
            return [found.id]
    if receipt.provider_ref:
        return list(
            db.session.scalars(
                select(Message.id).where(
                    Message.provider == provider_name, Message.provider_ref == receipt.provider_ref
                )
            )
        )
    return []


def record_replies(provider_name: str, replies: list[Reply]) -> list[SmsReply]:
    """Record customers' replies; returns the ones new to us.

    A reply the provider delivered before (same provider id) is recorded once, even when two
    deliveries race (the unique constraint decides; each insert is its own savepoint). A reply
    that is an opt-out keyword blacklists its number at once (reason: opt-out reply).
    """
    recorded = []
    for reply in replies:
        if reply.provider_ref and _known(provider_name, reply.provider_ref):
            continue
        opted_out = is_opt_out(reply.text)
        row = SmsReply(
            provider=provider_name,
            provider_ref=reply.provider_ref,
            phone=reply.phone,
            customer_id=customer_for(reply.phone),
            body=reply.text,
            opted_out=opted_out,
            received_at=reply.at or utcnow(),
        )
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:  # the same reply, recorded meanwhile by another delivery of it
            continue
        if opted_out:
            _blacklist(row)
        recorded.append(row)
    return recorded


def _known(provider_name: str, provider_ref: str) -> bool:
    return (
        db.session.scalar(
            select(SmsReply.id).where(SmsReply.provider == provider_name, SmsReply.provider_ref == provider_ref)
        )
        is not None
    )


def _blacklist(reply: SmsReply) -> None:
    try:
        with db.session.begin_nested():
            blacklist.add(
                reply.phone,
                BlacklistReason.OPT_OUT,
                source=f"sms_reply:{reply.id}",
                actor=None,
                customer_id=reply.customer_id,
            )
    except IntegrityError:  # blacklisted meanwhile by another request: it is what we wanted
        pass


def customer_for(phone: str) -> int | None:
    """Whose reply this is: the customer we last texted at that number (the reply answers that
    message), else, of the customers with that phone, the one who ordered last (then the newest
    record). Several customers may share a phone (a family, a shop's colleague)."""
    texted = db.session.scalar(
        select(Message.customer_id)
        .join(Customer, Customer.id == Message.customer_id)
        .where(Message.phone == phone, Message.sent_at.is_not(None))
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    )
    if texted is not None:
        return texted
    return db.session.scalar(
        select(Customer.id)
        .where(Customer.phone == phone)
        .order_by(Customer.last_paid_at.desc().nulls_last(), Customer.id.desc())
        .limit(1)
    )
