from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from .. import params
from ..forms import DayField, PhoneField, label_choices
from ..labels import GENDER_LABELS, PLATFORM_LABELS, SOURCE_LABELS


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    phone = PhoneField(_l("Mobile phone"), validators=[Optional()])
    platform = SelectField(_l("Platform"), choices=label_choices(PLATFORM_LABELS, "—"), validators=[Optional()])
    nickname = StringField(_l("Platform nickname"), validators=[Optional(), Length(max=100)])
    wechat = StringField(_l("WeChat"), validators=[Optional(), Length(max=100)])
    qq = StringField("QQ", validators=[Optional(), Length(max=20)])
    email = StringField(
        _l("Email"), validators=[Optional(), Email(message=_l("Not a valid email address.")), Length(max=200)]
    )
    province = StringField(_l("Province"), validators=[Optional(), Length(max=30)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=50)])
    gender = SelectField(_l("Gender"), choices=label_choices(GENDER_LABELS, "—"), validators=[Optional()])
    birthday = DayField(_l("Birthday"), validators=[Optional()])
    tags = StringField(
        _l("Tags"), validators=[Optional(), Length(max=500)], description=_l("Separate tags with commas.")
    )
    source = SelectField(_l("Source"), choices=label_choices(SOURCE_LABELS))
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
    return {field.name: field.label.text for field in CustomerForm(formdata=None, meta={"csrf": False})}


class ComplaintForm(FlaskForm):
    note = TextAreaField(_l("Complaint"), validators=[DataRequired(), Length(max=2000)])


class MergeForm(FlaskForm):
    """The other record, to merge into the one whose page this is."""

    other = StringField(validators=[InputRequired(message=_l("Choose the record to merge into this one."))])

    def validate_other(self, field):
        if not params.is_id(params.whole_number(field.data)):  # ids the database can hold, as in URLs
            raise ValidationError(_l("Choose the record to merge into this one."))
