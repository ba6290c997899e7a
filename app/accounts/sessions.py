"""Sign-ins that the server can end, so that a copy of a cookie stops working.

Flask-Login keeps `User.get_id()`, "<user id>:<session version>:<sign-in>", in the session
cookie and in the "keep me signed in" cookie; `load` accepts it only while both parts hold:

- the user's session version is unchanged: a password change or reset, a deactivation and
  "sign out everywhere" raise it, in the same transaction, which ends every sign-in at once;
- the sign-in is still in Redis: signing out deletes it, which ends this browser's sign-in
  (and any copy of its cookies) but not the person's other computers and phone. A version
  alone could not do that: every sign-out would throw them out everywhere.
"""

import secrets

from flask import current_app

from ..extensions import db
from ..models import User
from ..redis import get_redis


def _key(sign_in: str) -> str:
    return f"sign-in:{sign_in}"


def start(user: User) -> None:
    """A new sign-in for this browser, which `login_user` then puts in its cookies."""
    user.sign_in = secrets.token_urlsafe(24)
    # It lasts as long as the longest cookie that may carry it.
    lifetime = current_app.config["REMEMBER_COOKIE_DURATION"]
    get_redis().set(_key(user.sign_in), user.id, ex=lifetime)


def load(cookie_id: str) -> User | None:
    """The user a cookie names, if its sign-in has not been ended."""
    try:
        user_id, version, sign_in = cookie_id.split(":")
        user = db.session.get(User, int(user_id))
    except ValueError:  # a cookie from before sign-ins, or not ours
        return None
    if user is None or str(user.session_version) != version:
        return None
    if get_redis().get(_key(sign_in)) != str(user.id).encode():
        return None
    user.sign_in = sign_in
    return user


def end(user: User) -> None:
    """End this browser's sign-in."""
    get_redis().delete(_key(user.sign_in))
