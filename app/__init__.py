"""The portal's application factory."""

from pathlib import Path

from flask import Flask, abort, has_request_context, render_template, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from . import security
from .config import load_config
from .extensions import babel, csrf, db, htmx_ext, login_manager, migrate
from .params import MAX_ID
from .sending import providers as sms_providers


class RowId(IntegerConverter):
    """`<int:…>` in URLs: ids the database can hold (a tampered 99999999999 is a 404, not a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(config_name: str | None = None, **overrides) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.url_map.converters["int"] = RowId
    app.config.from_object(load_config(config_name))
    app.config.update(overrides)
    # Checked after the overrides, which may provide either.
    if not app.config["SECRET_KEY"] and app.config.get("SECRET_KEY_FILE"):
        app.config["SECRET_KEY"] = security.kept_secret_key(Path(app.config["SECRET_KEY_FILE"]))
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("SECRET_KEY must be set (or run with PORTAL_ENV=development)")
    sms_providers.check_settings(app.config)
    security.register(app)
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from . import search  # noqa: F401  (keeps the search index current on every flush)

    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: app.config["SHOP_TIMEZONE"])
    htmx_ext.init_app(app)

    from .accounts import sessions

    login_manager.user_loader(sessions.load)

    @login_manager.unauthorized_handler
    def to_login():
        from flask import redirect, url_for

        from .access import local_url
        from .htmx import is_partial

        # After signing in, back to the page the user was on: the address of a fragment or of a
        # form's POST is no page to land on (the POST would answer 405).
        if is_partial():
            back = local_url(request.headers.get("HX-Current-URL"), url_for("main.home"))
        elif request.method == "GET":
            back = request.full_path.rstrip("?")
        else:
            back = local_url(request.referrer, url_for("main.home"))
        login_url = url_for("accounts.login", next=back)
        if is_partial():
            # A fragment request whose session expired: send the whole page to the login.
            return "", 401, {"HX-Redirect": login_url}
        return redirect(login_url)


def select_locale() -> str | None:
    if not has_request_context():  # a job: its texts are stored in the source language
        return None
    if current_user.is_authenticated and current_user.locale:
        return current_user.locale
    return request.accept_languages.best_match(["zh_CN", "zh", "en"]) or None


def register_blueprints(app: Flask) -> None:
    # Importing an area's views registers its routes on its blueprint.
    from .accounts import views as accounts
    from .assignment import views as assignment
    from .blacklist import views as blacklist
    from .campaigns import views as campaigns
    from .customers import views as customers
    from .followup_audit import views as followup_audit
    from .followups import views as followups
    from .imports import views as imports
    from .main import views as main
    from .messages import views as messages
    from .reports import views as reports
    from .settings import views as settings
    from .webhooks import views as webhooks

    areas = (
        main,
        accounts,
        customers,
        followups,
        assignment,
        followup_audit,
        blacklist,
        imports,
        campaigns,
        reports,
        messages,
        settings,
        webhooks,
    )
    for area in areas:
        app.register_blueprint(area.bp)


def register_template_helpers(app: Flask) -> None:
    from . import templating

    templating.register(app)


def error_page(error):
    """The page of an HTTP error (a 500 for anything else), in the portal's layout."""
    code = getattr(error, "code", 500)
    return render_template("error.html", code=code, error=error), code


def register_errorhandlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, error_page)
    app.register_error_handler(CSRFError, error_page)

    @app.before_request
    def refuse_nul_characters():
        # No browser sends one, and PostgreSQL cannot store one: it would end in a 500.
        if any("\x00" in value for values in (request.args, request.form) for _, value in values.items(multi=True)):
            abort(400)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
