from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..forms import DayField, FilterForm, PhoneField, label_choices
from ..labels import BLACKLIST_REASON_LABELS, BLACKLIST_SOURCE_LABELS
from ..models import BlacklistReason
from .lists import NOTE_MAX
from .services import ACTIVE, ALL, REMOVED

STATUS_LABELS = {ACTIVE: _l("Active entries"), REMOVED: _l("Removed entries"), ALL: _l("Active and removed")}
MAX_QUERY = 30


class BlacklistFilterForm(FilterForm):
    q = StringField(
        _l("Phone"),
        validators=[Length(max=MAX_QUERY, message=_l("Search for at most %(max)d characters."))],
        render_kw={"maxlength": MAX_QUERY},
    )
    reason = SelectField(
        _l("Reason"), choices=label_choices(BLACKLIST_REASON_LABELS, _l("Any reason")), validators=[Optional()]
    )
    source = SelectField(
        _l("Source"), choices=label_choices(BLACKLIST_SOURCE_LABELS, _l("Any source")), validators=[Optional()]
    )
    status = SelectField(_l("Show"), choices=label_choices(STATUS_LABELS), default=ACTIVE, validators=[Optional()])
    added_from = DayField(_l("Added from"), validators=[Optional()])
    added_to = DayField(_l("Added to"), validators=[Optional()])


class AddForm(FlaskForm):
    phone = PhoneField(_l("Mobile phone"), validators=[InputRequired(_l("Type the number to blacklist."))])
    reason = SelectField(_l("Reason"), choices=label_choices(BLACKLIST_REASON_LABELS), default=BlacklistReason.MANUAL)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])


class RemoveForm(FlaskForm):
    removal_reason = TextAreaField(
        _l("Why it is removed"),
        validators=[DataRequired(_l("Say why the number comes off the blacklist.")), Length(max=NOTE_MAX)],
    )


class ImportForm(FlaskForm):
    file = FileField(
        _l("File"),
        validators=[FileRequired(_l("Choose the file to import."))],
        description=_l("CSV (UTF-8 or GBK) or XLSX: a column of numbers named 手机号, and 备注 for notes if you like."),
    )
    reason = SelectField(
        _l("Reason"),
        choices=label_choices(BLACKLIST_REASON_LABELS),
        default=BlacklistReason.MANUAL,
        description=_l("Given to every number of the file."),
    )
