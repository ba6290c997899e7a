"""Protections of every request: the development secret key, the client's address behind a proxy."""

import re
import stat
from pathlib import Path

import pytest
from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.extensions import db
from app.models import Role
from tests.conftest import PASSWORD, IsolatedClient

ROOT = Path(__file__).resolve().parents[1]


def development_app(key_file: Path):
    """A development app started without SECRET_KEY (whatever the environment says)."""
    return create_app(
        "development", SECRET_KEY=None, SECRET_KEY_FILE=str(key_file), SQLALCHEMY_DATABASE_URI="sqlite://"
    )


def test_development_makes_its_own_key_and_keeps_it(tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    first = development_app(key_file).secret_key
    assert len(first) == 64 and key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by the portal's user only
    assert development_app(key_file).secret_key == first  # the next start signs with the same key
    assert [path.name for path in key_file.parent.iterdir()] == ["secret_key"]


def test_two_trial_portals_have_different_keys(tmp_path):
    assert (
        development_app(tmp_path / "a" / "secret_key").secret_key
        != development_app(tmp_path / "b" / "secret_key").secret_key
    )


def test_no_secret_key_is_written_in_the_settings():
    settings = (ROOT / "app" / "config.py").read_text()
    assert "dev-only-not-secret" not in settings
    assert 'os.environ.get("SECRET_KEY")' in settings and 'os.environ.get("SECRET_KEY",' not in settings


def test_a_session_signed_with_another_portals_key_opens_nothing(app, tmp_path, client, login_as):
    login_as(Role.ADMIN)
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    session = serializer.loads(client.get_cookie("session").value)
    other_portal = development_app(tmp_path / "secret_key")
    forged = SecureCookieSessionInterface().get_signing_serializer(other_portal).dumps(session)
    assert client.get("/users").status_code == 200
    client.set_cookie("session", forged)
    response = client.get("/users")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- the client's address, which the login throttle counts ------------------------------------

ADDRESS_LOCKED = "Too many failed attempts from this network address."


def sign_in(client, username, password, remote_addr, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        "/login",
        data={"username": username, "password": password},
        headers=headers,
        environ_base={"REMOTE_ADDR": remote_addr},
    )


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 3)
    for n in range(3):  # a new made-up address each time does not dodge the count
        assert sign_in(client, f"guess{n}", "wrong", "10.7.7.7", f"192.0.2.{n}").status_code == 401
    response = sign_in(client, make_user(Role.SALES).username, PASSWORD, "10.7.7.7", "192.0.2.99")
    assert response.status_code == 429 and ADDRESS_LOCKED in response.text


@pytest.fixture
def behind_one_proxy(app):
    """The portal with PROXY_HOPS=1, on the test database and Redis."""
    proxied = create_app(
        "development",
        TESTING=True,
        SECRET_KEY="proxied",
        WTF_CSRF_ENABLED=False,
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        PROXY_HOPS=1,
        LOGIN_MAX_FAILURES_PER_ADDRESS=3,
    )
    proxied.test_client_class = IsolatedClient
    yield proxied
    with proxied.app_context():
        db.engine.dispose()


def test_behind_a_trusted_proxy_the_address_is_the_one_it_saw(behind_one_proxy, make_user):
    client = behind_one_proxy.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    proxy = "10.0.0.2"
    # What the client wrote before the proxy's own entry is not believed.
    for n, forwarded in enumerate(["203.0.113.5", "198.51.100.1, 203.0.113.5", "203.0.113.5"]):
        assert sign_in(client, f"guess{n}", "wrong", proxy, forwarded).status_code == 401
    user = make_user(Role.SALES)
    response = sign_in(client, user.username, PASSWORD, proxy, "203.0.113.5")
    assert response.status_code == 429 and ADDRESS_LOCKED in response.text
    # Another client behind the same proxy is not locked out.
    assert sign_in(client, user.username, PASSWORD, proxy, "203.0.113.6").status_code == 302


# --- security headers on every response -------------------------------------------------------


def assert_security_headers(response):
    csp = {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in response.headers["Content-Security-Policy"].split("; ")
    }
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"  # no inline, no eval
    assert csp["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path, headers, status, kind",
    [
        ("/customers/", {}, 200, "text/html"),  # a page
        ("/customers/?q=x", {"HX-Request": "true"}, 200, "text/html"),  # a fragment
        ("/static/app.js", {}, 200, "text/javascript"),
        ("/customers/999999", {}, 404, "text/html"),  # an error page
        ("/users", {}, 403, "text/html"),
        ("/customers/export.csv", {}, 200, "text/csv"),  # a download
        ("/customers/export.xlsx", {}, 200, "application/vnd.openxmlformats"),
    ],
)
def test_every_response_carries_the_security_headers(client, login_as, path, headers, status, kind):
    login_as(Role.SALES)
    response = client.get(path, headers=headers)
    assert response.status_code == status and response.content_type.startswith(kind)
    assert_security_headers(response)


def test_the_login_page_and_its_redirects_carry_them_too(client):
    assert_security_headers(client.get("/login"))
    assert_security_headers(client.get("/customers/"))  # a redirect to the login page


TEMPLATES = ROOT / "templates"
# What the Content-Security-Policy refuses: inline scripts, event-handler attributes, hx-on
# (htmx would eval it), inline styles and style elements.
REFUSED = {
    "an inline <script>": r"<script(?![^>]*\ssrc=)",
    "an on…= attribute": r"\son[a-z]+\s*=",
    "hx-on": r"hx-on",
    "a style= attribute": r"\sstyle\s*=",
    "a <style> element": r"<style",
}


@pytest.mark.parametrize("what, pattern", REFUSED.items(), ids=list(REFUSED))
def test_no_template_holds_what_the_policy_refuses(what, pattern):
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not found, f"{what} in {found}"
