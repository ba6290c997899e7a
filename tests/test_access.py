"""Who may open what (SPEC §10): every route × every role, record ownership, and CSRF.

The matrix iterates the app's URL map, so a new route fails here until its expected
protection is written into EXPECTED.
"""

import re
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import create_app
from app.blacklist import services as blacklist
from app.extensions import db
from app.followups import services as followups
from app.models import (
    AuditEntry,
    BlacklistReason,
    Campaign,
    Complaint,
    Customer,
    ImportRun,
    ImportState,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SmsTemplate,
    User,
    utcnow,
)

ANONYMOUS = "anonymous"
ROLES = [ANONYMOUS, Role.SALES, Role.SUPERVISOR, Role.ADMIN]


def _statuses(anonymous, sales, supervisor, admin):
    return {ANONYMOUS: anonymous, Role.SALES: sales, Role.SUPERVISOR: supervisor, Role.ADMIN: admin}


def everyone_signed_in(status, anonymous=302):
    return _statuses(anonymous, status, status, status)


# (endpoint, method) -> status per role, for the requests `request_for` makes. A 302 for
# the anonymous visitor must lead to the login page.
EXPECTED = {
    ("main.home", "GET"): everyone_signed_in(302),
    ("main.ping", "GET"): everyone_signed_in(200, anonymous=200),
    ("main.favicon", "GET"): everyone_signed_in(301, anonymous=301),
    ("main.language", "POST"): everyone_signed_in(302),
    ("accounts.login", "GET"): everyone_signed_in(302, anonymous=200),
    ("accounts.login", "POST"): everyone_signed_in(302, anonymous=200),
    ("accounts.logout", "POST"): everyone_signed_in(302),
    ("accounts.account", "GET"): everyone_signed_in(200),
    ("accounts.account", "POST"): everyone_signed_in(422),
    ("accounts.sign_out_everywhere", "POST"): everyone_signed_in(302),
    ("accounts.users", "GET"): _statuses(302, 403, 403, 200),
    ("accounts.users", "POST"): _statuses(302, 403, 403, 422),
    ("accounts.set_active", "POST"): _statuses(302, 403, 403, 302),
    ("accounts.reset_password", "POST"): _statuses(302, 403, 403, 302),
    ("assignment.handover", "GET"): _statuses(302, 403, 403, 200),
    ("assignment.handover", "POST"): _statuses(302, 403, 403, 422),
    ("assignment.index", "GET"): _statuses(302, 403, 200, 200),
    ("assignment.assign", "POST"): _statuses(302, 403, 422, 422),
    ("assignment.auto_assign", "POST"): _statuses(302, 403, 200, 200),
    ("customers.index", "GET"): everyone_signed_in(200),
    ("customers.export", "GET"): everyone_signed_in(200),
    ("customers.check", "GET"): everyone_signed_in(200),
    ("customers.new", "GET"): everyone_signed_in(200),
    ("customers.new", "POST"): everyone_signed_in(422),
    ("customers.show", "GET"): everyone_signed_in(200),
    ("customers.edit", "GET"): everyone_signed_in(200),
    ("customers.edit", "POST"): everyone_signed_in(422),
    ("customers.complaint", "POST"): everyone_signed_in(422),
    ("customers.merge", "GET"): _statuses(302, 403, 200, 200),
    ("customers.merge", "POST"): _statuses(302, 403, 422, 422),
    ("followups.queue", "GET"): everyone_signed_in(200),
    ("followups.counters", "GET"): everyone_signed_in(200),
    ("followups.record", "POST"): everyone_signed_in(422),
    # The blacklist offer exists only after a "do not contact" outcome; the task here is open.
    ("blacklist.from_follow_up", "POST"): everyone_signed_in(404),
    ("followups.bring_back", "POST"): _statuses(302, 403, 302, 302),
    # The blacklist: admins manage it, supervisors read it, sales only add through "do not contact".
    ("blacklist.index", "GET"): _statuses(302, 403, 200, 200),
    ("blacklist.export", "GET"): _statuses(302, 403, 200, 200),
    ("blacklist.show", "GET"): _statuses(302, 403, 200, 200),
    ("blacklist.new", "GET"): _statuses(302, 403, 403, 200),
    ("blacklist.new", "POST"): _statuses(302, 403, 403, 422),
    ("blacklist.remove", "POST"): _statuses(302, 403, 403, 422),
    ("blacklist.import_form", "GET"): _statuses(302, 403, 403, 200),
    ("blacklist.import_upload", "POST"): _statuses(302, 403, 403, 422),
    ("blacklist.template", "GET"): _statuses(302, 403, 403, 200),
    ("blacklist.import_report", "GET"): _statuses(302, 403, 200, 200),
    ("blacklist.import_report_csv", "GET"): _statuses(302, 403, 200, 200),
    ("reports.overview", "GET"): _statuses(302, 403, 200, 200),
    ("followup_audit.index", "GET"): _statuses(302, 403, 200, 200),
    ("followup_audit.tasks", "GET"): _statuses(302, 403, 200, 200),
    ("followup_audit.customers", "GET"): _statuses(302, 403, 200, 200),
    ("followup_audit.export", "GET"): _statuses(302, 403, 200, 200),
    ("campaigns.index", "GET"): _statuses(302, 403, 200, 200),
    ("campaigns.new", "GET"): _statuses(302, 403, 200, 200),
    ("campaigns.new", "POST"): _statuses(302, 403, 422, 422),
    ("campaigns.show", "GET"): _statuses(302, 403, 200, 200),
    # The campaign here is a draft: confirming and discarding it go back to its page; pausing
    # and resuming are refused on the page (200) with a message by the buttons.
    ("campaigns.confirm", "POST"): _statuses(302, 403, 302, 302),
    ("campaigns.cancel", "POST"): _statuses(302, 403, 302, 302),
    ("campaigns.pause", "POST"): _statuses(302, 403, 200, 200),
    ("campaigns.resume", "POST"): _statuses(302, 403, 200, 200),
    ("messages.log", "GET"): everyone_signed_in(200),
    ("messages.send", "GET"): everyone_signed_in(200),
    ("messages.send", "POST"): everyone_signed_in(422),
    # The message to settle is of another person's customer: an admin's empty form is refused.
    ("messages.settle", "POST"): _statuses(302, 403, 403, 422),
    ("settings.sending", "GET"): _statuses(302, 403, 403, 200),
    ("settings.sending", "POST"): _statuses(302, 403, 403, 422),
    ("messages.templates", "GET"): _statuses(302, 403, 200, 200),
    ("messages.new_template", "GET"): _statuses(302, 403, 200, 200),
    ("messages.new_template", "POST"): _statuses(302, 403, 422, 422),
    ("messages.edit_template", "GET"): _statuses(302, 403, 200, 200),
    ("messages.edit_template", "POST"): _statuses(302, 403, 422, 422),
    ("messages.preview_template", "POST"): _statuses(302, 403, 200, 200),
    ("messages.archive_template", "POST"): _statuses(302, 403, 302, 302),
    # The providers' webhooks: no sign-in, each authenticated by its provider's signature or
    # secret (tests/test_webhooks.py). Here the provider is "1", which is none: 404 for all.
    ("webhooks.receipts", "POST"): everyone_signed_in(404, anonymous=404),
    ("webhooks.replies", "POST"): everyone_signed_in(404, anonymous=404),
}
PUBLIC = {
    ("main.ping", "GET"),
    ("main.favicon", "GET"),
    ("accounts.login", "GET"),
    ("accounts.login", "POST"),
    ("webhooks.receipts", "POST"),
    ("webhooks.replies", "POST"),
}
# Being built: whatever else they do, they are for supervisors and admins only.
IMPORTS_PREFIX = "/imports"


def _routes():
    # Only the URL map is read here; no database or Redis is touched.
    app = create_app("development", SECRET_KEY="routes-only", SQLALCHEMY_DATABASE_URI="sqlite://")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        # Arguments with a fixed set of values (any(...)) get the first one; others are filled per role.
        arguments = {
            name: sorted(getattr(converter, "items", [None]))[0] for name, converter in rule._converters.items()
        }
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.rule, rule.endpoint, method, arguments


ROUTES = list(_routes())


def test_every_route_has_an_expected_protection():
    missing = [
        (endpoint, method)
        for rule, endpoint, method, _ in ROUTES
        if (endpoint, method) not in EXPECTED and not rule.startswith(IMPORTS_PREFIX)
    ]
    assert not missing, f"add these routes to EXPECTED: {missing}"
    stale = set(EXPECTED) - {(endpoint, method) for _, endpoint, method, _ in ROUTES}
    assert not stale, f"these routes no longer exist: {stale}"


@pytest.fixture
def world(make_user, make_customer):
    """A second sales user with a customer, and a customer of nobody."""
    other = make_user(Role.SALES, display_name="Other Sales")
    return {
        "other": other,
        "others_customer": make_customer(owner=other, name="别人的客户", phone="+8613900000001"),
        "unowned": make_customer(name="无人认领", phone="+8613900000002"),
    }


def _draft_campaign(author: User) -> Campaign:
    template = SmsTemplate(name="上新", kind=MessageKind.MARKETING, body="{name}您好，新品上市。")
    db.session.add(template)
    db.session.flush()
    campaign = Campaign(name="春季上新", template_id=template.id, audience={}, created_by_id=author.id)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def _message(customer: Customer, status: MessageStatus) -> Message:
    message = Message(
        dedupe_key=f"test:{customer.id}:{status}",
        customer_id=customer.id,
        kind=MessageKind.SERVICE,
        phone=customer.phone,
        body="【小店】您好",
        provider="log",
        status=status,
        due_at=utcnow(),
    )
    db.session.add(message)
    db.session.commit()
    return message


def _values(arguments, user, world, make_customer):
    values = {}
    for name, fixed in arguments.items():
        if fixed is not None:
            values[name] = fixed
        elif name == "customer_id":
            own = make_customer(owner=user if isinstance(user, User) else None, name="自己的客户")
            values[name] = own.id
        elif name == "user_id":
            values[name] = world["other"].id
        elif name == "campaign_id":
            values[name] = _draft_campaign(world["other"]).id
        elif name == "message_id":
            values[name] = _message(world["others_customer"], MessageStatus.UNKNOWN).id
        elif name == "entry_id":  # an active blacklist entry
            entry = blacklist.add("+8613900000009", BlacklistReason.MANUAL, source="form", actor=None)
            db.session.commit()
            values[name] = entry.id
        elif name == "run_id":  # a finished import of numbers to blacklist (the order imports' are 403 or unchecked)
            run = ImportRun(
                filename="numbers.csv",
                content=b"phone\n13812345678\n",
                preset=blacklist.IMPORT_PRESET,
                state=ImportState.DONE,
                started_by_id=world["other"].id,
            )
            db.session.add(run)
            db.session.commit()
            values[name] = run.id
        elif name == "task_id":
            # A sales user's own task; for the others, a task of another person (they may act on any).
            own = isinstance(user, User) and user.role == Role.SALES
            customer = make_customer(owner=user if own else world["other"], name="有任务的客户")
            task = followups.start(customer)
            db.session.commit()
            values[name] = task.id
        elif name == "template_id":
            template = SmsTemplate(name="发货通知", kind="service", body="{name}您好，您的订单已发货。")
            db.session.add(template)
            db.session.commit()
            values[name] = template.id
        else:
            values[name] = 1
    return values


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("rule, endpoint, method, arguments", ROUTES, ids=[f"{m} {r}" for r, _, m, _ in ROUTES])
def test_route_protection(app, client, login_as, make_customer, world, rule, endpoint, method, arguments, role):
    user = None if role == ANONYMOUS else login_as(role)
    url = app.url_map.bind("localhost").build(endpoint, _values(arguments, user, world, make_customer), method=method)
    # A form post with its first field left empty (set_active: reactivate the other user).
    data = {"active": "1"} if endpoint == "accounts.set_active" else {"name": ""}
    response = client.open(url, method=method, data=data if method == "POST" else None)

    if rule.startswith(IMPORTS_PREFIX):
        if role == ANONYMOUS:
            assert response.status_code == 302
            assert response.headers["Location"].startswith("/login")
        elif role == Role.SALES:
            assert response.status_code == 403
        return

    expected = EXPECTED[(endpoint, method)][role]
    assert response.status_code == expected, response.text[:500]
    if role == ANONYMOUS and (endpoint, method) not in PUBLIC:
        assert response.headers["Location"].startswith("/login")
    if expected == 403:
        assert "Your role does not allow this page." in response.text


def test_anonymous_htmx_request_redirects_the_whole_page(client):
    response = client.get("/customers/?q=张", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert response.text == ""


def test_a_click_after_the_session_ended_returns_to_the_page_not_to_the_posted_address(client):
    """Signing in again after a click on an expired page lands on that page: the click's own
    address (a POST, or a fragment) answered 405 or showed a bare fragment."""
    on_the_queue = {"HX-Request": "true", "HX-Current-URL": "http://localhost/follow-ups/?section=today"}
    response = client.post("/follow-ups/597/outcome", headers=on_the_queue)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/follow-ups/?section%3Dtoday"
    response = client.get("/customers/5", headers=on_the_queue)  # a card's timeline, opened inline
    assert response.headers["HX-Redirect"] == "/login?next=/follow-ups/?section%3Dtoday"
    elsewhere = {"HX-Request": "true", "HX-Current-URL": "http://evil.example/phish"}
    assert client.post("/follow-ups/597/outcome", headers=elsewhere).headers["HX-Redirect"] == "/login?next=/"
    # A plain form: back to the page it was on.
    response = client.post("/customers/5/complaints", headers={"Referer": "http://localhost/customers/5"})
    assert response.headers["Location"] == "/login?next=/customers/5"


def test_an_address_that_is_no_page_says_so(client, login_as):
    login_as(Role.SALES)
    response = client.get("/logout")
    assert response.status_code == 405
    said = response.text[response.text.index('<article class="empty">') :]
    assert "This address is not a page to open" in said and "Something went wrong" not in said


def test_anonymous_login_redirect_keeps_the_page_to_return_to(client, make_user):
    response = client.get("/customers/?layer=key")
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    user = make_user(Role.SALES)
    response = client.post(location, data={"username": user.username, "password": "correct-horse-1"})  # conftest's
    assert response.headers["Location"] == "/customers/?layer=key"


# --- records of other sales users -------------------------------------------------------------


def _customer_state(customer_id: int):
    db.session.expire_all()
    customer = db.session.get(Customer, customer_id)
    complaints = db.session.scalar(
        select(func.count()).select_from(Complaint).where(Complaint.customer_id == customer_id)
    )
    audits = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.customer_id == customer_id)
    )
    return (customer.name, customer.phone, customer.owner_id, customer.complaint_count, complaints, audits)


@pytest.mark.parametrize("whose", ["others_customer", "unowned"])
@pytest.mark.parametrize(
    "method, path, data",
    [
        ("GET", "/customers/{id}", None),
        ("GET", "/customers/{id}/edit", None),
        ("POST", "/customers/{id}/edit", {"name": "改名", "phone": "13700000000", "source": "inquiry"}),
        ("POST", "/customers/{id}/complaints", {"note": "投诉"}),
    ],
)
def test_sales_cannot_read_or_change_a_customer_not_theirs(client, login_as, world, whose, method, path, data):
    customer_id = world[whose].id
    before = _customer_state(customer_id)
    login_as(Role.SALES)
    response = client.open(path.format(id=customer_id), method=method, data=data)
    assert response.status_code == 404
    assert "This page does not exist, or it is not yours to see." in response.text
    assert world[whose].name not in response.text
    assert _customer_state(customer_id) == before


@pytest.mark.parametrize("role", [Role.SALES, Role.SUPERVISOR])
def test_an_id_too_big_for_the_database_is_not_found(client, login_as, role):
    login_as(role)
    assert client.get("/customers/99999999999").status_code == 404
    assert client.get("/customers/2147483648/edit").status_code == 404


def test_a_missing_customer_looks_the_same_as_someone_elses(client, login_as, world):
    login_as(Role.SALES)
    missing = client.get("/customers/999999")
    others = client.get(f"/customers/{world['others_customer'].id}")
    assert missing.status_code == others.status_code == 404
    assert missing.text == others.text


def test_sales_list_and_search_show_only_their_customers(client, login_as, make_customer, world):
    me = login_as(Role.SALES)
    make_customer(owner=me, name="我的客户甲")
    other_id = world["other"].id
    for query in ("", "?q=客户", f"?owner={other_id}", "?owner=none", "?q=别人", "?q=13900000001"):
        text = client.get("/customers/" + query).text
        assert "别人的客户" not in text and "无人认领" not in text, query
    assert "我的客户甲" in client.get("/customers/?q=客户").text
    # The owner filter and column are for those who see everyone.
    assert 'name="owner"' not in client.get("/customers/").text


def test_sales_exports_contain_only_their_customers(client, login_as, make_customer, world):
    me = login_as(Role.SALES)
    make_customer(owner=me, name="我的客户乙")
    csv_text = client.get("/customers/export.csv").data.decode("utf-8-sig")
    assert "我的客户乙" in csv_text
    assert "别人的客户" not in csv_text and "无人认领" not in csv_text
    assert len(csv_text.strip().splitlines()) == 2

    sheet = load_workbook(BytesIO(client.get("/customers/export.xlsx").data)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["我的客户乙"]
    filtered = client.get(f"/customers/export.csv?owner={world['other'].id}").data.decode("utf-8-sig")
    assert "别人的客户" not in filtered


def test_duplicate_check_does_not_reveal_another_owners_customer(client, login_as, world):
    login_as(Role.SALES)
    response = client.get("/customers/check?phone=139 0000 0001", headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = response.text
    assert "looked after by Other Sales" in text
    assert "别人的客户" not in text and f"/customers/{world['others_customer'].id}" not in text


def test_sales_cannot_assign_an_owner(client, login_as, world):
    me = login_as(Role.SALES)
    response = client.post(
        "/customers/new", data={"name": "自己登记", "source": "inquiry", "owner_id": str(world["other"].id)}
    )
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer).where(Customer.name == "自己登记"))
    assert customer.owner_id == me.id
    response = client.post(
        f"/customers/{customer.id}/edit",
        data={"name": "自己登记", "source": "inquiry", "owner_id": str(world["other"].id)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).owner_id == me.id


def test_supervisor_sees_and_edits_everyones_customers(client, login_as, world):
    login_as(Role.SUPERVISOR)
    text = client.get("/customers/").text
    assert "别人的客户" in text and "无人认领" in text
    assert client.get(f"/customers/{world['others_customer'].id}").status_code == 200


def test_overview_counts_everyone_for_supervisors(client, login_as, world):
    login_as(Role.SUPERVISOR)
    text = client.get("/reports/overview").text
    assert "2 customers" in text


# --- CSRF -------------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app, monkeypatch):
    """Turns CSRF protection on (after signing in, which the fixtures do without a token)."""
    return lambda: monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _hx_token(page: str) -> str:
    return re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page).group(1)


def _form_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _registered(name: str) -> bool:
    db.session.expire_all()
    return db.session.scalar(select(Customer.id).where(Customer.name == name)) is not None


def test_post_without_csrf_token_is_refused(client, login_as, csrf_on):
    login_as(Role.SALES)
    csrf_on()
    response = client.post("/customers/new", data={"name": "没有令牌", "source": "inquiry"})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.text
    assert not _registered("没有令牌")


def test_post_with_a_wrong_csrf_token_is_refused(client, login_as, csrf_on):
    login_as(Role.SALES)
    csrf_on()
    client.get("/customers/new")
    response = client.post(
        "/customers/new",
        data={"name": "假令牌", "source": "inquiry"},
        headers={"X-CSRFToken": "not-the-token", "HX-Request": "true"},
    )
    assert response.status_code == 400
    assert not _registered("假令牌")


def test_htmx_post_with_the_token_from_body_hx_headers_is_accepted(client, login_as, csrf_on):
    login_as(Role.SALES)
    csrf_on()
    token = _hx_token(client.get("/customers/new").text)
    response = client.post(
        "/customers/new",
        data={"name": "带头令牌", "source": "inquiry"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 302
    assert _registered("带头令牌")


def test_form_post_with_the_token_field_is_accepted(client, login_as, csrf_on):
    login_as(Role.SALES)
    csrf_on()
    token = _form_token(client.get("/customers/new").text)
    response = client.post("/customers/new", data={"csrf_token": token, "name": "表单令牌", "source": "inquiry"})
    assert response.status_code == 302
    assert _registered("表单令牌")


def test_every_page_carries_the_htmx_token(client, login_as, csrf_on, make_customer):
    user = login_as(Role.ADMIN)
    customer = make_customer(owner=user)
    csrf_on()
    for path in (
        "/customers/",
        "/customers/new",
        f"/customers/{customer.id}",
        f"/customers/{customer.id}/edit",
        "/users",
        "/reports/overview",
    ):
        assert _hx_token(client.get(path).text), path


@pytest.mark.parametrize("path", ["/logout", "/language", "/users"])
def test_other_state_changing_posts_need_the_token(client, login_as, csrf_on, path):
    login_as(Role.ADMIN)
    csrf_on()
    assert client.post(path, data={"locale": "en", "username": "x"}).status_code == 400
