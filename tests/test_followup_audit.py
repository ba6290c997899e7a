"""The follow-up audit (核查, SPEC §5): per person, drill-downs, weekly chart, per customer, CSV."""

import csv
import html
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import shop_calendar
from app.extensions import db
from app.followup_audit import services
from app.followup_audit.services import Period, PersonRow, Summary, Tally
from app.followups import daily_figures
from app.followups import services as followups
from app.followups.cycles import Kind, Outcome, Plan, days_late
from app.models import FollowUp, FollowUpState, FollowUpStatus, Role, User
from app.shop_calendar import shop_date

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the tests' SHOP_TIMEZONE (the default)


def shop_time(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment of a shop-calendar day, as stored (naive UTC)."""
    local = datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)
    return local.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def add_task(make_customer):
    """A task of `person` due at `due_at`, done at `done_at` (None: still open), as the services
    store it: counted in its person's day too."""

    def add(
        person: User,
        due_at: datetime,
        done_at: datetime | None = None,
        outcome: str | None = None,
        status: str | None = None,
        **values,
    ) -> FollowUp:
        customer = values.pop("customer", None) or make_customer(owner=person)
        done = done_at is not None
        task = FollowUp(
            customer_id=customer.id,
            assignee_id=person.id,
            cycle=values.pop("cycle", 1),
            kind=values.pop("kind", Kind.REVISIT),
            due_at=due_at,
            due_on=shop_date(due_at, SHANGHAI),
            status=status or (FollowUpStatus.DONE if done else FollowUpStatus.OPEN),
            outcome=outcome or (Outcome.NO_ANSWER if done else None),
            channel="wechat" if done else None,
            completed_by_id=person.id if done else None,
            completed_at=done_at,
            days_late=days_late(due_at, done_at, SHANGHAI) if done else None,
            **values,
        )
        db.session.add(task)
        daily_figures.update(added=[daily_figures.of(task)])
        db.session.commit()
        return task

    return add


@pytest.fixture
def team(make_user, add_task):
    """Three people's tasks around today, with known figures (see each person's comment)."""
    today = shop_calendar.today()
    alice = make_user(Role.SALES, display_name="Alice")
    bob = make_user(Role.SALES, display_name="Bob", active=False)
    carol = make_user(Role.SALES, display_name="Carol")
    d = lambda n: today + timedelta(days=n)  # noqa: E731
    # Alice: due 4, on time 1, late 1, overdue 1, rate 1/3, conversion 1/2, 1.0 day late on average.
    add_task(alice, shop_time(d(-10)), shop_time(d(-10), 18), Outcome.ORDERED, note="要了报价")
    add_task(alice, shop_time(d(-9)), shop_time(d(-8), 9))
    add_task(alice, shop_time(d(-8)))
    add_task(alice, shop_time(d(2)))
    add_task(alice, shop_time(d(-7)), status=FollowUpStatus.CANCELLED)
    # Bob (deactivated): due 3, on time 2, late 1 (by 3 days), rate 2/3, conversion 2/3.
    add_task(bob, shop_time(d(-10)), shop_time(d(-7)), Outcome.ORDERED)
    add_task(bob, shop_time(d(-5)), shop_time(d(-5)))
    add_task(bob, shop_time(d(-4)), shop_time(d(-6)), Outcome.ORDERED)  # done ahead of its day
    # Carol: one task, not yet due: nothing judged. Another done outside the period.
    add_task(carol, shop_time(d(1)))
    add_task(carol, shop_time(d(-40)), shop_time(d(-40)))
    return {
        "today": today,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "period": {"from": d(-14).isoformat(), "to": d(7).isoformat()},
    }


def table_rows(text: str, part: str = "tbody") -> list[list[str]]:
    """The cells' text of each row of the page's first table part `part` (tbody or tfoot)."""
    body = re.search(rf"<{part}>(.*?)</{part}>", text, re.S).group(1)
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in cells])
    return rows


def links(text: str, part: str = "tbody") -> list[tuple[str, str]]:
    """(number shown, drill-down URL) of every linked count in the table part."""
    body = re.search(rf"<{part}>(.*?)</{part}>", text, re.S).group(1)
    return [(n, html.unescape(url)) for url, n in re.findall(r'<a href="(/audit/tasks\?[^"]+)">(\d+)</a>', body)]


def field_error(text: str, field: str) -> str | None:
    match = re.search(rf'<small class="field-error" id="{field}-error">([^<]*)</small>', text)
    return match.group(1) if match else None


EXPECTED_ROWS = [
    ["Alice", "4", "1", "1", "1", "33.3%", "50.0% (1/2)", "1.0"],
    ["Bob inactive", "3", "2", "1", "0", "66.7%", "66.7% (2/3)", "3.0"],
    ["Carol", "1", "0", "0", "0", "—", "—", "—"],
]
EXPECTED_TOTAL = ["Everyone", "8", "3", "2", "1", "50.0%", "60.0% (3/5)", "2.0"]


def test_every_figure_per_person_and_in_total(client, login_as, team):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/", query_string=team["period"]).text
    # Who is behind comes first; Carol has nothing judged yet, so she comes last.
    assert table_rows(text) == EXPECTED_ROWS
    assert table_rows(text, "tfoot") == [EXPECTED_TOTAL]
    assert 'class="muted"' in re.search(r"<tr[^>]*>\s*<td[^>]*>Bob", text).group(0)


def test_every_count_opens_exactly_the_tasks_behind_it(client, login_as, team):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/", query_string=team["period"]).text
    found = links(text) + links(text, "tfoot")
    whiches = {re.search(r"which=(\w+)", url).group(1) for _, url in found}
    assert whiches == set(services.WHICH)
    for number, url in found:
        page = client.get(url).text
        assert re.search(r"<span>(\d+) tasks?</span>", page).group(1) == number, url


def test_the_drill_down_lists_each_task_with_its_details(client, login_as, team):
    login_as(Role.SUPERVISOR)
    query = team["period"] | {"which": "ordered", "owner": team["alice"].id}
    response = client.get("/audit/tasks", query_string=query)
    assert response.status_code == 200
    assert "Tasks that ended in an order · Alice" in response.text
    [row] = table_rows(response.text)
    customer, cycle, kind, due, done, late, outcome, channel, note = row
    assert (cycle, kind, late, outcome, channel, note) == ("1", "Revisit", "0", "Ordered", "WeChat", "要了报价")
    assert due == (team["today"] - timedelta(days=10)).isoformat()
    assert done.startswith(due) and done.endswith("18:00")
    assert re.search(r'<a href="/customers/\d+">' + customer + "</a>", response.text)


@pytest.mark.parametrize(
    "query",
    [{"which": "everything"}, {"owner": "999999"}, {"owner": "abc"}, {"owner": "99999999999999999999"}, {"owner": ""}],
)
def test_a_tampered_drill_down_answers_404(client, login_as, team, query):
    login_as(Role.SUPERVISOR)
    assert client.get("/audit/tasks", query_string=team["period"] | query).status_code == 404


def test_the_csv_holds_the_same_numbers(client, login_as, team):
    login_as(Role.SUPERVISOR)
    response = client.get("/audit/export.csv", query_string=team["period"])
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    period = team["period"]
    assert f"follow-up-audit-{period['from']}-{period['to']}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows == [
        [
            "Person",
            "Account",
            "Due",
            "Done on time",
            "Done late",
            "Still overdue",
            "On-time rate",
            "Conversion rate",
            "Average days late",
        ],
        ["Alice", "active", "4", "1", "1", "1", "33.3%", "50.0%", "1.0"],
        ["Bob", "deactivated", "3", "2", "1", "0", "66.7%", "66.7%", "3.0"],
        ["Carol", "active", "1", "0", "0", "0", "", "", ""],
        ["Everyone", "", "8", "3", "2", "1", "50.0%", "60.0%", "2.0"],
    ]


def test_a_task_counts_on_its_shop_calendar_day(client, login_as, make_user, add_task):
    login_as(Role.SUPERVISOR)
    person = make_user(Role.SALES, display_name="Dora")
    day = shop_calendar.today() - timedelta(days=3)
    add_task(person, shop_time(day, 23, 30))  # 15:30 UTC
    add_task(person, shop_time(day, 0, 30))  # 16:30 UTC the day before
    one_day = {"from": day.isoformat(), "to": day.isoformat()}
    assert table_rows(client.get("/audit/", query_string=one_day).text) == [
        ["Dora", "2", "0", "0", "2", "0.0%", "—", "—"]
    ]
    day_before = {"from": (day - timedelta(days=1)).isoformat(), "to": (day - timedelta(days=1)).isoformat()}
    assert "No follow-up task was due in this period." in client.get("/audit/", query_string=day_before).text


def test_done_an_hour_after_a_late_evening_due_time_is_one_day_late(client, login_as, make_user, make_customer):
    supervisor = login_as(Role.SUPERVISOR)
    person = make_user(Role.SALES, display_name="Eve")
    customer = make_customer(owner=person)
    day = shop_calendar.today() - timedelta(days=5)
    plan = Plan(cycle=1, kind=Kind.FIRST_CONTACT, due_at=shop_time(day, 23, 30))
    task = followups.open_task(customer, plan)
    db.session.commit()
    # 00:30 the next shop day: the same UTC date, but the next day in the shop.
    next_day = day + timedelta(days=1)
    followups.record_outcome(task, Outcome.INTERESTED, "phone", None, supervisor, now=shop_time(next_day, 0, 30))
    db.session.commit()
    text = client.get("/audit/", query_string={"from": day.isoformat(), "to": day.isoformat()}).text
    assert table_rows(text) == [["Eve", "1", "0", "1", "0", "0.0%", "0.0% (0/1)", "1.0"]]


def test_a_reassigned_customer_s_open_task_counts_for_the_new_person(
    client, login_as, make_user, make_customer, add_task
):
    supervisor = login_as(Role.SUPERVISOR)
    before, after = make_user(Role.SALES, display_name="Frank"), make_user(Role.SALES, display_name="Gina")
    customer = make_customer(owner=before)
    yesterday = shop_calendar.today() - timedelta(days=1)
    add_task(before, shop_time(yesterday), customer=customer)
    followups.assign([customer.id], after, supervisor)
    db.session.commit()
    text = client.get("/audit/", query_string={"from": yesterday.isoformat(), "to": yesterday.isoformat()}).text
    assert table_rows(text) == [["Gina", "1", "0", "0", "1", "0.0%", "—", "—"]]


def test_the_chart_draws_one_line_per_person_with_a_legend(client, login_as, team):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/", query_string=team["period"]).text
    svg = re.search(r"<svg viewBox=.*?</svg>", text, re.S).group(0)
    assert 'role="img"' in svg and '<title id="chart-title">On-time rate per week</title>' in svg
    assert "one line per person: Alice, Bob." in svg  # Carol has nothing judged: no line
    assert svg.count("<g stroke=") == 2
    assert "100%" in svg and "0%" in svg
    legend = re.search(r'<ul class="legend">(.*?)</ul>', text, re.S).group(1)
    assert "Alice" in legend and "Bob" in legend and "Carol" not in legend


def test_the_default_period_is_the_last_four_weeks_and_quick_links_choose_others(client, login_as):
    login_as(Role.SUPERVISOR)
    today = shop_calendar.today()
    monday = today - timedelta(days=today.weekday())
    text = client.get("/audit/").text
    assert f"{(monday - timedelta(weeks=4)).isoformat()} to {today.isoformat()}" in text
    assert f'href="/audit/?from={monday.isoformat()}&amp;to={today.isoformat()}"' in text  # this week
    assert f'href="/audit/?from={(today - timedelta(days=89)).isoformat()}&amp;to={today.isoformat()}"' in text
    for label in ("This week", "Last 4 weeks", "This month", "Last month", "Last 90 days"):
        assert label in text


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"from": "2026-02-31"}, "from", "Not a valid date value."),
        ({"from": "0001-01-01", "to": "0001-01-05"}, "from", "Choose a day from 1900-01-01 to 2100-12-31."),
        ({"to": "9999-12-31"}, "to", "Choose a day from 1900-01-01 to 2100-12-31."),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "from", "The period must start on or before its last day."),
        (
            {"from": "2025-01-01", "to": "2026-01-02"},
            "to",
            "A period can be at most 366 days long. Choose a later start or an earlier end.",
        ),
    ],
)
def test_a_bad_period_is_explained_next_to_its_field_and_the_default_shown(client, login_as, query, field, message):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/", query_string=query).text
    assert field_error(text, field) == message
    default = services.default_period(shop_calendar.today())
    assert f"{default.start.isoformat()} to {default.end.isoformat()}" in text
    assert "the default period, until the dates above are corrected" in text


def test_a_period_of_366_days_is_allowed(client, login_as):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/", query_string={"from": "2024-01-01", "to": "2024-12-31"}).text
    assert 'class="field-error"' not in text
    assert "2024-01-01 to 2024-12-31" in text


def test_an_htmx_request_gets_the_report_alone(client, login_as, team):
    login_as(Role.SUPERVISOR)
    response = client.get("/audit/", query_string=team["period"], headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<section id="report">')
    assert "<html" not in response.text


def test_sales_may_open_no_audit_page(client, login_as, team):
    login_as(Role.SALES)
    for path in ("/audit/", "/audit/tasks", "/audit/customers", "/audit/export.csv"):
        response = client.get(path, query_string=team["period"])
        assert response.status_code == 403, path
        assert "Alice" not in response.text


# --- per customer ----------------------------------------------------------------------------


@pytest.fixture
def customers(make_user, make_customer, add_task):
    today = shop_calendar.today()
    hana, ivan = make_user(Role.SALES, display_name="Hana"), make_user(Role.SALES, display_name="Ivan")
    first = make_customer(owner=hana, name="逾期首访", cycle=1)
    add_task(hana, shop_time(today - timedelta(days=2)), customer=first, kind=Kind.FIRST_CONTACT)
    revisit = make_customer(owner=ivan, name="待回访", cycle=3, unconverted_streak=2)
    add_task(ivan, shop_time(today + timedelta(days=3)), customer=revisit, kind=Kind.REVISIT, cycle=3)
    make_customer(owner=hana, name="已流失", follow_up_state=FollowUpState.LOST, cycle=5, unconverted_streak=5)
    make_customer(owner=ivan, name="勿扰", follow_up_state=FollowUpState.STOPPED, cycle=2)
    make_customer(name="无人负责")
    make_customer(owner=ivan, name="尚无任务")
    return {"hana": hana, "ivan": ivan}


def test_customers_with_an_open_task_soonest_due_first(client, login_as, customers):
    login_as(Role.SUPERVISOR)
    rows = table_rows(client.get("/audit/customers").text)
    assert [row[:4] for row in rows] == [["逾期首访", "Hana", "1", "First contact"], ["待回访", "Ivan", "3", "Revisit"]]
    assert "overdue" in rows[0][5] and "overdue" not in rows[1][5]
    assert rows[1][6] == "2"


@pytest.mark.parametrize(
    "query, names",
    [
        ({"overdue": "y"}, ["逾期首访"]),
        ({"stage": "revisit"}, ["待回访"]),
        ({"stage": "lost"}, ["已流失"]),
        ({"stage": "stopped"}, ["勿扰"]),
        ({"stage": "unassigned"}, ["无人负责"]),
        ({"stage": "none"}, ["尚无任务"]),
    ],
)
def test_customers_by_stage_and_overdue(client, login_as, customers, query, names):
    login_as(Role.SUPERVISOR)
    rows = table_rows(client.get("/audit/customers", query_string=query).text)
    assert [row[0] for row in rows] == names


def test_customers_of_one_owner(client, login_as, customers):
    login_as(Role.SUPERVISOR)
    ivan = str(customers["ivan"].id)
    assert [row[0] for row in table_rows(client.get(f"/audit/customers?owner={ivan}").text)] == ["待回访"]
    assert [row[0] for row in table_rows(client.get(f"/audit/customers?owner={ivan}&stage=stopped").text)] == ["勿扰"]


def test_overdue_only_asks_for_an_open_task(client, login_as, customers):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/customers?stage=lost&overdue=y").text
    assert field_error(text, "overdue") == "Only a customer with an open task can be overdue."
    assert [row[0] for row in table_rows(text)] == ["已流失"]


def test_the_customer_page_links_each_customer(client, login_as, customers):
    login_as(Role.SUPERVISOR)
    text = client.get("/audit/customers", headers={"HX-Request": "true"}).text
    assert text.lstrip().startswith('<section id="results"')
    assert len(re.findall(r'<a href="/customers/\d+">', text)) == 2


# --- the folding, as plain functions ---------------------------------------------------------

MONDAY = date(2026, 11, 2)


def test_open_tasks_are_overdue_only_once_their_day_has_passed(app, make_user, add_task):
    today = shop_calendar.today()
    alice = make_user(Role.SALES, display_name="Alice")
    for n in (-1, 0, 1):
        add_task(alice, shop_time(today + timedelta(days=n)))
    s = services.summary(Period(today - timedelta(days=1), today + timedelta(days=1)), today)
    assert s.total == Tally(due=3, overdue=1)


def test_what_one_task_adds_to_its_person_s_day():
    def task(status, days_late=None, outcome=None):
        return daily_figures.Counted(1, MONDAY, status, days_late, outcome)

    assert daily_figures.counts(task("open")) == (1, 0, 0, 0, 0)  # due, done, on time, ordered, days late
    assert daily_figures.counts(task("done", 0, Outcome.ORDERED)) == (1, 1, 1, 1, 0)
    assert daily_figures.counts(task("done", 3, Outcome.NO_ANSWER)) == (1, 1, 0, 0, 3)
    assert daily_figures.counts(task("cancelled")) == (0, 0, 0, 0, 0)


def test_rates_with_nothing_to_divide_by_are_none():
    empty = Tally(due=2)
    assert (empty.on_time_rate, empty.conversion_rate, empty.average_days_late) == (None, None, None)
    assert Tally(on_time=1, late=2, overdue=1, done=3, ordered=1, days_late=5).on_time_rate == 0.25
    assert Tally(late=2, days_late=5).average_days_late == 2.5


def test_weeks_start_on_monday_and_cover_the_period():
    assert services.weeks_of(Period(date(2026, 11, 4), date(2026, 11, 17))) == [
        date(2026, 11, 2),
        date(2026, 11, 9),
        date(2026, 11, 16),
    ]
    assert services.week_of(date(2026, 11, 8)) == date(2026, 11, 2)  # a Sunday


def test_weekly_rates_leave_a_gap_where_nothing_was_judged():
    weeks = [MONDAY, MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=2)]
    sums = [  # person, week, due, done, on time, ordered, days late, overdue
        (1, weeks[0], 4, 4, 3, 1, 2, 0),
        (2, weeks[1], 1, 1, 1, 0, 0, 0),
        (1, weeks[1], 1, 0, 0, 0, 0, 0),  # not yet due: not judged
        (1, weeks[2], 1, 0, 0, 0, 0, 1),
    ]
    tallies, rates = services.fold(sums, weeks)
    assert rates == {1: [0.75, None, 0.0], 2: [None, 1.0, None]}
    assert tallies == {
        1: Tally(due=6, on_time=3, late=1, overdue=1, done=4, ordered=1, days_late=2),
        2: Tally(due=1, on_time=1, done=1),
    }


def test_a_week_adds_up_its_days_in_the_period(app, make_user, add_task):
    today = shop_calendar.today()
    alice = make_user(Role.SALES, display_name="Alice")
    monday = services.week_of(today) - timedelta(weeks=2)
    for n in range(7):  # a task a day, done on time but on Wednesday (late)
        day = monday + timedelta(days=n)
        add_task(alice, shop_time(day), shop_time(day + timedelta(days=int(n == 2))))
    period = Period(monday + timedelta(days=1), monday + timedelta(days=6))  # Tuesday to Sunday
    # due, done, on time, ordered, days late, overdue
    assert services.week_sums(period, today) == [(alice.id, monday, 6, 6, 5, 0, 1, 0)]


def test_the_chart_breaks_a_line_at_a_gap_and_scales_rates_to_the_plot():
    weeks = [MONDAY + timedelta(weeks=n) for n in range(4)]
    person = User(id=1, display_name="A")
    s = Summary(Period(weeks[0], weeks[-1]), [PersonRow(person, Tally(), [1.0, 0.5, None, 0.0])], Tally(), weeks)
    chart = services.chart(s, width=470, height=240)  # a plot 390 wide from x = 56, 200 high from y = 12
    [line] = chart.lines
    assert line.runs == ["56.0,12.0 186.0,112.0", "446.0,212.0"]
    assert re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)" r="3">', line.circles) == [
        ("56.0", "12.0"),
        ("186.0", "112.0"),
        ("446.0", "212.0"),
    ]
    assert re.findall(r"<title>(.*?)</title>", line.circles) == [
        "A · 2026-11-02 · 100.0%",
        "A · 2026-11-09 · 50.0%",
        "A · 2026-11-23 · 0.0%",
    ]
    assert [label for _, label in chart.x_labels] == weeks


def test_the_period_figures_sort_who_is_behind_first():
    def row(name, **figures):
        return PersonRow(User(display_name=name), Tally(**figures), [])

    rows = [
        row("none judged", due=3),
        row("good", on_time=9, late=1),
        row("bad", on_time=1, overdue=3),
        row("bad, fewer overdue", on_time=1, late=3),
    ]
    assert [r.person.display_name for r in sorted(rows, key=services.behind_first)] == [
        "bad",
        "bad, fewer overdue",
        "good",
        "none judged",
    ]


def test_the_chart_s_dots_show_a_name_as_text():
    person = User(id=1, display_name='<b>"Tom" & Jerry</b>')
    s = Summary(Period(MONDAY, MONDAY), [PersonRow(person, Tally(), [1.0])], Tally(), [MONDAY])
    [line] = services.chart(s).lines
    assert "<title>&lt;b&gt;&#34;Tom&#34; &amp; Jerry&lt;/b&gt; · 2026-11-02 · 100.0%</title>" in line.circles
