"""The database tables, as typed SQLAlchemy models.

All times are naive UTC; templates show them in the shop's time zone (app.timefmt).
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


Money = Numeric(12, 2)


# --- stored values: what a column may hold ---------------------------------------------------


class Role(StrEnum):
    SALES = "sales"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Source(StrEnum):
    INQUIRY = "inquiry"
    ORDER = "order"
    IMPORT = "import"
    REFERRAL = "referral"


class Layer(StrEnum):
    PROSPECT = "prospect"
    NEW = "new"
    KEY = "key"
    MIDDLE = "middle"
    BOTTOM = "bottom"
    LOST = "lost"


class Activity(StrEnum):
    ACTIVE = "active"
    INTERMITTENT = "intermittent"
    INACTIVE = "inactive"


class Tier(StrEnum):
    NONE = "none"
    VIP = "vip"
    SVIP = "svip"


class FollowUpState(StrEnum):
    ACTIVE = "active"  # in the cycles
    LOST = "lost"  # too many unconverted cycles in a row: out of the queue until brought back
    STOPPED = "stopped"  # asked not to be contacted


class Kind(StrEnum):
    FIRST_CONTACT = "first_contact"
    REVISIT = "revisit"
    WIN_BACK = "win_back"


class Outcome(StrEnum):
    ORDERED = "ordered"
    INTERESTED = "interested"
    NO_ANSWER = "no_answer"
    NOT_INTERESTED = "not_interested"
    DO_NOT_CONTACT = "do_not_contact"


class FollowUpStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"  # the customer was unassigned, or brought back with a new task


class Channel(StrEnum):
    PHONE = "phone"
    WECHAT = "wechat"
    WANGWANG = "wangwang"
    QQ = "qq"
    SMS = "sms"
    OTHER = "other"


class BlacklistReason(StrEnum):
    OPT_OUT = "opt_out"  # replied with an opt-out keyword
    BAD_REVIEW = "bad_review"
    COMPLAINTS = "complaints"  # complaints or returns
    MANUAL = "manual"
    INVALID_NUMBER = "invalid_number"


class OrderStatus(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    REFUNDED = "refunded"
    CLOSED = "closed"


PAID_STATUSES = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.COMPLETED)
# How far along an order is; closed and refunded end it.
_PROGRESS = {OrderStatus.UNPAID: 0, OrderStatus.PAID: 1, OrderStatus.SHIPPED: 2, OrderStatus.COMPLETED: 3}


def status_after(current: str, incoming: str) -> str:
    """The status an order has once a report says `incoming`: statuses only move forward
    (unpaid → paid → shipped → completed, or to closed / refunded), so a report older than
    what is stored leaves the order as it is. A completed order can still be refunded (a
    refund after delivery), not closed; closed and refunded are final.
    """
    if current == incoming or current not in _PROGRESS:
        return current
    if incoming == OrderStatus.REFUNDED:
        return incoming
    if incoming == OrderStatus.CLOSED:
        return current if current == OrderStatus.COMPLETED else incoming
    return incoming if _PROGRESS[incoming] > _PROGRESS[current] else current


class Review(StrEnum):
    GOOD = "good"
    NEUTRAL = "neutral"
    BAD = "bad"


class ImportState(StrEnum):
    MAPPING = "mapping"  # uploaded, waiting for the user to confirm the column mapping
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MessageKind(StrEnum):
    SERVICE = "service"  # shipping notice, payment reminder: the shop's windows, never capped
    MARKETING = "marketing"  # the provider's curfew, the opt-out text, the frequency cap, no flagged customers


class MessageStatus(StrEnum):
    """Where one planned SMS is (SPEC §7); app.sending moves it along, only forward."""

    SCHEDULED = "scheduled"  # planned; leaves at due_at
    PAUSED = "paused"  # its campaign is paused
    SENDING = "sending"  # claimed by a worker, which may be handing it to the provider
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's receipt says it arrived
    FAILED = "failed"  # the provider refused it, or its receipt says it did not arrive
    SKIPPED = "skipped"  # never handed over: skip_reason says why
    UNKNOWN = "unknown"  # its worker died before the provider answered: never resent blindly


# A message in these states may still be handed to the provider.
WAITING_STATUSES = (MessageStatus.SCHEDULED, MessageStatus.PAUSED)
# A message in these states reached (or may have reached) the provider: it counts toward the cap.
HANDED_OVER_STATUSES = (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNKNOWN)


class SkipReason(StrEnum):
    BLACKLISTED = "blacklisted"
    FLAGGED = "flagged"  # bad reviewer or picky: no marketing
    NO_PHONE = "no_phone"  # no valid phone
    FREQUENCY_CAP = "frequency_cap"
    MISSING_VALUE = "missing_value"  # the template uses a placeholder the customer has no value for
    CANCELLED = "cancelled"  # its campaign was cancelled before it left


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # audience and exclusions shown; nothing planned yet
    SENDING = "sending"  # confirmed: its messages are planned and leave at their times
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"  # no message of it waits any more


class AuditAction(StrEnum):
    """What an audit-log entry records (app.audit_log); labels.AUDIT_ACTION_LABELS says it in words."""

    CUSTOMER_REGISTERED = "customer.registered"
    CUSTOMER_EDITED = "customer.edited"
    CUSTOMER_COMPLAINT = "customer.complaint"
    OWNER_CHANGED = "customer.owner_changed"
    FOLLOW_UP_OPENED = "follow_up.opened"
    FOLLOW_UP_RECORDED = "follow_up.recorded"
    FOLLOW_UP_CANCELLED = "follow_up.cancelled"
    FOLLOW_UP_STATE_CHANGED = "follow_up.state_changed"
    BLACKLIST_ADDED = "blacklist.added"
    BLACKLIST_REMOVED = "blacklist.removed"
    SMS_TEMPLATE_SAVED = "sms_template.saved"
    SEND_WINDOWS_SAVED = "settings.send_windows_saved"
    SMS_SENT_BY_HAND = "sms.sent_by_hand"  # one message from a customer's page or queue card
    CAMPAIGN_CONFIRMED = "campaign.confirmed"
    CAMPAIGN_PAUSED = "campaign.paused"
    CAMPAIGN_RESUMED = "campaign.resumed"
    CAMPAIGN_CANCELLED = "campaign.cancelled"
    SMS_OUTCOME_RESOLVED = "sms.outcome_resolved"  # an admin settled an "outcome unknown" message
    USER_CREATED = "user.created"
    USER_ACTIVATED = "user.activated"
    USER_DEACTIVATED = "user.deactivated"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_PASSWORD_CHANGED = "user.password_changed"
    USER_SIGNED_OUT_EVERYWHERE = "user.signed_out_everywhere"
    USER_HANDED_OVER = "user.handed_over"
    CUSTOMERS_MERGED = "customer.merged"
    IMPORT_FINISHED = "import.finished"
    IMPORT_FAILED = "import.failed"


# --- tables ----------------------------------------------------------------------------------


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), default=Role.SALES)
    active: Mapped[bool] = mapped_column(default=True)
    # None means "follow the browser's language".
    locale: Mapped[str | None] = mapped_column(String(10))
    # Part of every session and remember cookie: raising it ends all of them (app.accounts).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The sign-in this browser is under (app.accounts.sessions): not a column, set per request.
    sign_in = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookies; app.accounts.sessions.load reads it back."""
        return f"{self.id}:{self.session_version}:{self.sign_in}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def sees_everyone(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("platform", "nickname", name="uq_customers_platform_nickname"),
        Index("ix_customers_owner_last_paid", "owner_id", "last_paid_at"),
        # The list's filters: segment first, then region, tier, source (a count reads only this).
        Index("ix_customers_layer_filters", "layer", "province", "tier", "source"),
        # The list's sort orders (app.customers.services.SORTS), so a page stops at its end.
        Index("ix_customers_total_spend_id", "total_spend", "id"),
        Index("ix_customers_name_id", "name", "id"),
        Index("ix_customers_created_at_id", "created_at", "id"),
        # The segment recompute's ranking: the spends of the ranked layers, read from here (0008).
        Index("ix_customers_layer_spend", "layer", "segment_spend_cents", "segments_due_at"),
        # SQLite: a merged (deleted) record's id is never given to another customer (0005).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The customer's first platform account, shown in the list and exported; it is one of
    # `accounts` too (kept so by _keep_first_account), where every account is unique.
    platform: Mapped[str | None] = mapped_column(String(20))
    nickname: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(200))
    wechat: Mapped[str | None] = mapped_column(String(100))
    qq: Mapped[str | None] = mapped_column(String(20))
    province: Mapped[str | None] = mapped_column(String(30), index=True)
    city: Mapped[str | None] = mapped_column(String(50))
    gender: Mapped[str | None] = mapped_column(String(10))
    birthday: Mapped[date | None] = mapped_column()
    tags: Mapped[str] = mapped_column(String(500), default="")  # comma-separated
    source: Mapped[str] = mapped_column(String(20), default=Source.INQUIRY, index=True)
    product_interest: Mapped[str | None] = mapped_column(String(200))
    intent_notes: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Kept current from orders by app.segments.recompute.
    first_paid_at: Mapped[datetime | None] = mapped_column()
    last_paid_at: Mapped[datetime | None] = mapped_column(index=True)
    paid_order_count: Mapped[int] = mapped_column(default=0)
    total_spend: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    refund_count: Mapped[int] = mapped_column(default=0)
    complaint_count: Mapped[int] = mapped_column(default=0)
    latest_review: Mapped[str | None] = mapped_column(String(10))
    layer: Mapped[str] = mapped_column(String(10), default=Layer.PROSPECT)  # ix_customers_layer_filters
    activity: Mapped[str] = mapped_column(String(15), default=Activity.INACTIVE)
    tier: Mapped[str] = mapped_column(String(5), default=Tier.NONE, index=True)
    flag_bad_reviewer: Mapped[bool] = mapped_column(default=False)
    flag_picky: Mapped[bool] = mapped_column(default=False)
    # For an incremental recompute (app.segments): when the customer must next be looked at
    # (long ago, DUE_NOW, once an order or complaint of theirs is written: triggers, 0008;
    # NULL: not before that), and the spend their layer was ranked by, in cents.
    segments_due_at: Mapped[datetime | None] = mapped_column(
        index=True, default=datetime(1970, 1, 1), server_default=text("'1970-01-01 00:00:00.000000'")
    )
    segment_spend_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    # Follow-up cycles (app.followups): the cycle reached, unconverted cycles in a row, whether
    # the customer is still followed up, and when they were last contacted.
    cycle: Mapped[int] = mapped_column(default=0)
    unconverted_streak: Mapped[int] = mapped_column(default=0)
    follow_up_state: Mapped[str] = mapped_column(String(10), default=FollowUpState.ACTIVE)
    last_contact_at: Mapped[datetime | None] = mapped_column()

    # Lower-cased name, nickname, phone digits, WeChat and tags: what search matches
    # against (app.search keeps it and its indexes current).
    search_text: Mapped[str] = mapped_column(Text, default="")

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    open_follow_up: Mapped["FollowUp | None"] = relationship(
        primaryjoin="and_(FollowUp.customer_id == Customer.id, FollowUp.status == 'open')", viewonly=True, uselist=False
    )
    accounts: Mapped[list["CustomerAccount"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAccount.id"
    )

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @property
    def average_order_value(self) -> Decimal | None:
        if not self.paid_order_count:
            return None
        return (self.total_spend / self.paid_order_count).quantize(Decimal("0.01"))


# The list's "recent" order on PostgreSQL, whose descending scan of last_paid_at's own index puts
# NULLs first (migration 0009 says more). SQLite's own NULL order needs none.
Index("ix_customers_recent_pg", Customer.last_paid_at.desc().nulls_last(), Customer.id.desc()).ddl_if(
    dialect="postgresql"
)


class CustomerAccount(db.Model):
    """One platform account of a customer: a nickname on a platform. A buyer who orders on
    Taobao and on 1688 is one customer with two accounts; an imported row finds its
    customer by its account (app.imports.importer)."""

    __tablename__ = "customer_accounts"
    __table_args__ = (UniqueConstraint("platform", "nickname", name="uq_customer_accounts_platform_nickname"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    nickname: Mapped[str] = mapped_column(String(100))

    customer: Mapped[Customer] = relationship(back_populates="accounts")


@event.listens_for(Session, "before_flush", insert=True)  # first: the search text reads the accounts
def _keep_first_account(session: Session, flush_context, instances) -> None:
    """A customer's platform + nickname, as registered or edited, is one of their accounts:
    a new pair is added, a changed one renames its account, a cleared one removes it."""
    for customer in [*session.new, *session.dirty]:
        if not isinstance(customer, Customer):
            continue
        if customer in session.new:
            old = None
        else:
            attrs = inspect(customer).attrs
            platform, nickname = attrs.platform.history, attrs.nickname.history
            if not (platform.has_changes() or nickname.has_changes()):
                continue
            old = (
                (platform.deleted or platform.unchanged or [None])[0],
                (nickname.deleted or nickname.unchanged or [None])[0],
            )
        new = (customer.platform, customer.nickname) if customer.platform and customer.nickname else None
        accounts = {(a.platform, a.nickname): a for a in customer.accounts}
        renamed = accounts.get(old) if old else None
        if new in accounts or new is None:
            if renamed is not None and new != old:
                customer.accounts.remove(renamed)
        elif renamed is not None:
            renamed.platform, renamed.nickname = new
        else:
            customer.accounts.append(CustomerAccount(platform=new[0], nickname=new[1]))


class CustomerGram(db.Model):
    """One- and two-character grams of a customer's search text (app.search)."""

    __tablename__ = "customer_grams"

    # Binary ("C") order on PostgreSQL so a one-character prefix is a contiguous range.
    gram: Mapped[str] = mapped_column(String(2).with_variant(String(2, collation="C"), "postgresql"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class FollowUp(db.Model):
    """One follow-up task of a customer's cycle (SPEC §5); app.followups.cycles decides them."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        # At most one open follow-up per customer, whatever the code does.
        Index(
            "uq_follow_ups_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # My queue: a person's open tasks by due time.
        Index("ix_follow_ups_assignee_status_due", "assignee_id", "status", "due_at"),
        # The audit reads tasks due in a period from this index alone.
        Index("ix_follow_ups_audit", "due_on", "assignee_id", "status", "days_late", "outcome"),
        Index("ix_follow_ups_customer_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cycle: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(15))  # Kind
    due_at: Mapped[datetime] = mapped_column()
    due_on: Mapped[date] = mapped_column()  # due_at's day in the shop's time zone
    status: Mapped[str] = mapped_column(String(10), default=FollowUpStatus.OPEN)
    outcome: Mapped[str | None] = mapped_column(String(20))  # Outcome
    channel: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None] = mapped_column()
    days_late: Mapped[int | None] = mapped_column()  # shop-calendar days after due_on, once done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship()
    assignee: Mapped[User] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])


# The open tasks in due order (the audit's customers, soonest due first) on PostgreSQL, which
# otherwise sorts every open task for a page (migration 0010 says more). SQLite reads them in
# that order from ix_follow_ups_assignee_status_due, person by person.
Index("ix_follow_ups_open_due_pg", FollowUp.due_at, FollowUp.id, postgresql_where=text("status = 'open'")).ddl_if(
    dialect="postgresql"
)


class FollowUpDay(db.Model):
    """One person's follow-up tasks due on one shop-calendar day, counted: what the follow-up
    audit (核查) adds up, so that a year costs a few thousand rows rather than every task.

    Cancelled tasks are not counted. app.followups.daily_figures keeps the counts in the same
    transaction as every write to the tasks, and can count them all again from the tasks.
    """

    __tablename__ = "follow_up_days"
    # Stored in key order (SQLite): the audit reads a range of weeks and adds up each person's
    # days week by week, in the order the rows lie. One row per person and day all the same:
    # the week follows from the day.
    __table_args__ = {"sqlite_with_rowid": False}

    # The Monday of due_on's week (shop_calendar.week_of).
    week: Mapped[date] = mapped_column(primary_key=True)
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    due_on: Mapped[date] = mapped_column(primary_key=True)
    due: Mapped[int] = mapped_column()  # open or done
    done: Mapped[int] = mapped_column()
    on_time: Mapped[int] = mapped_column()  # done, 0 days late
    ordered: Mapped[int] = mapped_column()  # done with the outcome "ordered"
    days_late: Mapped[int] = mapped_column()  # summed over the done tasks


class BlacklistEntry(db.Model):
    """A phone that receives no SMS of any kind (SPEC §6). Removed entries stay as history."""

    __tablename__ = "blacklist"
    __table_args__ = (
        # One active entry per phone.
        Index(
            "uq_blacklist_active_phone",
            "phone",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(40))  # where it came from, e.g. "follow_up:12"
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column()
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_reason: Mapped[str | None] = mapped_column(Text)

    added_by: Mapped[User | None] = relationship(foreign_keys=[added_by_id])
    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        # A customer's orders by payment time; it also holds every column the segment
        # recompute reads (app.segments), so that the recompute reads this index alone,
        # in customer order, and never the table (0008).
        Index(
            "ix_orders_customer_paid",
            "customer_id",
            "paid_at",
            "status",
            "amount",
            "refund_amount",
            "review",
            "created_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    platform: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    refund_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    items: Mapped[str | None] = mapped_column(String(500))
    item_count: Mapped[int | None] = mapped_column()
    review: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()

    customer: Mapped[Customer] = relationship()

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None and self.status in PAID_STATUSES


class Complaint(db.Model):
    """A complaint recorded by hand on the customer's page; counts toward "picky"."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    recorded_by: Mapped[User | None] = relationship()


class SegmentsState(db.Model):
    """The last segment recompute (one row, id 1): at what moment, with which thresholds."""

    __tablename__ = "segments_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column()
    thresholds: Mapped[str] = mapped_column(Text)


class AuditEntry(db.Model):
    """Who changed what, when, from what to what. Also feeds the customer's timeline."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_customer_at", "customer_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(100))  # e.g. "user:3"
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()


class ImportRun(db.Model):
    """One uploaded order report: its file, mapping, progress and final report."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    # The file itself, so that a worker on any machine can read it.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    preset: Mapped[str] = mapped_column(String(20))
    mapping: Mapped[dict | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default=ImportState.QUEUED)
    job_id: Mapped[str | None] = mapped_column(String(64))
    total_rows: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    # [{"line": n, "reason": "...", "code": "...", "params": {...}}]; code and params let the
    # page show the reason in the reader's language (app.imports.values.REASONS).
    rejected: Mapped[list | None] = mapped_column(JSON)
    rejected_count: Mapped[int] = mapped_column(default=0)  # len(rejected), for lists that skip loading it
    customers_created: Mapped[int] = mapped_column(default=0)
    # Rows that joined an existing customer by phone, and rows kept without an invalid phone:
    # [{"line": n, "code": "...", "params": {...}, "reason": "...", "customer_id": id}].
    notes: Mapped[list | None] = mapped_column(JSON)
    joined_by_phone: Mapped[int] = mapped_column(default=0, server_default="0")
    phones_dropped: Mapped[int] = mapped_column(default=0, server_default="0")
    older: Mapped[int] = mapped_column(default=0, server_default="0")  # rows older than the stored order
    line_items: Mapped[int] = mapped_column(default=0, server_default="0")  # further rows of an order above
    error: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()  # when the mapping was confirmed
    finished_at: Mapped[datetime | None] = mapped_column()

    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class SmsTemplate(db.Model):
    """A message body with placeholders (app.sending.texts); the signature and, for marketing,
    the provider's opt-out text are added when it is sent."""

    __tablename__ = "sms_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # MessageKind
    body: Mapped[str] = mapped_column(Text)
    # {placeholder: value} used for a customer who has no value of their own.
    defaults: Mapped[dict] = mapped_column(JSON, default=dict)
    # Mainland providers send only templates approved in their console:
    # {provider: {"code": "SMS_123", "variables": {provider's variable: our placeholder}}}.
    provider_codes: Mapped[dict] = mapped_column(JSON, default=dict)
    archived: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SendingSettings(db.Model):
    """The shop's send windows and frequency cap: one row (id 1), edited by admins."""

    __tablename__ = "sending_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # {"0": [["09:30", "12:00"], ...], ..., "6": [...]}: Monday is "0", shop time, each window
    # includes its opening minute and excludes its closing one (app.sending.windows).
    windows: Mapped[dict] = mapped_column(JSON)
    marketing_cap: Mapped[int] = mapped_column(default=2)  # marketing SMS per customer ...
    cap_days: Mapped[int] = mapped_column(default=7)  # ... in this many days
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Campaign(db.Model):
    """A template sent to an audience taken from the registry's filters (SPEC §7).

    Control groups, best time and recurrence will be columns of this table: each planned
    message already points back at its campaign, and `audience` keeps the filters.
    """

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    template_id: Mapped[int] = mapped_column(ForeignKey("sms_templates.id"))
    audience: Mapped[dict] = mapped_column(JSON)  # the registry list's filter arguments
    send_at: Mapped[datetime | None] = mapped_column()  # None: now
    status: Mapped[str] = mapped_column(String(10), default=CampaignStatus.DRAFT, index=True)
    provider: Mapped[str | None] = mapped_column(String(20))  # the provider it was planned for
    planned: Mapped[int] = mapped_column(default=0)  # messages planned at confirmation
    # {SkipReason: count} at confirmation.
    excluded: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    template: Mapped[SmsTemplate] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])


class Message(db.Model):
    """One SMS to one number: the record of it, written before any job exists (app.sending)."""

    __tablename__ = "messages"
    __table_args__ = (
        # What a worker claims: due messages still scheduled.
        Index("ix_messages_status_due", "status", "due_at"),
        Index("ix_messages_customer_created", "customer_id", "created_at"),
        Index("ix_messages_campaign_status", "campaign_id", "status"),
        Index("ix_messages_provider_ref", "provider", "provider_ref"),
        Index("ix_messages_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Makes a second plan of the same message impossible, e.g. "campaign:4:customer:17".
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("sms_templates.id"))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    kind: Mapped[str] = mapped_column(String(10))  # MessageKind
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    body: Mapped[str] = mapped_column(Text)  # the final text: signature and opt-out text included
    # The provider's template variables, for providers that send approved templates.
    params: Mapped[dict | None] = mapped_column(JSON)
    parts: Mapped[int] = mapped_column(default=1)
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.SCHEDULED)
    skip_reason: Mapped[str | None] = mapped_column(String(20))  # SkipReason
    error: Mapped[str | None] = mapped_column(String(300))  # the provider's words, when it failed
    due_at: Mapped[datetime] = mapped_column()  # already inside a send window
    # The RQ job that holds it while scheduled (the sweeper re-enqueues what no live job holds).
    job_id: Mapped[str | None] = mapped_column(String(64))
    # The claim of the worker sending it, and until when that claim holds without news.
    claim: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    provider_ref: Mapped[str | None] = mapped_column(String(64))  # Aliyun BizId, Twilio sid
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer | None] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    template: Mapped[SmsTemplate | None] = relationship()


class SmsReply(db.Model):
    """An inbound SMS from a customer, received by a provider's webhook."""

    __tablename__ = "sms_replies"
    __table_args__ = (
        # The provider's id of the reply: a webhook delivered twice records it once.
        UniqueConstraint("provider", "provider_ref", name="uq_sms_replies_provider_ref"),
        Index("ix_sms_replies_customer_received", "customer_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    opted_out: Mapped[bool] = mapped_column(default=False)  # an opt-out keyword: the number is blacklisted
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer | None] = relationship()
