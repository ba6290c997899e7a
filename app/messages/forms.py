import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from ..labels import MESSAGE_KIND_LABELS
from ..models import MessageKind, SmsTemplate
from ..sending.providers import PROVIDER_NAMES
from ..sending.texts import PLACEHOLDERS, needs_default, unknown_placeholders

# Placeholders a template may give a default for: every customer has a name, and the shop's
# name is always known.
DEFAULTABLE = tuple(p for p in PLACEHOLDERS if p not in ("name", "shop"))
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def braced(placeholders) -> str:
    """Placeholders as a user writes them: "{name}, {coupon}"."""
    return ", ".join("{" + p + "}" for p in placeholders)


def known_placeholders() -> str:
    return braced(PLACEHOLDERS)


def parse_variables(text: str | None) -> dict[str, str]:
    """ "variable=placeholder" lines (blank lines skipped) as {provider's variable: placeholder};
    ValueError says what is wrong with the first bad line."""
    variables = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        variable, sign, placeholder = line.partition("=")
        variable, placeholder = variable.strip(), placeholder.strip().removeprefix("{").removesuffix("}").strip()
        if not sign or not _VARIABLE.match(variable):
            raise ValueError(_("Line %(n)d: write it as variable=placeholder, e.g. user=name.", n=number))
        if placeholder not in PLACEHOLDERS:
            raise ValueError(
                _(
                    "Line %(n)d: %(value)s is no placeholder. Known: %(known)s.",
                    n=number,
                    value=placeholder or "—",
                    known=known_placeholders(),
                )
            )
        if variable in variables:
            raise ValueError(_("Line %(n)d: the variable %(name)s is given twice.", n=number, name=variable))
        variables[variable] = placeholder
    return variables


def format_variables(variables: dict[str, str]) -> str:
    return "\n".join(f"{variable}={placeholder}" for variable, placeholder in variables.items())


class TemplateForm(FlaskForm):
    """An SMS template. The default and provider fields are added below, one per placeholder
    and per provider: default_<placeholder>, code_<provider>, variables_<provider>."""

    name = StringField(_l("Template name"), filters=[_strip], validators=[DataRequired(), Length(max=100)])
    kind = SelectField(
        _l("Kind"),
        choices=list(MESSAGE_KIND_LABELS.items()),
        default=MessageKind.MARKETING,
        description=_l(
            "Marketing messages get the opt-out text, wait out the provider's quiet hours and count toward the frequency cap."
        ),
    )
    body = TextAreaField(
        _l("Text"),
        validators=[DataRequired(), Length(max=1000)],
        description=_l("The signature 【shop】 is put in front when it is sent."),
    )

    def validate_body(self, field):
        unknown = unknown_placeholders(field.data or "")
        if unknown:
            raise ValidationError(
                _(
                    "Unknown placeholder %(unknown)s. Known: %(known)s.",
                    unknown=braced(unknown),
                    known=known_placeholders(),
                )
            )
        if "【" in field.data or "】" in field.data:
            raise ValidationError(_("Leave out the signature 【…】: it is added when the message is sent."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not self.body.errors:
            for placeholder in needs_default(self.body.data or ""):
                field = self[f"default_{placeholder}"]
                if not field.errors and not field.data:
                    field.errors.append(
                        _("The text uses %(placeholder)s: give its value here.", placeholder=braced([placeholder]))
                    )
                    valid = False
        for provider in PROVIDER_NAMES:
            variables = self[f"variables_{provider}"]
            try:
                parsed = parse_variables(variables.data)
            except ValueError as error:
                variables.errors.append(str(error))
                valid = False
                continue
            code = self[f"code_{provider}"]
            if parsed and not code.data and not code.errors:
                code.errors.append(_("Give the approved template's code, or leave its variables empty."))
                valid = False
        return valid

    def template_values(self) -> dict:
        """The validated form as SmsTemplate's values."""
        defaults = {p: self[f"default_{p}"].data for p in DEFAULTABLE if self[f"default_{p}"].data}
        codes = {}
        for provider in PROVIDER_NAMES:
            code = self[f"code_{provider}"].data
            if code:
                codes[provider] = {"code": code, "variables": parse_variables(self[f"variables_{provider}"].data)}
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "body": self.body.data.strip(),
            "defaults": defaults,
            "provider_codes": codes,
        }

    def shows_provider_codes(self) -> bool:
        """Whether any provider's code or variables are given (or wrong): their section opens."""
        fields = [self[f"{prefix}_{provider}"] for provider in PROVIDER_NAMES for prefix in ("code", "variables")]
        return any(field.data or field.errors for field in fields)

    def defaults(self) -> dict[str, str]:
        """The defaults as typed (for the preview, which needs no valid form)."""
        return {p: self[f"default_{p}"].data or "" for p in DEFAULTABLE}


_DEFAULT_HELP = {
    "nickname": _l("For a customer without a platform nickname."),
    "coupon": _l("E.g. 满100减10券. Customers have no coupon of their own: required when the text uses it."),
    "expires": _l("E.g. 12月31日. Required when the text uses it."),
    "link": _l("E.g. a short link to the shop. Required when the text uses it."),
    "order_no": _l("For a customer without an order; without a default they are skipped."),
}
for _placeholder in DEFAULTABLE:
    setattr(
        TemplateForm,
        f"default_{_placeholder}",
        StringField(
            f"{{{_placeholder}}}",
            filters=[_strip],
            validators=[Optional(), Length(max=200)],
            description=_DEFAULT_HELP[_placeholder],
        ),
    )
for _provider in PROVIDER_NAMES:
    setattr(
        TemplateForm,
        f"code_{_provider}",
        StringField(
            _l("Approved template code"),
            filters=[_strip],
            validators=[
                Optional(),
                Length(max=64),
                Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Letters, digits, dash and underscore only.")),
            ],
            description=_l("As shown in the provider's console, e.g. SMS_123456789."),
        ),
    )
    setattr(
        TemplateForm,
        f"variables_{_provider}",
        TextAreaField(
            _l("Its variables"),
            validators=[Length(max=2000)],
            description=_l("One per line: the provider's variable=our placeholder, e.g. user=name."),
        ),
    )


def template_data(template: SmsTemplate) -> dict:
    """A stored template as the form's initial data."""
    data = {"name": template.name, "kind": template.kind, "body": template.body}
    for placeholder in DEFAULTABLE:
        data[f"default_{placeholder}"] = (template.defaults or {}).get(placeholder, "")
    for provider, entry in (template.provider_codes or {}).items():
        data[f"code_{provider}"] = entry.get("code", "")
        data[f"variables_{provider}"] = format_variables(entry.get("variables") or {})
    return data
