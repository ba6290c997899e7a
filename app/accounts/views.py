from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME

from ..access import local_url, roles_required
from ..extensions import db
from ..htmx import render
from ..labels import ROLE_LABELS
from ..models import Role, User
from . import bp, services, sessions, throttle
from .forms import LoginForm, PasswordChangeForm, PasswordResetForm, UserForm


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        address = client_address()
        lock = throttle.lock(form.username.data, address)
        if lock:
            form.username.errors.append(lock_message(lock))
            status = 429
        else:
            user = services.authenticate(form.username.data, form.password.data)
            if user is None:
                throttle.record_failure(form.username.data, address)
                form.password.errors.append(_("Wrong username or password, or the account is deactivated."))
                status = 401
            else:
                throttle.clear_account(form.username.data)
                sessions.start(user)
                login_user(user, remember=form.remember.data)
                return redirect(local_url(request.args.get("next"), url_for("main.home")))
    return render("accounts/login.html", form=form, status=status)


def client_address() -> str:
    # Behind our proxies, ProxyFix has put the client's address here (settings: PROXY_HOPS).
    return request.remote_addr or "unknown"


def lock_message(lock: throttle.Lock) -> str:
    minutes = -(-lock.seconds // 60)
    if lock.on_account:
        return ngettext(
            "Too many failed attempts for this account. Try again in %(num)d minute.",
            "Too many failed attempts for this account. Try again in %(num)d minutes.",
            minutes,
        )
    return ngettext(
        "Too many failed attempts from this network address. Try again in %(num)d minute.",
        "Too many failed attempts from this network address. Try again in %(num)d minutes.",
        minutes,
    )


@bp.post("/logout")
@login_required
def logout():
    sessions.end(current_user)  # a copy of this browser's cookies no longer opens anything
    session.clear()
    logout_user()  # after clear(): it tells the browser to delete the "keep me signed in" cookie
    return redirect(url_for("accounts.login"))


def stay_signed_in() -> None:
    """After the user's sessions were ended: this browser goes on, under a new sign-in."""
    user = current_user._get_current_object()  # login_user needs the user, not the proxy
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    sessions.end(user)
    sessions.start(user)
    login_user(user, remember=remembered)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordChangeForm()
    lock = None
    if form.validate_on_submit():
        # Whoever finds a computer left signed in must not guess the password here unthrottled.
        lock = throttle.lock(current_user.username, client_address())
        if lock:
            form.current_password.errors.append(lock_message(lock))
        else:
            try:
                services.change_password(current_user, form.current_password.data, form.new_password.data)
            except services.WrongPassword:
                throttle.record_failure(current_user.username, client_address())
                form.current_password.errors.append(_("This is not your current password."))
            else:
                db.session.commit()
                stay_signed_in()
                flash(_("Password changed. You are signed out on every other computer and phone."), "success")
                return redirect(url_for("accounts.account"))
    return render("accounts/account.html", form=form, status=429 if lock else 422 if form.errors else 200)


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    services.sign_out_everywhere(current_user)
    db.session.commit()
    stay_signed_in()
    flash(_("You are signed out on every other computer and phone."), "success")
    return redirect(url_for("accounts.account"))


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
    return render(
        "accounts/users.html",
        form=form,
        users=users,
        holding=services.holding(users),
        roles=ROLE_LABELS,
        reset_form=PasswordResetForm(),
        status=422 if form.errors else 200,
    )


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    user = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot deactivate your own account."), "error")
    elif not active and services.loads_of([user])[0].holds_any:
        return redirect(url_for("assignment.handover", user_id=user.id))  # their customers must go somewhere first
    else:
        services.set_active(user, active, current_user)
        db.session.commit()
        if active:
            flash(_("%(name)s can sign in again.", name=user.username), "success")
        else:
            flash(_("%(name)s is deactivated and can no longer sign in.", name=user.username), "success")
    return redirect(url_for("accounts.users"))


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        services.reset_password(user, form.password.data, current_user)
        db.session.commit()
        if user.id == current_user.id:
            stay_signed_in()
        flash(_("Password of %(name)s reset.", name=user.username), "success")
    else:
        flash(_("Password not reset: %(reason)s", reason="; ".join(form.password.errors) or _("invalid form")), "error")
    return redirect(url_for("accounts.users"))
