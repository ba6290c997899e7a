"""The Content-Security-Policy in a real browser: the main pages and their htmx features run
without a single violation, and the behaviours that were inline scripts (hx-on) still work."""

import re

import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.browser.test_followups_in_browser import give_task, today_early

# Chromium reports each violation as this event; the listener is installed before any page
# script runs (Playwright's init scripts are not subject to the page's policy).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


@pytest.fixture
def problems(page):
    """Every violation, console error and uncaught script error of the page, as text."""
    found = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: found.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    return found


def test_the_main_pages_run_under_the_policy(page, live_server, sign_in, make_user, make_customer, problems):
    supervisor = make_user(Role.SUPERVISOR)
    sales = make_user(Role.SALES, display_name="王芳")
    for name in ("下单的", "要拉黑", "不拉黑"):
        give_task(make_customer(owner=sales, name=name), today_early())
    for n in range(3):
        make_customer(name=f"无主{n}")

    sign_in(supervisor, then="/customers/")
    # The listener reports what the policy refuses (an inline style, here), so silence means none.
    with page.expect_console_message(lambda message: "CSP violation: style-src-attr" in message.text):
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<i style=\"color: red\"></i>')")
    problems.clear()

    # The registry: search as you type.
    page.fill("#q", "无主1")
    expect(page.locator("#results")).to_contain_text("1 customer")

    # Registration: the phone is checked as it is typed.
    page.goto(f"{live_server}/customers/new")
    page.fill("#phone", "12345")
    expect(page.locator("#phone-check")).to_contain_text("Not a valid mobile number")

    # The queue: choosing whose queue opens it.
    page.goto(f"{live_server}/follow-ups/")
    page.get_by_label("Whose queue").select_option(label="王芳")
    expect(page).to_have_url(re.compile(rf"owner={sales.id}"))
    expect(page.locator("h1")).to_contain_text("Queue of 王芳")

    # An outcome recorded: the card leaves.
    card = lambda name: page.locator(f"#{page.locator('.task-card', has_text=name).get_attribute('id')}")  # noqa: E731
    ordered = card("下单的")
    ordered.get_by_role("button", name="Ordered").click()
    expect(ordered).to_have_count(0)
    expect(page.locator("#counters")).to_contain_text("2 Due today")

    # Do not contact → blacklist → dismiss.
    blacklisted = card("要拉黑")
    blacklisted.get_by_role("button", name="Do not contact").click()
    expect(blacklisted).to_contain_text("asked not to be contacted")
    blacklisted.get_by_role("button", name="Blacklist the phone").click()
    expect(blacklisted).to_contain_text("is blacklisted")
    blacklisted.get_by_role("button", name="Dismiss").click()
    expect(blacklisted).to_have_count(0)

    # Do not contact → "No": the offer goes away.
    declined = card("不拉黑")
    declined.get_by_role("button", name="Do not contact").click()
    expect(declined).to_contain_text("asked not to be contacted")
    declined.get_by_role("button", name="No", exact=True).click()
    expect(declined).to_have_count(0)

    # Assignment: select all ticks every box; "assign all" asks first, and "no" sends nothing.
    page.goto(f"{live_server}/assignment/?owner=none")
    boxes = page.locator("#results input[name=ids]")
    expect(boxes).to_have_count(3)
    page.get_by_label("Select all on this page").check()
    for n in range(3):
        expect(boxes.nth(n)).to_be_checked()
    page.get_by_label("Select all on this page").uncheck()
    expect(page.locator("#results input[name=ids]:checked")).to_have_count(0)
    page.locator("#assign-owner").select_option(label="王芳")
    questions, posts = [], []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Assign all 3 matching customers").click()
    assert questions == ["Assign all 3 customers the filters match?"]
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Assign all 3 matching customers").click()
    expect(page.locator("#workspace .flash")).to_contain_text("王芳")
    assert len(questions) == 2 and len(posts) == 1  # the first answer, no, sent nothing

    # The other main pages.
    for path, heading in [
        ("/audit/", "Follow-up audit"),
        ("/imports/", "Import"),
        ("/reports/overview", "Overview"),
        ("/account", "My account"),
    ]:
        page.goto(f"{live_server}{path}")
        expect(page.locator("h1")).to_contain_text(heading)

    page.get_by_text(supervisor.display_name).click()  # the user menu
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Sign in")

    assert problems == []
