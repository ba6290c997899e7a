"""How fast the order-history import runs: `python bench/import_bench.py [rows]`.

Writes a Taobao-style order report (GBK CSV, 100,000 rows by default from about 49,000
buyers, one row in 500 bad) to a temporary folder, migrates a fresh SQLite database there,
then runs the import job function (app.imports.jobs.run_import) on it twice: the first import
creates the customers and orders, the second finds every row unchanged. Prints rows/s for
both, and the process's CPU time (a truer figure than wall time on a busy machine).
The target is 10,000 rows/s.
"""

import csv
import io
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = [
    "订单编号",
    "买家会员名",
    "买家实际支付金额",
    "订单状态",
    "收货人姓名",
    "联系手机",
    "收货地址",
    "订单创建时间",
    "订单付款时间",
    "宝贝标题",
    "宝贝总数量",
    "退款金额",
    "买家留言",
    "物流单号",
]
STATUSES = ["交易成功"] * 14 + ["卖家已发货，等待买家确认", "买家已付款，等待卖家发货", "等待买家付款", "交易关闭"]
ADDRESSES = [
    "浙江省 杭州市 西湖区 文三路{}号",
    "广东省 广州市 天河区 天河路{}号",
    "江苏省 南京市 鼓楼区 中山路{}号",
    "上海 上海市 浦东新区 世纪大道{}号",
    "北京 北京市 朝阳区 建国路{}号",
    "四川省 成都市 武侯区 人民南路{}号",
    "广西壮族自治区 南宁市 青秀区 民族大道{}号",
    "湖北省 武汉市 洪山区 珞喻路{}号",
]


def report(rows: int, seed: int = 7) -> bytes:
    """A Taobao order report of `rows` orders, GBK-encoded as the platform exports it."""
    from app.demo import GIVEN, NICK_WORDS, PRODUCTS, SURNAMES

    rng = random.Random(seed)
    buyers = max(1, int(rows * 0.6))
    start = datetime(2025, 1, 1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i in range(rows):
        buyer = rng.randrange(buyers)
        name = SURNAMES[buyer % len(SURNAMES)] + GIVEN[buyer % len(GIVEN)]
        nickname = f"{NICK_WORDS[buyer % len(NICK_WORDS)]}{NICK_WORDS[(buyer // 12) % len(NICK_WORDS)]}{buyer}"
        phone = f"{('138', '139', '150', '186', '177', '135')[buyer % 6]}{buyer:08d}"
        status = rng.choice(STATUSES)
        created = start + timedelta(minutes=rng.randrange(500 * 24 * 60))
        paid = created + timedelta(minutes=rng.randint(1, 60)) if status not in ("等待买家付款", "交易关闭") else None
        amount = f"{rng.choice((39, 59, 89, 129, 199, 299, 499)) + rng.randint(0, 99) / 100:.2f}"
        refund = amount if status == "交易关闭" and rng.random() < 0.5 else "0.00"
        if i % 500 == 499:
            amount = "待定"  # a bad row now and then: rejected with a reason, never stops the others
        writer.writerow(
            [
                f'="{3400000000000000000 + i}"',
                nickname,
                amount,
                status,
                name,
                f"'{phone}",
                rng.choice(ADDRESSES).format(rng.randint(1, 999)),
                created.strftime("%Y-%m-%d %H:%M:%S"),
                paid.strftime("%Y-%m-%d %H:%M:%S") if paid else "",
                rng.choice(PRODUCTS),
                str(rng.randint(1, 3)),
                refund,
                "",
                f"YT{rng.randrange(10**12):012d}",
            ]
        )
    return out.getvalue().encode("gbk")


def main(rows: int) -> None:
    os.environ.setdefault("PORTAL_ENV", "development")
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.imports.jobs import run_import
    from app.imports.presets import TAOBAO
    from app.models import ImportRun, ImportState, Role, User

    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        folder = Path(folder)
        began = time.perf_counter()
        content = report(rows)
        (folder / "ExportOrderList.csv").write_bytes(content)
        print(
            f"report: {rows:,} rows, {len(content) / 1e6:.1f} MB GBK CSV, written in {time.perf_counter() - began:.1f} s"
        )

        app = create_app(
            "development",
            SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'bench.db'}",
            REDIS_URL=None,
            EMBEDDED_REDIS_DIR=str(folder / "redis"),
        )
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            user = User(username="bench", display_name="Bench", role=Role.SUPERVISOR, password_hash="-")
            db.session.add(user)
            db.session.commit()
            user_id, header = user.id, HEADER
            for attempt in ("first import", "same file again"):
                run = ImportRun(
                    filename="ExportOrderList.csv",
                    content=content,
                    preset=TAOBAO.key,
                    mapping=TAOBAO.suggest(header),
                    state=ImportState.QUEUED,
                    started_by_id=user_id,
                )
                db.session.add(run)
                db.session.commit()
                run_id = run.id
                db.session.remove()
                began, cpu = time.perf_counter(), time.process_time()
                result = run_import(run_id)
                seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
                print(f"{attempt}: {rows / seconds:,.0f} rows/s ({seconds:.1f} s, CPU {cpu:.1f} s) {result}")
            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
