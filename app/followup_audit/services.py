"""The follow-up audit (核查): who followed up on schedule in a period, and where each customer stands.

A task counts in a period when its due day (FollowUp.due_on, the shop's calendar) is in the
period and it is not cancelled; it counts for its assignee. The figures are read from each
person's counts per due day (FollowUpDay, kept by app.followups.daily_figures with the tasks):
at most one row per person and day, whatever the number of tasks; plain functions fold those
rows into each person's figures and weekly series. The drill-downs list the tasks themselves.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, Select, and_, case, func, select, true
from sqlalchemy.orm import joinedload

from .. import shop_calendar
from ..extensions import db
from ..models import Customer, FollowUp, FollowUpDay, FollowUpState, FollowUpStatus, Kind, Outcome, User
from ..pagination import Page, page_of
from ..shop_calendar import day_start, week_of
from ..templating import localdate

MAX_DAYS = 366

# The figures a count on the page can stand for, each a drill-down (`conditions`).
WHICH = ("due", "on_time", "late", "overdue", "done", "ordered")


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def quick_periods(today: date) -> dict[str, Period]:
    month = today.replace(day=1)
    last_month_end = month - timedelta(days=1)
    return {
        "this_week": Period(week_of(today), today),
        # Four whole weeks, and this one so far.
        "last_4_weeks": Period(week_of(today) - timedelta(weeks=4), today),
        "this_month": Period(month, today),
        "last_month": Period(last_month_end.replace(day=1), last_month_end),
        "last_90_days": Period(today - timedelta(days=89), today),
    }


def default_period(today: date) -> Period:
    return quick_periods(today)["last_4_weeks"]


# --- the figures -----------------------------------------------------------------------------


@dataclass
class Tally:
    """Tasks of a period (or of one day) for one person or everyone."""

    due: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    ordered: int = 0
    days_late: int = 0  # summed over the tasks done late

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.due + other.due,
            self.done + other.done,
            self.on_time + other.on_time,
            self.late + other.late,
            self.overdue + other.overdue,
            self.ordered + other.ordered,
            self.days_late + other.days_late,
        )

    @property
    def judged(self) -> int:
        """Tasks whose timeliness is settled; those not yet due are not judged."""
        return self.on_time + self.late + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.judged if self.judged else None

    @property
    def conversion_rate(self) -> float | None:
        return self.ordered / self.done if self.done else None

    @property
    def average_days_late(self) -> float | None:
        return self.days_late / self.late if self.late else None


def in_period(period: Period) -> ColumnElement[bool]:
    return and_(FollowUp.due_on.between(period.start, period.end), FollowUp.status != FollowUpStatus.CANCELLED)


def conditions(today: date) -> dict[str, ColumnElement[bool]]:
    """What each figure counts, among the period's tasks; the drill-down lists exactly these."""
    done = FollowUp.status == FollowUpStatus.DONE
    return {
        "due": true(),
        "done": done,
        "on_time": and_(done, FollowUp.days_late == 0),
        "late": and_(done, FollowUp.days_late > 0),
        "overdue": and_(FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_on < today),
        "ordered": and_(done, FollowUp.outcome == Outcome.ORDERED),
    }


def days_in(period: Period) -> tuple[ColumnElement[bool], ...]:
    """The daily figures of the period, read from the weeks it touches (the table's order)."""
    return (
        FollowUpDay.week.between(week_of(period.start), week_of(period.end)),
        FollowUpDay.due_on.between(period.start, period.end),
    )


# A week's sums (week_sums): assignee id, Monday, then these figures.
WeekSums = tuple[int, date, int, int, int, int, int, int]  # due, done, on_time, ordered, days_late, overdue


def week_sums(period: Period, today: date) -> list[WeekSums]:
    """The sums of each person's weeks of the period with a task due, in week order.

    Added up in the database from each person's counts per due day: at most 53 × people rows
    to fold. What is not done is overdue once its day has passed. Read as plain columns of
    the table: the ORM's rows cost more per row, and a year is some 1,000 of them.
    """
    day = FollowUpDay.__table__.c
    rows = db.session.execute(
        select(
            day.assignee_id,
            day.week,
            func.sum(day.due),
            func.sum(day.done),
            func.sum(day.on_time),
            func.sum(day.ordered),
            func.sum(day.days_late),
            func.sum(case((day.due_on < today, day.due - day.done), else_=0)),
        )
        .where(
            day.week.between(week_of(period.start), week_of(period.end)), day.due_on.between(period.start, period.end)
        )
        .group_by(day.week, day.assignee_id)
    )
    return [tuple(row) for row in rows if row[2]]


def fold(sums: list[WeekSums], weeks: list[date]) -> tuple[dict[int, Tally], dict[int, list[float | None]]]:
    """Each person's figures of the period, and on-time rate per week of `weeks`, from
    week_sums; a rate is None where nothing was judged that week (a gap, not 0 %).

    Plain integers are added up, and each person's Tally made once at the end: a year is
    some 1,000 weeks to fold. A week's judged tasks are its on time, late (done − on time)
    and overdue ones: done + overdue, as Tally.judged counts them.
    """
    slot = {week: n for n, week in enumerate(weeks)}
    totals: dict[int, list[int]] = {}
    rates: dict[int, list[float | None]] = {}
    for assignee_id, week, due, done, on_time, ordered, days_late, overdue in sums:
        total = totals.get(assignee_id)
        if total is None:
            total = totals[assignee_id] = [0, 0, 0, 0, 0, 0]
            rates[assignee_id] = [None] * len(weeks)
        total[0] += due
        total[1] += done
        total[2] += on_time
        total[3] += ordered
        total[4] += days_late
        total[5] += overdue
        judged = done + overdue
        if judged:
            rates[assignee_id][slot[week]] = on_time / judged
    tallies = {
        person: Tally(due, done, on_time, late=done - on_time, overdue=overdue, ordered=ordered, days_late=days_late)
        for person, (due, done, on_time, ordered, days_late, overdue) in totals.items()
    }
    return tallies, rates


def weeks_of(period: Period) -> list[date]:
    """The Mondays of the shop weeks the period touches."""
    first, last = week_of(period.start), week_of(period.end)
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


@dataclass
class PersonRow:
    person: User
    tally: Tally
    weekly: list[float | None]  # on-time rate per week of the summary


@dataclass
class Summary:
    period: Period
    rows: list[PersonRow]  # who is behind first
    total: Tally
    weeks: list[date]


def behind_first(row: PersonRow) -> tuple:
    """Lowest on-time rate first, then most overdue; people with nothing judged last."""
    rate = row.tally.on_time_rate
    return (rate is None, rate or 0.0, -row.tally.overdue, row.person.display_name)


def summary(period: Period, today: date) -> Summary:
    weeks = weeks_of(period)
    tallies, weekly = fold(week_sums(period, today), weeks)
    people = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(tallies)))}
    rows = sorted((PersonRow(people[i], tally, weekly[i]) for i, tally in tallies.items()), key=behind_first)
    return Summary(period, rows, sum(tallies.values(), Tally()), weeks)


def figure(period: Period, today: date, which: str, owner_id: int | None = None) -> int:
    """One figure (`which`, of WHICH) of one person or everyone, from the daily figures.

    It is the number of tasks `conditions` lists for it, since a done task's days late are
    never below 0 (cycles.days_late): done late is done and not on time.
    """
    day = FollowUpDay
    counted = {
        "due": day.due,
        "done": day.done,
        "on_time": day.on_time,
        "late": day.done - day.on_time,
        "overdue": case((day.due_on < today, day.due - day.done), else_=0),
        "ordered": day.ordered,
    }[which]
    query = select(func.coalesce(func.sum(counted), 0)).where(*days_in(period))
    if owner_id is not None:
        query = query.where(day.assignee_id == owner_id)
    return db.session.scalar(query)


def task_query(period: Period, today: date, which: str, owner_id: int | None = None) -> Select:
    """The tasks behind one figure (`which`, of WHICH) of one person or everyone, by due day;
    it carries their number, the figure the audit showed (counting them would read the whole
    period's tasks)."""
    query = select(FollowUp).where(in_period(period), conditions(today)[which])
    if owner_id is not None:
        # "+ 0" keeps SQLite on the period's range of ix_follow_ups_audit (a few weeks of
        # tasks) rather than the person's whole history in ix_follow_ups_assignee_status_due.
        query = query.where(FollowUp.assignee_id + 0 == owner_id)
    return (
        query.order_by(FollowUp.due_on, FollowUp.id)
        .options(joinedload(FollowUp.customer), joinedload(FollowUp.assignee))
        .execution_options(known_total=figure(period, today, which, owner_id))
    )


def percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def csv_rows(s: Summary, header: list[str], total_label: str, account_labels: tuple[str, str]):
    """The per-person table for a spreadsheet: rates as percentages, blanks for "—"."""

    def figures(t: Tally) -> list:
        return [
            t.due,
            t.on_time,
            t.late,
            t.overdue,
            percent(t.on_time_rate),
            percent(t.conversion_rate),
            one_decimal(t.average_days_late),
        ]

    active, inactive = account_labels
    yield header
    for row in s.rows:
        account = active if row.person.active else inactive
        yield [row.person.display_name, account, *figures(row.tally)]
    yield [total_label, "", *figures(s.total)]


# --- the chart -------------------------------------------------------------------------------

PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#827717", "#455a64")
DASHES = ("", "6 4", "2 4")  # after ten people the colours come round again, with another dash
CIRCLES_APART = "\n        "  # the template's indentation of the dots


@dataclass
class ChartLine:
    person: User
    colour: str
    dash: str
    runs: list[str]  # SVG points ("x,y x,y …") of each run of weeks with a rate; gaps between them
    circles: Markup  # a dot per week with a rate, as SVG: <circle> and its <title>, "person · week · rate"


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_labels: list[tuple[float, date]]
    y_ticks: list[tuple[float, int]]  # y, percent
    lines: list[ChartLine]


def chart(s: Summary, width: int = 480, height: int = 240, most_labels: int = 6) -> Chart:
    """Where each person's weekly on-time rate goes in an SVG of width × height (0–100 % upwards)."""
    left, right, top, bottom = 56, 24, 12, 28  # room for the axis labels
    plot_width, plot_height = width - left - right, height - top - bottom
    count = len(s.weeks)

    def x(n: int) -> float:
        return round(left + (plot_width / 2 if count == 1 else n * plot_width / (count - 1)), 1)

    def y(rate: float) -> float:
        return round(top + (1 - rate) * plot_height, 1)

    # Worked out once per week, not once per person and week: a year is 53 weeks × everyone.
    xs = [str(x(n)) for n in range(count)]
    # The dots' markup is written here, escaped once per person and week: the template would
    # escape three values per dot, for some 1,000 dots in a year.
    weeks = [escape(localdate(week)) for week in s.weeks]
    lines = []
    # People with nothing judged in the whole period have no line.
    for number, row in enumerate(r for r in s.rows if any(rate is not None for rate in r.weekly)):
        runs, run, circles = [], None, []
        name = escape(row.person.display_name)
        for n, rate in enumerate(row.weekly):
            if rate is None:
                run = None  # a gap: the next rate starts another run
                continue
            if run is None:
                run = []
                runs.append(run)
            across, up = xs[n], str(y(rate))
            run.append(f"{across},{up}")
            # percent(): digits, a point and "%", nothing to escape.
            circles.append(
                f'<circle cx="{across}" cy="{up}" r="3"><title>{name} · {weeks[n]} · {percent(rate)}</title></circle>'
            )
        lines.append(
            ChartLine(
                row.person,
                PALETTE[number % len(PALETTE)],
                DASHES[number // len(PALETTE) % len(DASHES)],
                [" ".join(r) for r in runs],
                Markup(CIRCLES_APART.join(circles)),
            )
        )
    step = -(-count // most_labels)
    return Chart(
        width,
        height,
        left,
        top,
        plot_width,
        plot_height,
        x_labels=[(x(n), week) for n, week in enumerate(s.weeks) if n % step == 0],
        y_ticks=[(y(p / 100), p) for p in (0, 25, 50, 75, 100)],
        lines=lines,
    )


# --- per customer ----------------------------------------------------------------------------

# A customer's stage: the open task's kind (cycles.Kind), or why there is none.
LOST, STOPPED, UNASSIGNED, NO_TASK = "lost", "stopped", "unassigned", "none"


def stage_of(customer: Customer, task: FollowUp | None) -> str:
    if customer.follow_up_state == FollowUpState.LOST:
        return LOST
    if customer.follow_up_state == FollowUpState.STOPPED:
        return STOPPED
    if customer.owner_id is None:
        return UNASSIGNED
    return task.kind if task is not None else NO_TASK


@dataclass
class CustomerFilters:
    owner: int | None = None
    stage: str = ""  # a stage (stage_of); "" for every customer with an open task
    overdue: bool = False  # only customers whose open task is overdue


@dataclass
class CustomerRow:
    customer: Customer
    task: FollowUp | None
    stage: str
    overdue: bool


def customer_page(f: CustomerFilters, number: int, size: int, now: datetime | None = None) -> Page:
    """A page of customers (CustomerRow) with their stage and next due, soonest due (overdue) first.

    Customers with an open task are listed from the tasks' index (the task's assignee is the
    owner: assign() moves it); the others from the customers, longest without contact first.
    Both read a page of ids (narrow rows to sort and count), then load that page.
    """
    today_starts = day_start(shop_calendar.today(now))
    if f.stage in ("", *Kind):
        query = _open_task_ids(f, today_starts)
        if not (f.stage or f.overdue):
            query = query.execution_options(known_total=open_tasks(f.owner))
        page = page_of(query, number, size)
        tasks = _by_id(FollowUp, page.items, joinedload(FollowUp.customer).joinedload(Customer.owner))
        pairs = [(task.customer, task) for task in tasks]
    else:
        page = page_of(_customer_ids_without_task(f), number, size)
        pairs = [(customer, None) for customer in _by_id(Customer, page.items, joinedload(Customer.owner))]
    page.items = [CustomerRow(c, t, stage_of(c, t), t is not None and t.due_at < today_starts) for c, t in pairs]
    return page


def open_tasks(owner_id: int | None = None) -> int:
    """How many tasks are open (of one person, or everyone's), from the daily figures: what is
    counted and not done is open. PostgreSQL counted the tasks themselves in 2.4 ms (a
    bitmap scan of the bench's 20,585), these in 0.5 ms; SQLite in 0.75 and 0.5 ms."""
    query = select(func.coalesce(func.sum(FollowUpDay.due - FollowUpDay.done), 0))
    if owner_id is not None:
        query = query.where(FollowUpDay.assignee_id == owner_id)
    return db.session.scalar(query)


def _by_id(model, ids: list[int], *options) -> list:
    """The rows of `model` with these ids, in the order of `ids`."""
    rows = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)).options(*options))}
    return [rows[i] for i in ids]


def _open_task_ids(f: CustomerFilters, today_starts: datetime) -> Select:
    query = select(FollowUp.id).where(FollowUp.status == FollowUpStatus.OPEN)
    if f.owner is not None:
        query = query.where(FollowUp.assignee_id == f.owner)
    elif db.session.get_bind().dialect.name == "sqlite":
        # Always true (every task has an assignee), and it lets SQLite read
        # ix_follow_ups_assignee_status_due person by person in due order and stop after a
        # page, where it would otherwise sort every open task. PostgreSQL joined the users to
        # every open task for it: the first page and its count took 5.3 + 3.9 ms, 3.8 + 2.4 without.
        query = query.where(FollowUp.assignee_id.in_(select(User.id)))
    if f.stage:
        query = query.where(FollowUp.kind == f.stage)
    if f.overdue:
        query = query.where(FollowUp.due_at < today_starts)
    return query.order_by(FollowUp.due_at, FollowUp.id)


def _customer_ids_without_task(f: CustomerFilters) -> Select:
    active = Customer.follow_up_state == FollowUpState.ACTIVE
    # NOT IN, not NOT EXISTS: SQLite then reads the open tasks' index once instead of once per customer.
    with_open_task = select(FollowUp.customer_id).where(FollowUp.status == FollowUpStatus.OPEN)
    stage = {
        LOST: Customer.follow_up_state == FollowUpState.LOST,
        STOPPED: Customer.follow_up_state == FollowUpState.STOPPED,
        UNASSIGNED: and_(active, Customer.owner_id.is_(None)),
        NO_TASK: and_(active, Customer.owner_id.is_not(None), Customer.id.not_in(with_open_task)),
    }[f.stage]
    query = select(Customer.id).where(stage)
    if f.owner is not None:
        query = query.where(Customer.owner_id == f.owner)
    return query.order_by(Customer.last_contact_at.asc().nulls_first(), Customer.id)
