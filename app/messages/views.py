"""The messages area's routes: the templates pages here; the message log (log_views) and sending
one message (send_views) in modules of their own, imported here so that their routes are on the
blueprint."""

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..access import roles_required
from ..extensions import db
from ..htmx import render
from ..labels import MESSAGE_KIND_LABELS, PROVIDER_LABELS
from ..models import Role, SmsTemplate
from ..sending.providers import PROVIDER_NAMES
from . import bp, log_views, send_views, services  # noqa: F401  (log_views, send_views: their routes)
from .forms import DEFAULTABLE, TemplateForm, known_placeholders, template_data

EDITORS = (Role.SUPERVISOR, Role.ADMIN)


def _page_context() -> dict:
    return {
        "kinds": MESSAGE_KIND_LABELS,
        "provider": current_app.config["SMS_PROVIDER"],
        "providers": {name: PROVIDER_LABELS.get(name, name) for name in PROVIDER_NAMES},
        "defaultable": DEFAULTABLE,
        "known": known_placeholders(),
        "sample": services.SAMPLE_CUSTOMER,
    }


@bp.get("/templates/")
@roles_required(*EDITORS)
def templates():
    active = services.templates()
    previews = {t.id: services.preview(t.body, t.kind, t.defaults or {}) for t in active}
    return render(
        "messages/templates.html",
        templates=active,
        archived=services.templates(archived=True),
        previews=previews,
        **_page_context(),
    )


def _editor(template: SmsTemplate | None):
    form = TemplateForm(data=template_data(template)) if template else TemplateForm()
    if form.validate_on_submit():
        if services.name_taken(form.name.data, exclude_id=template.id if template else None):
            form.name.errors.append(_("Another template has this name."))
        else:
            try:
                saved = services.save(template, form.template_values(), current_user)
                db.session.commit()
            except IntegrityError:  # the same name, saved by someone else a moment ago
                db.session.rollback()
                form.name.errors.append(_("Another template has this name."))
            else:
                flash(_("Template %(name)s saved.", name=saved.name), "success")
                return redirect(url_for("messages.templates"))
    preview = services.preview(form.body.data or "", form.kind.data, form.defaults())
    return render(
        "messages/template_form.html",
        form=form,
        sms_template=template,
        preview=preview,
        status=422 if form.errors else 200,
        **_page_context(),
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new_template():
    return _editor(None)


@bp.route("/templates/<int:template_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit_template(template_id: int):
    return _editor(db.get_or_404(SmsTemplate, template_id))


@bp.post("/templates/preview")
@roles_required(*EDITORS)
def preview_template():
    """As the editor is typed: the final text for a sample customer, its length and parts."""
    form = TemplateForm()
    preview = services.preview(form.body.data or "", form.kind.data, form.defaults())
    return render(
        "messages/template_form.html", "preview", form=form, sms_template=None, preview=preview, **_page_context()
    )


@bp.post("/templates/<int:template_id>/archive")
@roles_required(*EDITORS)
def archive_template(template_id: int):
    """Archive a template (it leaves the lists; nothing is deleted), or with archived=0 restore it."""
    template = db.get_or_404(SmsTemplate, template_id)
    archived = request.form.get("archived") != "0"
    services.set_archived(template, archived, current_user)
    db.session.commit()
    if archived:
        flash(_("Template %(name)s archived.", name=template.name), "success")
    else:
        flash(_("Template %(name)s restored.", name=template.name), "success")
    return redirect(url_for("messages.templates"))
