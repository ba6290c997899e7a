"""Signing in and out, and the admin's user management."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from ..access import local_url, roles_required
from ..assignment import services as assignment
from ..extensions import db
from ..htmx import render
from ..labels import ROLE_LABELS
from ..models import Role, User
from . import services, throttle
from .forms import HandoverForm, LoginForm, PasswordResetForm, UserForm

bp = Blueprint("accounts", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        address = request.remote_addr or "unknown"
        wait = throttle.seconds_locked(form.username.data, address)
        if wait:
            form.username.errors.append(
                ngettext(
                    "Too many failed attempts. Try again in %(num)d minute.",
                    "Too many failed attempts. Try again in %(num)d minutes.",
                    -(-wait // 60),
                )
            )
            status = 429
        else:
            user = services.authenticate(form.username.data, form.password.data)
            if user is None:
                throttle.record_failure(form.username.data, address)
                form.password.errors.append(_("Wrong username or password, or the account is deactivated."))
                status = 401
            else:
                throttle.clear_account(form.username.data)
                login_user(user, remember=form.remember.data)
                return redirect(local_url(request.args.get("next"), url_for("main.home")))
    return render("accounts/login.html", form=form, status=status)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("accounts.login"))


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def users():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.username.data, form.display_name.data, Role(form.role.data), form.password.data, current_user
            )
        except services.UsernameTaken:
            form.username.errors.append(_("This username is taken."))
        else:
            db.session.commit()
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("accounts.users"))
    users = services.staff()
    loads = {load.user_id: load for load in assignment.loads_of(users)}
    return render(
        "accounts/users.html",
        form=form,
        users=users,
        loads=loads,
        roles=ROLE_LABELS,
        reset_form=PasswordResetForm(),
        status=422 if form.errors else 200,
    )


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


def _holds_customers(user: User) -> bool:
    [load] = assignment.loads_of([user])
    return bool(load.customers or load.open_tasks)


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot deactivate your own account."), "error")
    elif not active and _holds_customers(user):
        return redirect(url_for("accounts.handover", user_id=user.id))  # their customers must go somewhere first
    else:
        services.set_active(user, active, current_user)
        db.session.commit()
        if active:
            flash(_("%(name)s can sign in again.", name=user.username), "success")
        else:
            flash(_("%(name)s is deactivated and can no longer sign in.", name=user.username), "success")
    return redirect(url_for("accounts.users"))


@bp.route("/users/<int:user_id>/handover", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def handover(user_id: int):
    """Hand a user's customers over, then deactivate them (if they are still active)."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("accounts.users"))
    others = assignment.sales_staff(excluding=user)
    form = HandoverForm()
    form.to.choices = [("", _("Choose…"))] + [(str(other.id), other.display_name) for other in others]
    if form.validate_on_submit():
        how = assignment.Handover(form.how.data)
        to = db.session.get(User, int(form.to.data)) if how == assignment.Handover.PERSON else None
        try:
            given = assignment.hand_over(user, how, to, current_user)
        except assignment.NoSalesStaff:
            db.session.rollback()
            form.how.errors.append(_("There is no other active sales person to take them."))
        except assignment.NotASalesPerson:
            db.session.rollback()
            form.to.errors.append(_("Choose an active sales person."))
        else:
            was_active = user.active
            if was_active:
                services.set_active(user, False, current_user)
            db.session.commit()
            if given:
                flash(_handed_over(given), "success")
            if was_active:
                flash(_("%(name)s is deactivated and can no longer sign in.", name=user.username), "success")
            return redirect(url_for("accounts.users"))
    [load] = assignment.loads_of([user])
    return render(
        "accounts/handover.html",
        form=form,
        user=user,
        load=load,
        loads=assignment.loads_of(others),
        status=422 if form.errors else 200,
    )


def _handed_over(given: list[tuple[assignment.Load | None, int]]) -> str:
    total = sum(count for _load, count in given)
    if given[0][0] is None:
        return ngettext("%(num)d customer left unassigned.", "%(num)d customers left unassigned.", total)
    shares = ", ".join(f"{load.name} {count}" for load, count in given)
    return ngettext(
        "%(num)d customer handed over: %(shares)s.", "%(num)d customers handed over: %(shares)s.", total, shares=shares
    )


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        services.reset_password(user, form.password.data, current_user)
        db.session.commit()
        flash(_("Password of %(name)s reset.", name=user.username), "success")
    else:
        flash(_("Password not reset: %(reason)s", reason="; ".join(form.password.errors) or _("invalid form")), "error")
    return redirect(url_for("accounts.users"))
