"""Reading order reports: encodings, CSV and XLSX, presets, and each value of a row."""

import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from app import phones, spreadsheets
from app.imports import values
from app.imports.presets import ALIBABA_1688, GENERIC, KNOWN_COLUMNS, PRESETS, REVIEW_REPORT, TAOBAO, better_preset
from app.imports.rows import BlankRow, OrderRow, RowReader, one_order
from app.imports.tables import TableError, decode, known_columns, read_table
from app.imports.values import PhoneBook, RowError, ShopClock
from app.models import status_after

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
CSV_TEXT = "订单编号,买家会员名,订单状态\n1001,小猫𠀾爱吃鱼,交易成功\n"


@pytest.fixture(autouse=True)
def english(app):
    """Messages as an English-speaking reader sees them."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def read(content: bytes, name: str = "report.csv"):
    return read_table(content, name, known_columns(KNOWN_COLUMNS))


# --- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["订单编号,买家会员名\n1,张三\n", "order,name\n1,Zoë\n"])
def test_utf8_without_bom(text):
    assert decode(text.encode("utf-8")) == (text, "UTF-8")


def test_utf8_with_bom_loses_the_bom():
    text, encoding = decode("\ufeff订单编号,买家会员名\n".encode("utf-8"))
    assert (text, encoding) == ("订单编号,买家会员名\n", "UTF-8")


def test_gbk():
    text = "订单编号,买家会员名,收货地址\n1,王小明,浙江省 杭州市\n"
    assert decode(text.encode("gbk")) == (text, "GBK")


def test_gb18030_for_characters_gbk_lacks():
    text = "买家会员名\n𠀾小猫\n"  # an extension-B character: four bytes in GB18030, absent from GBK
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    assert decode(text.encode("gb18030")) == (text, "GB18030")


def test_gbk_with_utf8_bom_is_refused_rather_than_garbled():
    with pytest.raises(TableError):
        decode(b"\xef\xbb\xbf" + "订单编号".encode("gbk"))


@pytest.mark.parametrize("content", [bytes(range(256)) * 20, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200)])
def test_binary_is_not_a_table(content):
    with pytest.raises(TableError, match="not a table"):
        read(content)


# --- CSV and XLSX -----------------------------------------------------------------------------


def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_csv_and_xlsx_read_the_same_table():
    rows = [TAOBAO_HEADER[:4], ["1001", "小猫", "99.5", "交易成功"], [], ["1002", "阳光", "10", "交易关闭"]]
    from_csv = read("\n".join(",".join(r) for r in rows).encode("gbk"))
    from_xlsx = read(xlsx(rows), "report.xlsx")
    assert (from_csv.kind, from_xlsx.kind) == ("csv", "xlsx")
    assert from_csv.header == from_xlsx.header == TAOBAO_HEADER[:4]
    # Line numbers are the spreadsheet's: the header is line 1, the empty line 3 is skipped.
    assert list(from_csv.rows()) == [(2, rows[1]), (4, rows[3])]
    assert [(line, list(cells)) for line, cells in from_xlsx.rows()] == [(2, rows[1]), (4, rows[3])]


def test_xlsx_keeps_cell_types_for_the_row_reader():
    table = read(
        xlsx([["订单编号", "订单创建时间", "买家实际支付金额"], ["1001", datetime(2024, 3, 5, 9, 30), 99.5]]), "r.xlsx"
    )
    [(line, cells)] = list(table.rows())
    assert cells == ("1001", datetime(2024, 3, 5, 9, 30), 99.5)


def test_tab_and_semicolon_separated_text():
    assert read("订单编号\t买家会员名\n1\t张三\n".encode("utf-16")).header == ["订单编号", "买家会员名"]
    assert read("订单编号;买家会员名\n1;张三\n".encode()).header == ["订单编号", "买家会员名"]


def test_a_title_line_above_the_header_is_passed_over():
    table = read("订单报表 2024年1月\n订单编号,买家会员名,订单状态\n1001,小猫,交易成功\n".encode("gbk"))
    assert table.header == ["订单编号", "买家会员名", "订单状态"]
    assert list(table.rows()) == [(3, ["1001", "小猫", "交易成功"])]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        ("你好世界\n随便写点什么\n再来一行\n".encode(), "at least two columns"),
        (b"order_no,name\n", "no rows"),
        (b"PK\x03\x04not really a zip file", "not an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".xls"),
    ],
)
def test_what_is_not_a_table(content, message):
    with pytest.raises(TableError) as caught:
        read(content)
    assert message in str(caught.value)


def test_count_of_rows():
    body = "订单编号,买家会员名\n" + "".join(f"{i},n{i}\n" for i in range(250)) + "\n\n"
    table = read(body.encode())
    assert (table.row_count, table.approximate_rows) == (250, 252)  # the estimate counts the blank lines


# --- presets ----------------------------------------------------------------------------------


def test_taobao_preset_suggests_every_column():
    mapping = TAOBAO.suggest(TAOBAO_HEADER)
    assert mapping == {field.key: TAOBAO_HEADER.index(TAOBAO.columns[field.key][0]) for field in TAOBAO.fields}
    assert TAOBAO.missing(mapping) == []


def test_suggestions_ignore_spaces_brackets_and_case():
    header = [" 订单编号 ", "买家会员名", "实付款（元）", "订单状态", "订单创建时间"]
    mapping = ALIBABA_1688.suggest(header)
    assert (mapping["order_no"], mapping["amount"], mapping["created_at"]) == (0, 2, 4)
    assert mapping["phone"] is None
    assert GENERIC.suggest(["Order No", "Nickname", "AMOUNT", "Status", "Created"])["amount"] == 2


def test_missing_required_columns_and_a_better_preset():
    assert [f.key for f in TAOBAO.missing(TAOBAO.suggest(["订单编号", "评价"]))] == [
        "nickname",
        "amount",
        "status",
        "created_at",
    ]
    assert better_preset(TAOBAO, ["订单编号", "评价"]) is REVIEW_REPORT


def test_generic_template_round_trips():
    table = read(spreadsheets.csv_text(GENERIC.template_rows()).encode("utf-8"))
    assert GENERIC.missing(GENERIC.suggest(table.header)) == []
    assert list(PRESETS) == ["taobao", "1688", "generic", "reviews"]


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ('="3498765432109876543"', "3498765432109876543"),
        ('= "12"', '= "12"'),
        ("'13812345678", "13812345678"),
        ("\t3498765432109876543", "3498765432109876543"),
        ("  小猫  ", "小猫"),
        (None, ""),
        (12.0, "12"),
    ],
)
def test_cleaning_strips_what_exports_add_to_keep_numbers_as_text(raw, cleaned):
    assert values.text(raw) == cleaned


def test_order_numbers():
    assert values.order_number('="3498765432109876543"') == "3498765432109876543"
    assert values.order_number(1001) == "1001"
    for spoiled in (3.49876543210988e18, "3.49877E+18"):
        with pytest.raises(RowError) as caught:
            values.order_number(spoiled)
        assert caught.value.code == "order_no_number"
    with pytest.raises(RowError, match="order_no_empty"):
        values.order_number('=""')


@pytest.mark.parametrize(
    "raw, amount",
    [
        ("199.00", "199.00"),
        ("¥1,299.5", "1299.50"),
        ("", "0.00"),
        (99.9, "99.90"),
        (12, "12.00"),
        ("0.005", "0.01"),
    ],
)
def test_money(raw, amount):
    assert values.money(raw) == Decimal(amount)


@pytest.mark.parametrize("raw", ["abc", "-5", "1e30", "NaN", "12.3.4"])
def test_bad_money(raw):
    with pytest.raises(RowError) as caught:
        values.money(raw)
    assert caught.value.code == "bad_amount"
    assert caught.value.reason == f"The amount paid “{raw}” is not an amount of money."


@pytest.mark.parametrize(
    "raw, status",
    [
        ("等待买家付款", "unpaid"),
        ("买家已付款，等待卖家发货", "paid"),
        ("卖家已发货，等待买家确认", "shipped"),
        ("交易成功", "completed"),
        ("交易关闭", "closed"),
        ("等待买家确认收货", "shipped"),
        ("Completed", "completed"),
    ],
)
def test_statuses(raw, status):
    assert values.order_status(raw, Decimal("50.00"), Decimal("0")) == status


def test_closed_with_a_refund_is_refunded():
    assert values.order_status("交易关闭", Decimal("50.00"), Decimal("20.00")) == "refunded"
    assert values.order_status("交易成功", Decimal("50.00"), Decimal("20.00")) == "completed"  # a partial refund


@pytest.mark.parametrize("raw", ["交易成功", "卖家已发货，等待买家确认", "已付款"])
@pytest.mark.parametrize("refund", ["50.00", "60.00"])
def test_an_order_refunded_in_full_is_refunded_whatever_its_status_says(raw, refund):
    assert values.order_status(raw, Decimal("50.00"), Decimal(refund)) == "refunded"


def test_an_order_without_money_back_is_not_refunded():
    assert values.order_status("交易关闭", Decimal("0"), Decimal("0")) == "closed"
    assert values.order_status("等待买家付款", Decimal("0"), Decimal("0")) == "unpaid"


def test_unknown_status():
    with pytest.raises(RowError) as caught:
        values.order_status("退款中", Decimal("50.00"), Decimal("0"))
    assert caught.value.reason == "Unknown order status “退款中”."


@pytest.mark.parametrize(
    "address, place",
    [
        ("浙江省 杭州市 西湖区 文三路100号", ("浙江", "杭州")),
        ("广西壮族自治区 南宁市 青秀区", ("广西", "南宁")),
        ("内蒙古自治区 呼和浩特市 新城区", ("内蒙古", "呼和浩特")),
        ("新疆维吾尔自治区 乌鲁木齐市", ("新疆", "乌鲁木齐")),
        ("上海 上海市 浦东新区 世纪大道", ("上海", "上海")),
        ("北京市 北京市 朝阳区", ("北京", "北京")),
        ("香港特别行政区 九龙", ("香港", "九龙")),
        ("黑龙江省哈尔滨市南岗区", ("黑龙江", None)),
        ("浙江", ("浙江", None)),
        ("", (None, None)),
        ("某某路100号", (None, None)),
    ],
)
def test_province_and_city_from_the_address(address, place):
    assert values.place(address) == place


def test_times_are_shop_local_and_stored_as_utc():
    clock = ShopClock("Asia/Shanghai")
    expected = datetime(2024, 3, 5, 1, 30)
    for raw in (
        "2024-03-05 09:30:00",
        "2024/3/5 9:30",
        "2024-03-05T09:30:00",
        "2024年3月5日 9:30",
        datetime(2024, 3, 5, 9, 30),
        "2024-03-05 09:30:00.250",
        "2024-03-05T01:30:00+00:00",
    ):
        assert clock.moment(raw, "bad_created") == expected, raw
    assert clock.moment("", "bad_paid") is None
    with pytest.raises(RowError) as caught:
        clock.moment("2024-13-45 25:00", "bad_paid")
    assert caught.value.reason == "The payment time “2024-13-45 25:00” is not a date and time."


@pytest.mark.parametrize(
    "zone, day",
    [
        ("America/New_York", datetime(2024, 3, 10)),
        ("America/New_York", datetime(2024, 11, 3)),
        ("Australia/Lord_Howe", datetime(2024, 4, 7)),
        ("Asia/Shanghai", datetime(2024, 1, 1)),
    ],
)
def test_the_clock_converts_as_app_timefmt_does_across_changes_of_offset(app, monkeypatch, zone, day):
    from app.shop_calendar import shop_time_to_utc

    monkeypatch.setitem(app.config, "SHOP_TIMEZONE", zone)
    clock = ShopClock(zone)
    for minutes in range(0, 24 * 60, 7):
        local = day + timedelta(minutes=minutes)
        assert clock.to_utc(local) == shop_time_to_utc(local), local


def test_ratings():
    assert [values.rating(r) for r in ("好评", "中评", "差评", "Good", "neutral", "BAD")] == [
        "good",
        "neutral",
        "bad",
        "good",
        "neutral",
        "bad",
    ]
    with pytest.raises(RowError, match="bad_rating"):
        values.rating("五星")


def test_phones_are_normalised_and_masked_ones_ignored():
    book = PhoneBook("CN")
    assert book.normalize("'13812345678") == "+8613812345678"
    assert book.normalize("+86 138 1234 5678") == "+8613812345678"
    assert book.normalize("138****5678") is None
    assert book.normalize("") is None
    with pytest.raises(RowError) as caught:
        book.normalize("12345678901")
    assert caught.value.reason == "The phone number “12345678901” is not a valid mobile number."


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"\A1[0-9]{10}\Z") | st.from_regex(r"\A[0-9]{6,13}\Z"))
def test_the_phone_fast_path_agrees_with_app_phones(number):
    """The fast path may only ever say what app.phones.normalize says."""
    try:
        expected = phones.normalize(number, "CN")
    except phones.InvalidPhone:
        expected = None
    book = PhoneBook("CN")
    fast = book._fast(number)
    assert fast is None or fast == expected
    try:
        assert book.normalize(number) == expected
    except RowError:
        assert expected is None


# --- rows -------------------------------------------------------------------------------------


def taobao_reader() -> RowReader:
    return RowReader(TAOBAO, TAOBAO.suggest(TAOBAO_HEADER), "CN", "Asia/Shanghai", columns=len(TAOBAO_HEADER))


GOOD = [
    '="3498765432109876543"',
    "小猫爱吃鱼",
    "199.00",
    "交易成功",
    "张三",
    "13812345678",
    "浙江省 杭州市 西湖区",
    "2024-01-02 10:00:00",
    "2024-01-02 10:05:00",
    "真丝围巾",
    "2",
    "0",
]


def test_a_good_row():
    row = taobao_reader().read(7, GOOD)
    assert (row.line, row.order_no, row.platform, row.nickname, row.name) == (
        7,
        "3498765432109876543",
        "taobao",
        "小猫爱吃鱼",
        "张三",
    )
    assert (row.phone, row.province, row.city) == ("+8613812345678", "浙江", "杭州")
    assert (row.status, row.amount, row.refund_amount, row.item_count) == (
        "completed",
        Decimal("199.00"),
        Decimal("0.00"),
        2,
    )
    assert (row.created_at, row.paid_at) == (datetime(2024, 1, 2, 2, 0), datetime(2024, 1, 2, 2, 5))


def test_a_paid_order_without_payment_time_counts_as_paid_when_placed():
    row = taobao_reader().read(2, GOOD[:8] + [""] + GOOD[9:])
    assert row.paid_at == row.created_at
    unpaid = taobao_reader().read(2, GOOD[:3] + ["等待买家付款"] + GOOD[4:8] + [""] + GOOD[9:])
    assert unpaid.paid_at is None


@pytest.mark.parametrize(
    "column, value, reason",
    [
        (0, "", "The order number is empty."),
        (1, " ", "The buyer nickname is empty."),
        (2, "12元5角", "The amount paid “12元5角” is not an amount of money."),
        (3, "退款中", "Unknown order status “退款中”."),
        (3, "", "The order status is empty."),
        (7, "yesterday", "The creation time “yesterday” is not a date and time."),
        (7, "", "The order creation time is empty."),
        (8, "2024-02-30 10:00", "The payment time “2024-02-30 10:00” is not a date and time."),
        (10, "two", "The item count “two” is not a whole number."),
        (11, "-3", "The refund amount “-3” is not an amount of money."),
    ],
)
def test_row_validation_reasons(column, value, reason):
    cells = list(GOOD)
    cells[column] = value
    with pytest.raises(RowError) as caught:
        taobao_reader().read(5, cells)
    assert caught.value.reason == reason
    assert values.REASONS[caught.value.code] % caught.value.params == reason


def test_a_row_with_an_invalid_phone_is_kept_without_it():
    cells = list(GOOD)
    cells[5] = "12345"
    row = taobao_reader().read(5, cells)
    assert (row.order_no, row.nickname, row.phone, row.bad_phone) == (
        "3498765432109876543",
        "小猫爱吃鱼",
        None,
        "12345",
    )
    assert taobao_reader().read(5, GOOD).bad_phone is None


def test_short_rows_and_blank_rows():
    reader = taobao_reader()
    assert reader.read(3, GOOD[:8]).items is None  # optional cells missing at the end are empty
    with pytest.raises(BlankRow):
        reader.read(4, [" "] * 12)
    with pytest.raises(BlankRow):
        reader.read(4, ["", " "])


@pytest.mark.parametrize("cells", [GOOD[:2], GOOD[:7], ['="3498765432109876543"']])
def test_a_row_too_short_for_its_columns_says_so(cells):
    with pytest.raises(RowError) as caught:
        taobao_reader().read(3, cells)
    assert caught.value.reason == f"The row has {len(cells)} columns, the header has 12."


def test_generic_rows_carry_their_platform():
    reader = RowReader(
        GENERIC,
        {"order_no": 0, "nickname": 1, "amount": 2, "status": 3, "created_at": 4, "platform": 5},
        "CN",
        "Asia/Shanghai",
        columns=6,
    )
    assert reader.read(2, ["A1", "小猫", "9", "paid", "2024-01-01", "京东"]).platform == "jd"
    assert reader.read(2, ["A1", "小猫", "9", "paid", "2024-01-01", ""]).platform == "other"
    with pytest.raises(RowError, match="bad_platform"):
        reader.read(2, ["A1", "小猫", "9", "paid", "2024-01-01", "eBay"])


def test_review_rows():
    reader = RowReader(REVIEW_REPORT, {"order_no": 0, "rating": 1}, "CN", "Asia/Shanghai", columns=2)
    assert reader.read(2, ["'1001", "差评"]).review == "bad"
    with pytest.raises(RowError, match="rating_empty"):
        reader.read(3, ["1001", ""])


# --- an order's status only moves forward -------------------------------------------------------


@pytest.mark.parametrize(
    "current, incoming, after",
    [
        ("unpaid", "paid", "paid"),
        ("unpaid", "completed", "completed"),
        ("paid", "shipped", "shipped"),
        ("shipped", "completed", "completed"),
        ("completed", "completed", "completed"),
        # an older report: the order stays as it is
        ("paid", "unpaid", "paid"),
        ("completed", "shipped", "completed"),
        ("completed", "unpaid", "completed"),
        # closed or refunded: from any open state; a completed order can be refunded, not closed
        ("unpaid", "closed", "closed"),
        ("shipped", "closed", "closed"),
        ("paid", "refunded", "refunded"),
        ("completed", "refunded", "refunded"),
        ("completed", "closed", "completed"),
        # closed and refunded are final
        ("refunded", "completed", "refunded"),
        ("refunded", "unpaid", "refunded"),
        ("closed", "paid", "closed"),
        ("closed", "refunded", "closed"),
        ("refunded", "closed", "refunded"),
    ],
)
def test_status_after(current, incoming, after):
    assert status_after(current, incoming) == after


# --- the rows of one order ----------------------------------------------------------------------


def line(line: int, items: str | None, count: int | None, amount="110.00", refund="0", **values) -> OrderRow:
    return OrderRow(
        line,
        "A1",
        "1688",
        "yiwu_shop",
        "陈静",
        "+8613812345678",
        "浙江",
        "金华",
        values.get("status", "completed"),
        Decimal(amount),
        Decimal(refund),
        datetime(2024, 1, 2),
        datetime(2024, 1, 2),
        items,
        count,
    )


def test_one_row_is_its_order():
    row = line(2, "发夹", 2)
    assert one_order([row]) is row


def test_the_rows_of_an_order_make_one_order():
    order = one_order([line(2, "发夹", 200), line(3, "发圈", 100, amount="0", refund="5.00"), line(4, "发夹", None)])
    assert (order.line, order.order_no, order.nickname, order.status) == (2, "A1", "yiwu_shop", "completed")
    # The order's amount and refund, whether repeated on each row or written on one; each title once.
    assert (order.amount, order.refund_amount) == (Decimal("110.00"), Decimal("5.00"))
    assert (order.items, order.item_count) == ("发夹; 发圈", 300)


def test_rows_without_titles_or_counts_make_an_order_without_them():
    order = one_order([line(2, None, None), line(3, None, None)])
    assert (order.items, order.item_count) == (None, None)


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("0001-01-01 00:00:00", "0001-01-01 00:00:00"),
        ("9999-12-31 23:59:59", "9999-12-31 23:59:59"),
        ("1899/12/31 23:00", "1899-12-31 23:00:00"),
        (datetime(2101, 1, 1), "2101-01-01 00:00:00"),
    ],
)
def test_a_time_outside_the_years_1900_to_2100_is_refused(raw, shown):
    # Year 1 or 9999 would overflow on the way to UTC; the row is rejected with a reason instead.
    with pytest.raises(RowError) as caught:
        ShopClock("Asia/Shanghai").moment(raw, "bad_created")
    assert caught.value.reason == f"The time “{shown}” is not between the years 1900 and 2100."


def test_the_first_and_last_days_allowed_are_read():
    clock = ShopClock("Asia/Shanghai")
    assert clock.moment("2100-12-31 23:59:59", "bad_created") == datetime(2100, 12, 31, 15, 59, 59)
    assert clock.moment("1900-01-01", "bad_created").year == 1899  # midnight in Shanghai, the evening before in UTC
