"""Who may see what: the one place every route asks.

Sales see the customers they own; supervisors and admins see everyone. A record outside a
user's view answers 404, so a tampered URL reveals nothing, not even that the record exists.
"""

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from .extensions import db
from .models import Customer, FollowUp, Message, Role, User


def roles_required(*roles: Role):
    """Login required, and the user's role must be one of `roles` (else 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def visible_customers(user: User) -> Select:
    query = select(Customer)
    if not user.sees_everyone:
        query = query.where(Customer.owner_id == user.id)
    return query


def customer_or_404(customer_id: int, user: User | None = None) -> Customer:
    user = user or current_user
    customer = db.session.scalar(visible_customers(user).where(Customer.id == customer_id))
    if customer is None:
        abort(404)
    return customer


def visible_follow_ups(user: User) -> Select:
    """The follow-up tasks `user` may see and act on: their own, or everyone's."""
    query = select(FollowUp)
    if not user.sees_everyone:
        query = query.where(FollowUp.assignee_id == user.id)
    return query


def follow_up_or_404(task_id: int, user: User | None = None) -> FollowUp:
    task = db.session.scalar(visible_follow_ups(user or current_user).where(FollowUp.id == task_id))
    if task is None:
        abort(404)
    return task


def visible_messages(user: User) -> Select:
    """The SMS `user` may see: those of their customers; supervisors and admins see every
    message, those to no customer included."""
    query = select(Message)
    if not user.sees_everyone:
        query = query.where(Message.customer_id.in_(visible_customers(user).with_only_columns(Customer.id)))
    return query


def message_or_404(message_id: int, user: User | None = None) -> Message:
    message = db.session.scalar(visible_messages(user or current_user).where(Message.id == message_id))
    if message is None:
        abort(404)
    return message


# (endpoint, label, roles allowed); the navigation shows each role only what it may open.
_NAV = [
    ("followups.queue", _l("My queue"), tuple(Role)),
    ("customers.index", _l("Customers"), tuple(Role)),
    ("customers.new", _l("Register"), tuple(Role)),
    ("assignment.index", _l("Assignment"), (Role.SUPERVISOR, Role.ADMIN)),
    ("imports.index", _l("Import"), (Role.SUPERVISOR, Role.ADMIN)),
    ("followup_audit.index", _l("Audit"), (Role.SUPERVISOR, Role.ADMIN)),
    ("reports.overview", _l("Overview"), (Role.SUPERVISOR, Role.ADMIN)),
    ("messages.log", _l("SMS"), tuple(Role)),
    ("accounts.users", _l("Users"), (Role.ADMIN,)),
]
# The SMS pages: one link in the navigation, and a row of tabs on each of them.
_SMS_TABS = [
    ("messages.log", _l("Messages"), tuple(Role)),
    ("campaigns.index", _l("Campaigns"), (Role.SUPERVISOR, Role.ADMIN)),
    ("messages.templates", _l("SMS templates"), (Role.SUPERVISOR, Role.ADMIN)),
    ("blacklist.index", _l("Blacklist"), (Role.SUPERVISOR, Role.ADMIN)),
    ("settings.sending", _l("Sending settings"), (Role.ADMIN,)),
]
# Each SMS area's pages and the tab they come under.
_SMS_AREAS = {
    "messages": "messages.log",
    "campaigns": "campaigns.index",
    "blacklist": "blacklist.index",
    "settings": "settings.sending",
}


def _sms_tab_of(endpoint: str | None) -> str | None:
    """The SMS tab a page belongs to, or None for a page outside the SMS area."""
    area, _, view = (endpoint or "").partition(".")
    if area == "messages" and "template" in view:
        return "messages.templates"
    return _SMS_AREAS.get(area)


def nav_items() -> list[tuple[str, str, bool]]:
    """(address, label, whether the page shown is under it) of each link the user may follow."""
    if not current_user.is_authenticated:
        return []
    in_sms = _sms_tab_of(request.endpoint) is not None
    return [
        (url_for(endpoint), label, request.endpoint == endpoint or (endpoint == "messages.log" and in_sms))
        for endpoint, label, roles in _NAV
        if current_user.role in roles
    ]


def sms_tabs() -> list[tuple[str, str, bool]]:
    """The tabs of the SMS pages the user may open, on those pages; none when only one is theirs."""
    current = _sms_tab_of(request.endpoint)
    if not current_user.is_authenticated or current is None:
        return []
    tabs = [
        (url_for(endpoint), label, endpoint == current)
        for endpoint, label, roles in _SMS_TABS
        if current_user.role in roles
    ]
    return tabs if len(tabs) > 1 else []


def local_url(target: str | None, fallback: str) -> str:
    """`target` if it stays on this site (a `next` or a Referer), else `fallback`."""
    if target:
        parts = urlsplit(target)
        same_site = (not parts.scheme and not parts.netloc and target.startswith("/")) or parts.netloc == request.host
        if same_site and not parts.path.startswith("//"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return fallback
