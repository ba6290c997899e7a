"""A template made into one customer's message under the sending provider's rules."""

from dataclasses import dataclass

from flask import current_app

from ..models import SkipReason, SmsTemplate
from . import texts
from .providers import Provider


class TemplateNotApproved(Exception):
    """The provider sends only templates approved in its console, and this one has no code there."""


@dataclass(frozen=True)
class Composed:
    text: str | None = None  # the final text: signature and opt-out text included
    count: texts.Count | None = None
    params: dict | None = None  # {"template_code": ..., "variables": {...}} for such providers
    skip_reason: SkipReason | None = None
    missing: str | None = None  # the placeholder the customer has no value for


def check_approved(template: SmsTemplate, sender: Provider) -> None:
    if sender.needs_template_code and not ((template.provider_codes or {}).get(sender.name) or {}).get("code"):
        raise TemplateNotApproved(template.name)


def compose(template: SmsTemplate, values: dict[str, str | None], sender: Provider) -> Composed:
    """`values`: the customer's placeholders (texts.customer_values)."""
    try:
        filled = texts.fill(template.body, values, template.defaults or {})
    except texts.MissingValue as missing:
        return Composed(skip_reason=SkipReason.MISSING_VALUE, missing=missing.placeholder)
    text = texts.final_text(
        filled, kind=template.kind, signature=current_app.config["SHOP_NAME"], opt_out_text=sender.opt_out_text
    )
    params = None
    if sender.needs_template_code:
        resolved = texts.resolved(values, template.defaults or {})
        try:
            code, variables = texts.template_params(template.provider_codes or {}, sender.name, resolved)
        except texts.MissingValue as missing:
            return Composed(skip_reason=SkipReason.MISSING_VALUE, missing=missing.placeholder)
        params = {"template_code": code, "variables": variables}
    return Composed(text=text, count=texts.count(text, sender.counting), params=params)
