"""My queue (SPEC §5): the sections and counters, recording outcomes through htmx, the
do-not-contact offer, who may act on which task, the inline timeline, the customer's
follow-up panel and bringing a customer back."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import shop_calendar
from app.extensions import db
from app.followups import services
from app.followups.cycles import Bucket, Kind
from app.models import BlacklistEntry, Customer, FollowUp, FollowUpState, FollowUpStatus, OrderStatus, Role, utcnow
from app.templating import localtime

HX = {"HX-Request": "true"}
PASSWORD = "correct-horse-1"  # the password conftest's make_user gives every user


def task_due(customer: Customer, due_at, cycle: int = 1, kind: str = Kind.FIRST_CONTACT) -> FollowUp:
    task = FollowUp(
        customer_id=customer.id,
        assignee_id=customer.owner_id,
        cycle=cycle,
        kind=kind,
        due_at=due_at,
        due_on=shop_calendar.due_on(due_at),
        status=FollowUpStatus.OPEN,
    )
    db.session.add(task)
    db.session.commit()
    return task


def today_start():
    return services.day_starts(utcnow())[Bucket.OVERDUE]


def section(text: str, name: str) -> str:
    """The HTML of one queue section."""
    start = text.index(f'id="section-{name}"')
    end = text.find('<section id="section-', start + 1)
    return text[start : end if end > 0 else None]


LAZY = re.compile(r'<div class="section-loading" hx-get="([^"]*)"[^>]*><progress></progress></div>')


def as_scrolled(client, url: str = "/follow-ups/") -> str:
    """The queue page once scrolled through: each section left to load when scrolled to is
    replaced by its cards, as htmx does on "revealed"."""
    text = client.get(url).text
    return LAZY.sub(lambda m: client.get(m.group(1).replace("&amp;", "&"), headers=HX).text, text)


def counters(text: str) -> list[int]:
    block = text[text.index('id="counters"') :]
    return [int(n) for n in re.findall(r'class="counter[^"]*"><strong>(\d+)</strong>', block)[:3]]


def outcome(task: FollowUp, value: str, channel: str = "phone", note: str = "") -> dict:
    prefix = f"task{task.id}-"
    return {prefix + "outcome": value, prefix + "channel": channel, prefix + "note": note}


def words(html: str) -> str:
    """What the reader sees: the text without tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" ·", "·").replace("· ", "·").replace("·", " · ")


def reload_task(task_id: int) -> FollowUp:
    db.session.expire_all()
    return db.session.get(FollowUp, task_id)


def open_tasks(customer_id: int) -> list[FollowUp]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.customer_id == customer_id, FollowUp.status == FollowUpStatus.OPEN)
        )
    )


@pytest.fixture
def signed_in(app, make_user):
    """Another browser, signed in as a new user of `role`."""

    def sign_in(role: Role):
        user = make_user(role)
        browser = app.test_client()
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        assert browser.post("/login", data={"username": user.username, "password": PASSWORD}).status_code == 302
        return browser, user

    return sign_in


# --- the page ---------------------------------------------------------------------------------


def test_sales_land_on_their_queue_and_others_on_the_registry(client, login_as, signed_in):
    login_as(Role.SALES)
    assert client.get("/").headers["Location"] == "/follow-ups/"
    for role in (Role.SUPERVISOR, Role.ADMIN):
        browser, _ = signed_in(role)
        assert browser.get("/").headers["Location"] == "/customers/"


def test_the_queue_has_overdue_today_and_this_week_with_counters(client, login_as, make_customer, make_user):
    me = login_as(Role.SALES)
    start = today_start()
    task_due(make_customer(owner=me, name="逾期一"), start - timedelta(days=3))
    task_due(make_customer(owner=me, name="逾期二"), start - timedelta(hours=1))
    task_due(make_customer(owner=me, name="今天的"), start + timedelta(hours=23, minutes=30))
    task_due(make_customer(owner=me, name="本周的"), start + timedelta(days=3))
    task_due(make_customer(owner=me, name="下周的"), start + timedelta(days=8))
    task_due(make_customer(owner=make_user(Role.SALES), name="别人的"), start - timedelta(days=1))

    text = as_scrolled(client)
    assert counters(text) == [2, 1, 1]
    overdue = section(text, "overdue")
    assert overdue.index("逾期一") < overdue.index("逾期二")  # oldest due first
    assert "3 days overdue" in overdue and "1 day overdue" in overdue
    assert "今天的" in section(text, "today") and "今天的" not in overdue
    assert "本周的" in section(text, "this_week")
    assert "下周的" not in text and "别人的" not in text
    assert 'href="/follow-ups/" aria-current="page"' in text  # "My queue" in the navigation


def test_the_first_section_with_cards_comes_with_the_page_and_the_rest_when_scrolled_to(
    client, login_as, make_customer
):
    me = login_as(Role.SALES)
    start = today_start()
    task_due(make_customer(owner=me, name="今天的"), start + timedelta(hours=10))
    task_due(make_customer(owner=me, name="本周的"), start + timedelta(days=3))
    text = client.get("/follow-ups/").text
    assert counters(text) == [0, 1, 1]
    assert "Nothing overdue." in section(text, "overdue")  # nothing to read: said at once
    assert "今天的" in section(text, "today")
    this_week = section(text, "this_week")
    assert "本周的" not in this_week and "Nothing else due this week." not in this_week
    [url] = LAZY.findall(this_week)
    assert 'hx-trigger="revealed"' in this_week
    fragment = client.get(url.replace("&amp;", "&"), headers=HX).text
    assert "<html" not in fragment and 'id="counters"' not in fragment
    assert re.findall(r'class="card-name">([^<]*)<', fragment) == ["本周的"]
    assert "Show more" not in fragment


def test_an_empty_queue_says_so(client, login_as):
    login_as(Role.SALES)
    text = client.get("/follow-ups/").text
    assert counters(text) == [0, 0, 0]
    assert "Nothing overdue." in text and "Nothing due today." in text and "Nothing else due this week." in text


def test_a_card_shows_what_the_call_needs(client, login_as, make_customer, make_order):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="老客户", phone="+8613812345678", platform="taobao", nickname="tb_old")
    first = services.start(customer, now=utcnow() - timedelta(days=20))
    db.session.commit()
    services.record_outcome(
        first, services.Outcome.INTERESTED, "wechat", "想要红色", me, now=utcnow() - timedelta(days=16)
    )
    db.session.commit()
    for days, amount in ((30, "10"), (20, "20"), (12, "30"), (5, "45.50")):
        make_order(customer, days_ago=days, amount=amount)

    card = section(client.get("/follow-ups/").text, "overdue")
    assert "老客户" in card and f'href="/customers/{customer.id}"' in card
    assert "138 1234 5678" in card and "tb_old" in card
    assert "Cycle 2 · Revisit" in card and "1 day overdue" in card
    assert "Last time:" in card and "Interested" in card and "WeChat" in card and "想要红色" in card
    assert me.display_name in card
    assert "¥45.50" in card and "¥30.00" in card and "¥20.00" in card and "¥10.00" not in card
    assert "New order since last contact" in card
    # The timeline opens inline; five outcome buttons, the channel preset to phone.
    assert f'hx-get="/customers/{customer.id}"' in card
    assert len(re.findall(r'<button type="submit" name="task\d+-outcome"', card)) == 5
    assert '<option value="phone" selected>Phone call</option>' in card


def test_show_more_loads_the_next_cards(client, login_as, make_customer):
    me = login_as(Role.SALES)
    start = today_start()
    for n in range(15):
        task_due(make_customer(owner=me, name=f"客户{n:02d}"), start - timedelta(days=30 - n))
    text = client.get("/follow-ups/").text
    overdue = section(text, "overdue")
    assert "客户09" in overdue and "客户10" not in overdue  # ten at first, the oldest
    url = re.search(r'hx-get="([^"]*section=overdue[^"]*)"', overdue).group(1).replace("&amp;", "&")
    more = client.get(url, headers=HX).text
    assert "<html" not in more and 'id="counters"' not in more
    assert [f"客户{n:02d}" for n in range(10, 15)] == re.findall(r'class="card-name">([^<]*)<', more)
    assert "Show more" not in more


# --- recording an outcome ---------------------------------------------------------------------


def test_recording_an_outcome_removes_the_card_and_updates_the_counters(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="要成交的")
    task = task_due(customer, today_start() - timedelta(days=2))
    assert counters(client.get("/follow-ups/").text) == [1, 0, 0]

    response = client.post(
        f"/follow-ups/{task.id}/outcome", data=outcome(task, "ordered", "wechat", "下单了"), headers=HX
    )
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"follow-ups-changed": True}
    # Nothing takes the card's place: only the status line, swapped out of band.
    assert f'id="task-{task.id}"' not in response.text
    assert 'id="queue-status"' in response.text and 'hx-swap-oob="true"' in response.text
    next_day = (utcnow() + timedelta(days=30)).date()
    [next_task] = open_tasks(customer.id)
    assert next_task.due_on in (next_day, next_day + timedelta(days=1))  # the shop's day of that moment
    assert f"Recorded for 要成交的: Ordered. Next follow-up on {next_task.due_on.isoformat()}." in " ".join(
        response.text.split()
    )

    fragment = client.get("/follow-ups/counters", headers=HX).text
    assert fragment.lstrip().startswith('<nav id="counters"') and "<html" not in fragment
    assert counters(fragment) == [0, 0, 0]
    done = reload_task(task.id)
    assert (done.status, done.outcome, done.channel, done.note, done.completed_by_id) == (
        "done",
        "ordered",
        "wechat",
        "下单了",
        me.id,
    )


def test_the_fifth_unconverted_cycle_says_the_customer_is_lost(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="不回话", unconverted_streak=4, cycle=5)
    task = task_due(customer, today_start(), cycle=5, kind=Kind.REVISIT)
    response = client.post(f"/follow-ups/{task.id}/outcome", data=outcome(task, "no_answer"), headers=HX)
    assert "Customer marked lost after 5 unconverted cycles in a row." in response.text
    assert open_tasks(customer.id) == []
    assert db.session.get(Customer, customer.id).follow_up_state == FollowUpState.LOST


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"outcome": "maybe"}, "outcome", "Not a valid choice."),
        ({"channel": "telegram"}, "channel", "Not a valid choice."),
        ({"note": "很" * 1001}, "note", "Field cannot be longer than 1000 characters."),
    ],
)
def test_a_bad_outcome_form_shows_the_card_with_the_error_and_writes_nothing(
    client, login_as, make_customer, data, field, message
):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="填错了")
    task = task_due(customer, today_start())
    posted = outcome(task, "interested") | {f"task{task.id}-{key}": value for key, value in data.items()}
    response = client.post(f"/follow-ups/{task.id}/outcome", data=posted, headers=HX)
    assert response.status_code == 422
    assert f'<article id="task-{task.id}"' in response.text and "填错了" in response.text
    assert f'id="task{task.id}-{field}-error">{message}</small>' in response.text
    assert "HX-Trigger" not in response.headers
    [still_open] = open_tasks(customer.id)
    assert still_open.id == task.id and still_open.outcome is None


def test_do_not_contact_offers_to_blacklist_the_phone(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="别打了", phone="+8613899990000")
    task = task_due(customer, today_start())
    response = client.post(f"/follow-ups/{task.id}/outcome", data=outcome(task, "do_not_contact"), headers=HX)
    text = " ".join(response.text.split())
    assert f'<article id="task-{task.id}"' in text
    # The status line above the cards speaks of this customer (it kept the previous one's outcome).
    status = re.search(r'<p id="queue-status"[^>]*hx-swap-oob="true">(.*?)</p>', text).group(1)
    assert status.strip() == "Recorded for 别打了: Do not contact. No further follow-ups."
    assert "别打了 asked not to be contacted. Blacklist the phone 138 9999 0000 too" in text
    assert "Blacklist the phone" in text
    assert f'hx-post="/blacklist/follow-ups/{task.id}"' in text
    assert open_tasks(customer.id) == []

    response = client.post(f"/blacklist/follow-ups/{task.id}", headers=HX)
    assert response.status_code == 200
    text = " ".join(response.text.split())
    assert "The phone of 别打了, 138 9999 0000, is blacklisted: it receives no SMS of any kind." in text
    [entry] = db.session.scalars(select(BlacklistEntry))
    assert (entry.phone, entry.reason, entry.note, entry.source, entry.customer_id, entry.added_by_id) == (
        "+8613899990000",
        "manual",
        None,
        f"follow_up:{task.id}",
        customer.id,
        me.id,
    )
    # The customer's page warns, and the timeline tells the story.
    page = client.get(f"/customers/{customer.id}").text
    assert "The phone is blacklisted (Manual) since" in page
    timeline = words(page[page.index('<ol class="timeline">') :])
    assert f"Phone blacklisted · Manual · asked not to be contacted at a follow-up · {me.display_name}" in timeline
    assert "Follow-ups: Do not contact" in timeline and "Outcome: Do not contact · Phone call" in timeline


def test_the_blacklist_offer_exists_only_after_do_not_contact(client, login_as, make_customer):
    me = login_as(Role.SALES)
    task = task_due(make_customer(owner=me), today_start())
    assert client.post(f"/blacklist/follow-ups/{task.id}", headers=HX).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(BlacklistEntry)) == 0


# --- who may act on what ------------------------------------------------------------------------


def test_sales_cannot_record_or_blacklist_someone_elses_task(client, login_as, make_user, make_customer):
    other = make_user(Role.SALES)
    customer = make_customer(owner=other, name="别人的客户", phone="+8613700000001")
    task = task_due(customer, today_start())
    login_as(Role.SALES)
    for path in (f"/follow-ups/{task.id}/outcome", f"/blacklist/follow-ups/{task.id}", "/follow-ups/999999/outcome"):
        response = client.post(path, data=outcome(task, "ordered"), headers=HX)
        assert response.status_code == 404
        assert "别人的客户" not in response.text
    assert client.get(f"/customers/{customer.id}", headers=HX).status_code == 404  # nor read its timeline
    [still_open] = open_tasks(customer.id)
    assert still_open.id == task.id and still_open.outcome is None
    assert db.session.scalar(select(func.count()).select_from(BlacklistEntry)) == 0


def test_sales_see_only_their_own_queue(client, login_as, make_user, make_customer):
    other = make_user(Role.SALES)
    task_due(make_customer(owner=other, name="别人的客户"), today_start())
    me = login_as(Role.SALES)
    assert client.get(f"/follow-ups/?owner={other.id}").status_code == 404
    assert client.get(f"/follow-ups/counters?owner={other.id}", headers=HX).status_code == 404
    assert client.get(f"/follow-ups/?owner={me.id}").status_code == 200
    assert 'name="assignee"' not in client.get("/follow-ups/").text


@pytest.mark.parametrize(
    "query",
    [
        {"owner": "abc"},
        {"owner": "99999999999999999999"},
        {"owner": "-1"},
        {"section": "overdue", "after": "abc"},
        {"section": "overdue", "after": str(2**63)},
    ],
)
def test_a_tampered_queue_link_answers_404(client, login_as, make_customer, query):
    me = login_as(Role.SUPERVISOR)
    task_due(make_customer(owner=me), today_start())
    assert client.get("/follow-ups/", query_string=query).status_code == 404
    assert client.get("/follow-ups/counters", query_string=query, headers=HX).status_code == 404


def test_supervisors_look_at_anyones_queue_and_act_on_it(client, login_as, make_user, make_customer):
    seller = make_user(Role.SALES, display_name="Xiao Wang")
    customer = make_customer(owner=seller, name="小王的客户")
    task = task_due(customer, today_start() - timedelta(days=1))
    boss = login_as(Role.SUPERVISOR)

    own = client.get("/follow-ups/").text
    assert "My queue" in own and "小王的客户" not in own
    assert f'<option value="{seller.id}" >Xiao Wang</option>' in own

    text = client.get(f"/follow-ups/?owner={seller.id}").text
    assert "Queue of Xiao Wang" in text and "小王的客户" in text and counters(text) == [1, 0, 0]
    assert f'hx-get="/follow-ups/counters?owner={seller.id}"' in text
    assert f'<option value="{seller.id}" selected>Xiao Wang</option>' in text

    response = client.post(f"/follow-ups/{task.id}/outcome", data=outcome(task, "no_answer"), headers=HX)
    assert response.status_code == 200
    assert reload_task(task.id).completed_by_id == boss.id
    assert counters(client.get(f"/follow-ups/counters?owner={seller.id}", headers=HX).text) == [0, 0, 0]
    assert client.get("/follow-ups/?owner=999999").status_code == 404


def test_two_people_recording_the_same_task_one_after_the_other(client, login_as, make_customer, signed_in):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="抢着记录")
    task = task_due(customer, today_start())
    boss_browser, boss = signed_in(Role.SUPERVISOR)
    # Both have the card on screen.
    assert "抢着记录" in client.get("/follow-ups/").text
    assert "抢着记录" in boss_browser.get(f"/follow-ups/?owner={me.id}").text

    first = boss_browser.post(f"/follow-ups/{task.id}/outcome", data=outcome(task, "ordered"), headers=HX)
    assert first.status_code == 200
    second = client.post(f"/follow-ups/{task.id}/outcome", data=outcome(task, "no_answer"), headers=HX)
    assert second.status_code == 200
    done = reload_task(task.id)
    assert f"Already recorded by {boss.display_name} at {localtime(done.completed_at)}: Ordered." in words(second.text)
    assert f'<article id="task-{task.id}"' in second.text and "Dismiss" in second.text
    [next_task] = open_tasks(customer.id)
    assert next_task.cycle == 2 and done.outcome == "ordered"


# --- the inline timeline and the customer page --------------------------------------------------


def test_the_timeline_fragment_is_just_the_timeline(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, name="看时间线")
    services.start(customer)
    db.session.commit()
    fragment = client.get(f"/customers/{customer.id}", headers=HX).text
    assert fragment.lstrip().startswith('<ol class="timeline">')
    assert "<html" not in fragment and "Follow-ups" not in fragment and "Record a complaint" not in fragment
    assert "Follow-up opened" in fragment
    assert "<html" in client.get(f"/customers/{customer.id}").text  # without htmx: the whole page


def test_the_customer_page_shows_the_follow_up_panel_and_readable_events(client, login_as, make_user, make_customer):
    seller = make_user(Role.SALES, display_name="Xiao Li")
    customer = make_customer(owner=seller, name="面板")
    first = services.start(customer, now=utcnow() - timedelta(days=20))
    db.session.commit()
    services.record_outcome(
        first, services.Outcome.NO_ANSWER, "phone", "没接", seller, now=utcnow() - timedelta(days=1)
    )
    db.session.commit()
    login_as(Role.SUPERVISOR)

    page = client.get(f"/customers/{customer.id}").text
    panel = words(page[page.index('class="follow-up-panel"') : page.index("<h2>Timeline</h2>")])
    [task] = open_tasks(customer.id)
    assert "State Followed up Cycle 2" in panel
    assert f"Next follow-up Revisit · due {task.due_on.isoformat()} · Xiao Li" in panel
    assert "Unconverted cycles in a row 1" in panel
    assert "Bring back into the follow-ups" not in panel  # still followed up
    timeline = words(page[page.index('<ol class="timeline">') :])
    assert f"Follow-up opened · cycle 2 · Revisit · due {task.due_on.isoformat()} · for Xiao Li" in timeline
    assert "Outcome: No answer · Phone call · “没接” · 12 days late" in timeline


def test_a_supervisor_brings_a_lost_customer_back(client, login_as, make_user, make_customer):
    seller = make_user(Role.SALES)
    customer = make_customer(
        owner=seller, name="流失了", follow_up_state=FollowUpState.LOST, unconverted_streak=5, cycle=5
    )
    login_as(Role.SUPERVISOR)
    page = client.get(f"/customers/{customer.id}").text
    assert "Lost (no conversion)" in page and "Bring back into the follow-ups" in page

    response = client.post(f"/follow-ups/customers/{customer.id}/bring-back")
    assert response.status_code == 302 and response.headers["Location"] == f"/customers/{customer.id}"
    [task] = open_tasks(customer.id)
    assert (task.kind, task.cycle, task.assignee_id) == (Kind.WIN_BACK, 6, seller.id)
    page = client.get(f"/customers/{customer.id}").text
    assert f"流失了 is back in the follow-ups: a win-back contact is due on {task.due_on.isoformat()}." in page
    assert "Follow-ups: Followed up" in words(page)
    # Twice changes nothing.
    client.post(f"/follow-ups/customers/{customer.id}/bring-back")
    assert "流失了 is already followed up." in client.get(f"/customers/{customer.id}").text
    assert len(open_tasks(customer.id)) == 1


def test_sales_cannot_bring_a_customer_back(client, login_as, make_customer):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, follow_up_state=FollowUpState.STOPPED)
    assert "Bring back into the follow-ups" not in client.get(f"/customers/{customer.id}").text
    assert client.post(f"/follow-ups/customers/{customer.id}/bring-back").status_code == 403
    assert open_tasks(customer.id) == []


def test_no_new_order_badge_without_a_paid_order_since_the_last_contact(client, login_as, make_customer, make_order):
    me = login_as(Role.SALES)
    customer = make_customer(owner=me, last_contact_at=utcnow() - timedelta(days=2))
    make_order(customer, days_ago=5)
    make_order(customer, days_ago=1, status=OrderStatus.UNPAID)
    task_due(customer, today_start())
    text = client.get("/follow-ups/").text
    assert "Unpaid" in text and "New order since last contact" not in text
