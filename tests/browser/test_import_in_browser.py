from playwright.sync_api import expect

from app.models import Role
from tests.test_imports import TAOBAO_HEADER, csv_bytes, shop_time


def taobao_report(rows: int) -> bytes:
    """A GBK Taobao-style order report: `rows` good orders, then one bad amount."""
    lines = [
        [
            f'="34990000{n:011d}"',
            f"买家{n % 2000}",
            "129.00",
            "交易成功",
            "张三",
            f"138{n % 2000:08d}",
            "浙江省 杭州市 西湖区",
            shop_time(30),
            shop_time(30),
            "真丝围巾",
            "1",
            "0",
        ]
        for n in range(rows)
    ]
    lines.append(
        [
            '="3499999999999999999"',
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
        ]
    )
    return csv_bytes(TAOBAO_HEADER, lines, encoding="gbk")


def test_a_supervisor_imports_a_gbk_report_and_watches_it_to_the_report(
    page, live_server, sign_in, make_user, worker, tmp_path
):
    supervisor = make_user(Role.SUPERVISOR)
    report = tmp_path / "淘宝订单报表.csv"
    report.write_bytes(taobao_report(20_000))
    sign_in(supervisor)

    page.click("nav >> text=Import")
    page.set_input_files("input[type=file]", str(report))
    page.click("text=Upload and check columns")
    # The mapping step: the preset recognised the Taobao columns; the preview shows a row.
    expect(page.locator("#preview")).to_contain_text("真丝围巾")
    page.click("text=Start the import")

    # The progress bar polls the job until the report replaces it.
    expect(page.locator("#import-progress progress")).to_be_visible()
    expect(page.locator("#count-created")).to_have_text("20000", timeout=60_000)
    expect(page.locator("#count-rejected")).to_have_text("1")
    expect(page.locator("#import-progress")).to_contain_text("20002")  # the bad row's line number
    expect(page.locator("#import-progress")).to_contain_text("12元5角")
