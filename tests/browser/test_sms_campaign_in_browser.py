"""An SMS campaign from end to end, through the pages and a real worker (SPEC §7).

An admin opens the send windows all day; a supervisor writes the templates, watching the
parts counter, and sends a campaign to a province's customers, whom the worker texts through
the log provider; an admin then blacklists one of them, and the next campaign leaves that
customer out: the message log shows the skipped message and why.

The campaign sends a service template: the log provider forbids marketing SMS from 20:00 to
08:00, so a marketing campaign would wait for the morning when the test runs at night.
"""

import re

from playwright.sync_api import expect

from app.blacklist import services as blacklist
from app.extensions import db
from app.models import BlacklistReason, Role

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WAIT = 60_000  # ms: the worker is a process of its own, on a machine that may be busy


def test_a_campaign_from_the_send_windows_to_a_skipped_message_in_the_log(
    page, live_server, sign_in, make_user, make_customer, app, worker
):
    admin, supervisor = make_user(Role.ADMIN), make_user(Role.SUPERVISOR)
    shop = app.config["SHOP_NAME"]
    for name, phone in [("赵一", "+8613900000001"), ("钱二", "+8613900000002"), ("孙三", "+8613900000003")]:
        make_customer(name=name, phone=phone, province="浙江")
    make_customer(name="李四", phone="+8613900000004", province="浙江")
    make_customer(name="周五", phone="+8613900000005", province="浙江")  # blacklisted beforehand
    make_customer(name="吴六", phone=None, province="浙江")  # no phone
    make_customer(name="郑七", phone="+8613900000007", province="江苏")  # not of the audience
    blacklist.add_by_hand("+8613900000005", BlacklistReason.COMPLAINTS, None, admin)
    db.session.commit()

    def as_user(user, then: str):
        page.context.clear_cookies()  # signed out
        sign_in(user, then=then)

    # 1. The admin opens every day's window all day, and sees what each kind of message gets.
    as_user(admin, "/settings/sending/")
    for day in DAYS:
        page.fill(f"#{day}", "00:00-24:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Sending settings saved.")
    table = page.locator("table.effective-windows")
    expect(table.locator("thead")).to_contain_text("Service")
    expect(table.locator("thead")).to_contain_text("Marketing")
    monday = table.locator("tbody tr").first
    expect(monday.locator("td").nth(0)).to_have_text("Monday")
    expect(monday.locator("td").nth(1)).to_have_text("00:00-24:00")  # service: the shop's window
    expect(monday.locator("td").nth(2)).to_contain_text("08:00-20:00")  # marketing: the curfew's cut
    expect(monday.locator(".cut")).to_have_text("⚠ 00:00-24:00 is cut to 08:00-20:00 by the provider's curfew.")
    expect(page.locator(".flash-warning")).to_have_text(
        "The provider's curfew cuts the shop's windows for marketing messages on the days marked below."
    )
    expect(table.locator(".cut")).to_have_count(7)

    # 2. The supervisor writes a marketing template; its counter follows the typing.
    as_user(supervisor, "/messages/templates/new")
    page.evaluate("window.sameDocument = true")  # gone if the page loads again
    counter = page.locator("#sms-count")
    page.fill("#name", "周末会员日")
    page.select_option("#kind", "marketing")
    page.locator("#body").press_sequentially("{name}您好，周末会员日全场8折。")
    short = f"【{shop}】张三您好，周末会员日全场8折。拒收请回复R"
    expect(page.locator("#preview")).to_have_text(short)
    expect(counter).to_have_text(f"{len(short)} characters · 1 part")
    more = "满199再减20元，新品上架，会员专享价限时三天，欢迎进店选购，老顾客另有小礼品相送，数量有限先到先得。"
    page.locator("#body").press_sequentially(more)
    long = short.replace("。拒收", f"。{more}拒收")
    assert len(long) > 70
    expect(page.locator("#preview")).to_have_text(long)
    expect(counter).to_have_text(f"{len(long)} characters · 2 parts")
    assert page.evaluate("window.sameDocument") is True  # counted without loading the page
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Template 周末会员日 saved.")

    # …and the service template the campaigns send, whatever the time of day.
    page.goto(f"{live_server}/messages/templates/new")
    page.fill("#name", "积分到账")
    page.select_option("#kind", "service")
    page.fill("#body", "{name}您好，您的会员积分已到账。")
    service_text = f"【{shop}】张三您好，您的会员积分已到账。"  # no opt-out text: a service message
    expect(page.locator("#preview")).to_have_text(service_text)
    expect(counter).to_have_text(f"{len(service_text)} characters · 1 part")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Template 积分到账 saved.")
    expect(page.locator("table.sms-templates")).to_contain_text("周末会员日")

    # 3. A campaign to the customers of 浙江: the draft shows who is left out, then it is sent.
    def campaign(name: str, blacklisted: int, to_send: int):
        page.goto(f"{live_server}/campaigns/new")
        page.fill("#name", name)
        page.select_option("#template_id", label="积分到账")
        page.fill("#province", "浙江")
        expect(page.locator("#audience")).to_contain_text("6 customers")
        page.get_by_role("button", name="Save as draft").click()
        expect(page.locator("h1")).to_have_text(name)
        expect(page.locator("#campaign-live .badge")).to_have_text("Draft")
        expect(page.locator("#count-audience")).to_have_text("6")
        exclusions = page.locator("table.exclusions")
        expect(exclusions.locator("tr", has_text="Blacklisted").locator("td.num")).to_have_text(str(blacklisted))
        expect(exclusions.locator("tr", has_text="No valid phone").locator("td.num")).to_have_text("1")
        expect(page.locator("#count-to-send")).to_have_text(str(to_send))
        expect(page.locator("#sample-text")).to_have_text(f"【{shop}】赵一您好，您的会员积分已到账。")
        questions = []
        page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
        page.get_by_role("button", name="Confirm and send").click()
        expect(page.locator(".flash-success")).to_have_text(f"Confirmed: {to_send} messages planned.")
        assert questions == [f"Send this campaign to {to_send} customers?"]
        # The page follows the worker's sending by itself, to the end.
        live = page.locator("#campaign-live")
        expect(live.locator(".badge")).to_have_text("Done", timeout=WAIT)
        expect(live).to_contain_text(f"{to_send} of {to_send} messages done.")
        expect(live.locator("svg.campaign-progress")).to_have_attribute(
            "aria-label", f"{to_send} of {to_send} messages done."
        )
        # Every message left; the log provider's "delivered" receipts follow a moment later, and a
        # done campaign's page no longer follows them: each one is delivered or sent.
        for key in ("waiting", "failed", "skipped", "unknown"):
            expect(live.locator(f"#progress-{key}")).to_have_text("0")
        delivered, sent = (int(live.locator(f"#progress-{key}").inner_text()) for key in ("delivered", "sent"))
        assert delivered + sent == to_send
        expect(live.locator("#progress-excluded")).to_have_text(str(blacklisted + 1))

    campaign("积分到账 · 浙江", blacklisted=1, to_send=4)

    # 4. An admin blacklists 钱二's number; the next campaign leaves 钱二 out.
    as_user(admin, "/blacklist/new")
    page.fill("#phone", "139 0000 0002")
    page.select_option("#reason", "opt_out")
    page.get_by_role("button", name="Blacklist").click()
    expect(page.locator(".flash-success")).to_contain_text("is blacklisted: it receives no SMS of any kind.")

    as_user(supervisor, "/campaigns/")
    campaign("积分到账 · 浙江 · 第二轮", blacklisted=2, to_send=3)

    page.goto(f"{live_server}/messages/")
    page.fill("#q", "13900000002")  # search as you type
    results = page.locator("#results")
    expect(results).to_contain_text("2 messages")
    skipped = results.locator("tbody tr", has_text="Skipped")
    expect(skipped).to_have_count(1)
    expect(skipped.locator(".message-state")).to_contain_text("Blacklisted")
    expect(skipped).to_contain_text("钱二")
    received = results.locator("tbody tr").filter(has_not_text="Skipped")  # the first campaign's
    expect(received).to_have_count(1)
    expect(received).to_contain_text("钱二您好，您的会员积分已到账。")
    expect(received.locator(".message-state")).to_have_text(re.compile(r"^\s*(Delivered|Sent)\s*$"))
