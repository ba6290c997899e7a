"""A sales person works the queue; a supervisor reassigns a customer and audits (SPEC §5)."""

from datetime import timedelta

from playwright.sync_api import expect

from app.extensions import db
from app.followups import services
from app.followups.cycles import Bucket, Kind, Plan
from app.models import Role, utcnow


def give_task(customer, due_at, cycle: int = 1, kind: Kind = Kind.FIRST_CONTACT):
    task = services.open_task(customer, Plan(cycle, kind, due_at))
    db.session.commit()
    return task


def today_early():
    """A moment early today in the shop's calendar, whatever the hour the test runs."""
    return services.day_starts(utcnow())[Bucket.OVERDUE] + timedelta(minutes=1)


def test_sales_works_three_tasks_from_the_queue(page, live_server, sign_in, make_user, make_customer):
    sales = make_user(Role.SALES, display_name="王芳")
    for name in ("下单的", "没接的", "别打了"):
        give_task(make_customer(owner=sales, name=name), today_early())
    sign_in(sales)  # sales land on their queue

    counters = page.locator("#counters")
    expect(counters).to_contain_text("3 Due today")
    expect(page.locator("#section-today .task-card")).to_have_count(3)

    # The timeline opens inline, under the card.
    first = page.locator(".task-card", has_text="下单的")
    first.locator(".card-timeline summary").click()
    expect(first.locator(".timeline-slot")).to_contain_text("Follow-up opened")

    # One click: the outcome (channel: phone). The card leaves, the counters follow.
    first.get_by_role("button", name="Ordered").click()
    expect(first).to_have_count(0)
    expect(counters).to_contain_text("2 Due today")
    expect(page.locator("#queue-status")).to_contain_text("Next follow-up on")

    # Two clicks: another channel, then the outcome.
    second = page.locator(".task-card", has_text="没接的")
    second.get_by_label("Channel").select_option(label="WeChat")
    second.get_by_role("button", name="No answer").click()
    expect(second).to_have_count(0)
    expect(counters).to_contain_text("1 Due today")

    # Do not contact: no further task, and the phone may be blacklisted at once.
    card_id = page.locator(".task-card", has_text="别打了").get_attribute("id")
    third = page.locator(f"#{card_id}")
    third.get_by_role("button", name="Do not contact").click()
    expect(third).to_contain_text("别打了 asked not to be contacted")
    expect(page.locator("#queue-status")).to_contain_text("Recorded for 别打了: Do not contact. No further follow-ups.")
    third.get_by_role("button", name="Blacklist the phone").click()
    expect(third).to_contain_text("The phone of 别打了")
    expect(third).to_contain_text("is blacklisted")
    expect(counters).to_contain_text("0 Due today")

    # After a reload the queue is empty for today, and nothing was lost.
    page.reload()
    expect(page.locator("#section-today")).to_contain_text("Nothing due today.")


def test_the_sections_below_the_first_load_when_scrolled_to(page, sign_in, make_user, make_customer):
    sales = make_user(Role.SALES)
    for n in range(12):
        give_task(make_customer(owner=sales, name=f"逾期{n:02d}"), today_early() - timedelta(days=2, minutes=n))
    give_task(make_customer(owner=sales, name="本周的"), today_early() + timedelta(days=2))
    sign_in(sales)

    expect(page.locator("#section-overdue .task-card")).to_have_count(10)
    expect(page.locator("#section-today")).to_contain_text("Nothing due today.")
    later = page.locator("#section-this_week .task-card", has_text="本周的")
    page.locator("#section-this_week").scroll_into_view_if_needed()
    expect(later).to_have_count(1)
    # A card loaded so works as the others.
    later.get_by_role("button", name="Interested", exact=True).click()
    expect(later).to_have_count(0)
    expect(page.locator("#counters")).to_contain_text("0 This week")
    expect(page.locator("#counters")).to_contain_text("12 Overdue")


def test_supervisor_reassigns_a_customer_and_the_audit_follows(page, live_server, sign_in, make_user, make_customer):
    supervisor = make_user(Role.SUPERVISOR)
    behind = make_user(Role.SALES, display_name="落后的")
    helper = make_user(Role.SALES, display_name="接手的")
    customer = make_customer(owner=behind, name="逾期客户")
    give_task(customer, today_early() - timedelta(days=3))
    give_task(make_customer(owner=helper, name="按时客户"), today_early() + timedelta(days=2))
    sign_in(supervisor, then="/audit/")

    row = lambda name: page.locator("table.audit tbody tr", has_text=name)  # noqa: E731
    expect(row("落后的").locator("td[data-label=Overdue]")).to_have_text("1")
    expect(row("接手的")).to_have_count(0)  # nothing due for her in the period yet

    # Reassign over a registry search: tick the customer, choose the person, assign.
    page.goto(f"{live_server}/assignment/")
    page.fill("#q", "逾期")
    expect(page.locator("#results")).to_contain_text("1 customer")
    page.get_by_label("逾期客户").check()
    page.locator("#assign-owner").select_option(label="接手的")
    page.get_by_role("button", name="Assign the ticked customers").click()
    expect(page.locator("#workspace .flash")).to_contain_text("接手的")

    # The overdue task moved with the customer: the audit now holds it against the new person.
    page.goto(f"{live_server}/audit/")
    expect(row("接手的").locator("td[data-label=Overdue]")).to_have_text("1")
    expect(row("落后的")).to_have_count(0)
    row("接手的").locator("td[data-label=Overdue]").get_by_role("link").click()
    expect(page.locator("main")).to_contain_text("逾期客户")


def test_a_card_reassigned_meanwhile_says_so_when_clicked(page, sign_in, make_user, make_customer):
    """An htmx request that fails says why at the foot of the screen; it used to do nothing."""
    seller, other = make_user(Role.SALES), make_user(Role.SALES)
    customer = make_customer(owner=seller, name="被转走的")
    give_task(customer, today_early())
    sign_in(seller, then="/follow-ups/")
    card = page.locator(".task-card", has_text="被转走的")
    services.assign([customer.id], other, make_user(Role.SUPERVISOR))  # a supervisor, meanwhile
    db.session.commit()
    card.get_by_role("button", name="No answer").click()
    notice = page.locator("#request-failed")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("no longer there, or no longer yours")
    expect(notice).to_be_in_viewport()
    expect(card).to_have_count(1)  # nothing was recorded, and nothing pretends it was
