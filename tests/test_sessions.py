"""Sessions the server can end: a cookie copied before an event stops working after it.

For each event (signing out, "sign out everywhere", a password change or an admin's reset,
a deactivation) a browser signs in, with and without "keep me signed in"; its cookies are
copied; after the event a fresh browser carrying only the copy is sent to the login page.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Role, User
from tests.conftest import PASSWORD

COOKIES = ("session", "remember_token")


def browser(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def signed_in_browser(app, user: User, remember: bool = False):
    client = browser(app)
    data = {"username": user.username, "password": PASSWORD} | ({"remember": "y"} if remember else {})
    assert client.post("/login", data=data).status_code == 302
    return client


def copy_cookies(client) -> dict[str, str]:
    return {name: client.get_cookie(name).value for name in COOKIES if client.get_cookie(name)}


def opens_a_page(app, cookies: dict[str, str]) -> bool:
    """Whether a fresh browser carrying only these cookies gets a signed-in page."""
    client = browser(app)
    for name, value in cookies.items():
        client.set_cookie(name, value)
    response = client.get("/customers/")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def each_cookie_opens_a_page(app, cookies: dict[str, str]) -> list[bool]:
    return [opens_a_page(app, {name: value}) for name, value in cookies.items()]


def audit_entries(action: str) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


# What ends a sign-in: each takes the app, the user and the browser whose cookies were copied.


def sign_out(app, user, client, make_user):
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    # The browser itself is told to forget both cookies.
    assert all(client.get_cookie(name) is None for name in COOKIES)


def sign_out_everywhere(app, user, client, make_user):
    elsewhere = signed_in_browser(app, user)
    response = elsewhere.post("/account/sign-out-everywhere", follow_redirects=True)
    assert "You are signed out on every other computer and phone." in response.text
    assert opens_a_page(app, copy_cookies(elsewhere))  # the browser that asked stays signed in


def change_own_password(app, user, client, make_user):
    elsewhere = signed_in_browser(app, user)
    response = elsewhere.post(
        "/account",
        data={"current_password": PASSWORD, "new_password": "a-new-password", "repeat_password": "a-new-password"},
        follow_redirects=True,
    )
    assert "Password changed." in response.text
    assert opens_a_page(app, copy_cookies(elsewhere))


def admin_resets_the_password(app, user, client, make_user):
    admin = signed_in_browser(app, make_user(Role.ADMIN))
    assert admin.post(f"/users/{user.id}/password", data={"password": "a-new-password"}).status_code == 302


def deactivation_then_reactivation(app, user, client, make_user):
    admin = signed_in_browser(app, make_user(Role.ADMIN))
    admin.post(f"/users/{user.id}/active", data={"active": "0"})
    # Even once they may sign in again, the old cookies stay dead.
    admin.post(f"/users/{user.id}/active", data={"active": "1"})
    db.session.expire_all()
    assert db.session.get(User, user.id).active


EVENTS = [sign_out, sign_out_everywhere, change_own_password, admin_resets_the_password, deactivation_then_reactivation]


@pytest.mark.parametrize("remember", [False, True], ids=["session", "keep me signed in"])
@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.__name__)
def test_a_cookie_copied_before_the_event_no_longer_opens_pages(app, make_user, event, remember):
    user = make_user(Role.SALES)
    client = signed_in_browser(app, user, remember)
    cookies = copy_cookies(client)
    assert set(cookies) == ({"session", "remember_token"} if remember else {"session"})
    assert each_cookie_opens_a_page(app, cookies) == [True] * len(cookies)  # the copy works until then

    event(app, user, client, make_user)

    assert each_cookie_opens_a_page(app, cookies) == [False] * len(cookies)


def test_signing_out_ends_only_this_browser(app, make_user):
    user = make_user(Role.SALES)
    office = signed_in_browser(app, user)
    phone = signed_in_browser(app, user, remember=True)
    office.post("/logout")
    assert each_cookie_opens_a_page(app, copy_cookies(phone)) == [True, True]


def test_the_other_events_end_every_browser_of_the_user_and_no_one_else(app, make_user):
    user = make_user(Role.SALES)
    colleague = make_user(Role.SALES)
    office, phone = signed_in_browser(app, user), signed_in_browser(app, user, remember=True)
    colleague_cookies = copy_cookies(signed_in_browser(app, colleague, remember=True))
    office.post("/account/sign-out-everywhere")
    assert opens_a_page(app, copy_cookies(office))
    assert each_cookie_opens_a_page(app, copy_cookies(phone)) == [False, False]
    assert each_cookie_opens_a_page(app, colleague_cookies) == [True, True]


def test_keep_me_signed_in_lasts_thirty_days_and_survives_the_end_of_the_session(app, make_user):
    user = make_user(Role.SALES)
    client = signed_in_browser(app, user, remember=True)
    expires = client.get_cookie("remember_token").expires
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert opens_a_page(app, {"remember_token": client.get_cookie("remember_token").value})


def test_a_browser_that_was_kept_signed_in_stays_so_after_changing_the_password(app, make_user):
    user = make_user(Role.SALES)
    client = signed_in_browser(app, user, remember=True)
    before = copy_cookies(client)
    client.post("/account/sign-out-everywhere")
    after = copy_cookies(client)
    assert set(after) == set(COOKIES) and after["remember_token"] != before["remember_token"]
    assert each_cookie_opens_a_page(app, after) == [True, True]


# --- my account -------------------------------------------------------------------------------


def test_my_account_is_linked_from_the_user_menu(client, login_as):
    login_as(Role.SALES)
    page = client.get("/customers/").text
    assert 'href="/account"' in page
    account = client.get("/account").text
    assert "Signed in elsewhere?" in account and "Sign out everywhere else" in account


def test_changing_my_password(client, login_as):
    user = login_as(Role.SALES)
    response = client.post(
        "/account",
        data={"current_password": PASSWORD, "new_password": "a-new-password", "repeat_password": "a-new-password"},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    db.session.refresh(user)
    assert user.check_password("a-new-password") and not user.check_password(PASSWORD)
    [entry] = audit_entries("user.password_changed")
    assert (entry.actor_id, entry.subject) == (user.id, f"user:{user.id}")
    assert "a-new-password" not in str(entry.before) + str(entry.after)


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"current_password": "not-my-password"}, "current_password", "This is not your current password."),
        ({"new_password": "short", "repeat_password": "short"}, "new_password", "At least 8 characters."),
        ({"repeat_password": "a-new-passwore"}, "repeat_password", "The two new passwords differ."),
        ({"current_password": ""}, "current_password", "This field is required."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(client, login_as, values, field, message):
    user = login_as(Role.SALES)
    data = {"current_password": PASSWORD, "new_password": "a-new-password", "repeat_password": "a-new-password"}
    response = client.post("/account", data=data | values)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in response.text
    db.session.refresh(user)
    assert user.check_password(PASSWORD) and user.session_version == 0
    assert audit_entries("user.password_changed") == []
    assert client.get("/customers/").status_code == 200


def test_guessing_the_current_password_is_throttled_like_signing_in(client, login_as):
    user = login_as(Role.SALES)
    data = {"new_password": "a-new-password", "repeat_password": "a-new-password"}
    for _ in range(5):
        assert client.post("/account", data=data | {"current_password": "a-guess"}).status_code == 422
    response = client.post("/account", data=data | {"current_password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed attempts for this account. Try again in 15 minutes." in response.text
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_signing_out_everywhere_is_audited(client, login_as):
    user = login_as(Role.SALES)
    client.post("/account/sign-out-everywhere")
    [entry] = audit_entries("user.signed_out_everywhere")
    assert (entry.actor_id, entry.subject) == (user.id, f"user:{user.id}")


def test_an_admin_resetting_their_own_password_stays_signed_in(client, login_as):
    admin = login_as(Role.ADMIN)
    response = client.post(f"/users/{admin.id}/password", data={"password": "a-new-password"}, follow_redirects=True)
    assert response.status_code == 200 and f"Password of {admin.username} reset." in response.text


def test_a_cookie_from_before_sign_ins_is_refused(app, make_user):
    """A session signed with the right key but naming only a user id (as before this change)."""
    user = make_user(Role.SALES)
    client = browser(app)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    assert client.get("/customers/").status_code == 302
