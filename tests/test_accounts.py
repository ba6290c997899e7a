"""Signing in (throttled, hashed passwords, secure cookies), the admin's user management, create-admin."""

import re
import time

import pytest
from sqlalchemy import select

from app import create_app
from app.accounts import services
from app.extensions import db
from app.followups.services import assign
from app.models import AuditEntry, Customer, FollowUp, FollowUpStatus, Role, User, utcnow
from app.redis import get_redis

PASSWORD = "correct-horse-1"  # the password conftest's make_user gives every user
WRONG = "wrong-password"
BAD_LOGIN = "Wrong username or password, or the account is deactivated."


def sign_in(client, username, password, address="127.0.0.1", **data):
    return client.post(
        "/login", data={"username": username, "password": password, **data}, environ_base={"REMOTE_ADDR": address}
    )


def signed_in(client) -> bool:
    response = client.get("/customers/")
    return response.status_code == 200


def audit_entries(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- signing in -------------------------------------------------------------------------------


def test_login_page_is_public(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="username"' in response.text and 'name="password"' in response.text


def test_login_page_defaults_to_chinese_and_follows_the_browser(app, client):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    assert '<html lang="zh-CN"' in client.get("/login").text
    assert '<html lang="en"' in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"}).text


def test_login_success_redirects_home_and_signs_in(client, make_user):
    user = make_user(Role.SALES)
    response = sign_in(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert signed_in(client)
    assert user.display_name in client.get("/customers/").text


def test_username_is_not_case_sensitive(client, make_user):
    make_user(Role.SALES, username="Alice")
    assert sign_in(client, "  alice ", PASSWORD).status_code == 302


def test_login_with_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user(Role.SALES)
    response = sign_in(client, user.username, WRONG)
    assert response.status_code == 401
    assert BAD_LOGIN in response.text
    assert 'id="password-error"' in response.text
    assert not signed_in(client)


def test_login_with_unknown_user_gets_the_same_message(client):
    response = sign_in(client, "nobody", WRONG)
    assert response.status_code == 401
    assert BAD_LOGIN in response.text


def test_login_with_empty_fields_shows_errors(client):
    response = client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 200
    assert 'id="username-error"' in response.text and 'id="password-error"' in response.text


def test_deactivated_user_cannot_log_in(client, make_user):
    user = make_user(Role.SALES, active=False)
    response = sign_in(client, user.username, PASSWORD)
    assert response.status_code == 401
    assert BAD_LOGIN in response.text
    assert not signed_in(client)


def test_login_follows_a_local_next(client, make_user):
    user = make_user(Role.SALES)
    response = client.post("/login?next=/customers/new", data={"username": user.username, "password": PASSWORD})
    assert response.headers["Location"] == "/customers/new"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http://localhost.evil.example/x",
    ],
)
def test_login_never_redirects_off_site(client, make_user, target):
    user = make_user(Role.SALES)
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    # Werkzeug percent-encodes a backslash, so "/%5Cevil.example/" is a path on this site.
    assert location == "/" or location.startswith("/%5C")


def test_anonymous_page_redirects_to_login_with_next(client):
    response = client.get("/customers/?q=abc")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_signed_in_user_visiting_login_goes_home(client, login_as):
    login_as(Role.SALES)
    response = client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_logout_is_a_post_and_ends_the_session(client, login_as):
    login_as(Role.SALES)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not signed_in(client)


def test_password_is_stored_hashed(make_user):
    user = make_user(Role.SALES)
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))
    assert user.check_password(PASSWORD) and not user.check_password(WRONG)


def test_deactivating_a_signed_in_user_ends_their_session(app, client, make_user):
    user = make_user(Role.SALES)
    assert sign_in(client, user.username, PASSWORD, remember="y").status_code == 302
    assert client.get_cookie("remember_token") is not None
    assert signed_in(client)
    admin_client = app.test_client()
    admin = make_user(Role.ADMIN)
    sign_in(admin_client, admin.username, PASSWORD)
    assert admin_client.post(f"/users/{user.id}/active", data={"active": "0"}).status_code == 302
    response = client.get("/customers/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    # Nor does the "keep me signed in" cookie bring them back.
    client.delete_cookie("session")
    assert client.get_cookie("remember_token") is not None
    assert not signed_in(client)


# --- throttle ---------------------------------------------------------------------------------


def test_sixth_attempt_on_an_account_is_refused_even_with_the_right_password(client, make_user):
    user = make_user(Role.SALES)
    for _ in range(5):
        assert sign_in(client, user.username, WRONG).status_code == 401
    response = sign_in(client, user.username, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed attempts for this account. Try again in 15 minutes." in response.text
    assert not signed_in(client)


def test_account_throttle_counts_attempts_from_every_address(client, make_user):
    user = make_user(Role.SALES)
    for n in range(5):
        sign_in(client, user.username.upper() if n % 2 else user.username, WRONG, address=f"10.0.0.{n}")
    response = sign_in(client, user.username, PASSWORD, address="10.0.0.99")
    assert response.status_code == 429
    assert "Too many failed attempts for this account." in response.text


def test_colleagues_typing_wrong_behind_one_office_address_lock_no_one_else_out(client, make_user):
    colleagues = [make_user(Role.SALES) for _ in range(7)]
    for colleague in colleagues[:6]:
        assert sign_in(client, colleague.username, WRONG, address="10.5.5.5").status_code == 401
    for _ in range(3):  # and one of them again and again
        assert sign_in(client, colleagues[0].username, WRONG, address="10.5.5.5").status_code == 401
    assert sign_in(client, colleagues[6].username, PASSWORD, address="10.5.5.5").status_code == 302
    client.post("/logout")
    assert sign_in(client, colleagues[1].username, PASSWORD, address="10.5.5.5").status_code == 302


def test_address_throttle_stops_one_address_trying_many_accounts(client, make_user):
    victim = make_user(Role.SALES)
    for n in range(50):  # LOGIN_MAX_FAILURES_PER_ADDRESS, on accounts that are each tried once
        assert sign_in(client, f"guess{n}", WRONG, address="10.1.1.1").status_code == 401
    response = sign_in(client, victim.username, PASSWORD, address="10.1.1.1")
    assert response.status_code == 429
    assert "Too many failed attempts from this network address. Try again in 15 minutes." in response.text
    # The account itself is not locked: from another address it signs in.
    assert sign_in(client, victim.username, PASSWORD, address="10.2.2.2").status_code == 302


def test_four_failures_do_not_lock(client, make_user):
    user = make_user(Role.SALES)
    for _ in range(4):
        sign_in(client, user.username, WRONG)
    assert sign_in(client, user.username, PASSWORD).status_code == 302


def test_a_success_clears_the_account_count(client, make_user):
    user = make_user(Role.SALES)
    for n in range(4):
        sign_in(client, user.username, WRONG, address=f"10.3.0.{n}")
    assert sign_in(client, user.username, PASSWORD, address="10.3.1.1").status_code == 302
    client.post("/logout")
    for n in range(4):
        sign_in(client, user.username, WRONG, address=f"10.3.2.{n}")
    assert sign_in(client, user.username, PASSWORD, address="10.3.3.1").status_code == 302


def test_throttle_ends_with_its_window(app, client, make_user):
    user = make_user(Role.SALES)
    for _ in range(5):
        sign_in(client, user.username, WRONG)
    response = sign_in(client, user.username, PASSWORD)
    assert response.status_code == 429
    # The failures are counted for the window (15 minutes) and then forgotten: let Redis reach
    # the window's end now, as it would in 15 minutes.
    redis = get_redis()
    counters = [key for key in redis.scan_iter("*") if 0 < redis.ttl(key) <= app.config["LOGIN_FAILURE_WINDOW_SECONDS"]]
    assert counters  # the account's and the address's
    for key in counters:
        redis.pexpire(key, 1)
    time.sleep(0.01)
    assert sign_in(client, user.username, PASSWORD).status_code == 302


# --- secure cookies under the production settings ---------------------------------------------


@pytest.fixture
def production_app(app, database_url):
    get_redis()  # starts the embedded server, if that is the one in use, and records its URL
    production = create_app(
        "production",
        SECRET_KEY="a-test-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=app.config["REDIS_URL"],
        RQ_QUEUE=app.config["RQ_QUEUE"],
    )
    yield production
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production", SECRET_KEY=None)


def test_production_login_sets_secure_httponly_samesite_cookies(production_app, make_user):
    user = make_user(Role.SALES)
    assert production_app.config["WTF_CSRF_ENABLED"] is not False
    client = production_app.test_client()
    page = client.get("/login", base_url="https://portal.example")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login",
        base_url="https://portal.example",
        headers={"Referer": "https://portal.example/login"},
        data={"csrf_token": token, "username": user.username, "password": PASSWORD, "remember": "y"},
    )
    assert response.status_code == 302
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert set(cookies) >= {"session", "remember_token"}
    for name in ("session", "remember_token"):
        flags = [part.strip().lower() for part in cookies[name].split(";")]
        assert "secure" in flags, cookies[name]
        assert "httponly" in flags, cookies[name]
        assert "samesite=lax" in flags, cookies[name]


def test_production_refuses_a_login_without_csrf_token(production_app, make_user):
    user = make_user(Role.SALES)
    client = production_app.test_client()
    response = client.post(
        "/login",
        base_url="https://portal.example",
        headers={"Referer": "https://portal.example/login"},
        data={"username": user.username, "password": PASSWORD},
    )
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers or "remember_token" not in response.headers["Set-Cookie"]


# --- the admin's user management --------------------------------------------------------------


def test_users_page_lists_everyone(client, login_as, make_user):
    admin = login_as(Role.ADMIN)
    make_user(Role.SUPERVISOR, display_name="Zhou Supervisor")
    response = client.get("/users")
    assert response.status_code == 200
    assert admin.username in response.text and "Zhou Supervisor" in response.text


def test_admin_creates_a_user(client, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(
        "/users",
        data={"username": "li.ming", "display_name": "李明", "role": "supervisor", "password": "long-enough-1"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/users"
    page = client.get("/users").text
    assert "User li.ming created." in page and "李明" in page
    user = db.session.scalar(select(User).where(User.username == "li.ming"))
    assert user.role == Role.SUPERVISOR and user.active
    assert user.password_hash != "long-enough-1" and user.check_password("long-enough-1")
    [entry] = audit_entries("user.created")
    assert entry.actor_id == admin.id and entry.subject == f"user:{user.id}"
    assert entry.after == {"username": "li.ming", "role": "supervisor"}
    # The new user can sign in.
    client.post("/logout")
    assert sign_in(client, "li.ming", "long-enough-1").status_code == 302


def test_creating_a_taken_username_shows_the_error_by_the_field(client, login_as, make_user):
    login_as(Role.ADMIN)
    make_user(Role.SALES, username="wang")
    response = client.post(
        "/users", data={"username": "WANG", "display_name": "王", "role": "sales", "password": "long-enough-1"}
    )
    assert response.status_code == 422
    assert re.search(r'id="username-error">This username is taken\.', response.text)
    assert db.session.scalar(select(User).where(User.display_name == "王")) is None


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"password": "short"}, "password", "At least 8 characters."),
        ({"username": "有中文"}, "username", "Letters, digits, dot, dash and underscore only."),
        ({"display_name": ""}, "display_name", "This field is required."),
        ({"role": "root"}, "role", "Not a valid choice"),
    ],
)
def test_creating_a_user_with_bad_values_shows_errors(client, login_as, values, field, message):
    login_as(Role.ADMIN)
    data = {"username": "newbie", "display_name": "New", "role": "sales", "password": "long-enough-1"} | values
    response = client.post("/users", data=data)
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text and message in response.text
    assert db.session.scalar(select(User).where(User.username == data["username"])) is None
    assert audit_entries("user.created") == []


def test_admin_deactivates_and_reactivates_a_user(client, login_as, make_user):
    admin = login_as(Role.ADMIN)
    user = make_user(Role.SALES)
    response = client.post(f"/users/{user.id}/active", data={"active": "0"})
    assert response.status_code == 302 and response.headers["Location"] == "/users"
    assert f"{user.username} is deactivated and can no longer sign in." in client.get("/users").text
    db.session.refresh(user)
    assert not user.active
    [entry] = audit_entries("user.deactivated")
    assert (entry.actor_id, entry.subject, entry.before, entry.after) == (
        admin.id,
        f"user:{user.id}",
        {"active": True},
        {"active": False},
    )

    other = client.application.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert sign_in(other, user.username, PASSWORD, address="10.9.9.9").status_code == 401

    client.post(f"/users/{user.id}/active", data={"active": "1"})
    assert f"{user.username} can sign in again." in client.get("/users").text
    db.session.refresh(user)
    assert user.active
    [entry] = audit_entries("user.activated")
    assert entry.before == {"active": False} and entry.after == {"active": True}
    assert sign_in(other, user.username, PASSWORD, address="10.9.9.8").status_code == 302


def test_admin_cannot_deactivate_self(client, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(f"/users/{admin.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "You cannot deactivate your own account." in response.text
    db.session.refresh(admin)
    assert admin.active
    assert audit_entries("user.deactivated") == []
    assert signed_in(client)


# --- the handover before deactivating --------------------------------------------------------


@pytest.fixture
def leaver(make_user, make_customer):
    """A sales person with three customers, each with an open follow-up."""
    user = make_user(Role.SALES, display_name="要走的人")
    customers = [make_customer(name=f"交接{n}") for n in range(3)]
    assign([c.id for c in customers], user, user)
    db.session.commit()
    return user


def customers_of(user: User) -> list[Customer]:
    db.session.expire_all()
    return list(db.session.scalars(select(Customer).where(Customer.owner_id == user.id)))


def open_tasks(user: User) -> list[FollowUp]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(FollowUp).where(FollowUp.assignee_id == user.id, FollowUp.status == FollowUpStatus.OPEN)
        )
    )


def test_deactivating_a_user_with_customers_asks_for_a_handover_first(client, login_as, leaver):
    login_as(Role.ADMIN)
    page = client.get("/users").text
    assert f'href="/assignment/handover/{leaver.id}"' in page and "Deactivate…" in page
    response = client.post(f"/users/{leaver.id}/active", data={"active": "0"})
    assert response.status_code == 302 and response.headers["Location"] == f"/assignment/handover/{leaver.id}"
    db.session.refresh(leaver)
    assert leaver.active and audit_entries("user.deactivated") == []
    page = client.get(response.headers["Location"]).text
    assert "要走的人 owns 3 customers · 3 open follow-ups</strong>" in page
    assert "Hand over and deactivate" in page


def test_handover_to_one_person_moves_customers_and_tasks_then_deactivates(client, login_as, make_user, leaver):
    admin = login_as(Role.ADMIN)
    heir = make_user(Role.SALES, display_name="接手的人")
    tasks = {t.id for t in open_tasks(leaver)}
    response = client.post(f"/assignment/handover/{leaver.id}", data={"how": "person", "to": str(heir.id)})
    assert response.status_code == 302 and response.headers["Location"] == "/users"
    page = client.get("/users").text
    assert "3 customers handed over: 接手的人 3." in page
    assert f"{leaver.username} is deactivated and can no longer sign in." in page
    db.session.refresh(leaver)
    assert not leaver.active
    assert customers_of(leaver) == [] and open_tasks(leaver) == []
    assert len(customers_of(heir)) == 3 and {t.id for t in open_tasks(heir)} == tasks  # the same tasks, moved
    [deactivated] = audit_entries("user.deactivated")
    assert (deactivated.actor_id, deactivated.subject) == (admin.id, f"user:{leaver.id}")
    [handed] = audit_entries("user.handed_over")
    assert handed.after == {"how": "person", "customers": 3, "to": {str(heir.id): 3}}
    changes = audit_entries("customer.owner_changed")[-3:]
    assert all(e.actor_id == admin.id and e.after == {"owner_id": heir.id} for e in changes)


def test_handover_spread_balances_over_the_other_sales_staff(client, login_as, make_user, make_customer, leaver):
    login_as(Role.ADMIN)
    busy = make_user(Role.SALES, display_name="忙的人")
    idle = make_user(Role.SALES, display_name="闲的人")
    make_user(Role.SUPERVISOR)  # supervisors take no customers
    busy_customer = make_customer()
    assign([busy_customer.id], busy, busy)
    db.session.commit()
    response = client.post(f"/assignment/handover/{leaver.id}", data={"how": "spread"})
    assert response.status_code == 302
    assert (len(customers_of(busy)), len(customers_of(idle))) == (2, 2)
    assert (len(open_tasks(busy)), len(open_tasks(idle))) == (2, 2)
    db.session.refresh(leaver)
    assert not leaver.active and customers_of(leaver) == []


def test_handover_leaving_them_unassigned_cancels_the_tasks(client, login_as, leaver):
    login_as(Role.ADMIN)
    ids = [c.id for c in customers_of(leaver)]
    response = client.post(f"/assignment/handover/{leaver.id}", data={"how": "unassign"})
    assert response.status_code == 302
    assert "3 customers left unassigned." in client.get("/users").text
    db.session.refresh(leaver)
    assert not leaver.active and customers_of(leaver) == [] and open_tasks(leaver) == []
    db.session.expire_all()
    assert all(db.session.get(Customer, i).owner_id is None for i in ids)
    statuses = db.session.scalars(select(FollowUp.status).where(FollowUp.customer_id.in_(ids)))
    assert set(statuses) == {FollowUpStatus.CANCELLED}


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({}, "how", "Choose what happens to their customers."),
        ({"how": "person"}, "to", "Choose who takes them over."),
        ({"how": "person", "to": "SELF"}, "to", "Choose an active sales person."),
        ({"how": "person", "to": "SUPERVISOR"}, "to", "Choose an active sales person."),
    ],
)
def test_a_handover_without_a_valid_choice_changes_nothing(client, login_as, make_user, leaver, data, field, message):
    login_as(Role.ADMIN)
    supervisor = make_user(Role.SUPERVISOR)
    make_user(Role.SALES)
    data = {k: {"SELF": str(leaver.id), "SUPERVISOR": str(supervisor.id)}.get(v, v) for k, v in data.items()}
    response = client.post(f"/assignment/handover/{leaver.id}", data=data)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-error">{re.escape(message)}', response.text)
    db.session.refresh(leaver)
    assert leaver.active and len(customers_of(leaver)) == 3 and len(open_tasks(leaver)) == 3
    assert audit_entries("user.deactivated") == [] and audit_entries("user.handed_over") == []


def test_spreading_with_no_other_sales_person_says_so(client, login_as, leaver):
    login_as(Role.ADMIN)
    page = client.get(f"/assignment/handover/{leaver.id}").text
    assert "There is no other active sales person" in page
    response = client.post(f"/assignment/handover/{leaver.id}", data={"how": "spread"})
    assert response.status_code == 422
    assert re.search(r'id="how-error">There is no other active sales person to take them\.', response.text)
    db.session.refresh(leaver)
    assert leaver.active and len(customers_of(leaver)) == 3
    assert audit_entries("customer.owner_changed")[-1].after == {"owner_id": leaver.id}  # only the fixture's


def test_a_deactivated_owner_can_still_hand_over(client, login_as, make_user, leaver):
    login_as(Role.ADMIN)
    leaver.active = False
    db.session.commit()
    heir = make_user(Role.SALES)
    assert f'href="/assignment/handover/{leaver.id}"' in client.get("/users").text
    assert "Hand over and deactivate" not in client.get(f"/assignment/handover/{leaver.id}").text
    client.post(f"/assignment/handover/{leaver.id}", data={"how": "person", "to": str(heir.id)})
    assert len(customers_of(heir)) == 3 and audit_entries("user.deactivated") == []


def test_the_admin_cannot_hand_over_themselves(client, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(f"/assignment/handover/{admin.id}", data={"how": "unassign"}, follow_redirects=True)
    assert "You cannot deactivate your own account." in response.text
    db.session.refresh(admin)
    assert admin.active


def test_handing_over_an_unknown_user_is_404(client, login_as):
    login_as(Role.ADMIN)
    assert client.get("/assignment/handover/999999").status_code == 404


def test_admin_resets_a_password(client, login_as, make_user):
    admin = login_as(Role.ADMIN)
    user = make_user(Role.SALES)
    response = client.post(f"/users/{user.id}/password", data={"password": "brand-new-pass"})
    assert response.status_code == 302
    assert f"Password of {user.username} reset." in client.get("/users").text
    [entry] = audit_entries("user.password_reset")
    assert entry.actor_id == admin.id and entry.subject == f"user:{user.id}"
    assert "brand-new-pass" not in str(entry.before) + str(entry.after)
    client.post("/logout")
    assert sign_in(client, user.username, PASSWORD).status_code == 401
    assert sign_in(client, user.username, "brand-new-pass").status_code == 302


def test_password_reset_too_short_is_refused(client, login_as, make_user):
    login_as(Role.ADMIN)
    user = make_user(Role.SALES)
    response = client.post(f"/users/{user.id}/password", data={"password": "short"}, follow_redirects=True)
    assert "Password not reset: At least 8 characters." in response.text
    db.session.refresh(user)
    assert user.check_password(PASSWORD)
    assert audit_entries("user.password_reset") == []


@pytest.mark.parametrize("path", ["/users/999999/active", "/users/999999/password"])
def test_managing_an_unknown_user_is_404(client, login_as, path):
    login_as(Role.ADMIN)
    assert client.post(path, data={"active": "0", "password": "long-enough-1"}).status_code == 404


# --- flask create-admin -----------------------------------------------------------------------


def test_create_admin_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "boss", "--name", "老板", "--password", "first-admin-pass"])
    assert result.exit_code == 0, result.output
    assert "Admin boss created." in result.output
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.username == "boss"))
    assert (user.role, user.display_name, user.active) == (Role.ADMIN, "老板", True)
    assert user.password_hash != "first-admin-pass" and user.check_password("first-admin-pass")


def test_create_admin_asks_for_the_password_twice(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "boss2"], input="typed-twice-pass\ntyped-twice-pass\n")
    assert result.exit_code == 0, result.output
    assert sign_in(client, "boss2", "typed-twice-pass").status_code == 302
    assert "Users" in client.get("/customers/").text  # the admin's navigation


def test_create_admin_refuses_a_short_password(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "weak", "--password", "1234567"])
    assert result.exit_code != 0
    assert "at least 8 characters" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.username == "weak")) is None


def test_create_admin_refuses_a_taken_username(app, make_user):
    make_user(Role.SALES, username="taken")
    result = app.test_cli_runner().invoke(args=["create-admin", "TAKEN", "--password", "whatever-pass"])
    assert result.exit_code != 0
    assert "already exists" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(User).where(User.role == Role.ADMIN)) is None


# --- the interface language, chosen per user --------------------------------------------------


def test_each_user_chooses_the_interface_language(client, login_as):
    user = login_as(Role.SALES)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    assert '<html lang="zh-CN"' in client.get("/customers/").text
    response = client.post("/language", data={"locale": "en"}, headers={"Referer": "http://localhost/customers/?q=x"})
    assert response.status_code == 302 and response.headers["Location"] == "/customers/?q=x"
    text = client.get("/customers/").text
    assert '<html lang="en"' in text and "Register a customer" in text
    db.session.refresh(user)
    assert user.locale == "en"
    client.post("/language", data={"locale": "zh_CN"})
    assert '<html lang="zh-CN"' in client.get("/customers/").text
    # Anything else: follow the browser again.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/language", data={"locale": "fr"}, headers={"Referer": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    db.session.refresh(user)
    assert user.locale is None
    assert '<html lang="en"' in client.get("/customers/").text


def test_the_portal_has_an_icon(client):
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").text
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.headers["Location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def _task(customer: Customer, assignee: User, status: str) -> FollowUp:
    now = utcnow()
    task = FollowUp(
        customer_id=customer.id, assignee_id=assignee.id, cycle=1, kind="first_contact", due_at=now, due_on=now.date()
    )
    task.status = status
    db.session.add(task)
    return task


def test_who_holds_anything_is_who_has_customers_or_open_tasks(make_user, make_customer):
    """The users page asks only whether each person holds anything: the same answer as their counts."""
    owner_with_tasks = make_user(Role.SALES)
    assign([make_customer().id for _ in range(2)], owner_with_tasks, owner_with_tasks)
    owner_only = make_user(Role.SALES)  # customers, no task
    make_customer(owner=owner_only)
    task_only = make_user(Role.SALES)  # an open task on someone else's customer
    _task(make_customer(owner=owner_only), task_only, FollowUpStatus.OPEN)
    closed_only = make_user(Role.SALES)  # done and cancelled tasks only
    _task(make_customer(), closed_only, FollowUpStatus.DONE)
    _task(make_customer(), closed_only, FollowUpStatus.CANCELLED)
    left = make_user(Role.SALES, active=False)
    make_customer(owner=left)
    nothing = make_user(Role.SALES)
    supervisor = make_user(Role.SUPERVISOR)
    make_customer()  # nobody's
    db.session.commit()

    users = services.staff()
    counted = {load.user_id for load in services.loads_of(users) if load.holds_any}
    assert services.holding(users) == counted == {owner_with_tasks.id, owner_only.id, task_only.id, left.id}
    assert services.holding([nothing, supervisor, closed_only]) == set()
    assert services.holding([]) == set()
