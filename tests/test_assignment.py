"""Assignment (SPEC §5): supervisors give customers to sales staff, by hand, in bulk, or balanced."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from app.accounts.services import Load
from app.assignment.services import SHOWN_LOADS, NoSalesStaff, balance
from app.extensions import db
from app.followups import services as followups
from app.followups.cycles import Kind
from app.models import AuditEntry, Customer, FollowUp, FollowUpState, FollowUpStatus, Role, utcnow
from app.redis import get_redis


def reload(customer: Customer) -> Customer:
    db.session.expire_all()
    return db.session.get(Customer, customer.id)


def tasks_of(customer: Customer, status: str | None = None) -> list[FollowUp]:
    db.session.expire_all()
    query = select(FollowUp).where(FollowUp.customer_id == customer.id).order_by(FollowUp.id)
    if status:
        query = query.where(FollowUp.status == status)
    return list(db.session.scalars(query))


def open_tasks_of(user) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.assignee_id == user.id, FollowUp.status == FollowUpStatus.OPEN)
    )


def entries(action: str, customer: Customer | None = None) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    if customer is not None:
        query = query.where(AuditEntry.customer_id == customer.id)
    return list(db.session.scalars(query))


def flash_text(response) -> str:
    return re.search(r'<p class="flash flash-\w+" role="status">([^<]*)</p>', response.text).group(1)


@pytest.fixture
def staff(make_user):
    """Three active sales people, an inactive one and a supervisor."""
    return {
        "wang": make_user(Role.SALES, display_name="王芳"),
        "li": make_user(Role.SALES, display_name="李雷"),
        "zhang": make_user(Role.SALES, display_name="张伟"),
        "gone": make_user(Role.SALES, display_name="离职", active=False),
        "boss": make_user(Role.SUPERVISOR, display_name="主管"),
    }


@pytest.fixture
def owned(make_customer):
    """`n` customers of `owner`, each with their open follow-up, as assignment leaves them."""

    def make(owner, n: int = 1, **values) -> list[Customer]:
        customers = [make_customer(**values) for _ in range(n)]
        followups.assign([c.id for c in customers], owner, owner)
        db.session.commit()
        return customers

    return make


# --- the page ---------------------------------------------------------------------------------


def test_supervisor_sees_the_load_and_the_filtered_list(client, login_as, staff, owned, make_customer):
    login_as(Role.SUPERVISOR)
    owned(staff["wang"], 2)
    make_customer(name="无主客户", province="浙江")
    page = client.get("/assignment/")
    assert page.status_code == 200
    loads = re.search(r'<section class="loads".*?</section>', page.text, re.S).group(0)
    assert re.search(r"王芳</a></td>\s*<td class=\"num\">2</td>\s*<td class=\"num\">2</td>", loads)
    assert "李雷" in loads and "离职" not in loads and "主管" not in loads
    assert "无主客户" in page.text and 'name="ids"' in page.text
    assert "Select all on this page" in page.text
    # The registry's filters, the "unassigned" owner among them, filter live through htmx.
    response = client.get("/assignment/?owner=none", headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<section id="results"')
    assert "无主客户" in response.text and "<html" not in response.text
    assert "1 customer" in response.text


def _load_row(text: str, name: str) -> tuple[int, int]:
    loads = re.search(r'<section class="loads".*?</section>', text, re.S).group(0)
    row = re.search(re.escape(name) + r'</a></td>\s*<td class="num">(\d+)</td>\s*<td class="num">(\d+)</td>', loads)
    return int(row.group(1)), int(row.group(2))


def test_the_load_is_counted_once_a_minute_and_after_each_assignment_here(
    client, login_as, staff, owned, make_customer, make_user
):
    login_as(Role.SUPERVISOR)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    owned(staff["wang"], 2)
    page = client.get("/assignment/").text
    assert _load_row(page, "王芳") == (2, 2)
    assert re.search(r"Counted at \d\d:\d\d:\d\d; counted again at most once a minute", page)

    owned(staff["wang"], 1)  # assigned elsewhere: within the minute the page shows its count
    assert _load_row(client.get("/assignment/").text, "王芳") == (2, 2)
    newcomer = make_user(Role.SALES, display_name="新来的")  # a new sales person shows at once
    page = client.get("/assignment/").text
    assert _load_row(page, "新来的") == (0, 0) and _load_row(page, "王芳") == (3, 3)

    owned(staff["wang"], 1)
    customer = make_customer()
    response = client.post(
        "/assignment/", data={"ids": [str(customer.id)], "owner": str(newcomer.id)}, headers={"HX-Request": "true"}
    )
    assert _load_row(response.text, "王芳") == (4, 4) and _load_row(response.text, "新来的") == (1, 1)
    assert _load_row(client.get("/assignment/").text, "新来的") == (1, 1)

    owned(staff["li"], 2)
    get_redis().delete(SHOWN_LOADS)  # as if the minute had passed
    assert _load_row(client.get("/assignment/").text, "李雷") == (2, 2)


def test_the_load_is_counted_again_after_a_handover(client, login_as, staff, owned):
    login_as(Role.ADMIN)
    owned(staff["wang"], 2)
    assert _load_row(client.get("/assignment/").text, "李雷") == (0, 0)
    response = client.post(
        f"/assignment/handover/{staff['wang'].id}", data={"how": "person", "to": str(staff["li"].id)}
    )
    assert response.status_code == 302
    assert _load_row(client.get("/assignment/").text, "李雷") == (2, 2)


def test_next_due_and_follow_up_state_are_shown(client, login_as, staff, owned):
    login_as(Role.SUPERVISOR)
    [customer] = owned(staff["wang"], name="有任务")
    due = tasks_of(customer)[0].due_on
    row = re.search(r"有任务.*?</tr>", client.get("/assignment/").text, re.S).group(0)
    assert due.isoformat() in row and "Followed up" in row and "王芳" in row


def test_a_customer_nobody_follows_up_yet_reads_unassigned(client, login_as, make_customer):
    """Not "Followed up" (跟进中) for someone no one is following up."""
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="无人跟进")
    row = re.search(r"无人跟进.*?</tr>", client.get("/assignment/").text, re.S).group(0)
    assert re.search(r'data-label="Follow-up">Unassigned</td>', row)
    page = " ".join(client.get(f"/customers/{customer.id}").text.split())
    assert "<dt>State</dt><dd>Unassigned</dd>" in page


def test_the_assignment_page_is_in_the_supervisors_navigation(client, login_as):
    login_as(Role.SUPERVISOR)
    assert 'href="/assignment/"' in client.get("/customers/").text


@pytest.mark.parametrize(
    "method, path", [("GET", "/assignment/"), ("POST", "/assignment/"), ("POST", "/assignment/auto")]
)
def test_sales_may_not_assign(client, login_as, make_customer, staff, method, path):
    customer = make_customer(name="别碰")
    login_as(Role.SALES)
    response = client.open(path, method=method, data={"ids": str(customer.id), "owner": str(staff["wang"].id)})
    assert response.status_code == 403
    assert "Your role does not allow this page." in response.text
    assert reload(customer).owner_id is None
    assert tasks_of(customer) == [] and entries("customer.owner_changed") == []
    assert 'href="/assignment/"' not in client.get("/customers/").text


# --- assigning the ticked customers ----------------------------------------------------------


def test_assigning_ticked_customers_opens_their_first_tasks(client, login_as, staff, make_customer):
    boss = login_as(Role.SUPERVISOR)
    first, second, untouched = make_customer(name="甲"), make_customer(name="乙"), make_customer(name="丙")
    before = utcnow()
    response = client.post(
        "/assignment/",
        data={"ids": [str(first.id), str(second.id)], "owner": str(staff["wang"].id)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="workspace"')
    assert flash_text(response) == "2 customers assigned to 王芳."
    for customer in (first, second):
        assert reload(customer).owner_id == staff["wang"].id
        [task] = tasks_of(customer)
        assert (task.assignee_id, task.status, task.cycle, task.kind) == (
            staff["wang"].id,
            "open",
            1,
            Kind.FIRST_CONTACT,
        )
        assert before + timedelta(days=7) - timedelta(minutes=1) < task.due_at < utcnow() + timedelta(days=7)
        assert reload(customer).cycle == 1
        [entry] = entries("customer.owner_changed", customer)
        assert (entry.actor_id, entry.before, entry.after) == (
            boss.id,
            {"owner_id": None},
            {"owner_id": staff["wang"].id},
        )
        [opened] = entries("follow_up.opened", customer)
        assert opened.after["assignee_id"] == staff["wang"].id and opened.actor_id == boss.id
    assert reload(untouched).owner_id is None and tasks_of(untouched) == []
    # The load above the list counts them.
    assert re.search(r"王芳</a></td>\s*<td class=\"num\">2</td>\s*<td class=\"num\">2</td>", response.text)


def test_a_buyer_gets_a_revisit_due_after_their_last_order(client, login_as, staff, make_customer):
    login_as(Role.SUPERVISOR)
    customer = make_customer(name="老买家", last_paid_at=utcnow() - timedelta(days=10), cycle=0)
    client.post("/assignment/", data={"ids": str(customer.id), "owner": str(staff["li"].id)})
    [task] = tasks_of(customer)
    assert task.kind == Kind.REVISIT
    assert abs(task.due_at - (reload(customer).last_paid_at + timedelta(days=30))) < timedelta(seconds=1)


def test_customers_already_theirs_are_counted_apart(client, login_as, staff, owned, make_customer):
    login_as(Role.SUPERVISOR)
    [theirs] = owned(staff["wang"])
    new = make_customer()
    response = client.post("/assignment/", data={"ids": [str(theirs.id), str(new.id)], "owner": str(staff["wang"].id)})
    assert flash_text(response) == "1 customer assigned to 王芳. 1 was theirs already."
    assert len(entries("customer.owner_changed", theirs)) == 1  # only the first assignment
    assert len(tasks_of(theirs)) == 1


def test_reassigning_moves_the_open_task_and_shows_on_the_timeline(client, login_as, staff, owned):
    boss = login_as(Role.SUPERVISOR)
    [customer] = owned(staff["wang"], name="换人客户")
    [task] = tasks_of(customer)
    response = client.post("/assignment/", data={"ids": str(customer.id), "owner": str(staff["li"].id)})
    assert flash_text(response) == "1 customer assigned to 李雷."
    [moved] = tasks_of(customer)
    assert (moved.id, moved.assignee_id, moved.status, moved.cycle) == (task.id, staff["li"].id, "open", task.cycle)
    assert reload(customer).cycle == 1  # the same cycle goes on
    entry = entries("customer.owner_changed", customer)[-1]
    assert (entry.actor_id, entry.before, entry.after) == (
        boss.id,
        {"owner_id": staff["wang"].id},
        {"owner_id": staff["li"].id},
    )
    timeline = client.get(f"/customers/{customer.id}").text
    assert re.search(rf"Owner changed</strong>\s*· {boss.display_name}\s*<small[^>]*>Owner: 王芳 → 李雷", timeline)
    assert open_tasks_of(staff["wang"]) == 0 and open_tasks_of(staff["li"]) == 1


def test_unassigning_cancels_the_open_task(client, login_as, staff, owned):
    login_as(Role.SUPERVISOR)
    [customer] = owned(staff["wang"])
    response = client.post("/assignment/", data={"ids": str(customer.id), "owner": "none"})
    assert flash_text(response) == "1 customer unassigned."
    assert reload(customer).owner_id is None
    [task] = tasks_of(customer)
    assert task.status == FollowUpStatus.CANCELLED
    assert entries("follow_up.cancelled", customer)[0].after == {"cycle": 1}
    assert entries("customer.owner_changed", customer)[-1].after == {"owner_id": None}


def test_a_lost_or_stopped_customer_gets_no_task(client, login_as, staff, make_customer):
    login_as(Role.SUPERVISOR)
    lost = make_customer(follow_up_state=FollowUpState.LOST, cycle=5)
    stopped = make_customer(follow_up_state=FollowUpState.STOPPED, cycle=2)
    client.post("/assignment/", data={"ids": [str(lost.id), str(stopped.id)], "owner": str(staff["wang"].id)})
    for customer in (lost, stopped):
        assert reload(customer).owner_id == staff["wang"].id
        assert tasks_of(customer) == []
    assert entries("follow_up.opened") == []


def test_a_customer_followed_up_before_continues_their_cycle_count(client, login_as, staff, owned):
    login_as(Role.SUPERVISOR)
    [customer] = owned(staff["wang"])
    client.post("/assignment/", data={"ids": str(customer.id), "owner": "none"})
    client.post("/assignment/", data={"ids": str(customer.id), "owner": str(staff["li"].id)})
    [cancelled, task] = tasks_of(customer)
    assert (cancelled.status, task.status, task.cycle, task.kind) == ("cancelled", "open", 2, Kind.REVISIT)
    assert reload(customer).cycle == 2


# --- all the filters match --------------------------------------------------------------------


def test_all_matching_assigns_exactly_the_filtered_customers(client, login_as, staff, make_customer):
    login_as(Role.SUPERVISOR)
    zhejiang = [make_customer(province="浙江") for _ in range(3)]
    elsewhere = [make_customer(province="江苏"), make_customer()]
    page = client.get("/assignment/?province=浙江").text
    assert "Assign all 3 matching customers" in page
    assert 'action="/assignment/?province=%E6%B5%99%E6%B1%9F"' in page
    response = client.post("/assignment/?province=浙江", data={"scope": "all", "owner": str(staff["zhang"].id)})
    assert flash_text(response) == "3 customers assigned to 张伟."
    assert all(reload(c).owner_id == staff["zhang"].id for c in zhejiang)
    assert all(reload(c).owner_id is None for c in elsewhere)
    assert open_tasks_of(staff["zhang"]) == 3


def test_all_matching_with_the_owner_filter_moves_one_persons_customers(client, login_as, staff, owned, make_customer):
    login_as(Role.SUPERVISOR)
    wangs = owned(staff["wang"], 2)
    lis = owned(staff["li"], 1)
    response = client.post(
        f"/assignment/?owner={staff['wang'].id}", data={"scope": "all", "owner": str(staff["zhang"].id)}
    )
    assert flash_text(response) == "2 customers assigned to 张伟."
    assert {reload(c).owner_id for c in wangs} == {staff["zhang"].id}
    assert reload(lis[0]).owner_id == staff["li"].id
    assert open_tasks_of(staff["wang"]) == 0 and open_tasks_of(staff["zhang"]) == 2


def test_all_matching_refuses_while_a_filter_is_invalid(client, login_as, staff, make_customer):
    login_as(Role.SUPERVISOR)
    customer = make_customer(province="浙江")
    # An invalid filter is ignored in the list; "all matching" would then mean everyone.
    response = client.post("/assignment/?owner=999999", data={"scope": "all", "owner": str(staff["wang"].id)})
    assert response.status_code == 422
    assert "Correct the filters first." in response.text
    assert reload(customer).owner_id is None and entries("customer.owner_changed") == []


def test_a_big_selection_is_assigned_in_one_go(client, login_as, staff):
    login_as(Role.SUPERVISOR)
    count = followups.CHUNK * 2 + 7  # several chunks
    db.session.execute(
        insert(Customer),
        [{"name": f"批量{n}", "province": "广东", "tags": "", "search_text": ""} for n in range(count)],
    )
    db.session.commit()
    response = client.post("/assignment/?province=广东", data={"scope": "all", "owner": str(staff["wang"].id)})
    assert flash_text(response) == f"{count} customers assigned to 王芳."
    assert (
        db.session.scalar(select(func.count()).select_from(Customer).where(Customer.owner_id == staff["wang"].id))
        == count
    )
    assert open_tasks_of(staff["wang"]) == count
    assert len(entries("customer.owner_changed")) == count and len(entries("follow_up.opened")) == count


# --- refused -----------------------------------------------------------------------------------


def _nothing_changed(*customers):
    return (
        all(reload(c).owner_id is None for c in customers)
        and entries("customer.owner_changed") == []
        and all(tasks_of(c) == [] for c in customers)
    )


@pytest.mark.parametrize(
    "ids, message",
    [
        (["999999"], "No customer has the ID 999999."),
        (["abc"], "Not a customer ID: abc"),
        (["2147483648"], "Not a customer ID: 2147483648"),  # ids are 32-bit on PostgreSQL
        (["99999999999999999999"], "Not a customer ID: 99999999999999999999"),
        (["²"], "Not a customer ID: ²"),
    ],
)
def test_unknown_customer_ids_write_nothing(client, login_as, staff, make_customer, ids, message):
    login_as(Role.SUPERVISOR)
    real = make_customer()
    response = client.post(
        "/assignment/",
        data={"ids": [str(real.id)] + ids, "owner": str(staff["wang"].id)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert message in response.text
    assert _nothing_changed(real)


@pytest.mark.parametrize("target", ["gone", "boss"])
def test_the_new_owner_must_be_an_active_sales_person(client, login_as, staff, make_customer, target):
    login_as(Role.SUPERVISOR)
    customer = make_customer()
    response = client.post("/assignment/", data={"ids": str(customer.id), "owner": str(staff[target].id)})
    assert response.status_code == 422
    assert re.search(r'id="assign-owner-error">Choose an active sales person, or nobody\.', response.text)
    assert _nothing_changed(customer)


def test_the_service_refuses_an_owner_who_is_not_active_sales(staff, make_customer):
    customer = make_customer()
    for target in ("gone", "boss"):
        with pytest.raises(followups.NotASalesPerson):
            followups.assign([customer.id], staff[target], staff["boss"])
    db.session.rollback()
    assert _nothing_changed(customer)


def test_nothing_ticked_or_nobody_chosen_says_so(client, login_as, staff, make_customer):
    login_as(Role.SUPERVISOR)
    customer = make_customer()
    response = client.post("/assignment/", data={"owner": str(staff["wang"].id)})
    assert response.status_code == 422
    assert "Tick the customers to assign, or assign all the matching ones." in response.text
    response = client.post("/assignment/", data={"ids": str(customer.id), "owner": ""})
    assert response.status_code == 422
    assert re.search(r'id="assign-owner-error">Choose who gets them\.', response.text)
    # The ticks stay, so the supervisor only has to choose the person.
    assert re.search(rf'name="ids" value="{customer.id}"[^>]*checked', response.text)
    assert _nothing_changed(customer)


# --- auto-assign ------------------------------------------------------------------------------


def test_auto_assign_balances_by_open_load_and_opens_the_tasks(client, login_as, staff, owned, make_customer):
    login_as(Role.SUPERVISOR)
    owned(staff["wang"], 3)
    owned(staff["zhang"], 1)
    unowned = [make_customer() for _ in range(5)]
    response = client.post("/assignment/auto", headers={"HX-Request": "true"})
    assert response.status_code == 200
    message = flash_text(response)
    assert message.startswith("5 customers auto-assigned: ") and "李雷 3" in message and "张伟 2" in message
    assert "王芳" not in message
    assert [open_tasks_of(staff[name]) for name in ("wang", "li", "zhang")] == [3, 3, 3]
    assert all(len(tasks_of(c, "open")) == 1 for c in unowned)
    assert open_tasks_of(staff["gone"]) == 0 and open_tasks_of(staff["boss"]) == 0
    assert len(entries("customer.owner_changed")) == 3 + 1 + 5


def test_auto_assign_with_nothing_unassigned_says_so(client, login_as, staff, owned):
    login_as(Role.SUPERVISOR)
    owned(staff["wang"], 1)
    response = client.post("/assignment/auto")
    assert response.status_code == 200
    assert flash_text(response) == "Nothing to assign: every customer has an owner."


def test_auto_assign_without_sales_staff_says_so(client, login_as, make_customer):
    login_as(Role.SUPERVISOR)
    customer = make_customer()
    response = client.post("/assignment/auto")
    assert response.status_code == 422
    assert "There is no active sales person to give customers to." in response.text
    assert _nothing_changed(customer)


# --- the balancing rule, over plain values ----------------------------------------------------


def test_balance_spreads_evenly_from_nothing():
    loads = [Load(1, "A"), Load(2, "B"), Load(3, "C")]
    given = balance(loads, [(n, True) for n in range(1, 7)])
    assert given == {1: [1, 4], 2: [2, 5], 3: [3, 6]}


def test_balance_fills_the_lightest_first():
    loads = [Load(1, "A", customers=3, open_tasks=3), Load(2, "B"), Load(3, "C", customers=1, open_tasks=1)]
    given = balance(loads, [(n, True) for n in range(1, 6)])
    assert {user: len(ids) for user, ids in given.items()} == {1: 0, 2: 3, 3: 2}


def test_balance_breaks_ties_by_customers_then_name():
    loads = [
        Load(1, "Zed", customers=5, open_tasks=2),
        Load(2, "Amy", customers=9, open_tasks=2),
        Load(3, "Bob", customers=5, open_tasks=2),
    ]
    assert balance(loads, [(10, True)]) == {1: [], 2: [], 3: [10]}
    assert balance(loads, [(10, True), (11, True), (12, True)]) == {1: [11], 2: [12], 3: [10]}


def test_balance_counts_only_the_tasks_customers_bring():
    # A lost customer adds to a person's customers but not to their open follow-ups.
    loads = [Load(1, "A"), Load(2, "B")]
    assert balance(loads, [(1, False), (2, True), (3, True)]) == {1: [1, 3], 2: [2]}


def test_balance_without_sales_staff_is_an_error():
    with pytest.raises(NoSalesStaff):
        balance([], [(1, True)])
