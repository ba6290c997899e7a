"""The customer registry: finding, registering, editing and exporting customers."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from .. import audit_log
from ..access import visible_customers
from ..extensions import db
from ..followups import services as followups
from ..forms import UNASSIGNED
from ..models import AuditAction, AuditEntry, Complaint, Customer, Order, Role, User
from ..search import plan as search_plan
from ..search import terms_of
from ..shop_calendar import shop_time_to_utc
from ..spreadsheets import text_cell
from ..templating import localtime

SORTS = {
    "recent": (Customer.last_paid_at.desc().nulls_last(), Customer.id.desc()),
    "spend": (Customer.total_spend.desc(), Customer.id.desc()),
    "name": (Customer.name, Customer.id),
    "created": (Customer.created_at.desc(), Customer.id.desc()),
}


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
    query = visible_customers(user)
    dialect = db.session.get_bind().dialect.name
    # How the terms are best matched for reading a sorted page and for counting (app.search).
    search = search_plan(db.session, terms_of(f.q), dialect)
    counted = query.where(*search.count)
    query = query.where(*search.read)
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
    query = query.where(*conditions)
    if user.sees_everyone and not conditions:
        # Nothing narrower than the terms: their number may be known already, or counted
        # from their index alone, or driven by one of them (page_of reads `known_total` and
        # `count_query`); else counting is driven by whatever narrows the list.
        if search.total is not None:
            query = query.execution_options(known_total=search.total)
        elif search.alone is not None:
            query = query.execution_options(count_query=search.alone)
        elif search.count is not search.read:
            query = query.execution_options(count_query=counted)
    # The owners shown in the list: one query for the page, not one per owner.
    return query.order_by(*SORTS.get(f.sort, SORTS["recent"])).options(selectinload(Customer.owner))


def duplicates_of(
    phone: str | None, platform: str | None, nickname: str | None, exclude_id: int | None = None
) -> list[Customer]:
    """Customers already registered with this phone, or this platform nickname."""
    conditions = []
    if phone:
        conditions.append(Customer.phone == phone)
    if platform and nickname:
        conditions.append((Customer.platform == platform) & (Customer.nickname == nickname.strip()))
    if not conditions:
        return []
    query = select(Customer).where(or_(*conditions))
    if exclude_id:
        query = query.where(Customer.id != exclude_id)
    return list(db.session.scalars(query.limit(5)))


def nickname_taken(platform: str | None, nickname: str | None, exclude_id: int | None = None) -> bool:
    return any(c.nickname == nickname for c in duplicates_of(None, platform, nickname, exclude_id))


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


@dataclass
class Event:
    at: datetime
    kind: str  # order, complaint, audit
    item: object


def timeline(customer: Customer, limit: int = 100) -> list[Event]:
    """Orders, complaints and recorded changes, newest first."""
    orders = db.session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.created_at.desc()).limit(limit)
    )
    complaints = db.session.scalars(
        select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.at.desc()).limit(limit)
    )
    # A complaint's own audit entry would show it twice: the complaint row says it all.
    entries = db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.customer_id == customer.id, AuditEntry.action != AuditAction.CUSTOMER_COMPLAINT)
        .order_by(AuditEntry.at.desc())
        .limit(limit)
    )
    events = [Event(o.created_at, "order", o) for o in orders]
    events += [Event(c.at, "complaint", c) for c in complaints]
    events += [Event(e.at, "audit", e) for e in entries]
    return sorted(events, key=lambda e: e.at, reverse=True)[:limit]


def user_names() -> dict[int, str]:
    """Every user's display name by id, to name owners in recorded changes."""
    return dict(db.session.execute(select(User.id, User.display_name)).all())


EXPORT_COLUMNS = [
    ("id", "ID"),
    ("name", "姓名"),
    ("platform", "平台"),
    ("nickname", "旺旺名"),
    ("phone", "手机"),
    ("province", "省份"),
    ("city", "城市"),
    ("tags", "标签"),
    ("source", "来源"),
    ("owner", "负责人"),
    ("layer", "分层"),
    ("activity", "活跃度"),
    ("tier", "会员等级"),
    ("paid_order_count", "付款订单数"),
    ("total_spend", "累计消费"),
    ("last_paid_at", "最近付款"),
]


def export_rows(query: Select):
    """The header, then one row per customer, streamed in chunks."""
    owners = dict(db.session.execute(select(User.id, User.display_name)).all())
    yield [label for _, label in EXPORT_COLUMNS]
    for customer in db.session.scalars(query.execution_options(yield_per=1000)):
        yield [
            customer.id,
            text_cell(customer.name),
            customer.platform or "",
            text_cell(customer.nickname),
            customer.phone or "",  # E.164: digits after the "+", checked on the way in
            text_cell(customer.province),
            text_cell(customer.city),
            text_cell(customer.tags),
            customer.source,
            text_cell(owners.get(customer.owner_id)),
            customer.layer,
            customer.activity,
            customer.tier,
            customer.paid_order_count,
            customer.total_spend,
            localtime(customer.last_paid_at),
        ]
