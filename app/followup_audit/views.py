from datetime import date

from flask import abort, current_app, request
from flask_babel import gettext as _

from .. import shop_calendar, spreadsheets
from ..access import roles_required
from ..accounts.services import sales_staff
from ..extensions import db
from ..forms import owner_choices
from ..htmx import render
from ..labels import CHANNEL_LABELS, KIND_LABELS, OUTCOME_LABELS
from ..models import Role, User
from ..pagination import page_of
from ..params import page_number, record_id
from . import bp, services
from .forms import QUICK_PERIOD_LABELS, STAGE_LABELS, CustomerAuditForm, PeriodForm

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
FORMATS = {"percent": services.percent, "one_decimal": services.one_decimal}


def _period() -> tuple[PeriodForm, services.Period, date]:
    today = shop_calendar.today()
    form = PeriodForm(request.args, today=today)
    return form, form.period(), today


def _translated(labels: dict) -> dict[str, str]:
    """The labels in the page's language, translated once: a lazy label is translated again
    each time a row shows it (some 0.02 ms each, three per row of a drill-down)."""
    return {value: str(label) for value, label in labels.items()}


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


def _owner_or_404() -> User | None:
    """The person whose tasks are listed (`owner`), or None for everyone's."""
    if "owner" not in request.args:
        return None
    owner_id = record_id(request.args, "owner")
    owner = db.session.get(User, owner_id) if owner_id is not None else None
    if owner is None:
        abort(404)
    return owner


@bp.get("/tasks")
@roles_required(*SUPERVISORS)
def tasks():
    form, period, today = _period()
    which = request.args.get("which", "due")
    if which not in services.WHICH:
        abort(404)
    owner = _owner_or_404()
    query = services.task_query(period, today, which, owner.id if owner else None)
    page = page_of(query, page_number(request.args), current_app.config["PAGE_SIZE"])
    return render(
        "followup_audit/tasks.html",
        "results",
        form=form,
        period=period,
        which=which,
        owner=owner,
        page=page,
        kinds=_translated(KIND_LABELS),
        outcomes=_translated(OUTCOME_LABELS),
        channels=_translated(CHANNEL_LABELS),
    )


@bp.get("/customers")
@roles_required(*SUPERVISORS)
def customers():
    form = CustomerAuditForm(request.args)
    form.owner.choices = owner_choices(sales_staff(inactive=True), ("", _("Anyone")))
    page = services.customer_page(form.filters(), page_number(request.args), current_app.config["PAGE_SIZE"])
    return render("followup_audit/customers.html", "results", form=form, page=page, stages=_translated(STAGE_LABELS))


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
    rows = services.csv_rows(services.summary(period, today), header, _("Everyone"), (_("active"), _("deactivated")))
    return spreadsheets.csv_download(rows, f"follow-up-audit-{period.start}-{period.end}.csv")
