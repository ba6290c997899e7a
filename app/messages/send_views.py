"""Sending one message by hand, from a customer's page or a queue card: pick a template, see the
final text, its parts and when it leaves (an htmx preview as it is picked), send."""

from uuid import uuid4

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from ..access import customer_or_404, follow_up_or_404
from ..extensions import db
from ..htmx import is_partial, render
from ..labels import MESSAGE_KIND_LABELS, SKIP_REASON_LABELS
from ..models import Customer, FollowUp, SmsTemplate, utcnow
from ..params import is_id, whole_number
from ..sending import engine
from ..templating import localtime
from . import bp, sending
from .message_forms import SendForm


def _templates() -> list[SmsTemplate]:
    return list(
        db.session.scalars(select(SmsTemplate).where(SmsTemplate.archived.is_(False)).order_by(SmsTemplate.name))
    )


def _form(templates: list[SmsTemplate], formdata=None) -> SendForm:
    form = SendForm(formdata) if formdata is not None else SendForm()
    form.template.choices = [("", _("Choose a template…"))] + [
        (str(t.id), f"{t.name} · {MESSAGE_KIND_LABELS.get(t.kind, t.kind)}") for t in templates
    ]
    return form


def _chosen(form: SendForm, templates: list[SmsTemplate]) -> SmsTemplate | None:
    by_id = {str(t.id): t for t in templates}
    return by_id.get(form.template.data or "")


def _follow_up(customer: Customer, raw: str | None) -> FollowUp | None:
    """The queue card's task the message is sent from: one of this customer's, that the user sees."""
    if not raw:
        return None
    number = whole_number(raw)
    if not is_id(number):
        abort(404)
    task = follow_up_or_404(number)
    if task.customer_id != customer.id:
        abort(404)
    return task


def _page(customer, form, templates, prepared, follow_up, status: int = 200):
    return render(
        "messages/send.html",
        "preview",
        customer=customer,
        form=form,
        templates=templates,
        prepared=prepared,
        follow_up=follow_up,
        now=utcnow(),
        skip_reasons=SKIP_REASON_LABELS,
        status=status,
    )


@bp.route("/customers/<int:customer_id>/send", methods=["GET", "POST"], endpoint="send")
@login_required
def send_one(customer_id: int):
    customer = customer_or_404(customer_id)
    templates = _templates()
    if request.method == "GET":
        # The form's one-time key is made here, once; the preview (htmx) only reads the template.
        form = _form(templates, request.args)
        if not is_partial():
            form.key.data = uuid4().hex
        follow_up = _follow_up(customer, form.follow_up.data)
        template = _chosen(form, templates)
        prepared = sending.prepare(customer, template, utcnow()) if template else None
        return _page(customer, form, templates, prepared, follow_up)

    form = _form(templates)
    follow_up = _follow_up(customer, form.follow_up.data)
    template = _chosen(form, templates)
    if not form.validate_on_submit() or template is None:
        prepared = sending.prepare(customer, template, utcnow()) if template else None
        return _page(customer, form, templates, prepared, follow_up, status=422)
    back = url_for("followups.queue") if follow_up else url_for("customers.show", customer_id=customer.id)
    try:
        sent = sending.send_one(
            customer,
            template,
            form_key=form.key.data,
            actor=current_user,
            now=utcnow(),
            follow_up_id=follow_up.id if follow_up else None,
        )
        db.session.commit()
    except sending.AlreadySent:
        db.session.rollback()
        flash(_("This message was sent already: nothing more was queued."), "info")
        return redirect(back)
    except sending.Refused as refused:
        db.session.rollback()
        return _page(customer, form, templates, refused.prepared, follow_up, status=422)
    engine.enqueue(sent.jobs)
    flash(
        _(
            "SMS to %(name)s queued: it leaves at %(time)s.",
            name=customer.name,
            time=localtime(sent.message.due_at),
        ),
        "success",
    )
    return redirect(back)
