"""Campaigns (SPEC §7): a template sent once to each customer of an audience taken from the
registry's filters.

A campaign is saved as a draft; its page shows who would get it and who would not, and why
(`preview`). Confirming (`confirm`) plans every message of it at once through the sending
engine: one row a customer, the excluded ones recorded as skipped with their reason, all due
at the one time `due_time` decides. From then on the engine sends them, and `pause`,
`resume` and `cancel` move the campaign and its waiting messages together.

Who is left out is worked out once for the preview and the confirmation alike (`_addressees`):
a list of reasons in EXCLUSIONS, each customer under the first that applies. A control group
("held out") is one more reason there; best time and recurrence are decided in `due_time`.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import selectinload

from .. import audit_log
from ..customers.services import Filters, filtered
from ..extensions import db
from ..models import (
    AuditAction,
    Campaign,
    CampaignStatus,
    MessageKind,
    MessageStatus,
    Order,
    SkipReason,
    SmsTemplate,
    User,
    utcnow,
)
from ..pagination import count_of
from ..sending import compose, engine, settings, texts
from ..sending.eligibility import skip_reason
from ..sending.providers import Provider, provider
from ..sending.windows import NoSendWindow

# Who is left out of a campaign, in the order the reasons are checked and shown. A customer is
# counted under the first that applies.
EXCLUSIONS = (
    SkipReason.NO_PHONE,
    SkipReason.BLACKLISTED,
    SkipReason.FLAGGED,
    SkipReason.FREQUENCY_CAP,
    SkipReason.MISSING_VALUE,
)
# The registry's filters a campaign's audience keeps (its sort order does not matter).
AUDIENCE_KEYS = ("q", "owner", "layer", "tier", "province", "source", "last_order_from", "last_order_to")
_DATES = ("last_order_from", "last_order_to")


class AlreadyConfirmed(Exception):
    """Someone confirmed the campaign first (or it is no longer a draft)."""


class WrongState(Exception):
    """The campaign is not in a state this step starts from; `status` is the one it is in."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


class CannotConfirm(Exception):
    """What stops the campaign from being sent: `problems`, each one of PROBLEMS."""

    def __init__(self, problems: list[str]):
        super().__init__(", ".join(problems))
        self.problems = problems


# What can stop a draft from being confirmed.
NOT_APPROVED = "not_approved"  # the provider sends only approved templates; this one has no code there
NO_WINDOW = "no_window"  # the template's kind has no send window in the week
ARCHIVED = "archived"  # the template was archived after the draft was saved
UNKNOWN_PLACEHOLDER = "unknown_placeholder"  # the template has a word in braces that is no placeholder
PROBLEMS = (NOT_APPROVED, NO_WINDOW, ARCHIVED, UNKNOWN_PLACEHOLDER)


# --- the audience ----------------------------------------------------------------------------


def audience_args(values: dict) -> dict[str, str]:
    """The registry filters worth keeping of `values` (CustomerFilterForm.filter_values()), as the
    registry list's query arguments: strings, days as YYYY-MM-DD."""
    return {
        key: value.isoformat() if isinstance(value, date) else str(value)
        for key, value in values.items()
        if key in AUDIENCE_KEYS and value not in (None, "")
    }


def filters_of(audience: dict) -> Filters:
    """The registry's filters a campaign keeps (stored by audience_args, so already valid)."""
    values = {key: audience[key] for key in AUDIENCE_KEYS if audience.get(key)}
    for key in _DATES:
        if key in values:
            values[key] = date.fromisoformat(values[key])
    return Filters(**values)


def audience_query(user: User, filters: Filters) -> Select:
    """The customers the filters match, as the registry list shows them to `user` (unordered)."""
    return filtered(user, filters).order_by(None)


def audience_count(user: User, filters: Filters) -> int:
    """How many customers the filters match: counted as the registry list counts them (without
    reading the list's first row, whose order PostgreSQL would sort the whole registry for)."""
    return count_of(filtered(user, filters))


# --- when ------------------------------------------------------------------------------------


def due_time(campaign: Campaign, sender: Provider, now: datetime) -> datetime:
    """When the campaign's messages leave (naive UTC): at its set time, or now if it has none
    or it has passed, moved to the next opening of its kind's send window. NoSendWindow if that
    kind has none. (Best time and recurring campaigns are decided here too.)"""
    moment = max(campaign.send_at or now, now)
    return engine.leaves_at(campaign.template.kind, moment, sender)


# --- who gets it, and what -------------------------------------------------------------------


class Addressee(NamedTuple):
    """A customer of the audience: left out for `reason`, or to get `composed`."""

    customer_id: int
    name: str
    phone: str | None
    reason: str | None  # one of EXCLUSIONS when left out
    composed: compose.Composed | None  # the message (None when left out, or its text cannot be made yet)
    missing: str | None = None  # the placeholder the customer has no value for


@dataclass
class _Composer:
    """Each customer's message, made once for each set of values the template uses.

    Without an approved template for a provider that needs one, only whether every placeholder
    has a value is found (the text cannot be made for that provider).
    """

    template: SmsTemplate
    sender: Provider
    approved: bool
    shop: str
    used: tuple[str, ...] = ()
    _made: dict = field(default_factory=dict)

    def __post_init__(self):
        used = texts.placeholders_in(self.template.body)
        if self.sender.needs_template_code:  # the approved template's variables may use others
            codes = (self.template.provider_codes or {}).get(self.sender.name) or {}
            used += list((codes.get("variables") or {}).values())
        self.used = tuple(dict.fromkeys(used))

    def __call__(self, customer, latest_order_no: str | None) -> compose.Composed:
        values = texts.customer_values(customer, self.shop, latest_order_no)
        key = tuple(values.get(name) for name in self.used)
        made = self._made.get(key)
        if made is None:
            made = self._compose(values)
            self._made[key] = made
        return made

    def _compose(self, values: dict) -> compose.Composed:
        try:
            if not self.approved:
                texts.fill(self.template.body, values, self.template.defaults or {})
                return compose.Composed()
            return compose.compose(self.template, values, self.sender)
        except texts.MissingValue as missing:  # compose() says so itself, but not for a provider's variable
            return compose.Composed(skip_reason=SkipReason.MISSING_VALUE, missing=missing.placeholder)


def _latest_order_nos(customer_ids: Select) -> dict[int, str]:
    """Each of these customers' latest order number, in one query."""
    ranked = (
        select(
            Order.customer_id,
            Order.order_no,
            func.row_number()
            .over(partition_by=Order.customer_id, order_by=(Order.created_at.desc(), Order.id.desc()))
            .label("rank"),
        )
        .where(Order.customer_id.in_(customer_ids))
        .subquery()
    )
    return dict(db.session.execute(select(ranked.c.customer_id, ranked.c.order_no).where(ranked.c.rank == 1)).all())


def _addressees(campaign: Campaign, user: User, sender: Provider, due_at: datetime, approved: bool) -> list[Addressee]:
    """Every customer of the audience with why they are left out, or their message; read in a
    few queries whatever the audience's size."""
    template = campaign.template
    audience = audience_query(user, filters_of(campaign.audience)).subquery()
    rows = db.session.execute(
        select(audience.c.id, audience.c.name, audience.c.nickname, audience.c.phone).order_by(audience.c.id)
    ).all()
    composer = _Composer(template, sender, approved, current_app.config["SHOP_NAME"])
    latest = _latest_order_nos(select(audience.c.id)) if "order_no" in composer.used else {}
    marketing = template.kind == MessageKind.MARKETING
    rules = settings.load()
    known = engine.facts(
        select(audience.c.phone).where(audience.c.phone.is_not(None)),
        select(audience.c.id) if marketing else (),
        due_at,
        rules.cap_days,
        count_planned=True,
    )
    # The rule (eligibility.skip_reason) asked once for each combination of what it reads.
    reasons: dict[tuple, str | None] = {}
    addressees = []
    for row in rows:
        phone, customer_id = row.phone, row.id
        key = (
            phone is not None,
            phone in known.blacklisted,
            customer_id in known.flagged,
            known.recent_marketing.get(customer_id, 0),
        )
        if key in reasons:
            reason = reasons[key]
        else:
            reason = reasons[key] = skip_reason(known.recipient(phone, customer_id), template.kind, rules.marketing_cap)
        composed = missing = None
        if reason is None:
            composed = composer(row, latest.get(customer_id))
            if composed.skip_reason:
                reason, missing, composed = composed.skip_reason, composed.missing, None
        addressees.append(Addressee(customer_id, row.name, phone, reason, composed, missing))
    return addressees


def problems_of(campaign: Campaign, sender: Provider, now: datetime) -> list[str]:
    """What stops the campaign from being confirmed (PROBLEMS), if anything."""
    template = campaign.template
    problems = []
    if template.archived:
        problems.append(ARCHIVED)
    if texts.unknown_placeholders(template.body):
        problems.append(UNKNOWN_PLACEHOLDER)
    try:
        compose.check_approved(template, sender)
    except compose.TemplateNotApproved:
        problems.append(NOT_APPROVED)
    try:
        due_time(campaign, sender, now)
    except NoSendWindow:
        problems.append(NO_WINDOW)
    return problems


# --- the draft's page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The message one customer of the audience would get."""

    customer_id: int
    name: str
    text: str | None  # None: the text cannot be made (a missing value, a template not approved)
    count: texts.Count | None
    missing: str | None = None  # the placeholder this customer has no value for


@dataclass
class Preview:
    audience: int
    excluded: list[tuple[str, int]]  # each of EXCLUSIONS with its count, in that order
    to_send: int
    leaves_at: datetime | None  # naive UTC; None when the template's kind has no send window
    time_passed: bool  # the time set for it has passed: it would go now
    sample: Sample | None
    problems: list[str]  # what stops confirming it (PROBLEMS)
    provider: str


def preview(campaign: Campaign, user: User, now: datetime | None = None) -> Preview:
    """What confirming the draft now would do."""
    now = now or utcnow()
    sender = provider()
    problems = problems_of(campaign, sender, now)
    time_passed = campaign.send_at is not None and campaign.send_at < now
    if UNKNOWN_PLACEHOLDER in problems:  # the template cannot be filled for anyone
        count = audience_count(user, filters_of(campaign.audience))
        return Preview(count, [], 0, None, time_passed, None, problems, sender.name)
    leaves = None if NO_WINDOW in problems else due_time(campaign, sender, now)
    addressees = _addressees(campaign, user, sender, leaves or now, approved=NOT_APPROVED not in problems)
    reasons = Counter(a.reason for a in addressees if a.reason)
    shown = next((a for a in addressees if a.reason is None), None) or next(
        (a for a in addressees if a.reason == SkipReason.MISSING_VALUE), None
    )
    sample = None
    if shown is not None:
        composed = shown.composed or compose.Composed()
        sample = Sample(shown.customer_id, shown.name, composed.text, composed.count, shown.missing)
    return Preview(
        audience=len(addressees),
        excluded=[(reason, reasons[reason]) for reason in EXCLUSIONS],
        to_send=len(addressees) - sum(reasons.values()),
        leaves_at=leaves,
        time_passed=time_passed,
        sample=sample,
        problems=problems,
        provider=sender.name,
    )


def create(name: str, template: SmsTemplate, audience: dict[str, str], send_at: datetime | None, actor: User):
    """A draft: nothing is planned until it is confirmed."""
    campaign = Campaign(name=name, template_id=template.id, audience=audience, send_at=send_at, created_by_id=actor.id)
    db.session.add(campaign)
    db.session.flush()
    return campaign


def usable_templates() -> list[SmsTemplate]:
    return list(
        db.session.scalars(select(SmsTemplate).where(SmsTemplate.archived.is_(False)).order_by(SmsTemplate.name))
    )


# --- confirming ------------------------------------------------------------------------------


def confirm(campaign_id: int, actor: User, now: datetime | None = None) -> engine.Planned:
    """Plan every message of the draft, in one transaction the caller commits; then hand the
    result's jobs to engine.enqueue().

    The draft is taken by its first statement, so of two confirmations one plans and the other
    gets AlreadyConfirmed (on SQLite the transaction starts with its write: see
    app.sending.engine). CannotConfirm if something stops it (the caller rolls back).
    """
    now = now or utcnow()
    sender = provider()
    taken = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.DRAFT)
        .values(status=CampaignStatus.SENDING, confirmed_by_id=actor.id, confirmed_at=now, provider=sender.name)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise AlreadyConfirmed
    campaign = db.session.scalars(
        select(Campaign).where(Campaign.id == campaign_id).execution_options(populate_existing=True)
    ).one()
    problems = problems_of(campaign, sender, now)
    if problems:
        raise CannotConfirm(problems)
    due_at = due_time(campaign, sender, now)
    # Plain values: an ORM attribute read 100,000 times costs more than the rest of a Draft.
    kind, template_id, key = campaign.template.kind, campaign.template_id, f"campaign:{campaign_id}:customer:"
    drafts = (
        engine.Draft(
            dedupe_key=f"{key}{a.customer_id}",
            kind=kind,
            body=a.composed.text if a.composed else "",
            phone=a.phone,
            customer_id=a.customer_id,
            parts=a.composed.count.parts if a.composed else 0,
            params=a.composed.params if a.composed else None,
            template_id=template_id,
            campaign_id=campaign_id,
            skip_reason=a.reason,
        )
        for a in _addressees(campaign, actor, sender, due_at, approved=True)
    )
    planned = engine.plan(drafts, sender=sender, due_at=due_at, created_by_id=actor.id, now=now)
    campaign.planned = planned.scheduled
    campaign.excluded = {str(reason): n for reason, n in planned.skipped.items()}
    audit_log.record(
        AuditAction.CAMPAIGN_CONFIRMED,
        subject=f"campaign:{campaign.id}",
        after={"planned": campaign.planned, "excluded": campaign.excluded, "due_at": due_at.isoformat()},
        actor=actor,
    )
    db.session.flush()
    engine.finish_campaigns([campaign.id])  # nobody to send to: done at once
    return planned


# --- while sending ---------------------------------------------------------------------------


def _move(campaign: Campaign, frm: tuple[str, ...], to: str, **values) -> None:
    """Move the campaign from one of `frm` to `to`, in one statement (the transaction's first
    write); WrongState if it is in none of them by then."""
    moved = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(frm))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(campaign)
    if not moved:
        raise WrongState(campaign.status)


def pause(campaign: Campaign, actor: User) -> int:
    """Hold the campaign's waiting messages; returns how many."""
    _move(campaign, (CampaignStatus.SENDING,), CampaignStatus.PAUSED)
    held = engine.pause(campaign.id)
    audit_log.record(AuditAction.CAMPAIGN_PAUSED, subject=f"campaign:{campaign.id}", after={"held": held}, actor=actor)
    return held


def resume(campaign: Campaign, actor: User, now: datetime | None = None) -> dict:
    """Send the held messages again, each at the next opening from now; returns the jobs to
    hand to engine.enqueue() after the commit. NoSendWindow if the kind has no window now."""
    now = now or utcnow()
    _move(campaign, (CampaignStatus.PAUSED,), CampaignStatus.SENDING)
    jobs = engine.resume(campaign.id, campaign.template.kind, provider(campaign.provider), now)
    audit_log.record(
        AuditAction.CAMPAIGN_RESUMED,
        subject=f"campaign:{campaign.id}",
        after={"resumed": sum(len(ids) for ids, _due in jobs.values())},
        actor=actor,
    )
    engine.finish_campaigns([campaign.id])  # all had left before the pause
    db.session.refresh(campaign)
    return jobs


def cancel(campaign: Campaign, actor: User, now: datetime | None = None) -> int:
    """Stop the campaign: no message of it that has not left will. Returns how many were stopped."""
    before = campaign.status
    _move(
        campaign,
        (CampaignStatus.DRAFT, CampaignStatus.SENDING, CampaignStatus.PAUSED),
        CampaignStatus.CANCELLED,
        finished_at=now or utcnow(),
    )
    stopped = engine.cancel(campaign.id)
    audit_log.record(
        AuditAction.CAMPAIGN_CANCELLED,
        subject=f"campaign:{campaign.id}",
        before={"status": before},
        after={"stopped": stopped},
        actor=actor,
    )
    return stopped


# --- progress --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where the messages planned at confirmation are (those excluded then are not counted)."""

    planned: int
    delivered: int = 0
    sent: int = 0  # accepted by the provider, no receipt yet
    failed: int = 0
    skipped: int = 0  # left out when their time came (blacklisted since, cancelled…)
    unknown: int = 0  # the provider's answer never came
    waiting: int = 0  # not left yet: scheduled, paused, or being handed over

    @classmethod
    def of(cls, campaign: Campaign, statuses: Counter) -> "Progress":
        excluded = sum((campaign.excluded or {}).values())
        return cls(
            planned=campaign.planned,
            delivered=statuses[MessageStatus.DELIVERED],
            sent=statuses[MessageStatus.SENT],
            failed=statuses[MessageStatus.FAILED],
            skipped=max(0, statuses[MessageStatus.SKIPPED] - excluded),
            unknown=statuses[MessageStatus.UNKNOWN],
            waiting=statuses[MessageStatus.SCHEDULED]
            + statuses[MessageStatus.PAUSED]
            + statuses[MessageStatus.SENDING],
        )

    @property
    def done(self) -> int:
        return self.planned - self.waiting

    def share(self, count: int) -> float:
        """`count` as a percentage of the planned messages."""
        return round(100 * count / self.planned, 1) if self.planned else 0.0


def progress(campaign: Campaign) -> Progress:
    return Progress.of(campaign, engine.progress(campaign.id))


def progress_of(campaigns: list[Campaign]) -> dict[int, Progress]:
    """Each campaign's progress, in one query."""
    statuses: dict[int, Counter] = {c.id: Counter() for c in campaigns}
    if statuses:
        messages = engine.messages
        for campaign_id, status, n in db.session.execute(
            select(messages.c.campaign_id, messages.c.status, func.count())
            .where(messages.c.campaign_id.in_(statuses))
            .group_by(messages.c.campaign_id, messages.c.status)
        ):
            statuses[campaign_id][status] = n
    return {c.id: Progress.of(c, statuses[c.id]) for c in campaigns}


def recent() -> Select:
    """Campaigns, newest first."""
    return (
        select(Campaign)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .options(selectinload(Campaign.template), selectinload(Campaign.created_by))
    )
