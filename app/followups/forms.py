from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length, Optional

from ..labels import CHANNEL_LABELS, OUTCOME_LABELS
from ..models import Channel

NOTE_MAX = 1000  # characters


class OutcomeForm(FlaskForm):
    """What came of a follow-up: one of the outcome buttons, the channel used, a note.

    Each card has its own form, so the view gives each a prefix (the task's id) that keeps
    the fields' ids apart on the page.
    """

    outcome = SelectField(_l("Outcome"), choices=list(OUTCOME_LABELS.items()))
    channel = SelectField(_l("Channel"), choices=list(CHANNEL_LABELS.items()), default=Channel.PHONE)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=NOTE_MAX)])
