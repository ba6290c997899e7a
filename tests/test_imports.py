"""Importing order history through the pages: upload, mapping, the job, the report."""

import csv
import io
import re
import struct
import zipfile
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import Workbook
from rq.job import Job
from sqlalchemy import func, select

from app.extensions import db
from app.imports import importer
from app.imports.tables import XLSX_MAX_UNPACKED
from app.models import (
    AuditEntry,
    Customer,
    CustomerAccount,
    CustomerGram,
    ImportRun,
    ImportState,
    Order,
    Role,
    Source,
    utcnow,
)
from app.redis import get_queue, get_redis
from app.search import grams_of, text_for
from app.shop_calendar import shop_time_to_utc, to_shop_time

TAOBAO_HEADER = [
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
]


def shop_time(days_ago: float) -> str:
    """A time `days_ago`, written the way a report writes it: shop-local."""
    return to_shop_time(utcnow() - timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M:%S")


def taobao_rows() -> list[list[str]]:
    """Lines 2–7 are good (three buyers, one of them twice), lines 8–13 are bad."""
    return [
        [
            '="3498000000000000001"',
            "小猫爱吃鱼",
            "199.00",
            "交易成功",
            "张三",
            "'13812345678",
            "浙江省 杭州市 西湖区 文三路100号",
            shop_time(20),
            shop_time(20),
            "真丝围巾",
            "1",
            "0",
        ],
        [
            '="3498000000000000002"',
            "小猫爱吃鱼",
            "89.50",
            "卖家已发货，等待买家确认",
            "张三",
            "13812345678",
            "浙江省 杭州市 西湖区",
            shop_time(3),
            shop_time(3),
            "纯棉T恤",
            "2",
            "0",
        ],
        [
            '="3498000000000000003"',
            "阳光宝贝",
            "299.00",
            "买家已付款，等待卖家发货",
            "李四",
            "\t13912345678",
            "广西壮族自治区 南宁市 青秀区",
            shop_time(2),
            shop_time(2),
            "羊绒大衣",
            "1",
            "0",
        ],
        [
            '="3498000000000000004"',
            "阳光宝贝",
            "59.00",
            "交易关闭",
            "李四",
            "13912345678",
            "广西壮族自治区 南宁市 青秀区",
            shop_time(40),
            shop_time(40),
            "保温杯",
            "1",
            "59.00",
        ],
        [
            '="3498000000000000005"',
            "奶茶星星",
            "39.00",
            "等待买家付款",
            "",
            "",
            "上海 上海市 浦东新区",
            shop_time(1),
            "",
            "香薰蜡烛",
            "1",
            "0",
        ],
        [
            '="3498000000000000006"',
            "奶茶星星",
            "0",
            "交易关闭",
            "",
            "",
            "上海 上海市 浦东新区",
            shop_time(5),
            "",
            "香薰蜡烛",
            "1",
            "0",
        ],
        # line 8: an amount that is not money
        [
            '="3498000000000000007"',
            "坏金额",
            "12元5角",
            "交易成功",
            "王五",
            "13712345678",
            "江苏省 南京市",
            shop_time(9),
            shop_time(9),
            "围巾",
            "1",
            "0",
        ],
        # line 9: a status the platform does not have
        [
            '="3498000000000000008"',
            "坏状态",
            "10.00",
            "退款中",
            "赵六",
            "13612345678",
            "江苏省 南京市",
            shop_time(9),
            shop_time(9),
            "围巾",
            "1",
            "0",
        ],
        # line 10: a date that does not exist
        [
            '="3498000000000000009"',
            "坏日期",
            "10.00",
            "交易成功",
            "钱七",
            "13512345678",
            "江苏省 南京市",
            "2024-02-30 10:00:00",
            "",
            "围巾",
            "1",
            "0",
        ],
        # line 11: no order number
        [
            '=""',
            "没单号",
            "10.00",
            "交易成功",
            "孙八",
            "13512345679",
            "江苏省 南京市",
            shop_time(9),
            shop_time(9),
            "围巾",
            "1",
            "0",
        ],
        # line 12: a phone that is no mobile number: imported without it
        [
            '="3498000000000000010"',
            "坏手机",
            "10.00",
            "交易成功",
            "周九",
            "12345678901",
            "江苏省 南京市",
            shop_time(9),
            shop_time(9),
            "围巾",
            "1",
            "0",
        ],
        # line 13: an order number that belongs to another customer (registered before the import)
        [
            '="EXISTING-1"',
            "冒名顶替",
            "10.00",
            "交易成功",
            "吴十",
            "13412345678",
            "江苏省 南京市",
            shop_time(9),
            shop_time(9),
            "围巾",
            "1",
            "0",
        ],
    ]


REJECTED = {
    8: "The amount paid “12元5角” is not an amount of money.",
    9: "Unknown order status “退款中”.",
    10: "The creation time “2024-02-30 10:00:00” is not a date and time.",
    11: "The order number is empty.",
    13: "Order EXISTING-1 is already recorded for another customer (老顾客).",
}


def csv_bytes(header, rows, encoding="gbk") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.fixture
def supervisor(login_as):
    return login_as(Role.SUPERVISOR, locale="en")


@pytest.fixture
def taobao_file(tmp_path):
    path = tmp_path / "ExportOrderList.csv"
    path.write_bytes(csv_bytes(TAOBAO_HEADER, taobao_rows()))
    return path


@pytest.fixture
def existing_order(make_customer, make_order):
    someone = make_customer(name="老顾客", platform="taobao", nickname="老顾客")
    make_order(someone, order_no="EXISTING-1")
    return someone.id  # the customer who has order EXISTING-1


def upload(client, path_or_bytes, preset="taobao", owner_id="", filename=None):
    content = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    name = filename or getattr(path_or_bytes, "name", "upload.csv")
    return client.post(
        "/imports/",
        data={"file": (io.BytesIO(content), name), "preset": preset, "owner_id": owner_id},
        content_type="multipart/form-data",
    )


def selected_mapping(page: str) -> dict[str, str]:
    """The mapping form as the browser would submit it: each select's selected option."""
    mapping = {}
    for name, options in re.findall(r'<select [^>]*\bname="(\w+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', options)
        mapping[name] = chosen.group(1) if chosen else ""
    return mapping


def import_file(client, run_jobs, path_or_bytes, preset="taobao", owner_id="", filename=None, change=None):
    """Upload, confirm the suggested mapping (with `change`), run the job; the report fragment."""
    response = upload(client, path_or_bytes, preset, owner_id, filename)
    assert response.status_code == 302, response.get_data(as_text=True)
    mapping_url = response.headers["Location"]
    mapping = selected_mapping(client.get(mapping_url).get_data(as_text=True)) | (change or {})
    response = client.post(mapping_url, data=mapping)
    assert response.status_code == 302, response.get_data(as_text=True)
    run_url = response.headers["Location"]
    run_jobs()
    return client.get(run_url, headers={"HX-Request": "true"})


def counts(page: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'id="count-(\w+)">(\d+)<', page)}


def rejected_rows(page: str) -> dict[int, str]:
    table = page.split('class="striped report-table rejected"', 1)[1] if "report-table rejected" in page else ""
    return {int(line): reason for line, reason in re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", table)}


def note_rows(page: str) -> dict[int, str]:
    """The rows imported with a note: line → note (without the link to the customer)."""
    table = (
        page.split('class="striped report-table notes"', 1)[1].split("</table>")[0]
        if "report-table notes" in page
        else ""
    )
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td></tr>", table)
    return {int(line): re.sub(r" <a href=.*</a>", "", note) for line, note in rows}


def snapshot():
    customers = db.session.execute(select(Customer.__table__).order_by(Customer.id)).all()
    orders = db.session.execute(select(Order.__table__).order_by(Order.id)).all()
    grams = db.session.scalar(select(func.count()).select_from(CustomerGram))
    return customers, orders, grams


# --- who may import ---------------------------------------------------------------------------


def test_sales_get_403_on_every_import_page(client, login_as, make_user, taobao_file):
    supervisor = make_user(Role.SUPERVISOR)
    run = ImportRun(
        filename="x.csv", content=b"x", preset="taobao", started_by_id=supervisor.id, state=ImportState.DONE
    )
    db.session.add(run)
    db.session.commit()
    login_as(Role.SALES)
    for url in (
        "/imports/",
        f"/imports/{run.id}",
        f"/imports/{run.id}/mapping",
        f"/imports/{run.id}/rejected.csv",
        "/imports/templates/generic.csv",
    ):
        assert client.get(url).status_code == 403, url
    assert upload(client, taobao_file).status_code == 403
    assert client.post(f"/imports/{run.id}/mapping", data={}).status_code == 403
    assert client.post(f"/imports/{run.id}/discard").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 1


def test_signed_out_visitors_are_sent_to_the_login(client):
    response = client.get("/imports/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_import_that_does_not_exist_is_404(client, supervisor):
    for url in ("/imports/999", "/imports/999/mapping", "/imports/999/rejected.csv"):
        assert client.get(url).status_code == 404, url
    assert client.post("/imports/999/discard").status_code == 404


# --- the Taobao report, end to end ------------------------------------------------------------


def test_upload_page_offers_the_presets_owners_and_template(client, supervisor, make_user):
    make_user(Role.SALES, display_name="张小红")
    page = client.get("/imports/").get_data(as_text=True)
    for text in (
        "Taobao / Tmall order report",
        "1688 order export",
        "Generic template",
        "Review report",
        "张小红",
        "/imports/templates/generic.csv",
        "Nothing imported yet.",
    ):
        assert text in page
    template = client.get("/imports/templates/generic.csv")
    assert template.mimetype == "text/csv"
    assert template.get_data(as_text=True).startswith("\ufeff订单号,买家昵称,实付金额,订单状态")


def test_gbk_taobao_report_is_mapped_imported_and_reported(
    client, supervisor, make_user, run_jobs, taobao_file, existing_order
):
    supervisor_id = supervisor.id
    owner = make_user(Role.SALES, display_name="张小红").id
    response = upload(client, taobao_file, owner_id=str(owner))
    assert response.status_code == 302
    run = db.session.scalar(select(ImportRun))
    assert (run.state, run.preset, run.filename, run.owner_id) == ("mapping", "taobao", "ExportOrderList.csv", owner)
    assert run.content == taobao_file.read_bytes()

    # The mapping page: the file's columns, the suggestion, and the first rows as they will be read.
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "CSV (GBK)" in page and "12 rows" in page and "owner of new customers: 张小红" in page
    mapping = selected_mapping(page)
    assert mapping == {
        key: str(TAOBAO_HEADER.index(name))
        for key, name in [
            ("order_no", "订单编号"),
            ("nickname", "买家会员名"),
            ("amount", "买家实际支付金额"),
            ("status", "订单状态"),
            ("receiver", "收货人姓名"),
            ("phone", "联系手机"),
            ("address", "收货地址"),
            ("created_at", "订单创建时间"),
            ("paid_at", "订单付款时间"),
            ("items", "宝贝标题"),
            ("item_count", "宝贝总数量"),
            ("refund_amount", "退款金额"),
        ]
    }
    assert "3498000000000000001" in page and "¥199.00" in page and "Shipped" in page and "+86" not in page
    assert "138 1234 5678" in page and "浙江 杭州" in page

    response = client.post(f"/imports/{run.id}/mapping", data=mapping)
    assert response.headers["Location"] == f"/imports/{run.id}"
    db.session.expire_all()
    assert (run.state, run.job_id) == ("queued", f"import-{run.id}")
    waiting = client.get(f"/imports/{run.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in waiting and "Waiting for a worker" in waiting

    run_jobs()
    report = client.get(f"/imports/{run.id}", headers={"HX-Request": "true"})
    page = report.get_data(as_text=True)
    assert report.status_code == 200
    assert "hx-trigger" not in page  # polling stops with the final report
    assert "<html" not in page  # the fragment alone
    assert "Import finished: 12 rows read." in page
    assert counts(page) == {
        "created": 7,
        "updated": 0,
        "skipped": 0,
        "rejected": 5,
        "customers": 4,
        "phones_dropped": 1,
    }
    assert rejected_rows(page) == REJECTED
    assert note_rows(page) == {12: "The phone number “12345678901” is not valid: kept without it (never texted)."}

    # What was written: four new customers, seven orders; nothing for the rejected rows.
    customers = {c.nickname: c for c in db.session.scalars(select(Customer).where(Customer.source == Source.IMPORT))}
    assert set(customers) == {"小猫爱吃鱼", "阳光宝贝", "奶茶星星", "坏手机"}
    assert customers["坏手机"].phone is None
    cat = customers["小猫爱吃鱼"]
    assert (cat.name, cat.platform, cat.phone, cat.province, cat.city, cat.owner_id) == (
        "张三",
        "taobao",
        "+8613812345678",
        "浙江",
        "杭州",
        owner,
    )
    assert (customers["阳光宝贝"].province, customers["奶茶星星"].name, customers["奶茶星星"].phone) == (
        "广西",
        "奶茶星星",
        None,
    )
    orders = {o.order_no: o for o in db.session.scalars(select(Order))}
    assert len(orders) == 8  # seven imported and the one that was there
    assert [orders[f"349800000000000000{i}"].status for i in range(1, 7)] == [
        "completed",
        "shipped",
        "paid",
        "refunded",
        "unpaid",
        "closed",
    ]
    first = orders["3498000000000000001"]
    assert (first.amount, first.item_count, first.items, first.customer_id) == (
        Decimal("199.00"),
        1,
        "真丝围巾",
        cat.id,
    )
    local = list(csv.reader(io.StringIO(taobao_file.read_bytes().decode("gbk"))))[1][7]  # as written in the file
    assert first.created_at == shop_time_to_utc(datetime.fromisoformat(local))
    assert orders["3498000000000000004"].refund_amount == Decimal("59.00")
    assert orders["3498000000000000005"].paid_at is None
    assert orders["EXISTING-1"].customer_id == existing_order
    assert not db.session.scalar(
        select(func.count()).select_from(Customer).where(Customer.nickname.in_(["坏金额", "冒名顶替"]))
    )

    # The run is the record: counts, every rejected row, the audit entry; the segments were recomputed.
    run = db.session.get(ImportRun, run.id)
    assert (run.state, run.total_rows, run.created, run.updated, run.skipped) == ("done", 12, 7, 0, 0)
    assert [(r["line"], r["reason"]) for r in run.rejected] == list(REJECTED.items())
    assert run.finished_at is not None
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "import.finished"))
    assert (audit.subject, audit.actor_id) == (f"import:{run.id}", supervisor_id)
    assert audit.after == {
        "total": 12,
        "created": 7,
        "updated": 0,
        "skipped": 0,
        "older": 0,
        "line_items": 0,
        "rejected": 5,
        "customers_created": 4,
        "joined_by_phone": 0,
        "phones_dropped": 1,
    }
    cat = db.session.get(Customer, cat.id)
    assert (cat.layer, cat.paid_order_count, cat.total_spend) == ("new", 2, Decimal("288.50"))

    # Their search text and grams are what app.search would write; the registry's search
    # finds them, Chinese substrings included.
    for customer in customers.values():
        assert customer.search_text == text_for(customer.name, customer.nickname, customer.phone)
        grams = set(db.session.scalars(select(CustomerGram.gram).where(CustomerGram.customer_id == customer.id)))
        assert grams == grams_of(customer.search_text)
    assert "小猫爱吃鱼" in client.get("/customers/?q=爱吃").get_data(as_text=True)
    assert "阳光宝贝" in client.get("/customers/?q=1391234").get_data(as_text=True)

    # The full page shows the same report; the index lists the run with its counts.
    assert "Rejected rows" in client.get(f"/imports/{run.id}").get_data(as_text=True)
    index = client.get("/imports/").get_data(as_text=True)
    assert "ExportOrderList.csv" in index and "Done" in index
    rejected_csv = client.get(f"/imports/{run.id}/rejected.csv").get_data(as_text=True)
    assert rejected_csv.splitlines()[1] == "8,The amount paid “12元5角” is not an amount of money."


def test_importing_the_same_file_again_changes_nothing(client, supervisor, run_jobs, taobao_file, existing_order):
    first = import_file(client, run_jobs, taobao_file).get_data(as_text=True)
    assert counts(first)["created"] == 7
    before = snapshot()

    second = import_file(client, run_jobs, taobao_file).get_data(as_text=True)
    assert counts(second) == {"created": 0, "updated": 0, "skipped": 7, "rejected": 5, "phones_dropped": 1}
    assert "Skipped (unchanged)" in second
    assert rejected_rows(second) == REJECTED
    assert snapshot() == before


def test_a_newer_report_updates_orders_and_fills_what_customers_lack(
    client, supervisor, run_jobs, tmp_path, make_customer
):
    known_id = make_customer(name="老客户", platform="taobao", nickname="老客户", phone=None, province=None).id
    rows = [
        [
            '="1"',
            "老客户",
            "50",
            "买家已付款，等待卖家发货",
            "王五",
            "13712345678",
            "江苏省 南京市",
            shop_time(3),
            shop_time(3),
            "围巾",
            "1",
            "0",
        ],
        [
            '="2"',
            "小猫",
            "60",
            "卖家已发货，等待买家确认",
            "张三",
            "13812345678",
            "浙江省 杭州市",
            shop_time(2),
            shop_time(2),
            "围巾",
            "1",
            "0",
        ],
    ]
    path = tmp_path / "week1.csv"
    path.write_bytes(csv_bytes(TAOBAO_HEADER, rows))
    assert counts(import_file(client, run_jobs, path).get_data(as_text=True)) == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "rejected": 0,
        "customers": 1,
    }
    known = db.session.get(Customer, known_id)
    # A customer registered by hand keeps their name; what they lacked is filled in.
    assert (known.name, known.phone, known.province, known.city, known.source) == (
        "老客户",
        "+8613712345678",
        "江苏",
        "南京",
        "inquiry",
    )
    assert "老客户" in client.get("/customers/?q=1371234").get_data(as_text=True)

    rows[1][3] = "交易成功"
    path.write_bytes(csv_bytes(TAOBAO_HEADER, rows))
    assert counts(import_file(client, run_jobs, path).get_data(as_text=True)) == {
        "created": 0,
        "updated": 1,
        "skipped": 1,
        "rejected": 0,
    }
    assert db.session.scalar(select(Order.status).where(Order.order_no == "2")) == "completed"


def test_the_user_can_change_the_mapping(client, supervisor, run_jobs, tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(
        csv_bytes(
            TAOBAO_HEADER,
            [['="1"', "小猫", "50", "交易成功", "王五", "", "江苏省 南京市", shop_time(3), "", "", "", ""]],
        )
    )
    # Not using the receiver as the customer's name: the nickname is their name.
    page = import_file(client, run_jobs, path, change={"receiver": ""}).get_data(as_text=True)
    assert counts(page)["created"] == 1
    assert db.session.scalar(select(Customer.name).where(Customer.nickname == "小猫")) == "小猫"


def test_a_required_field_left_unmapped_is_shown_next_to_it(client, supervisor, taobao_file):
    mapping_url = upload(client, taobao_file).headers["Location"]
    mapping = selected_mapping(client.get(mapping_url).get_data(as_text=True)) | {"order_no": ""}
    response = client.post(mapping_url, data=mapping)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'<select aria-describedby="order_no-error" aria-invalid="true" id="order_no"', page)
    assert 'id="order_no-error">Choose the column that holds this.' in page
    assert db.session.scalar(select(ImportRun.state)) == "mapping"


def test_the_preview_follows_the_selects(client, supervisor, taobao_file):
    mapping_url = upload(client, taobao_file).headers["Location"]
    mapping = selected_mapping(client.get(mapping_url).get_data(as_text=True))
    # Reading the amount from the item-count column: the preview shows it, as a fragment.
    response = client.get(
        mapping_url, query_string=mapping | {"amount": mapping["item_count"]}, headers={"HX-Request": "true"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and page.lstrip().startswith('<section id="preview"')
    assert "¥2.00" in page and "¥199.00" not in page
    # Status read from the address column: every row says why it would be rejected.
    page = client.get(
        mapping_url, query_string=mapping | {"status": mapping["address"]}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Will be rejected: Unknown order status “浙江省 杭州市 西湖区 文三路100号”." in page


def test_a_started_import_cannot_be_started_twice(client, supervisor, taobao_file):
    mapping_url = upload(client, taobao_file).headers["Location"]
    mapping = selected_mapping(client.get(mapping_url).get_data(as_text=True))
    client.post(mapping_url, data=mapping)
    run_id = db.session.scalar(select(ImportRun.id))
    again = client.post(mapping_url, data=mapping)  # a second click, or the back button
    assert again.status_code == 302 and again.headers["Location"] == f"/imports/{run_id}"
    assert get_queue().count == 1


def test_discarding_an_upload(client, supervisor, taobao_file):
    upload(client, taobao_file)
    run_id = db.session.scalar(select(ImportRun.id))
    response = client.post(f"/imports/{run_id}/discard")
    assert response.headers["Location"] == "/imports/"
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_progress_is_read_from_the_job_while_it_runs(client, supervisor, taobao_file):
    mapping_url = upload(client, taobao_file).headers["Location"]
    client.post(mapping_url, data=selected_mapping(client.get(mapping_url).get_data(as_text=True)))
    run = db.session.scalar(select(ImportRun))
    job = Job.fetch(run.job_id, connection=get_redis())
    job.meta["progress"] = {"done": 4000, "total": 10000}
    job.save_meta()
    page = client.get(f"/imports/{run.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Importing… 4000 of 10000 rows" in page
    assert '<progress value="4000" max="10000"' in page
    assert f'hx-get="/imports/{run.id}" hx-trigger="every 1s"' in page

    job.delete()  # the job vanished (Redis lost it) before the run finished: say so, stop polling
    page = client.get(f"/imports/{run.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "stopped before it finished" in page and "hx-trigger" not in page


def test_a_crash_marks_the_run_failed_with_its_error(client, supervisor, run_jobs, taobao_file, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("app.imports.jobs.import_table", crash)
    page = import_file(client, run_jobs, taobao_file).get_data(as_text=True)
    assert "The import failed: RuntimeError: disk on fire" in page and "hx-trigger" not in page
    run = db.session.scalar(select(ImportRun))
    assert (run.state, run.error) == ("failed", "RuntimeError: disk on fire")
    assert db.session.scalar(select(AuditEntry.action)) == "import.failed"


def test_a_row_the_database_refuses_is_rejected_alone(
    client, supervisor, run_jobs, tmp_path, make_customer, monkeypatch
):
    """Another user registers a nickname between the batch's lookup and its insert."""
    make_customer(name="抢先登记", platform="taobao", nickname="抢先登记")
    rows = [
        ['="1"', "小猫", "50", "交易成功", "", "", "", shop_time(3), "", "", "", ""],
        ['="2"', "抢先登记", "60", "交易成功", "", "", "", shop_time(3), "", "", "", ""],
        ['="3"', "阳光", "70", "交易成功", "", "", "", shop_time(3), "", "", "", ""],
    ]
    path = tmp_path / "race.csv"
    path.write_bytes(csv_bytes(TAOBAO_HEADER, rows))
    monkeypatch.setattr(importer.OrderRows, "_customers", lambda self, connection, rows: {})
    page = import_file(client, run_jobs, path).get_data(as_text=True)
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "rejected": 1, "customers": 2}
    assert list(rejected_rows(page)) == [3] and "could not be saved" in rejected_rows(page)[3]
    assert sorted(db.session.scalars(select(Order.order_no))) == ["1", "3"]
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.nickname == "抢先登记")) == 1


# --- other formats and presets ----------------------------------------------------------------


def test_xlsx_upload(client, supervisor, run_jobs, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["淘宝订单报表"])  # a title line above the header
    sheet.append(TAOBAO_HEADER)
    created = to_shop_time(utcnow() - timedelta(days=4)).replace(tzinfo=None, microsecond=0)
    sheet.append(
        [
            "3498000000000000101",
            "小猫",
            99.9,
            "交易成功",
            "张三",
            "13812345678",
            "浙江省 杭州市",
            created,
            created,
            "围巾",
            2,
            0,
        ]
    )
    sheet.append(
        [
            "3498000000000000102",
            "小猫",
            "bad",
            "交易成功",
            "张三",
            "13812345678",
            "浙江省 杭州市",
            created,
            created,
            "围巾",
            1,
            0,
        ]
    )
    sheet.append([3.49800000000001e18, "阳光", 10, "交易成功", "", "", "", created, "", "", 1, 0])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)

    page = import_file(client, run_jobs, path).get_data(as_text=True)
    assert counts(page) == {"created": 1, "updated": 0, "skipped": 0, "rejected": 2, "customers": 1}
    assert rejected_rows(page)[4] == "The amount paid “bad” is not an amount of money."
    assert "lost its last digits" in rejected_rows(page)[5]
    order = db.session.scalar(select(Order))
    assert (order.order_no, order.amount, order.item_count) == ("3498000000000000101", Decimal("99.90"), 2)
    assert order.created_at == shop_time_to_utc(created)


def test_utf8_generic_file_with_platforms(client, supervisor, run_jobs):
    header = ["订单号", "平台", "买家昵称", "实付金额", "订单状态", "手机", "地址", "下单时间"]
    rows = [
        ["W1", "京东", "小猫", "10", "已完成", "13812345678", "浙江", shop_time(2)],
        ["W2", "微信", "小猫", "20", "已付款", "", "", shop_time(1)],
        ["W3", "eBay", "小猫", "20", "已付款", "", "", shop_time(1)],
    ]
    page = import_file(
        client, run_jobs, b"\xef\xbb\xbf" + csv_bytes(header, rows, "utf-8"), preset="generic", filename="shop.csv"
    ).get_data(as_text=True)
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "rejected": 1, "customers": 2}
    assert rejected_rows(page) == {4: "Unknown platform “eBay”."}
    assert sorted(db.session.scalars(select(Customer.platform))) == ["jd", "wechat"]


def test_review_report_updates_order_reviews(client, supervisor, run_jobs, make_customer, make_order):
    buyer = make_customer(platform="taobao", nickname="小猫")
    make_order(buyer, order_no="R1", days_ago=20)
    make_order(buyer, order_no="R2", days_ago=5)
    other = make_customer(platform="taobao", nickname="阳光")
    make_order(other, order_no="R3", days_ago=5, review="bad")
    buyer_id, other_id = buyer.id, other.id
    header = ["订单编号", "评价"]
    rows = [["'R1", "好评"], ["R2", "差评"], ["R3", "good"], ["R9", "好评"], ["R1", "五星"]]
    content = csv_bytes(header, rows)

    page = import_file(client, run_jobs, content, preset="reviews", filename="reviews.csv").get_data(as_text=True)
    assert counts(page) == {"created": 0, "updated": 3, "skipped": 0, "rejected": 2}
    assert rejected_rows(page) == {
        5: "There is no order R9: import the order report first.",
        6: "Unknown rating “五星”: use 好评, 中评 or 差评 (good, neutral, bad).",
    }
    reviews = dict(db.session.execute(select(Order.order_no, Order.review)).all())
    assert reviews == {"R1": "good", "R2": "bad", "R3": "good"}
    buyer, other = db.session.get(Customer, buyer_id), db.session.get(Customer, other_id)
    # The latest review is the most recent order's; the recompute flags the bad reviewer.
    assert (buyer.latest_review, buyer.flag_bad_reviewer) == ("bad", True)
    assert (other.latest_review, other.flag_bad_reviewer) == ("good", False)

    again = import_file(client, run_jobs, content, preset="reviews", filename="reviews.csv").get_data(as_text=True)
    assert counts(again) == {"created": 0, "updated": 0, "skipped": 3, "rejected": 2}


def test_imports_one_after_another_both_recompute_segments(client, supervisor, run_jobs, tmp_path):
    """RQ keeps a finished recompute's id for a while; the second import must still get one."""
    path = tmp_path / "a.csv"
    path.write_bytes(
        csv_bytes(TAOBAO_HEADER, [['="1"', "小猫", "50", "交易成功", "", "", "", shop_time(3), "", "", "", ""]])
    )
    import_file(client, run_jobs, path)
    assert db.session.scalar(select(Customer.layer).where(Customer.nickname == "小猫")) == "new"
    path.write_bytes(
        csv_bytes(TAOBAO_HEADER, [['="2"', "阳光", "50", "交易成功", "", "", "", shop_time(3), "", "", "", ""]])
    )
    import_file(client, run_jobs, path)
    assert db.session.scalar(select(Customer.layer).where(Customer.nickname == "阳光")) == "new"


# --- files that are not tables ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content, preset, message",
    [
        (bytes(range(256)) * 40, "taobao", "This file is not a table"),
        (b"", "taobao", "The file is empty."),
        ("随便写点什么\n再来一行\n".encode(), "taobao", "No table found in the file"),
        ("订单编号,买家会员名\n".encode("gbk"), "taobao", "no rows of data"),
        (
            "名字,年龄\n张三,18\n".encode("gbk"),
            "taobao",
            "Columns missing for a Taobao / Tmall order report: Order number (订单编号)",
        ),
        (
            "订单编号,评价\n1,好评\n".encode("gbk"),
            "taobao",
            "The file looks like a Review report (order number + rating): choose that kind of file.",
        ),
    ],
)
def test_a_file_that_is_not_a_usable_table_is_refused_next_to_the_file_field(
    client, supervisor, content, preset, message
):
    response = upload(client, content, preset=preset, filename="report.csv")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(r'<small class="field-error" id="file-error">(.*?)</small>', page, re.S)
    assert error and message in error.group(1), page
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_no_file_chosen(client, supervisor):
    response = client.post("/imports/", data={"preset": "taobao", "owner_id": ""}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert 'id="file-error">Choose the file to import.' in response.get_data(as_text=True)


def xlsx_bytes() -> bytes:
    workbook = Workbook()
    workbook.active.append(TAOBAO_HEADER)
    workbook.active.append(taobao_rows()[0])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def with_parts(content: bytes, parts: dict[str, bytes | None]) -> bytes:
    """The zip `content` with some parts replaced (None: left out)."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = parts[name] if name in parts else source.read(name)
            if data is not None:
                target.writestr(name, data)
    return out.getvalue()


def with_damaged_part(content: bytes, name: str) -> bytes:
    """The zip with bytes in the middle of `name`'s compressed data overwritten."""
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(name)
    name_length, extra_length = struct.unpack_from("<HH", content, info.header_offset + 26)
    middle = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    return content[:middle] + b"\xff" * 8 + content[middle + 8 :]


def claiming_size(content: bytes, name: str, size: int) -> bytes:
    """The zip with `name`'s unpacked size in its directory set to `size`, as a zip bomb's says."""
    data = bytearray(content)
    entry = data.index(b"PK\x01\x02")  # the central directory's first entry
    while True:
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46 : entry + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, entry + 24, size)
            return bytes(data)
        entry = data.index(b"PK\x01\x02", entry + 46)


def file_error(page: str) -> str | None:
    match = re.search(r'<small class="field-error" id="file-error">(.*?)</small>', page, re.S)
    return match.group(1) if match else None


NOT_A_WORKBOOK = "This file is not an Excel workbook (.xlsx) that can be read."


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda x: with_parts(x, {"[Content_Types].xml": b"<Types><not xml"}), NOT_A_WORKBOOK),
        (lambda x: with_parts(x, {"xl/workbook.xml": b"\xef\xbb\xbf<?xml version="}), NOT_A_WORKBOOK),
        (lambda x: with_parts(x, {"xl/workbook.xml": None}), NOT_A_WORKBOOK),
        (lambda x: with_parts(x, {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"}), NOT_A_WORKBOOK),
        (lambda x: with_damaged_part(x, "xl/workbook.xml"), NOT_A_WORKBOOK),
        (lambda x: x[: len(x) // 2], NOT_A_WORKBOOK),
        (
            lambda x: claiming_size(x, "xl/worksheets/sheet1.xml", XLSX_MAX_UNPACKED + 1),
            "This workbook is too large once unpacked: save it as CSV, or split it.",
        ),
    ],
    ids=["content types not xml", "workbook not xml", "no workbook", "sheet cut short", "damaged", "cut", "bomb"],
)
def test_a_damaged_workbook_is_refused_next_to_the_file_field(client, supervisor, damage, message):
    response = upload(client, damage(xlsx_bytes()), filename="orders.xlsx")
    assert response.status_code == 422
    assert file_error(response.get_data(as_text=True)) == message
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_workbook_damaged_far_down_is_refused_at_upload(client, supervisor):
    workbook = Workbook()
    workbook.active.append(TAOBAO_HEADER)
    for _ in range(30):
        workbook.active.append(taobao_rows()[0])
    out = io.BytesIO()
    workbook.save(out)
    sheet = zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")
    cut = with_parts(out.getvalue(), {"xl/worksheets/sheet1.xml": sheet[: sheet.index(b'<row r="25"') + 12]})
    response = upload(client, cut, filename="orders.xlsx")
    assert response.status_code == 422
    assert file_error(response.get_data(as_text=True)) == NOT_A_WORKBOOK
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_csv_damaged_far_down_is_refused_at_upload(client, supervisor):
    rows = taobao_rows()[:1] * 30 + [["x" * 200_000]]  # longer than a CSV field may be
    response = upload(client, csv_bytes(TAOBAO_HEADER, rows, encoding="utf-8"), filename="orders.csv")
    assert response.status_code == 422
    message = "This file is not a table: upload the CSV or XLSX file exported from the platform."
    assert file_error(response.get_data(as_text=True)) == message
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_csv_with_a_nul_character_far_down_is_refused(client, supervisor):
    rows = taobao_rows()[:1] * 2000  # more than the 64 KB sampled for the encoding
    content = csv_bytes(TAOBAO_HEADER, rows) + "\x00".encode("gbk") + csv_bytes([], rows[:1])
    assert content.index(b"\x00") > 64 * 1024
    response = upload(client, content, filename="orders.csv")
    assert response.status_code == 422
    message = "This file is not a table: upload the CSV or XLSX file exported from the platform."
    assert file_error(response.get_data(as_text=True)) == message
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_file_over_the_size_limit_is_refused_next_to_the_file_field(client, app, monkeypatch, supervisor):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = upload(client, b"x" * (1024 * 1024 + 1), filename="orders.csv")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert file_error(page) == "The file is larger than the limit of 1 MB."
    assert 'name="preset"' in page  # the upload form, to choose a smaller file
    assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


def test_a_file_over_the_size_limit_from_sales_shows_no_import_page(client, app, monkeypatch, login_as):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    login_as(Role.SALES)
    response = upload(client, b"x" * (1024 * 1024 + 1), filename="orders.csv")
    assert response.status_code == 413
    assert 'name="preset"' not in response.get_data(as_text=True)


def test_a_time_in_year_1_is_a_rejected_row_not_an_error(client, supervisor, run_jobs):
    row = ['="1"', "小猫", "50", "交易成功", "", "", "", "0001-01-01 00:00:00", "", "", "", ""]
    response = upload(client, csv_bytes(TAOBAO_HEADER, [row]))
    assert response.status_code == 302
    reason = "The time “0001-01-01 00:00:00” is not between the years 1900 and 2100."
    assert reason in client.get(response.headers["Location"]).get_data(as_text=True)  # the preview
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, [row])).get_data(as_text=True)
    assert rejected_rows(page) == {2: reason}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_1688_export(client, supervisor, run_jobs):
    header = [
        "订单编号",
        "买家公司名",
        "买家会员名",
        "货品总价(元)",
        "运费(元)",
        "实付款(元)",
        "订单状态",
        "订单创建时间",
        "订单付款时间",
        "收货人姓名",
        "收货地址",
        "联系手机",
        "货品标题",
        "数量",
        "退款金额(元)",
    ]
    rows = [
        [
            "A88001",
            "义乌小商品",
            "yiwu_shop",
            "100",
            "10",
            "110.00",
            "等待买家确认收货",
            shop_time(6),
            shop_time(6),
            "陈静",
            "浙江省 金华市 义乌市",
            "13812345678",
            "发夹",
            "200",
            "0",
        ],
        [
            "A88002",
            "义乌小商品",
            "yiwu_shop",
            "50",
            "0",
            "50.00",
            "交易关闭",
            shop_time(4),
            shop_time(4),
            "陈静",
            "浙江省 金华市 义乌市",
            "13812345678",
            "发夹",
            "100",
            "50",
        ],
    ]
    page = import_file(client, run_jobs, csv_bytes(header, rows), preset="1688", filename="1688.csv").get_data(
        as_text=True
    )
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "rejected": 0, "customers": 1}
    customer = db.session.scalar(select(Customer))
    assert (customer.platform, customer.nickname, customer.name, customer.city) == ("1688", "yiwu_shop", "陈静", "金华")
    assert dict(db.session.execute(select(Order.order_no, Order.status)).all()) == {
        "A88001": "shipped",
        "A88002": "refunded",
    }


def test_a_long_list_of_rejected_rows_is_cut_on_the_page_but_not_in_the_csv(client, supervisor, run_jobs):
    rows = [[f'="{i}"', "小猫", "免费", "交易成功", "", "", "", shop_time(3), "", "", "", ""] for i in range(205)]
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, rows), filename="bad.csv").get_data(as_text=True)
    assert counts(page)["rejected"] == 205
    assert len(rejected_rows(page)) == 200
    assert "The first 200 of 205 rejected rows are shown; the CSV has them all." in page
    run_id = db.session.scalar(select(ImportRun.id))
    assert len(client.get(f"/imports/{run_id}/rejected.csv").get_data(as_text=True).splitlines()) == 206
    assert "bad.csv" in client.get("/imports/").get_data(as_text=True)


# --- one customer per buyer -------------------------------------------------------------------


def taobao_row(order_no, nickname, phone="", status="交易成功", amount="100.00", refund="0", days=3, items="围巾"):
    return [
        f'="{order_no}"',
        nickname,
        amount,
        status,
        "",
        phone,
        "",
        shop_time(days),
        shop_time(days),
        items,
        "1",
        refund,
    ]


def accounts_of(customer_id: int) -> list[tuple[str, str]]:
    query = select(CustomerAccount.platform, CustomerAccount.nickname).where(CustomerAccount.customer_id == customer_id)
    return sorted(db.session.execute(query).all())


def test_a_buyer_registered_by_hand_joins_by_phone_instead_of_becoming_a_second_customer(
    client, supervisor, run_jobs, make_customer
):
    her = make_customer(name="王芳", phone="+8613812345678", source=Source.INQUIRY).id
    content = csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", "13812345678"), taobao_row(2, "小猫", days=1)])

    page = import_file(client, run_jobs, content, filename="taobao.csv").get_data(as_text=True)
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "rejected": 0, "joined": 1}
    assert note_rows(page) == {
        2: "Joined the customer 王芳 by the phone number 138 1234 5678 (Taobao account 小猫 added)."
    }
    assert f'<a href="/customers/{her}">Open the customer</a>' in page
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    assert set(db.session.scalars(select(Order.customer_id))) == {her}
    assert accounts_of(her) == [("taobao", "小猫")]
    customer = db.session.get(Customer, her)
    # Registered by hand without a nickname: the imported account becomes her first one.
    assert (customer.name, customer.platform, customer.nickname, customer.source) == (
        "王芳",
        "taobao",
        "小猫",
        "inquiry",
    )
    assert f'href="/customers/{her}"' in client.get("/customers/?q=小猫").get_data(as_text=True)

    # The account is hers now: the same file again finds her by it, says nothing more, changes nothing.
    before = snapshot()
    again = import_file(client, run_jobs, content, filename="taobao.csv").get_data(as_text=True)
    assert counts(again) == {"created": 0, "updated": 0, "skipped": 2, "rejected": 0}
    assert note_rows(again) == {}
    assert snapshot() == before


def test_a_1688_buyer_ordering_on_taobao_is_one_customer_with_two_accounts(client, supervisor, run_jobs):
    header_1688 = ["订单编号", "买家会员名", "实付款(元)", "订单状态", "订单创建时间", "收货人姓名", "联系手机"]
    import_file(
        client,
        run_jobs,
        csv_bytes(header_1688, [["A1", "yiwu_shop", "500", "交易成功", shop_time(9), "陈静", "13812345678"]]),
        preset="1688",
        filename="1688.csv",
    )
    customer_id = db.session.scalar(select(Customer.id))

    page = import_file(
        client, run_jobs, csv_bytes(TAOBAO_HEADER, [taobao_row("T1", "陈小静", "13812345678")]), filename="tb.csv"
    ).get_data(as_text=True)
    assert counts(page) == {"created": 1, "updated": 0, "skipped": 0, "rejected": 0, "joined": 1}
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
    assert accounts_of(customer_id) == [("1688", "yiwu_shop"), ("taobao", "陈小静")]
    customer = db.session.get(Customer, customer_id)
    assert (customer.platform, customer.nickname, customer.paid_order_count) == ("1688", "yiwu_shop", 2)
    # Both nicknames find her; her page lists both accounts.
    for query in ("yiwu", "陈小静"):
        assert f'href="/customers/{customer_id}"' in client.get(f"/customers/?q={query}").get_data(as_text=True)
    accounts = re.search(r'<dd id="accounts">(.*?)</dd>', client.get(f"/customers/{customer_id}").text, re.S)
    assert accounts.group(1) == "1688 · yiwu_shop<br>Taobao · 陈小静"


def test_two_new_nicknames_with_one_phone_in_a_file_are_one_customer(client, supervisor, run_jobs):
    rows = [taobao_row(1, "小猫", "13812345678"), taobao_row(2, "小猫的号", "13812345678")]
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, rows)).get_data(as_text=True)
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "rejected": 0, "customers": 1, "joined": 1}
    customer_id = db.session.scalar(select(Customer.id))
    assert accounts_of(customer_id) == [("taobao", "小猫"), ("taobao", "小猫的号")]
    assert re.search(
        rf'3: Joined the customer 小猫 .*<a href="/customers/{customer_id}">', page.replace("<td>3</td><td>", "3: ")
    )


def test_of_two_customers_with_the_phone_the_oldest_is_joined_and_the_report_says_so(
    client, supervisor, run_jobs, make_customer
):
    oldest = make_customer(name="老记录", phone="+8613812345678", created_at=utcnow() - timedelta(days=30)).id
    make_customer(name="新记录", phone="+8613812345678")
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", "13812345678")]))
    assert note_rows(page.get_data(as_text=True)) == {
        2: "Joined the customer 老记录 by the phone number 138 1234 5678 (Taobao account 小猫 added); "
        "2 customers have this number: the oldest record was chosen."
    }
    assert db.session.scalar(select(Order.customer_id)) == oldest


def test_a_taken_nickname_wins_over_the_phone(client, supervisor, run_jobs, make_customer):
    """Matching is by the account first: a known buyer stays themself whatever phone the row has."""
    cat = make_customer(name="小猫", platform="taobao", nickname="小猫", phone="+8613912345678").id
    make_customer(name="别人", phone="+8613812345678")
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", "13812345678")]))
    assert counts(page.get_data(as_text=True)) == {"created": 1, "updated": 0, "skipped": 0, "rejected": 0}
    assert db.session.scalar(select(Order.customer_id)) == cat


# --- statuses only move forward; refunds ------------------------------------------------------


def test_an_older_report_never_moves_an_order_back(client, supervisor, run_jobs, tmp_path):
    newer = tmp_path / "newer.csv"
    newer.write_bytes(csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", status="交易成功"), taobao_row(2, "小猫")]))
    older = tmp_path / "older.csv"
    older.write_bytes(
        csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", status="等待买家付款", amount="0"), taobao_row(2, "小猫")])
    )
    import_file(client, run_jobs, newer)
    customer_id = db.session.scalar(select(Customer.id))
    assert db.session.get(Customer, customer_id).total_spend == Decimal("200.00")

    page = import_file(client, run_jobs, older).get_data(as_text=True)
    assert counts(page) == {"created": 0, "updated": 0, "skipped": 1, "older": 1, "rejected": 0}
    assert "Older than what we have (left as they are)" in page
    order = db.session.scalar(select(Order).where(Order.order_no == "1"))
    assert (order.status, order.amount, order.paid_at is not None) == ("completed", Decimal("100.00"), True)
    assert db.session.get(Customer, customer_id).total_spend == Decimal("200.00")


def test_a_refund_after_delivery_moves_a_completed_order_on(client, supervisor, run_jobs, tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", amount="300.00")]))
    import_file(client, run_jobs, path)
    # Refunded in full after 交易成功: Taobao still says 交易成功.
    path.write_bytes(csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫", amount="300.00", refund="300.00")]))
    page = import_file(client, run_jobs, path).get_data(as_text=True)
    assert counts(page) == {"created": 0, "updated": 1, "skipped": 0, "rejected": 0}
    order = db.session.scalar(select(Order))
    assert (order.status, order.refund_amount) == ("refunded", Decimal("300.00"))
    customer = db.session.scalar(select(Customer))
    assert (customer.total_spend, customer.paid_order_count, customer.layer) == (Decimal("0.00"), 0, "prospect")
    timeline = client.get(f"/customers/{customer.id}").text
    assert "¥300.00 · Refunded · 围巾" in timeline  # refunded in full: said once


def test_a_partial_refund_is_taken_off_the_spend(client, supervisor, run_jobs):
    rows = [taobao_row(1, "小猫", amount="300.00", refund="100.00"), taobao_row(2, "小猫", amount="50.00")]
    import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, rows))
    customer = db.session.scalar(select(Customer))
    assert db.session.scalar(select(Order.status).where(Order.order_no == "1")) == "completed"
    assert (customer.total_spend, customer.paid_order_count) == (Decimal("250.00"), 2)
    assert "¥100.00 refunded" in client.get(f"/customers/{customer.id}").text


# --- rows that are not quite right -------------------------------------------------------------


def test_a_short_row_says_how_short_it_is(client, supervisor, run_jobs):
    content = csv_bytes(TAOBAO_HEADER, [taobao_row(1, "小猫"), ['="2"', "阳光"]])
    page = import_file(client, run_jobs, content).get_data(as_text=True)
    assert counts(page)["rejected"] == 1
    assert rejected_rows(page) == {3: "The row has 2 columns, the header has 12."}


def test_the_preview_says_an_invalid_phone_is_kept_without_it(client, supervisor):
    mapping_url = upload(client, csv_bytes(TAOBAO_HEADER, [taobao_row(1, "新客", "12345678901")])).headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "“12345678901”: not valid, kept without it" in page and "Will be rejected" not in page


def test_an_invalid_phone_keeps_the_order_and_the_customer_without_it(client, supervisor, run_jobs, make_customer):
    known = make_customer(name="老客户", platform="taobao", nickname="老客户", phone="+8613912345678").id
    rows = [taobao_row(1, "新客", "12345678901"), taobao_row(2, "老客户", "1381234")]
    page = import_file(client, run_jobs, csv_bytes(TAOBAO_HEADER, rows)).get_data(as_text=True)
    assert counts(page) == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "rejected": 0,
        "customers": 1,
        "phones_dropped": 2,
    }
    assert note_rows(page) == {
        2: "The phone number “12345678901” is not valid: kept without it (never texted).",
        3: "The phone number “1381234” is not valid: kept without it (never texted).",
    }
    new = db.session.scalar(select(Customer).where(Customer.nickname == "新客"))
    assert new.phone is None and db.session.get(Customer, known).phone == "+8613912345678"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 2
    run_id = db.session.scalar(select(ImportRun.id))
    notes_csv = client.get(f"/imports/{run_id}/notes.csv").get_data(as_text=True)
    assert notes_csv.splitlines()[1] == "2,The phone number “12345678901” is not valid: kept without it (never texted)."


# --- an order's line items ----------------------------------------------------------------------

HEADER_1688 = ["订单编号", "买家会员名", "实付款(元)", "订单状态", "订单创建时间", "货品标题", "数量", "退款金额(元)"]


def test_the_line_items_of_an_order_make_one_order_and_a_second_import_changes_nothing(
    client, supervisor, run_jobs, monkeypatch
):
    """1688 writes a row per line item; the order's own columns repeat on each, or only on the first."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)  # the order's rows straddle a batch's end
    created = shop_time(5)
    rows = [
        ["A1", "yiwu_shop", "110.00", "交易成功", created, "发夹", "200", "0"],
        ["A1", "yiwu_shop", "110.00", "交易成功", created, "发圈", "100", "0"],
        ["A1", "yiwu_shop", "", "交易成功", created, "发夹", "50", ""],
        ["A2", "yiwu_shop", "60.00", "等待买家确认收货", created, "头绳", "10", "0"],
    ]
    content = csv_bytes(HEADER_1688, rows)
    page = import_file(client, run_jobs, content, preset="1688", filename="1688.csv").get_data(as_text=True)
    assert counts(page) == {"created": 2, "updated": 0, "skipped": 0, "line_items": 2, "rejected": 0, "customers": 1}
    assert "Further line items of those orders" in page
    order = db.session.scalar(select(Order).where(Order.order_no == "A1"))
    assert (order.amount, order.items, order.item_count) == (Decimal("110.00"), "发夹; 发圈", 350)
    before = snapshot()

    again = import_file(client, run_jobs, content, preset="1688", filename="1688.csv").get_data(as_text=True)
    assert counts(again) == {"created": 0, "updated": 0, "skipped": 4, "rejected": 0}
    assert snapshot() == before


def test_a_line_of_an_order_naming_another_buyer_is_rejected(client, supervisor, run_jobs):
    created = shop_time(5)
    rows = [
        ["A1", "yiwu_shop", "110.00", "交易成功", created, "发夹", "2", "0"],
        ["A1", "别的买家", "110.00", "交易成功", created, "发圈", "1", "0"],
    ]
    page = import_file(client, run_jobs, csv_bytes(HEADER_1688, rows), preset="1688").get_data(as_text=True)
    assert counts(page) == {"created": 1, "updated": 0, "skipped": 0, "rejected": 1, "customers": 1}
    assert rejected_rows(page) == {3: "Order A1 is already recorded for another customer (yiwu_shop)."}
    assert db.session.scalar(select(Order.items)) == "发夹"
