"""The customer registry: finding, registering, editing and exporting customers."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import selectinload

from .. import audit_log
from ..access import visible_customers
from ..blacklist import services as blacklist
from ..extensions import db
from ..followups import services as followups
from ..forms import UNASSIGNED
from ..labels import ACTIVITY_LABELS, LAYER_LABELS, PLATFORM_LABELS, SOURCE_LABELS, TIER_LABELS
from ..models import (
    AuditAction,
    AuditEntry,
    Complaint,
    Customer,
    CustomerAccount,
    Message,
    Order,
    Role,
    SmsReply,
    User,
    utcnow,
)
from ..pagination import SortKey, count_up_to
from ..params import is_id, whole_number
from ..search import plan as search_plan
from ..search import terms_of
from ..segments import Thresholds, refresh_figures
from ..shop_calendar import shop_time_to_utc
from ..templating import display_phone, localtime

# The list's orders, each ending with the id so that every row has one place.
SORT_KEYS = {
    "recent": SortKey(Customer.last_paid_at, Customer.id, descending=True, nullable=True),
    "spend": SortKey(Customer.total_spend, Customer.id, descending=True),
    "name": SortKey(Customer.name, Customer.id, descending=False),
    "created": SortKey(Customer.created_at, Customer.id, descending=True),
}
SORTS = {name: tuple(key.order()) for name, key in SORT_KEYS.items()}


@dataclass
class Filters:
    q: str = ""
    owner: str = ""  # a user id, UNASSIGNED for unowned, "" for anyone
    layer: str = ""
    tier: str = ""
    province: str = ""
    source: str = ""
    last_order_from: date | None = None
    last_order_to: date | None = None
    sort: str = "recent"


def filtered(user: User, f: Filters) -> Select:
    """The customers `user` may see that pass the filters, in the chosen order."""
    query, count_hint = _matching(user, f)
    count_hint = {k: v for k, v in (count_hint or {}).items() if k != "count_in_page"} or None
    if count_hint is not None:
        query = query.execution_options(**count_hint)  # page_of reads `known_total` and `count_query`
    # The owners shown in the list: one query for the page, not one per owner.
    return query.order_by(*SORTS.get(f.sort, SORTS["recent"])).options(selectinload(Customer.owner))


def _matching(user: User, f: Filters, columns=None) -> tuple[Select, dict | None]:
    """The customers `user` may see that pass the filters (unordered; `columns` instead of
    Customer), and a cheaper way to count them when there is one: {"known_total": n} or
    {"count_query": an equivalent query}, or {"count_in_page": True} when reading a page
    sorts every match anyway (PostgreSQL, see list_page())."""
    query = visible_customers(user)
    if columns is not None:
        query = query.with_only_columns(*columns)
    dialect = db.session.get_bind().dialect.name
    conditions = []
    if f.owner == UNASSIGNED:
        conditions.append(Customer.owner_id.is_(None))
    elif f.owner.isdigit():
        conditions.append(Customer.owner_id == int(f.owner))
    for column, value in ((Customer.layer, f.layer), (Customer.tier, f.tier), (Customer.source, f.source)):
        if value:
            conditions.append(column == value)
    if f.province:
        conditions.append(Customer.province == f.province.strip())
    if f.last_order_from:
        conditions.append(Customer.last_paid_at >= shop_time_to_utc(datetime.combine(f.last_order_from, time())))
    if f.last_order_to:
        end = datetime.combine(f.last_order_to + timedelta(days=1), time())
        conditions.append(Customer.last_paid_at < shop_time_to_utc(end))
    # How the terms are best matched for reading a sorted page and for counting (app.search).
    narrowed = bool(conditions) or not user.sees_everyone
    search = search_plan(db.session, terms_of(f.q), dialect, narrowed)
    counted = query.where(*search.count, *conditions)
    query = query.where(*search.read, *conditions)
    hint = None
    if user.sees_everyone and not conditions:
        # Nothing narrower than the terms: their number may be known already, or counted
        # from their index alone, or driven by one of them; else counting is driven by
        # whatever narrows the list.
        if search.total is not None:
            hint = {"known_total": search.total}
        elif search.alone is not None:
            hint = {"count_query": search.alone, "more_than": search.more_than}
        elif search.ids is not None:
            hint = {"count_query": search.ids}
        elif search.count is not search.read:
            hint = {"count_query": counted}
    if search.sorts_all:
        hint = {"count_in_page": True}
    return query, hint


# The registry's list counts its matches up to this many, then says "more than": counting
# every match costs in proportion to them (16,000 customers for one common character, a
# tenth of any customer base). Pages past it are read on from the previous page's last (or
# next page's first) row, as its pager links say, not by skipping every row before them.
COUNT_CAP = 1000

# What the registry's list shows of each customer (Core rows: no ORM object per row).
LIST_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.tags,
    Customer.nickname,
    Customer.phone,
    Customer.province,
    Customer.layer,
    Customer.tier,
    Customer.last_paid_at,
    Customer.total_spend,
    Customer.created_at,
    Customer.owner_id,
)


@dataclass
class ListPage:
    """A page of the registry's list. `total`: the matches, or COUNT_CAP when there are more
    (`more`); `next` / `previous`: the query arguments of those pages (None: no such page)."""

    rows: list
    owners: dict[int, str]
    total: int
    more: bool
    number: int
    size: int
    next: dict | None = None
    previous: dict | None = None

    @property
    def pages(self) -> int | None:
        return None if self.more else max(1, -(-self.total // self.size))


def list_page(
    user: User, f: Filters, number: int, size: int, after: str | None = None, before: str | None = None
) -> ListPage:
    """Page `number` of the registry's list, by position or, given the cursor of a row
    (`after` it or `before` it, see cursor_of), on from that row; counted up to COUNT_CAP."""
    key = SORT_KEYS.get(f.sort, SORT_KEYS["recent"])
    query, hint = _matching(user, f, LIST_COLUMNS)
    number = max(1, number)
    # PostgreSQL's index on last_paid_at is in the order DESC NULLS FIRST: read in two parts,
    # unless every match is sorted anyway: then the page's query counts them too, in the same
    # pass (count(*) OVER ()), rather than a second query looking them all up again (张 价格敏感:
    # 992 customers looked up twice, 3.5 ms each time).
    in_page = bool(hint and hint.get("count_in_page"))
    split = db.session.get_bind().dialect.name == "postgresql" and not in_page
    rows = None
    cursor = parse_cursor(after or before, key)
    if cursor is not None:
        if after:
            rows = key.read(query, *cursor, size + 1)
            has_next, has_previous = len(rows) > size, True
            rows = rows[:size]
        else:
            rows = key.read(query, *cursor, size + 1, reverse=True)
            has_next, has_previous = True, len(rows) > size
            rows = rows[:size][::-1]
            if not has_previous:
                rows = None  # the first rows: the first page, as the first page's links read it
                number = 1
    total = None
    if rows is None:
        offset = (number - 1) * size
        if in_page:
            rows = key.at(query.add_columns(func.count().over().label("matches")), offset, size + 1)
            if rows:
                total = rows[0].matches
        else:
            rows = key.at(query, offset, size + 1, split)
        has_next, has_previous = len(rows) > size, number > 1
        rows = rows[:size]
        if not has_next and (rows or number == 1):
            total = offset + len(rows)  # the last page: no need to count
        elif not rows:  # past the last page (an old link): the last page there is
            total = _count(query, hint, cap=None)
            number = max(1, -(-total // size))
            rows = key.at(query, (number - 1) * size, size, split)
            has_next, has_previous = False, number > 1
    if total is None:
        total = _count(query, hint, COUNT_CAP)
    more = total > COUNT_CAP
    page = ListPage(rows, {}, min(total, COUNT_CAP), more, number, size)
    if user.sees_everyone:
        owner_ids = {row.owner_id for row in rows if row.owner_id is not None}
        if owner_ids:
            page.owners = dict(
                db.session.execute(select(User.id, User.display_name).where(User.id.in_(owner_ids))).all()
            )
    # Links: by position while it is within the counted rows, else on from a row of this page.
    if has_next and rows:
        page.next = {"page": number + 1, "after": None, "before": None}
        if number * size >= COUNT_CAP:
            page.next["after"] = cursor_of(rows[-1], key)
    if has_previous and rows:
        page.previous = {"page": number - 1 if number > 2 else None, "after": None, "before": None}
        if (number - 2) * size >= COUNT_CAP:
            page.previous["before"] = cursor_of(rows[0], key)
    return page


def _count(query: Select, hint: dict | None, cap: int | None) -> int:
    """The rows of `query`, at most cap + 1 of them (None: all), the cheaper way when `hint` has one."""
    hint = hint or {}
    if hint.get("known_total") is not None:
        return hint["known_total"]
    if cap is not None and hint.get("more_than") is not None and hint["more_than"] >= cap:
        return cap + 1  # more than the cap: no need to count
    return count_up_to(hint.get("count_query", query), cap)


def cursor_of(row, key: SortKey) -> str:
    """A row's place in the order `key`: its sort value and id, as a URL carries it."""
    value = getattr(row, key.column.key)
    if value is None:
        return f"n~{row.id}"
    return f"v{value.isoformat() if isinstance(value, datetime) else value}~{row.id}"


def parse_cursor(text: str | None, key: SortKey) -> tuple | None:
    """(sort value, id) from cursor_of's text; None when it is not one (then the page is read by position)."""
    head, separator, tail = (text or "").rpartition("~")
    row_id = whole_number(tail)
    if not separator or not is_id(row_id) or "\x00" in head:  # PostgreSQL refuses NUL in text
        return None
    if head == "n":
        return (None, row_id) if key.nullable else None
    if not head.startswith("v"):
        return None
    kind = key.column.type.python_type
    try:
        value = kind.fromisoformat(head[1:]) if kind is datetime else kind(head[1:])
    except (ValueError, ArithmeticError):
        return None
    if kind is Decimal and not (value.is_finite() and abs(value) < 10**12):  # Money holds 12 digits
        return None
    return value, row_id


def _holding(platform: str, nickname: str) -> Select:
    """The id of the customer holding this platform account (any of their accounts)."""
    return select(CustomerAccount.customer_id).where(
        CustomerAccount.platform == platform, CustomerAccount.nickname == nickname.strip()
    )


def duplicates_of(
    phone: str | None, platform: str | None, nickname: str | None, exclude_id: int | None = None
) -> list[Customer]:
    """Customers already registered with this phone, or this platform nickname."""
    conditions = []
    if phone:
        conditions.append(Customer.phone == phone)
    if platform and nickname:
        conditions.append(Customer.id.in_(_holding(platform, nickname)))
    if not conditions:
        return []
    query = select(Customer).where(or_(*conditions))
    if exclude_id:
        query = query.where(Customer.id != exclude_id)
    return list(db.session.scalars(query.order_by(Customer.id).limit(5)))


def nickname_taken(platform: str | None, nickname: str | None, exclude_id: int | None = None) -> bool:
    """Whether another customer holds this platform account (platform + nickname are unique)."""
    if not (platform and nickname):
        return False
    query = _holding(platform, nickname)
    if exclude_id:
        query = query.where(CustomerAccount.customer_id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def register(values: dict, owner_id: int | None, actor: User) -> Customer:
    if actor.role == Role.SALES:
        owner_id = actor.id  # sales register customers for themselves
    customer = Customer(**values, owner_id=owner_id, created_by_id=actor.id)
    db.session.add(customer)
    db.session.flush()
    audit_log.record(
        AuditAction.CUSTOMER_REGISTERED,
        customer_id=customer.id,
        after=audit_log.changes({}, values | {"owner_id": owner_id})[1],
    )
    followups.start(customer, actor)
    return customer


def edit(customer: Customer, values: dict, owner_id: int | None, actor: User) -> None:
    """Save the edited values; supervisors may change the owner too (followups.NotASalesPerson
    if the chosen one cannot take customers)."""
    before = {key: getattr(customer, key) for key in values}
    old, new = audit_log.changes(before, values)
    if new:
        for key, value in values.items():
            setattr(customer, key, value)
        audit_log.record(AuditAction.CUSTOMER_EDITED, customer_id=customer.id, before=old, after=new)
    if actor.sees_everyone:
        owner = db.session.get(User, owner_id) if owner_id is not None else None
        followups.assign([customer.id], owner, actor)  # the open follow-up goes with the customer


def record_complaint(customer: Customer, note: str, actor: User) -> Complaint:
    complaint = Complaint(customer_id=customer.id, note=note, recorded_by_id=actor.id)
    customer.complaint_count += 1
    db.session.add(complaint)
    audit_log.record(AuditAction.CUSTOMER_COMPLAINT, customer_id=customer.id, after={"note": note})
    return complaint


MERGE_CANDIDATES = 10


def merge_candidates(user: User, kept: Customer, q: str) -> list[Customer]:
    """Records that could be the same person as `kept`: those matching the search, or, before
    anything is typed, those with the same phone."""
    if not q.strip():
        return duplicates_of(kept.phone, None, None, exclude_id=kept.id)
    query = filtered(user, Filters(q=q, sort="name")).where(Customer.id != kept.id)
    return list(db.session.scalars(query.limit(MERGE_CANDIDATES)))


# What a merge fills in the kept record when it lacks it (the platform account aside).
FILLED_BY_MERGE = (
    "phone",
    "email",
    "wechat",
    "qq",
    "province",
    "city",
    "gender",
    "birthday",
    "product_interest",
    "intent_notes",
)
# The other record as it was, in the merge's audit entry.
MERGED_RECORD = ("name", "platform", "nickname", "source", "owner_id", "created_at", "tags", *FILLED_BY_MERGE)


def merge(kept: Customer, other: Customer, actor: User, now: datetime | None = None) -> dict:
    """Merge `other` into `kept`, both one person's records, and delete `other`.

    The kept record gains the other's platform accounts, orders, complaints, follow-ups,
    change history (its timeline) and blacklist entries; of two open follow-ups the kept
    one's stays and the other's is cancelled. What the kept record lacks is filled from the
    other (fields, its first account, the owner), their tags are joined, and its figures are
    recomputed from the orders (the caller has the segments recomputed). One audit entry
    says what happened. Returns what moved, as that entry says it. Nothing is committed.
    """
    if kept.id == other.id:
        raise ValueError("a record cannot be merged into itself")  # it would be deleted
    now = now or utcnow()
    record = {key: getattr(other, key) for key in MERGED_RECORD}
    before = audit_log.changes({}, record)[1] | {"id": other.id}
    other_id, other_owner_id = other.id, other.owner_id
    cycle_state = (other.cycle, other.unconverted_streak, other.follow_up_state)
    other_contact = other.last_contact_at
    accounts = list(other.accounts)
    for account in accounts:
        account.customer = kept
    moved = {"merged_id": other_id, "accounts": [f"{a.platform}:{a.nickname}" for a in accounts]}
    for label, model in (("orders", Order), ("complaints", Complaint), ("history", AuditEntry)):
        moved[label] = db.session.execute(
            update(model)
            .where(model.customer_id == other_id)
            .values(customer_id=kept.id)
            .execution_options(synchronize_session=False)
        ).rowcount
    follow_ups = followups.move_follow_ups(other_id, kept.id, actor)
    moved["follow_ups"] = follow_ups.moved
    if follow_ups.cancelled is not None:
        moved["cancelled_follow_up"] = follow_ups.cancelled
    moved["blacklist"] = blacklist.move_entries(other_id, kept.id)
    db.session.delete(other)
    db.session.flush()  # the other record is gone before the kept one takes its first account

    filled = {key: record[key] for key in FILLED_BY_MERGE if getattr(kept, key) is None and record[key] is not None}
    if kept.nickname is None and record["nickname"] is not None:
        filled |= {"platform": record["platform"], "nickname": record["nickname"]}
    tags = ",".join(dict.fromkeys(kept.tag_list + [t for t in record["tags"].split(",") if t]))
    if tags != kept.tags:
        filled["tags"] = tags
    for key, value in filled.items():
        setattr(kept, key, value)
    if follow_ups.took_open:  # the follow-ups go on where the other record's were
        kept.cycle, kept.unconverted_streak, kept.follow_up_state = cycle_state
    if other_contact is not None and (kept.last_contact_at is None or other_contact > kept.last_contact_at):
        kept.last_contact_at = other_contact
    kept.latest_review = db.session.scalar(
        select(Order.review)
        .where(Order.customer_id == kept.id, Order.review.is_not(None))
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )
    if kept.owner_id is None and other_owner_id is not None:
        try:
            followups.assign([kept.id], db.session.get(User, other_owner_id), actor, now)
            filled["owner_id"] = other_owner_id
        except followups.NotASalesPerson:
            pass  # the other's owner has left: the kept record stays unassigned
    moved["filled"] = audit_log.changes({}, filled)[1]
    db.session.flush()
    refresh_figures(db.session.connection(), [kept.id], now, Thresholds.from_config(current_app.config))
    db.session.expire(kept)
    audit_log.record(
        AuditAction.CUSTOMERS_MERGED,
        customer_id=kept.id,
        subject=f"customer:{other_id}",
        before=before,
        after=moved,
        actor=actor,
    )
    return moved


@dataclass
class Event:
    at: datetime
    kind: str  # order, complaint, message, reply, audit
    item: object


def timeline(customer: Customer, limit: int = 100) -> list[Event]:
    """Orders, complaints, SMS sent and received, and recorded changes, newest first."""
    orders = db.session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.created_at.desc()).limit(limit)
    )
    complaints = db.session.scalars(
        select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.at.desc()).limit(limit)
    )
    # A message is placed at the time it left, or is (was) due to leave.
    messages = db.session.scalars(
        select(Message)
        .options(selectinload(Message.template))
        .where(Message.customer_id == customer.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    replies = db.session.scalars(
        select(SmsReply).where(SmsReply.customer_id == customer.id).order_by(SmsReply.received_at.desc()).limit(limit)
    )
    # A complaint's or a message's own audit entry would show it twice: its row says it all.
    entries = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.customer_id == customer.id,
            AuditEntry.action.not_in((AuditAction.CUSTOMER_COMPLAINT, AuditAction.SMS_SENT_BY_HAND)),
        )
        .order_by(AuditEntry.at.desc())
        .limit(limit)
    )
    events = [Event(o.created_at, "order", o) for o in orders]
    events += [Event(c.at, "complaint", c) for c in complaints]
    events += [Event(m.sent_at or m.due_at, "message", m) for m in messages]
    events += [Event(r.received_at, "reply", r) for r in replies]
    events += [Event(e.at, "audit", e) for e in entries]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


def user_names() -> dict[int, str]:
    """Every user's display name by id, to name owners in recorded changes."""
    return dict(db.session.execute(select(User.id, User.display_name)).all())


# The export's columns, headed in the reader's language.
EXPORT_HEADER = [
    "ID",
    _l("Name"),
    _l("Platform"),
    _l("Platform nickname"),
    _l("Mobile phone"),
    _l("Province"),
    _l("City"),
    _l("Tags"),
    _l("Source"),
    _l("Owner"),
    _l("Layer"),
    _l("Activity"),
    _l("Tier"),
    _l("Paid orders"),
    _l("Total spend"),
    _l("Last paid order"),
]


def export_rows(query: Select):
    """The header, then one row per customer as the list shows it (labels, local phone, shop
    time) in the reader's language, streamed in chunks."""
    owners = dict(db.session.execute(select(User.id, User.display_name)).all())
    labels = {
        name: {value: str(label) for value, label in texts.items()}  # translated once, not once a row
        for name, texts in (
            ("platform", PLATFORM_LABELS),
            ("source", SOURCE_LABELS),
            ("layer", LAYER_LABELS),
            ("activity", ACTIVITY_LABELS),
            ("tier", TIER_LABELS),
        )
    }
    unassigned = _("Unassigned")
    yield [str(label) for label in EXPORT_HEADER]
    for c in db.session.scalars(query.execution_options(yield_per=1000)):
        yield [
            c.id,
            c.name,
            labels["platform"].get(c.platform, c.platform or ""),
            c.nickname or "",
            display_phone(c.phone),
            c.province or "",
            c.city or "",
            c.tags,
            labels["source"].get(c.source, c.source),
            owners.get(c.owner_id, unassigned),
            labels["layer"].get(c.layer, c.layer),
            labels["activity"].get(c.activity, c.activity),
            labels["tier"].get(c.tier, c.tier),
            c.paid_order_count,
            c.total_spend,
            localtime(c.last_paid_at),
        ]
