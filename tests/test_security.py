"""Protections of every request: the development secret key."""

import stat
from pathlib import Path

from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.models import Role

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
