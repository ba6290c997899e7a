import re

from playwright.sync_api import expect

from app.models import Role


def test_search_as_you_type_and_register_with_phone_checked_as_typed(
    page, live_server, sign_in, make_user, make_customer
):
    sales = make_user(Role.SALES)
    make_customer(owner=sales, name="张三丰", nickname="武当山", platform="taobao")
    make_customer(owner=sales, name="李四", nickname="小猫爱吃鱼", platform="taobao")
    sign_in(sales, then="/customers/")

    # Search as you type: two Chinese characters narrow the list without a page load.
    expect(page.locator("#results")).to_contain_text("2 customers")
    page.fill("#q", "张三")
    expect(page.locator("#results")).to_contain_text("1 customer")
    expect(page.locator("#results")).to_contain_text("张三丰")
    expect(page.locator("#results")).not_to_contain_text("李四")
    expect(page).to_have_url(re.compile(r"q=%E5%BC%A0%E4%B8%89"))

    # Register: an invalid phone is refused on submit, then corrected as typed and saved. What
    # the check says stands right under the phone field, and replaces the submit's error.
    page.click("text=Register a customer")
    page.fill("#name", "王五")
    page.fill("#phone", "12345")
    page.click("button[type=submit]")
    check, phone = page.locator("#phone-check"), page.locator("#phone")
    expect(check).to_contain_text("Not a valid mobile number")
    expect(phone).to_have_attribute("aria-invalid", "true")
    page.fill("#phone", "139 1234 5678")
    expect(check).to_have_text("✓ 139 1234 5678")
    expect(page.locator(".field-error")).to_have_count(0)
    expect(phone).not_to_have_attribute("aria-invalid", "true")
    page.fill("#phone", "139 1234")
    expect(check).to_contain_text("Not a valid mobile number")
    expect(phone).to_have_attribute("aria-invalid", "true")
    below = phone.bounding_box()
    assert 0 <= check.bounding_box()["y"] - (below["y"] + below["height"]) < 40  # under this field, no other
    page.fill("#phone", "139 1234 5678")
    expect(check).to_have_text("✓ 139 1234 5678")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("王五")
    expect(page.locator(".flash-success")).to_contain_text("registered")
    expect(page.locator(".facts").first).to_contain_text("139 1234 5678")
