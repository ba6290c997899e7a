"""A sales person texts a customer from the queue, then finds the message in the log (SPEC §7)."""

from datetime import timedelta

from playwright.sync_api import expect

from app.extensions import db
from app.followups import services
from app.models import MessageKind, Role, SendingSettings, SmsTemplate, utcnow


def test_send_one_from_a_queue_card_and_find_it_in_the_log(page, live_server, sign_in, make_user, make_customer, app):
    db.session.add(SendingSettings(id=1, windows={str(d): [["00:00", "24:00"]] for d in range(7)}))
    db.session.add(SmsTemplate(name="发货通知", kind=MessageKind.SERVICE, body="{name}您好，您的订单已发货。"))
    db.session.add(SmsTemplate(name="上新", kind=MessageKind.MARKETING, body="{name}，新品上市"))
    db.session.commit()
    sales = make_user(Role.SALES)
    customer = make_customer(owner=sales, name="王小明", phone="+8613812345678")
    services.start(customer, now=utcnow() - timedelta(days=10))
    db.session.commit()
    sign_in(sales)  # sales land on their queue

    page.locator(".task-card", has_text="王小明").get_by_role("link", name="Send an SMS").click()
    expect(page.locator("h1")).to_have_text("Send an SMS to 王小明")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Choose a template")
    page.select_option("#template", label="发货通知 · Service")  # the preview follows the choice
    shop = app.config["SHOP_NAME"]
    expect(preview.locator("#final-text")).to_have_text(f"【{shop}】王小明您好，您的订单已发货。")
    expect(preview).to_contain_text("billed as 1 part")
    expect(preview).to_contain_text("Leaves now.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".flash-success")).to_contain_text("SMS to 王小明 queued")
    expect(page).to_have_url(f"{live_server}/follow-ups/")

    page.goto(f"{live_server}/messages/")
    page.fill("#q", "9999")  # search as you type
    expect(page.locator("#results")).to_contain_text("No message matches")
    page.fill("#q", "1381234")
    expect(page.locator("#results")).to_contain_text("王小明您好，您的订单已发货。")
    expect(page.locator("#results")).to_contain_text("Scheduled")
