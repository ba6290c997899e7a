from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField
from wtforms.validators import InputRequired, Optional

from ..params import whole_number
from .presets import PRESETS, Preset


class UploadForm(FlaskForm):
    file = FileField(
        _l("File"),
        validators=[FileRequired(_l("Choose the file to import."))],
        description=_l("CSV (UTF-8 or GBK) or XLSX, as downloaded from the platform's back office."),
    )
    preset = SelectField(_l("Kind of file"), choices=[(key, preset.label) for key, preset in PRESETS.items()])
    owner_id = SelectField(
        _l("Owner of new customers"),
        coerce=lambda v: int(v) if v else None,
        validators=[Optional()],
        description=_l("Customers already registered keep their owner."),
    )


class MappingForm(FlaskForm):
    """One select per field of the preset: which column of the file holds it."""

    preset: Preset

    def mapping(self) -> dict[str, int | None]:
        """The chosen column per field (None: not in the file); unreadable choices count as none."""
        columns = len(self._columns)
        result = {}
        for field in self.preset.fields:
            index = whole_number(self[field.key].data)
            result[field.key] = index if index is not None and index < columns else None
        return result


def mapping_form(preset: Preset, columns: list[str], **kwargs) -> MappingForm:
    choices = [("", _l("— not in the file —"))] + [(str(i), name) for i, name in enumerate(columns)]
    fields = {}
    for field in preset.fields:
        if field.required:
            fields[field.key] = SelectField(
                field.label,
                choices=choices,
                description=_l("Required."),
                validators=[InputRequired(_l("Choose the column that holds this."))],
            )
        else:
            fields[field.key] = SelectField(field.label, choices=choices, validators=[Optional()])
    form_class = type("PresetMappingForm", (MappingForm,), fields | {"preset": preset, "_columns": columns})
    return form_class(**kwargs)


def mapping_data(mapping: dict[str, int | None] | None) -> dict[str, str]:
    """A stored mapping as the form's initial data."""
    return {key: "" if index is None else str(index) for key, index in (mapping or {}).items()}
