"""The follow-up audit (核查, supervisors): who follows up on schedule, and on which customers.

Supervisors and admins see every person's tasks and every customer here (roles_required).
"""

from datetime import date

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import gettext as _

from ..access import roles_required
from ..accounts.services import staff
from ..extensions import db
from ..htmx import render
from ..labels import CHANNEL_LABELS, KIND_LABELS, OUTCOME_LABELS
from ..models import Role, User
from ..pagination import page_of
from . import services
from .forms import QUICK_PERIOD_LABELS, STAGE_LABELS, CustomerAuditForm, PeriodForm

bp = Blueprint("followup_audit", __name__, url_prefix="/audit")

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
FORMATS = {"percent": services.percent, "one_decimal": services.one_decimal}


def _period() -> tuple[PeriodForm, services.Period, date]:
    today = services.shop_today()
    form = PeriodForm(request.args, today=today)
    return form, form.period(), today


def _quick_periods(today: date) -> list[tuple[str, services.Period]]:
    return [(QUICK_PERIOD_LABELS[key], period) for key, period in services.quick_periods(today).items()]


@bp.get("/")
@roles_required(*SUPERVISORS)
def index():
    form, period, today = _period()
    summary = services.summary(period, today)
    return render(
        "followup_audit/index.html",
        "report",
        form=form,
        summary=summary,
        chart=services.chart(summary),
        quick_periods=_quick_periods(today),
        **FORMATS,
    )


def _person_or_404() -> User | None:
    """The person whose tasks are listed (`person`), or None for everyone's."""
    if "person" not in request.args:
        return None
    person_id = request.args.get("person", type=int)
    # Ids are 32-bit: the database would refuse a larger number (a tampered URL) with an error.
    person = db.session.get(User, person_id) if person_id is not None and 0 < person_id < 2**31 else None
    if person is None:
        abort(404)
    return person


@bp.get("/tasks")
@roles_required(*SUPERVISORS)
def tasks():
    form, period, today = _period()
    which = request.args.get("which", "due")
    if which not in services.WHICH:
        abort(404)
    person = _person_or_404()
    query = services.task_query(period, today, which, person.id if person else None)
    page = page_of(query, request.args.get("page", 1, type=int), current_app.config["PAGE_SIZE"])
    return render(
        "followup_audit/tasks.html",
        "results",
        form=form,
        period=period,
        which=which,
        person=person,
        page=page,
        kinds=KIND_LABELS,
        outcomes=OUTCOME_LABELS,
        channels=CHANNEL_LABELS,
    )


@bp.get("/customers")
@roles_required(*SUPERVISORS)
def customers():
    form = CustomerAuditForm(request.args)
    form.owner.choices = [("", _("Anyone"))] + [
        (str(user.id), user.display_name if user.active else _("%(name)s (inactive)", name=user.display_name))
        for user in staff()
        if user.role == Role.SALES
    ]
    page = services.customer_page(
        form.filters(), request.args.get("page", 1, type=int), current_app.config["PAGE_SIZE"]
    )
    return render("followup_audit/customers.html", "results", form=form, page=page, stages=STAGE_LABELS)


@bp.get("/export.csv")
@roles_required(*SUPERVISORS)
def export():
    period, today = _period()[1:]
    header = [
        _("Person"),
        _("Account"),
        _("Due"),
        _("Done on time"),
        _("Done late"),
        _("Still overdue"),
        _("On-time rate"),
        _("Conversion rate"),
        _("Average days late"),
    ]
    text = services.csv_text(services.summary(period, today), header, _("Everyone"), (_("active"), _("deactivated")))
    filename = f"follow-up-audit-{period.start}-{period.end}.csv"
    return Response(
        text, mimetype="text/csv; charset=utf-8", headers={"Content-Disposition": f"attachment; filename={filename}"}
    )
