"""SMS templates (SPEC §7): list, save, archive, and what a template reads like once sent.

The text rules themselves (placeholders, the final text, billed parts) are app.sending.texts.
"""

from dataclasses import dataclass
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import select

from .. import audit_log
from ..extensions import db
from ..models import AuditAction, SmsTemplate, User
from ..sending import texts
from ..sending.providers import provider


def rules_of(name: str) -> tuple[str, str]:
    """(counting rule, opt-out text) of provider `name`."""
    adapter = provider(name)
    return adapter.counting, adapter.opt_out_text


def active_rules() -> tuple[str, str]:
    """(counting rule, opt-out text) of the provider that sends (the SMS_PROVIDER setting)."""
    return rules_of(current_app.config["SMS_PROVIDER"])


# The customer the editor's preview is written to.
SAMPLE_CUSTOMER = SimpleNamespace(name="张三", nickname="小张")
SAMPLE_ORDER_NO = "2026112812345678"


@dataclass(frozen=True)
class Final:
    text: str
    count: texts.Count


def final(filled: str, kind: str, provider: str, shop_name: str) -> Final:
    """The text as `provider` would send it (signature, opt-out text for marketing), and its count."""
    counting, opt_out_text = rules_of(provider)
    text = texts.final_text(filled, kind=kind, signature=shop_name, opt_out_text=opt_out_text)
    return Final(text, texts.count(text, counting))


@dataclass(frozen=True)
class Preview:
    """What a template reads like for the sample customer under the active provider: `final`,
    or why it cannot be filled (`unknown` words in braces, or a placeholder `missing` a value)."""

    final: Final | None
    counting: str
    unknown: tuple[str, ...] = ()
    missing: str | None = None


def preview(body: str, kind: str, defaults: dict[str, str]) -> Preview:
    shop_name = current_app.config["SHOP_NAME"]
    provider = current_app.config["SMS_PROVIDER"]
    counting, _ = rules_of(provider)
    unknown = tuple(texts.unknown_placeholders(body))
    if unknown:
        return Preview(None, counting, unknown=unknown)
    values = texts.customer_values(SAMPLE_CUSTOMER, shop_name, SAMPLE_ORDER_NO)
    try:
        filled = texts.fill(body, values, defaults)
    except texts.MissingValue as missing:
        return Preview(None, counting, missing=missing.placeholder)
    return Preview(final(filled, kind, provider, shop_name), counting)


def templates(archived: bool = False) -> list[SmsTemplate]:
    return list(
        db.session.scalars(select(SmsTemplate).where(SmsTemplate.archived.is_(archived)).order_by(SmsTemplate.name))
    )


def name_taken(name: str, exclude_id: int | None = None) -> bool:
    query = select(SmsTemplate.id).where(SmsTemplate.name == name)
    if exclude_id is not None:
        query = query.where(SmsTemplate.id != exclude_id)
    return db.session.scalar(query) is not None


_SAVED = ("name", "kind", "body", "defaults", "provider_codes", "archived")


def _state(template: SmsTemplate) -> dict:
    return {key: getattr(template, key) for key in _SAVED}


def _record(template: SmsTemplate, before: dict, actor: User) -> None:
    after = _state(template)
    changed = [key for key in _SAVED if before.get(key) != after[key]]
    if not changed:
        return
    audit_log.record(
        AuditAction.SMS_TEMPLATE_SAVED,
        subject=f"sms_template:{template.id}",
        before={key: before.get(key) for key in changed} if before else None,
        after={key: after[key] for key in changed},
        actor=actor,
    )


def save(template: SmsTemplate | None, values: dict, actor: User) -> SmsTemplate:
    """Create a template (`template` None) or change one with `values` (name, kind, body,
    defaults, provider_codes); the change log keeps what changed."""
    before = _state(template) if template is not None else {}
    if template is None:
        template = SmsTemplate(created_by_id=actor.id, archived=False)
        db.session.add(template)
    for key, value in values.items():
        setattr(template, key, value)
    db.session.flush()  # a new template's id, for the change log
    _record(template, before, actor)
    return template


def set_archived(template: SmsTemplate, archived: bool, actor: User) -> None:
    """Archived templates leave the lists (campaigns keep theirs); nothing is deleted."""
    before = _state(template)
    template.archived = archived
    _record(template, before, actor)
