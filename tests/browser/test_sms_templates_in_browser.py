from playwright.sync_api import expect

from app.models import Role


def test_the_editor_shows_the_final_text_and_its_parts_as_it_is_typed(
    page, live_server, sign_in, make_user, app, monkeypatch
):
    monkeypatch.setitem(app.config, "SHOP_NAME", "示例小店")
    sign_in(make_user(Role.SUPERVISOR), then="/messages/templates/new")

    counter, preview = page.locator("#sms-count"), page.locator("#preview")
    expect(counter).to_have_attribute("aria-live", "polite")
    page.fill("#name", "会员日")
    page.fill("#body", "{name}您好，会员日全场8折。")
    expect(preview).to_have_text("【示例小店】张三您好，会员日全场8折。拒收请回复R")
    expect(counter).to_contain_text("25 characters · 1 part")

    page.fill("#body", "{name}您好，" + "好" * 60)  # 6 + 2 + 3 + 60 + 6 = 77
    expect(counter).to_contain_text("77 characters · 2 parts")
    page.select_option("#kind", "service")  # no opt-out text for a service message
    expect(counter).to_contain_text("71 characters · 2 parts")
    page.fill("#body", "好" * 495)
    expect(counter.locator(".too-long")).to_contain_text("Too long: at most 500 characters.")

    page.fill("#body", "{name}您好，{coupon}已到账")
    expect(preview).to_contain_text("The text uses {coupon}: give its value below.")
    page.fill("#default_coupon", "满100减10券")
    expect(preview).to_have_text("【示例小店】张三您好，满100减10券已到账")

    page.click("button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("Template 会员日 saved.")
    expect(page.locator("table.sms-templates")).to_contain_text("会员日")
