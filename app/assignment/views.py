from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..access import roles_required
from ..accounts import services as accounts
from ..customers.services import Filters
from ..extensions import db
from ..followups import services as followups
from ..forms import UNASSIGNED, CustomerFilterForm, owner_choices
from ..htmx import render
from ..labels import LAYER_LABELS
from ..models import Role, User
from ..pagination import page_of
from ..params import page_number
from ..templating import words
from . import bp, services
from .forms import AssignForm, HandoverForm

SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


def _forms(formdata) -> tuple[CustomerFilterForm, Filters, AssignForm]:
    """The registry's filters (from the query string) and the assignment form."""
    people = accounts.sales_staff()
    filter_form = CustomerFilterForm.from_args(request.args, people)
    filters = Filters(**filter_form.filter_values())
    form = AssignForm(formdata=formdata)
    form.owner.choices = owner_choices(people, ("", _("Choose…")), (UNASSIGNED, _("Nobody (unassign)")))
    return filter_form, filters, form


def _render(
    block: str,
    filter_form: CustomerFilterForm,
    filters: Filters,
    form: AssignForm,
    message: tuple[str, str] | None = None,
    auto_message: tuple[str, str] | None = None,
    status: int = 200,
):
    page = page_of(
        services.candidates(current_user, filters),
        page_number(request.args),
        current_app.config["PAGE_SIZE"],
    )
    # A POST may have changed the loads: they are counted again.
    loads, loads_counted_at = services.shown_loads(fresh=request.method == "POST")
    return render(
        "assignment/index.html",
        block,
        filter_form=filter_form,
        form=form,
        page=page,
        loads=loads,
        loads_counted_at=loads_counted_at,
        message=message,
        auto_message=auto_message,
        layers=LAYER_LABELS,
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
                done = followups.assign(ids, owner, current_user)
            except followups.UnknownCustomers as error:
                db.session.rollback()
                form.ids.errors.append(
                    ngettext(
                        "No customer has the ID %(ids)s.",
                        "No customers have the IDs %(ids)s.",
                        len(error.ids),
                        ids=words(error.ids[:10]),
                    )
                )
            except followups.NotASalesPerson:
                db.session.rollback()
                form.owner.errors.append(_("Choose an active sales person, or nobody."))
            else:
                db.session.commit()
                form.ids.data = []  # the list shows them assigned now, unticked
                return _render("workspace", filter_form, filters, form, message=("success", _assigned(done, owner)))
    return _render("workspace", filter_form, filters, form, status=422)


def _assigned(done: followups.Assigned, owner: User | None) -> str:
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
            shares = words(f"{load.name} {count}" for load, count in given)
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
    return _render("workspace", filter_form, filters, form, auto_message=message, status=status)


@bp.route("/handover/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def handover(user_id: int):
    """Hand a user's customers over, then deactivate them (if they are still active)."""
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate your own account."), "error")
        return redirect(url_for("accounts.users"))
    others = accounts.sales_staff(excluding=user)
    form = HandoverForm()
    form.to.choices = owner_choices(others, ("", _("Choose…")))
    if form.validate_on_submit():
        how = services.Handover(form.how.data)
        to = db.session.get(User, int(form.to.data)) if how == services.Handover.PERSON else None
        try:
            given = services.hand_over(user, how, to, current_user)
        except services.NoSalesStaff:
            db.session.rollback()
            form.how.errors.append(_("There is no other active sales person to take them."))
        except followups.NotASalesPerson:
            db.session.rollback()
            form.to.errors.append(_("Choose an active sales person."))
        else:
            was_active = user.active
            if was_active:
                accounts.set_active(user, False, current_user)
            db.session.commit()
            services.forget_shown_loads()
            if given:
                flash(_handed_over(given), "success")
            if was_active:
                flash(_("%(name)s is deactivated and can no longer sign in.", name=user.username), "success")
            return redirect(url_for("accounts.users"))
    [load] = accounts.loads_of([user])
    return render(
        "assignment/handover.html",
        form=form,
        user=user,
        load=load,
        loads=accounts.loads_of(others),
        status=422 if form.errors else 200,
    )


def _handed_over(given: list[tuple[accounts.Load | None, int]]) -> str:
    total = sum(count for _load, count in given)
    if given[0][0] is None:
        return ngettext("%(num)d customer left unassigned.", "%(num)d customers left unassigned.", total)
    shares = words(f"{load.name} {count}" for load, count in given)
    return ngettext(
        "%(num)d customer handed over: %(shares)s.", "%(num)d customers handed over: %(shares)s.", total, shares=shares
    )
