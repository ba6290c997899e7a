"""Assignment (supervisors): giving customers to sales staff, one by one, in bulk, or balanced."""

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..access import roles_required
from ..customers.forms import CustomerFilterForm
from ..customers.services import Filters
from ..extensions import db
from ..htmx import render
from ..labels import FOLLOW_UP_STATE_LABELS, LAYER_LABELS
from ..models import Role, User
from ..pagination import page_of
from . import services
from .forms import NOBODY, AssignForm

bp = Blueprint("assignment", __name__, url_prefix="/assignment")

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


def _forms(formdata) -> tuple[CustomerFilterForm, Filters, AssignForm]:
    """The registry's filters (from the query string) and the assignment form."""
    people = [(str(user.id), user.display_name) for user in services.sales_staff()]
    filter_form = CustomerFilterForm(request.args)
    filter_form.owner.choices = [("", _("Anyone")), (NOBODY, _("Unassigned"))] + people
    filters = Filters(**filter_form.filter_values())
    form = AssignForm(formdata=formdata)
    form.owner.choices = [("", _("Choose…")), (NOBODY, _("Nobody (unassign)"))] + people
    return filter_form, filters, form


def _render(
    block: str,
    filter_form: CustomerFilterForm,
    filters: Filters,
    form: AssignForm,
    message: tuple[str, str] | None = None,
    status: int = 200,
):
    page = page_of(
        services.candidates(current_user, filters),
        request.args.get("page", 1, type=int),
        current_app.config["PAGE_SIZE"],
    )
    return render(
        "assignment/index.html",
        block,
        filter_form=filter_form,
        form=form,
        page=page,
        loads=services.sales_loads(),
        message=message,
        layers=LAYER_LABELS,
        states=FOLLOW_UP_STATE_LABELS,
        status=status,
    )


@bp.get("/")
@roles_required(*SUPERVISORS)
def index():
    return _render("results", *_forms(None))


@bp.post("/")
@roles_required(*SUPERVISORS)
def assign():
    filter_form, filters, form = _forms(request.form)
    if form.validate_on_submit():
        if form.scope.data == "all" and filter_form.errors:
            # Ignoring a bad filter would widen "all matching" beyond what the list shows.
            form.scope.errors.append(_("Correct the filters first."))
        else:
            ids = services.matching_ids(current_user, filters) if form.scope.data == "all" else form.ids.data
            owner_id = form.owner_id()
            owner = db.session.get(User, owner_id) if owner_id else None
            try:
                done = services.assign_many(ids, owner, current_user)
            except services.UnknownCustomers as error:
                db.session.rollback()
                form.ids.errors.append(
                    ngettext(
                        "No customer has the ID %(ids)s.",
                        "No customers have the IDs %(ids)s.",
                        len(error.ids),
                        ids=", ".join(map(str, error.ids[:10])),
                    )
                )
            except services.NotASalesPerson:
                db.session.rollback()
                form.owner.errors.append(_("Choose an active sales person, or nobody."))
            else:
                db.session.commit()
                form.ids.data = []  # the list shows them assigned now, unticked
                return _render("workspace", filter_form, filters, form, message=("success", _assigned(done, owner)))
    return _render("workspace", filter_form, filters, form, status=422)


def _assigned(done: services.Assigned, owner: User | None) -> str:
    if owner is None:
        text = ngettext("%(num)d customer unassigned.", "%(num)d customers unassigned.", done.changed)
        already = ngettext("%(num)d had no owner already.", "%(num)d had no owner already.", done.unchanged)
    else:
        text = ngettext(
            "%(num)d customer assigned to %(name)s.",
            "%(num)d customers assigned to %(name)s.",
            done.changed,
            name=owner.display_name,
        )
        already = ngettext("%(num)d was theirs already.", "%(num)d were theirs already.", done.unchanged)
    return f"{text} {already}" if done.unchanged else text


@bp.post("/auto")
@roles_required(*SUPERVISORS)
def auto_assign():
    filter_form, filters, form = _forms(None)
    try:
        given = services.auto_assign(current_user)
    except services.NoSalesStaff:
        db.session.rollback()
        message, status = ("error", _("There is no active sales person to give customers to.")), 422
    else:
        db.session.commit()
        status = 200
        if given:
            shares = ", ".join(f"{load.name} {count}" for load, count in given)
            message = (
                "success",
                ngettext(
                    "%(num)d customer auto-assigned: %(shares)s.",
                    "%(num)d customers auto-assigned: %(shares)s.",
                    sum(count for _load, count in given),
                    shares=shares,
                ),
            )
        else:
            message = ("info", _("Nothing to assign: every customer has an owner."))
    return _render("workspace", filter_form, filters, form, message=message, status=status)
