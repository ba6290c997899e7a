"""Sending one message by hand (SPEC §6–7): a template made into one customer's message, checked
before anything is queued, and planned through the engine like any other message.

The form that sends it carries a one-time key, made when the form is shown; the message's
dedupe_key is "one:<key>", so the same form sent twice (a double click, a resubmitted page)
plans one message.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask import current_app
from sqlalchemy import select

from .. import audit_log
from ..extensions import db
from ..models import AuditAction, Customer, Message, Order, SmsTemplate, User
from ..sending import compose, engine, settings, texts, windows
from ..sending.compose import Composed
from ..sending.eligibility import skip_reason
from ..sending.providers import Provider, provider


class Refusal(StrEnum):
    """Why a message cannot be sent, besides a SkipReason of the recipient or the text."""

    NOT_APPROVED = "not_approved"  # the provider sends only approved templates; this one has no code there
    TOO_LONG = "too_long"  # longer than the provider sends
    NO_WINDOW = "no_window"  # no send window at all for this kind of message


@dataclass(frozen=True)
class Prepared:
    """A template made into a customer's message, and whether it may be sent."""

    template: SmsTemplate
    sender: Provider
    leaves_at: datetime | None  # naive UTC; None when no window ever opens
    composed: Composed | None  # None when the text cannot be made (not approved)
    refusal: str | None = None  # a SkipReason or a Refusal
    missing: str | None = None  # the placeholder without a value (SkipReason.MISSING_VALUE)


class Refused(Exception):
    def __init__(self, prepared: Prepared):
        super().__init__(prepared.refusal)
        self.prepared = prepared


class AlreadySent(Exception):
    """The form's key was used already: its message is planned, nothing more is."""


@dataclass(frozen=True)
class Sent:
    message: Message
    jobs: dict  # engine.Planned.jobs: enqueue them after the commit


def dedupe_key(form_key: str) -> str:
    return f"one:{form_key}"


def latest_order_no(customer: Customer) -> str | None:
    return db.session.scalar(
        select(Order.order_no)
        .where(Order.customer_id == customer.id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )


def prepare(customer: Customer, template: SmsTemplate, now: datetime) -> Prepared:
    """The message `template` makes for `customer` sent at `now`, through the active provider:
    its text, parts and leaving time, and the first reason it may not be sent, if any (the
    recipient's, then the template's, then the text's)."""
    sender = provider()
    try:
        leaves = engine.leaves_at(template.kind, now, sender)
    except windows.NoSendWindow:
        leaves = None
    rules = settings.load()
    known = engine.facts([customer.phone], [customer.id], leaves or now, rules.cap_days, count_planned=True)
    refusal = skip_reason(known.recipient(customer.phone, customer.id), template.kind, rules.marketing_cap)
    try:
        compose.check_approved(template, sender)
    except compose.TemplateNotApproved:
        return Prepared(template, sender, leaves, None, refusal or Refusal.NOT_APPROVED)
    values = texts.customer_values(customer, current_app.config["SHOP_NAME"], latest_order_no(customer))
    composed = compose.compose(template, values, sender)
    if refusal is None:
        if composed.skip_reason is not None:
            refusal = composed.skip_reason
        elif composed.count.over_limit:
            refusal = Refusal.TOO_LONG
        elif leaves is None:
            refusal = Refusal.NO_WINDOW
    return Prepared(template, sender, leaves, composed, refusal, composed.missing)


def send_one(
    customer: Customer,
    template: SmsTemplate,
    *,
    form_key: str,
    actor: User,
    now: datetime,
    follow_up_id: int | None = None,
) -> Sent:
    """Plan `template` for `customer`, leaving at its window's next opening. Raises Refused
    (nothing written) or AlreadySent (this form's message is planned already). Does not commit."""
    key = dedupe_key(form_key)
    # Before the checks: the form's own message, once planned, counts toward the frequency cap.
    if db.session.scalar(select(Message.id).where(Message.dedupe_key == key)) is not None:
        raise AlreadySent
    prepared = prepare(customer, template, now)
    if prepared.refusal is not None:
        raise Refused(prepared)
    composed = prepared.composed
    draft = engine.Draft(
        dedupe_key=key,
        kind=template.kind,
        body=composed.text,
        phone=customer.phone,
        customer_id=customer.id,
        parts=composed.count.parts,
        params=composed.params,
        template_id=template.id,
        follow_up_id=follow_up_id,
    )
    planned = engine.plan([draft], sender=prepared.sender, due_at=prepared.leaves_at, created_by_id=actor.id, now=now)
    if planned.duplicates:  # the same form, sent at the same moment from another tab
        raise AlreadySent
    message = db.session.scalar(select(Message).where(Message.dedupe_key == key))
    audit_log.record(
        AuditAction.SMS_SENT_BY_HAND,
        customer_id=customer.id,
        subject=f"message:{message.id}",
        after={
            "template_id": template.id,
            "template": template.name,
            "follow_up_id": follow_up_id,
            "due_at": prepared.leaves_at.isoformat(),
        },
        actor=actor,
    )
    return Sent(message, planned.jobs)
