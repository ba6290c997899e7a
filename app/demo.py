"""Demo data: users with known passwords, customers with a year of orders.

`fake_customers` and `fake_orders` are shared with bench/generate.py, which writes
100,000 customers and 1,000,000 orders with bulk inserts.
"""

import random
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from .extensions import db
from .followups import services
from .jobs import recompute_segments
from .models import (
    Channel,
    Customer,
    CustomerAccount,
    FollowUp,
    FollowUpStatus,
    Order,
    OrderStatus,
    Outcome,
    Review,
    Role,
    Source,
    User,
    utcnow,
)
from .search import reindex, text_for
from .shop_calendar import due_on

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
    customer_ids: list[int], count: int, rng: random.Random, first_number: int = 1, days: int = 365
) -> list[dict]:
    """Rows for the orders table, spread over the last `days`, most of them paid."""
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
        status = rng.choice(statuses)
        paid = status not in (OrderStatus.UNPAID, OrderStatus.CLOSED)
        amount = Decimal(rng.choice((39, 59, 89, 129, 199, 299, 499, 899))) + Decimal(rng.randint(0, 99)) / 100
        rows.append(
            {
                "order_no": f"{3900000000000 + i}",
                "customer_id": rng.choice(customer_ids),
                "platform": "taobao",
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


NOTES = [
    "客户说下周再看看",
    "已加微信，发了新品图",
    "问了尺码，待回复",
    "电话未接",
    "说最近不需要",
    "刚收到货，很满意",
    "想等活动价",
    "推荐了朋友",
    None,
    None,
]


def follow_up_history(rng: random.Random, weeks: int = 8) -> None:
    """Work the demo's follow-ups as the sales staff would have for the last `weeks` weeks.

    The first tasks open `weeks` ago, each due some day of the first weeks; then each task due
    before now is done through the real cycle rules (app.followups.services.record_outcome) around its due day (mostly on
    time, some late, a few left overdue), so the queue and the audit have something to show.
    """
    now = utcnow()
    start = now - timedelta(weeks=weeks)
    services.open_first_tasks(now=start)
    tasks = list(db.session.scalars(select(FollowUp).where(FollowUp.status == FollowUpStatus.OPEN)))
    for task in tasks:
        task.due_at = start + timedelta(days=rng.uniform(1, weeks * 7 - 3))
        task.due_on = due_on(task.due_at)
    db.session.commit()
    outcomes = [Outcome.ORDERED] * 3 + [Outcome.INTERESTED] * 4 + [Outcome.NO_ANSWER] * 5 + [Outcome.NOT_INTERESTED] * 2
    channels = [Channel.PHONE] * 4 + [Channel.WECHAT] * 3 + [Channel.WANGWANG, Channel.QQ, Channel.SMS]
    users = {u.id: u for u in db.session.scalars(select(User))}
    pending = list(tasks)
    while pending:
        task = pending.pop()
        if rng.random() < 0.08:
            continue  # left undone: overdue, or still to do
        done_at = task.due_at - timedelta(hours=rng.uniform(0, 30)) + timedelta(days=rng.choice((0,) * 7 + (1, 2, 4)))
        if done_at >= now:
            continue
        outcome = Outcome.DO_NOT_CONTACT if rng.random() < 0.02 else rng.choice(outcomes)
        recorded = services.record_outcome(
            task,
            outcome,
            rng.choice(channels),
            rng.choice(NOTES),
            users[task.assignee_id],
            now=max(done_at, task.created_at),
        )
        if recorded.next_task is not None:
            pending.append(recorded.next_task)
    db.session.commit()


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
    sales_ids = [u.id for u in users if u.role == Role.SALES]
    customers = fake_customers(customer_count, rng, owners=sales_ids + [None])
    connection = db.session.connection()
    ids = insert_customers(connection, customers)
    connection.execute(insert(Order), fake_orders(ids, customer_count * 4, rng))
    db.session.commit()

    follow_up_history(rng)
    recompute_segments()
    return [(u.username, u.role, demo_password(u.username)) for u in users]
