import phonenumbers
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from .. import phones
from ..labels import GENDER_LABELS, LAYER_LABELS, PLATFORM_LABELS, SOURCE_LABELS, TIER_LABELS

SORT_LABELS = {"recent": _l("Last order"), "spend": _l("Total spend"), "name": _l("Name"), "created": _l("Newest")}


def _choices(labels: dict, blank=None) -> list:
    items = list(labels.items())
    return [("", blank)] + items if blank is not None else items


class PhoneField(StringField):
    """A phone typed any usual way; `data` becomes E.164 once validated."""

    def _value(self):
        # A stored (E.164) number reads in the local form, as everywhere else; a typed one as typed.
        if self.data and self.data.startswith("+") and not self.errors:
            try:
                return phones.display(self.data, current_app.config["PHONE_REGION"])
            except phonenumbers.NumberParseException:
                pass
        return super()._value()

    def pre_validate(self, form):
        if self.data:
            try:
                self.data = phones.normalize(self.data, current_app.config["PHONE_REGION"])
            except phones.InvalidPhone:
                raise ValidationError(_l("Not a valid mobile number. Type 11 digits, e.g. 138 1234 5678.")) from None


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    phone = PhoneField(_l("Mobile phone"), validators=[Optional()])
    platform = SelectField(_l("Platform"), choices=_choices(PLATFORM_LABELS, "—"), validators=[Optional()])
    nickname = StringField(_l("Platform nickname"), validators=[Optional(), Length(max=100)])
    wechat = StringField(_l("WeChat"), validators=[Optional(), Length(max=100)])
    qq = StringField("QQ", validators=[Optional(), Length(max=20)])
    email = StringField(
        _l("Email"), validators=[Optional(), Email(message=_l("Not a valid email address.")), Length(max=200)]
    )
    province = StringField(_l("Province"), validators=[Optional(), Length(max=30)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=50)])
    gender = SelectField(_l("Gender"), choices=_choices(GENDER_LABELS, "—"), validators=[Optional()])
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    tags = StringField(
        _l("Tags"), validators=[Optional(), Length(max=500)], description=_l("Separate tags with commas.")
    )
    source = SelectField(_l("Source"), choices=_choices(SOURCE_LABELS))
    product_interest = StringField(_l("Product interest"), validators=[Optional(), Length(max=200)])
    intent_notes = TextAreaField(
        _l("Intent notes"),
        validators=[Optional(), Length(max=2000)],
        description=_l("E.g. wants customisation, hesitates over price."),
    )
    owner_id = SelectField(_l("Owner"), coerce=lambda v: int(v) if v else None, validators=[Optional()])

    def validate_nickname(self, field):
        if field.data and not self.platform.data:
            raise ValidationError(_l("Choose the platform this nickname belongs to."))

    def customer_values(self) -> dict:
        """The submitted values, as the customer's column values."""
        names = (
            "name",
            "phone",
            "platform",
            "nickname",
            "wechat",
            "qq",
            "email",
            "province",
            "city",
            "gender",
            "birthday",
            "tags",
            "source",
            "product_interest",
            "intent_notes",
        )
        values = {n: (self[n].data.strip() if isinstance(self[n].data, str) else self[n].data) or None for n in names}
        values["tags"] = ",".join(t.strip() for t in (values["tags"] or "").replace("，", ",").split(",") if t.strip())
        return values


def field_labels() -> dict[str, str]:
    """Each customer field's label, to name changed fields on the timeline."""
    return {field.name: field.label.text for field in CustomerForm(meta={"csrf": False})}


class ComplaintForm(FlaskForm):
    note = TextAreaField(_l("Complaint"), validators=[DataRequired(), Length(max=2000)])


class CustomerFilterForm(FlaskForm):
    """The registry's search box and filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"))
    owner = SelectField(_l("Owner"), validators=[Optional()])
    layer = SelectField(_l("Layer"), choices=_choices(LAYER_LABELS, _l("Any layer")), validators=[Optional()])
    tier = SelectField(_l("Tier"), choices=_choices(TIER_LABELS, _l("Any tier")), validators=[Optional()])
    province = StringField(_l("Province"), validators=[Optional(), Length(max=30)])
    source = SelectField(_l("Source"), choices=_choices(SOURCE_LABELS, _l("Any source")), validators=[Optional()])
    last_order_from = DateField(_l("Last order from"), validators=[Optional()])
    last_order_to = DateField(_l("Last order to"), validators=[Optional()])
    sort = SelectField(_l("Sort by"), choices=_choices(SORT_LABELS), default="recent", validators=[Optional()])

    def filter_values(self) -> dict:
        """The filters to apply: the valid ones; an invalid one shows its error and is ignored."""
        if not self.validate():
            for field in self:
                if field.errors:
                    field.data = field.default
        return {name: value for name, value in self.data.items() if value}
