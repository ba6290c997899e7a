from flask import redirect, request, url_for
from flask_login import current_user, login_required

from ..access import local_url
from ..extensions import db
from . import bp


@bp.get("/")
@login_required
def home():
    # Sales start the day with their queue; the others with the registry.
    return redirect(url_for("customers.index" if current_user.sees_everyone else "followups.queue"))


@bp.post("/language")
@login_required
def language():
    choice = request.form.get("locale")
    current_user.locale = choice if choice in ("zh_CN", "en") else None
    db.session.commit()
    return redirect(local_url(request.referrer, url_for("main.home")))


@bp.get("/ping")
def ping():
    """A bare page of the app: the benchmarks' baseline."""
    return "ok"


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico get the portal's icon."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
