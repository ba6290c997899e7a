"""Demo data: users with known passwords, customers with a year of orders, eight weeks of follow-ups.

`fake_customers` and `fake_orders` are shared with bench/generate.py, which writes
100,000 customers and 1,000,000 orders with bulk inserts.
"""

import bisect
import heapq
import itertools
import random
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update

from .blacklist import services as blacklist
from .extensions import db
from .followups import services
from .jobs import recompute_segments
from .models import (
    AuditEntry,
    BlacklistEntry,
    BlacklistReason,
    Channel,
    Customer,
    CustomerAccount,
    FollowUp,
    Message,
    MessageKind,
    Order,
    OrderStatus,
    Outcome,
    Review,
    Role,
    SmsTemplate,
    Source,
    User,
    utcnow,
)
from .search import reindex, text_for
from .segments import Thresholds, recompute
from .shop_calendar import day_start, shop_date, shop_zone

DEMO_USERS = [
    ("admin", "王管理", Role.ADMIN),
    ("super", "李主管", Role.SUPERVISOR),
    ("sales1", "张小红", Role.SALES),
    ("sales2", "刘明", Role.SALES),
    ("sales3", "陈静", Role.SALES),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文辉红梅玉兰志强海燕晓东春梅鹏飞雪莉宇航子涵思雨欣怡浩然梓萱一诺雨桐"
PROVINCES = ["广东", "浙江", "江苏", "上海", "北京", "山东", "四川", "湖北", "福建", "河南", "湖南", "安徽"]
CITIES = {
    "广东": "广州",
    "浙江": "杭州",
    "江苏": "南京",
    "上海": "上海",
    "北京": "北京",
    "山东": "济南",
    "四川": "成都",
    "湖北": "武汉",
    "福建": "厦门",
    "河南": "郑州",
    "湖南": "长沙",
    "安徽": "合肥",
}
NICK_WORDS = ["小猫", "爱吃鱼", "阳光", "快乐", "宝贝", "星星", "月亮", "甜心", "大白", "柠檬", "奶茶", "旅行"]
TAGS = ["定制", "价格敏感", "回头客", "送礼", "大码", "学生", "宝妈", "批发", "颜值党", "急单"]
PRODUCTS = ["真丝围巾", "羊绒大衣", "纯棉T恤", "牛仔裤", "连衣裙", "运动鞋", "双肩包", "保温杯", "茶具套装", "香薰蜡烛"]
PLATFORMS = ["taobao", "tmall", "1688", "jd", "pdd", "wechat"]


def fake_customers(
    count: int, rng: random.Random, first_number: int = 1, owners: list[int] | None = None
) -> list[dict]:
    """Rows for the customers table (numbered from `first_number`: unique nicknames and phones)."""
    now = utcnow()
    rows = []
    for i in range(first_number, first_number + count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        nickname = f"{rng.choice(NICK_WORDS)}{rng.choice(NICK_WORDS)}{i}"
        phone = f"+86{rng.choice(('138', '139', '150', '186', '177', '135'))}{i:08d}"
        province = rng.choice(PROVINCES)
        tags = ",".join(rng.sample(TAGS, rng.choice((0, 1, 1, 2))))
        rows.append(
            {
                "name": name,
                "platform": rng.choice(PLATFORMS),
                "nickname": nickname,
                "phone": phone,
                "province": province,
                "city": CITIES[province],
                "tags": tags,
                "source": rng.choice(list(Source)),
                "gender": rng.choice(("female", "male", None)),
                "owner_id": rng.choice(owners) if owners else None,
                "created_at": now - timedelta(days=rng.randint(0, 400)),
                "updated_at": now,
                "search_text": text_for(name, nickname, phone, None, tags),
            }
        )
    return rows


def fake_orders(
    customer_ids: list[int],
    count: int,
    rng: random.Random,
    first_number: int = 1,
    days: int = 365,
    platforms: dict[int, str] | None = None,
) -> list[dict]:
    """Rows for the orders table, spread over the last `days`, most of them paid; an order is
    on its customer's platform (`platforms`, by customer id) and old orders have settled."""
    now = utcnow()
    statuses = [OrderStatus.COMPLETED] * 14 + [
        OrderStatus.SHIPPED,
        OrderStatus.PAID,
        OrderStatus.UNPAID,
        OrderStatus.CLOSED,
        OrderStatus.REFUNDED,
    ]
    reviews = [None] * 12 + [Review.GOOD] * 6 + [Review.NEUTRAL, Review.BAD]
    rows = []
    for i in range(first_number, first_number + count):
        created = now - timedelta(minutes=rng.randint(0, days * 24 * 60))
        status = _settled(rng.choice(statuses), now - created)
        paid = status not in (OrderStatus.UNPAID, OrderStatus.CLOSED)
        customer_id = rng.choice(customer_ids)
        amount = Decimal(rng.choice((39, 59, 89, 129, 199, 299, 499, 899))) + Decimal(rng.randint(0, 99)) / 100
        rows.append(
            {
                "order_no": f"{3900000000000 + i}",
                "customer_id": customer_id,
                "platform": (platforms or {}).get(customer_id, "taobao"),
                "status": status,
                "amount": amount,
                "refund_amount": amount if status == OrderStatus.REFUNDED else Decimal("0"),
                "items": rng.choice(PRODUCTS),
                "item_count": rng.randint(1, 3),
                "review": rng.choice(reviews) if status == OrderStatus.COMPLETED else None,
                "created_at": created,
                "paid_at": created + timedelta(minutes=rng.randint(1, 90)) if paid else None,
                "shipped_at": None,
                "closed_at": None,
            }
        )
    return rows


def _settled(status: OrderStatus, age: timedelta) -> OrderStatus:
    """What an order of this age has become: a buyer confirms receipt within about two weeks,
    and an order left unpaid is closed within a day."""
    if status in (OrderStatus.PAID, OrderStatus.SHIPPED) and age > timedelta(days=15):
        return OrderStatus.COMPLETED
    if status == OrderStatus.UNPAID and age > timedelta(days=1):
        return OrderStatus.CLOSED
    return status


def insert_customers(connection, rows: list[dict]) -> list[int]:
    """Bulk-insert customer rows with their platform accounts and index them for search;
    returns their ids in order."""
    statement = insert(Customer).returning(Customer.id, sort_by_parameter_order=True)
    ids = list(connection.scalars(statement, rows))
    accounts = [
        {"customer_id": cid, "platform": row["platform"], "nickname": row["nickname"]}
        for cid, row in zip(ids, rows)
        if row.get("platform") and row.get("nickname")
    ]
    if accounts:
        connection.execute(insert(CustomerAccount), accounts)
    reindex(connection, zip(ids, (row["search_text"] for row in rows)))
    return ids


# What sales people write after each kind of contact.
NOTES = {
    Outcome.ORDERED: ["下单了，要了新款", "确认了尺码，已下单", "用了优惠券下单", None],
    Outcome.INTERESTED: ["想等活动价", "已加微信，发了新品图", "问了尺码，待回复", "说下周再看看", None],
    Outcome.NO_ANSWER: ["电话未接", "旺旺未回复", "微信未回", None],
    Outcome.NOT_INTERESTED: ["说最近不需要", "刚买过，暂时不要", None],
    Outcome.DO_NOT_CONTACT: ["客户要求不要再联系"],
}
OUTCOMES = [Outcome.ORDERED] * 3 + [Outcome.INTERESTED] * 4 + [Outcome.NO_ANSWER] * 5 + [Outcome.NOT_INTERESTED] * 2
CHANNELS = [Channel.PHONE] * 4 + [Channel.WECHAT] * 3 + [Channel.WANGWANG, Channel.QQ, Channel.SMS]


class History:
    """Eight weeks of the shop's life, played through the real rules in time order.

    Customers are assigned in weekly batches (or when they register, for newer ones) by the
    supervisor through app.followups.services.assign, so a buyer gets a revisit and a prospect
    a first contact, judged on the orders known at that moment; the sales staff then work each
    task around its due day through record_outcome (mostly on time, some late, a few left
    open); an "ordered" outcome is followed by the order, and "do not contact" by the blacklist.
    Every task's due day is the one its timeline entry gives, since nothing is changed after.
    """

    def __init__(self, rng: random.Random, users: list[User], customers: list[dict], orders: list[dict], weeks=8):
        self.rng, self.now = rng, utcnow()
        self.start = self.now - timedelta(weeks=weeks)
        self.users = {user.id: user for user in users}
        self.supervisor = next(user for user in users if user.role == Role.SUPERVISOR)
        self.sales = [user for user in users if user.role == Role.SALES]
        self.customers = customers  # rows with their ids, as inserted
        self.orders = sorted(orders, key=lambda order: order["created_at"])  # not yet inserted
        self.next_order_number = 3900000000000 + len(orders) + 1
        self.events: list[tuple] = []
        self.sequence = itertools.count()  # keeps events of the same moment in the order they came
        self.stale = True  # orders were added since the segments were last computed

    def play(self) -> None:
        self._insert_orders_until(self.start)
        for customer in self.customers:
            if self.rng.random() < 0.2:
                continue  # left unassigned, for the supervisor's assignment page
            owner = self.rng.choice(self.sales)
            if customer["created_at"] < self.start:
                at = self.start + timedelta(weeks=self.rng.randrange(4), hours=10)  # the weekly batch
            else:
                at = customer["created_at"] + timedelta(hours=1)  # registered and given out at once
            self._schedule(at, "assign", (owner, customer["id"]))
        while self.events:
            at, _, kind, payload = heapq.heappop(self.events)
            if at >= self.now:
                break
            self._insert_orders_until(at)
            if kind == "assign":
                self._assign(at, *payload)
            else:
                self._work(at, payload)
        self._insert_orders_until(self.now)
        db.session.commit()

    def _schedule(self, at, kind: str, payload) -> None:
        heapq.heappush(self.events, (at, next(self.sequence), kind, payload))

    def _insert_orders_until(self, moment) -> None:
        due = [order for order in self.orders if order["created_at"] <= moment]
        if due:
            db.session.execute(insert(Order), due)
            self.orders = self.orders[len(due) :]
            self.stale = True

    def _assign(self, at, owner: User, customer_id: int) -> None:
        if self.stale:  # the first task depends on the last paid order as known at that moment
            recompute(db.session.connection(), at, Thresholds.from_config(current_app.config))
            self.stale = False
        services.assign([customer_id], owner, self.supervisor, now=at)
        self._plan_work(services.open_task_of(customer_id))

    def _plan_work(self, task: FollowUp | None) -> None:
        """When the task's owner will get to it: around its due day, or never (left open)."""
        if task is None or self.rng.random() < 0.08:
            return
        early = timedelta(hours=self.rng.uniform(0, 30))
        late = timedelta(days=self.rng.choice((0,) * 7 + (1, 2, 4)))
        self._schedule(max(task.due_at - early + late, task.created_at + timedelta(minutes=10)), "work", task)

    def _work(self, at, task: FollowUp) -> None:
        outcome = Outcome.DO_NOT_CONTACT if self.rng.random() < 0.02 else self.rng.choice(OUTCOMES)
        owner = self.users[task.assignee_id]
        recorded = services.record_outcome(
            task, outcome, self.rng.choice(CHANNELS), self.rng.choice(NOTES[outcome]), owner, now=at
        )
        if outcome == Outcome.ORDERED:
            self._order(task.customer, at + timedelta(minutes=self.rng.randint(5, 50)))
        elif outcome == Outcome.DO_NOT_CONTACT and task.customer.phone:
            with _played_at(at):
                blacklist.add_for_follow_up(task, owner)
        self._plan_work(recorded.next_task)

    def _order(self, customer: Customer, at) -> None:
        amount = Decimal(self.rng.choice((89, 129, 199, 299))) + Decimal(self.rng.randint(0, 99)) / 100
        status = _settled(OrderStatus.SHIPPED, self.now - at)
        self.next_order_number += 1
        bisect.insort(
            self.orders,
            {
                "order_no": str(self.next_order_number),
                "customer_id": customer.id,
                "platform": customer.platform or "taobao",
                "status": status,
                "amount": amount,
                "refund_amount": Decimal("0"),
                "items": self.rng.choice(PRODUCTS),
                "item_count": 1,
                "review": None,
                "created_at": at,
                "paid_at": at + timedelta(minutes=3),
                "shipped_at": None,
                "closed_at": None,
            },
            key=lambda order: order["created_at"],
        )


def demo_password(username: str) -> str:
    return f"{username}-demo"


def seed(customer_count: int = 300, seed_value: int = 7) -> list[tuple[str, str, str]]:
    """Load the demo once; returns the logins created (empty if users already exist)."""
    if db.session.scalar(select(func.count()).select_from(User)):
        return []
    users = []
    for username, name, role in DEMO_USERS:
        user = User(username=username, display_name=name, role=role)
        user.set_password(demo_password(username))
        db.session.add(user)
        users.append(user)
    db.session.flush()
    rng = random.Random(seed_value)
    customers = fake_customers(customer_count, rng)  # owners are given during the History
    ids = insert_customers(db.session.connection(), customers)
    for customer, customer_id in zip(customers, ids):
        customer["id"] = customer_id
    platforms = {customer["id"]: customer["platform"] for customer in customers}
    # People who only asked (registered from an inquiry) have not ordered yet: the prospects.
    buyers = [customer["id"] for customer in customers if customer["source"] != Source.INQUIRY]
    orders = fake_orders(buyers, customer_count * 3, rng, platforms=platforms)
    _registered_before_ordering(customers, orders, rng)
    History(rng, users, customers, orders).play()
    recompute_segments()
    _texting(users, rng)
    return [(u.username, u.role, demo_password(u.username)) for u in users]


# SMS templates as a shop writes them; the codes stand for the ones Aliyun's console approved.
DEMO_TEMPLATES = [
    (
        "发货通知",
        MessageKind.SERVICE,
        "{name}您好，您的订单{order_no}已发货，请留意查收。",
        {},
        {"aliyun": {"code": "SMS_300000001", "variables": {"name": "name", "order": "order_no"}}},
    ),
    (
        "老客回购券",
        MessageKind.MARKETING,
        "{name}您好，感谢一直以来的支持！送您一张{coupon}，{expires}前有效，戳 {link} 领取",
        {"coupon": "满200减20券", "expires": "12月31日", "link": "m.tb.cn/h.demo"},
        {"aliyun": {"code": "SMS_300000002", "variables": {"name": "name", "coupon": "coupon", "date": "expires"}}},
    ),
]


@contextmanager
def _played_at(moment):
    """What the block writes happened at `moment`, in the past: the audit entries and the
    blacklist entries it adds carry that time (the services stamp the present)."""
    db.session.flush()
    audited = db.session.scalar(select(func.max(AuditEntry.id))) or 0
    blacklisted = db.session.scalar(select(func.max(BlacklistEntry.id))) or 0
    yield
    db.session.flush()
    db.session.execute(update(AuditEntry).where(AuditEntry.id > audited).values(at=moment))
    db.session.execute(update(BlacklistEntry).where(BlacklistEntry.id > blacklisted).values(added_at=moment))


def _texting(users: list[User], rng: random.Random) -> None:
    """The SMS side, played through the real services: templates, blacklist entries with their
    history, a marketing campaign sent ten days ago by the log provider with its receipts, two
    replies (an opt-out, and a question shown on its owner's queue card) and a shipping notice
    sent by hand. Times are in the past, inside the send windows."""
    from .campaigns import services as campaigns
    from .messages import sending
    from .sending import engine, inbound
    from .sending.providers import Reply

    now = utcnow()
    admin = next(user for user in users if user.role == Role.ADMIN)
    supervisor = next(user for user in users if user.role == Role.SUPERVISOR)
    templates = []
    for name, kind, body, defaults, codes in DEMO_TEMPLATES:
        template = SmsTemplate(name=name, kind=kind, body=body, defaults=defaults, provider_codes=codes)
        template.created_by_id, template.created_at = supervisor.id, now - timedelta(days=20)
        db.session.add(template)
        templates.append(template)
    db.session.flush()
    notice, coupon = templates

    with_phones = list(db.session.scalars(select(Customer).where(Customer.phone.is_not(None)).order_by(Customer.id)))
    # Blacklist entries with a history: a bad reviewer, a complaint taken back, a request by phone.
    bad_reviewer = next((c for c in with_phones if c.flag_bad_reviewer), with_phones[0])
    picked = rng.sample([c for c in with_phones if c is not bad_reviewer], 2)
    entries = [
        (bad_reviewer, BlacklistReason.BAD_REVIEW, "差评后要求不再联系", 30),
        (picked[0], BlacklistReason.COMPLAINTS, "投诉物流，要求不要再发短信", 25),
        (picked[1], BlacklistReason.MANUAL, "客户来电：不要发任何短信", 15),
    ]
    for customer, reason, note, days in entries:
        at = now - timedelta(days=days, hours=rng.randint(1, 6))
        if blacklist.active_entry(customer.phone) is not None:
            continue  # blacklisted already by a "do not contact" follow-up
        with _played_at(at):
            entry = blacklist.add(
                customer.phone, reason, source="form", actor=admin, customer_id=customer.id, note=note
            )
        if reason == BlacklistReason.COMPLAINTS:  # taken back: the entry stays in its history
            removed_at = at + timedelta(days=5)
            with _played_at(removed_at):
                blacklist.remove(entry, "客户来电说明是误会，同意接收发货通知", admin)
            entry.removed_at = removed_at
    db.session.commit()

    # Ten days ago at 10:00 shop time (inside the 09:30–12:00 window): the key customers' coupon.
    sent_on = day_start(shop_date(now - timedelta(days=10), shop_zone())) + timedelta(hours=10)
    with _played_at(sent_on - timedelta(minutes=30)):
        campaign = campaigns.create("老客回购券 · 重要客户", coupon, {"layer": "key"}, None, supervisor)
        campaign.created_at = sent_on - timedelta(minutes=30)
    with _played_at(sent_on):
        planned = campaigns.confirm(campaign.id, supervisor, now=sent_on)
    db.session.commit()
    for ids in planned.batches.values():
        engine.send_batch(ids, now=sent_on)
    delivered = list(
        db.session.scalars(select(Message.id).where(Message.campaign_id == campaign.id, Message.status == "sent"))
    )
    inbound.record_deliveries("log", delivered, at=sent_on + timedelta(seconds=4))
    engine.finish_campaigns([campaign.id])
    campaign.finished_at = sent_on + timedelta(seconds=4)
    db.session.commit()

    # Replies: an opt-out an hour later (the number is blacklisted at once), and a question
    # yesterday from a customer their owner has not contacted since.
    recipients = list(
        db.session.scalars(
            select(Customer)
            .join(Message, Message.customer_id == Customer.id)
            .where(Message.campaign_id == campaign.id, Message.status == "delivered")
            .order_by(Customer.id)
        )
    )
    if len(recipients) >= 2:
        opted, asking = (
            recipients[0],
            next(
                (c for c in recipients[1:] if c.owner_id and (c.last_contact_at or sent_on) < now - timedelta(days=1)),
                recipients[1],
            ),
        )
        replies = [
            (opted, "退订", sent_on + timedelta(hours=1)),
            (asking, "请问这张券在哪里领？我点链接没反应", now - timedelta(days=1)),
        ]
        for n, (customer, text, at) in enumerate(replies, start=1):
            with _played_at(at):
                inbound.record_replies("log", [Reply(phone=customer.phone, text=text, provider_ref=f"demo-{n}", at=at)])
            db.session.commit()

    # A shipping notice sent by hand two days ago by the owner of a recent buyer.
    buyer = db.session.scalar(
        select(Customer)
        .join(Order, Order.customer_id == Customer.id)
        .where(Customer.owner_id.is_not(None), Customer.phone.is_not(None), Order.paid_at.is_not(None))
        .order_by(Order.paid_at.desc())
        .limit(1)
    )
    if buyer is not None and blacklist.active_entry(buyer.phone) is None:
        by_hand = sent_on + timedelta(days=8, hours=5)  # 15:00 shop time, two days ago
        owner = db.session.get(User, buyer.owner_id)
        with _played_at(by_hand):
            sent = sending.send_one(buyer, notice, form_key="demo-notice", actor=owner, now=by_hand)
        db.session.commit()
        message_id = sent.message.id
        engine.send_batch([message_id], now=by_hand)
        inbound.record_deliveries("log", [message_id], at=by_hand + timedelta(seconds=3))
        db.session.commit()


def _registered_before_ordering(customers: list[dict], orders: list[dict], rng: random.Random) -> None:
    """A customer is on record from before their first order (imported with their history)."""
    first = {}
    for order in orders:
        first[order["customer_id"]] = min(order["created_at"], first.get(order["customer_id"], order["created_at"]))
    changed = []
    for customer in customers:
        if customer["id"] in first and first[customer["id"]] < customer["created_at"]:
            customer["created_at"] = first[customer["id"]] - timedelta(days=rng.randint(0, 30))
            changed.append({"b_id": customer["id"], "b_created_at": customer["created_at"]})
    if changed:
        table = Customer.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("b_id")).values(created_at=bindparam("b_created_at")),
            changed,
        )
