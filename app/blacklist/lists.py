"""A file of phone numbers to blacklist: which column holds the numbers (and notes), and its rows.

The file is read the way the order import reads its files (app.imports.tables: CSV in UTF-8,
GBK or GB18030, with or without BOM, or XLSX; anything else, a damaged workbook or a zip bomb
is refused with a TableError). Its first row names the columns (手机号, 备注…), or the file is
a list of numbers alone. Numbers are read as the order import reads a buyer's phone.
"""

from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l

from ..imports.tables import Table, TableError, known_columns, read_table
from ..imports.values import N_, PhoneBook, RowError, header_key, text
from ..imports.values import REASONS as IMPORT_REASONS

# Column names of the phone and of the note; compared as app.imports.values.header_key does.
PHONE_COLUMNS = (
    "手机号",
    "手机号码",
    "手机",
    "电话",
    "电话号码",
    "联系电话",
    "联系手机",
    "收货人手机",
    "号码",
    "phone",
    "phone number",
    "mobile",
    "mobile phone",
    "tel",
)
NOTE_COLUMNS = ("备注", "说明", "原因", "note", "notes", "remark", "remarks", "comment")
NOTE_MAX = 1000  # characters of a note kept

# Why a line was not added (rejected), and what is said of a line blacklisted already (notes).
# Stored as codes and parameters by the job; the page says them in the reader's language.
REASONS = {
    "phone_empty": N_("The phone number is empty."),
    "phone_masked": N_("The phone number “%(value)s” has hidden digits."),
    "bad_phone": IMPORT_REASONS["bad_phone"],
    "not_saved": IMPORT_REASONS["not_saved"],
}
NOTES = {
    "already": N_("%(phone)s is blacklisted already."),
    "repeated": N_("%(phone)s is on line %(first)s of this file too."),
}


class Rejected(ValueError):
    """A line that cannot be added: a code of REASONS and its parameters."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = {k: v if len(str(v)) <= 60 else str(v)[:59] + "…" for k, v in params.items()}

    @property
    def reason(self) -> str:
        """The reason in English (the source language), as stored with the run."""
        return REASONS[self.code] % self.params


@dataclass(frozen=True)
class Columns:
    phone: int
    note: int | None = None
    headerless: bool = False  # a list of numbers alone: its first row is a number, not a header

    def as_mapping(self) -> dict:
        return {"phone": self.phone, "note": self.note, "headerless": self.headerless}


def read_list(content: bytes, filename: str, region: str) -> tuple[Table, Columns]:
    """The file as a table of numbers and the columns to read; TableError if it is none."""
    names = PHONE_COLUMNS + NOTE_COLUMNS
    table = read_table(content, filename, known_columns(set(names)), min_columns=1)
    keys = [header_key(name) for name in table.header]
    phone = _first(keys, PHONE_COLUMNS)
    if phone is not None:
        return table, Columns(phone, _first(keys, NOTE_COLUMNS))
    phones = PhoneBook(region)
    phone = next((i for i, cell in enumerate(table.header) if _is_phone(phones, cell)), None)
    if phone is None:
        raise TableError(
            _l(
                "No column of phone numbers found: name it 手机号 (or phone) in the first row, or upload the numbers alone."
            )
        )
    # The "header" is the first number: the rows start on its line.
    return replace(table, header_line=table.header_line - 1), Columns(phone, None, headerless=True)


def _first(keys: list[str], names: tuple[str, ...]) -> int | None:
    wanted = [header_key(name) for name in names]
    return next((i for name in wanted for i, key in enumerate(keys) if key == name), None)


def _is_phone(phones: PhoneBook, cell) -> bool:
    try:
        return phones.normalize(cell) is not None
    except RowError:
        return False


class RowReader:
    """Reads one row of the file: (E.164 phone, note), or Rejected."""

    def __init__(self, columns: Columns, region: str):
        self.columns = columns
        self.phones = PhoneBook(region)

    @staticmethod
    def blank(cells) -> bool:
        """A row with nothing in it (spaces only): not read, not counted."""
        return not any(text(cell) for cell in cells)

    def read(self, cells) -> tuple[str, str | None]:
        phone_at, note_at = self.columns.phone, self.columns.note
        raw = text(cells[phone_at]) if phone_at < len(cells) else ""
        if not raw:
            raise Rejected("phone_empty")
        if "*" in raw:  # exports hide digits as 138****5678
            raise Rejected("phone_masked", value=raw)
        try:
            phone = self.phones.normalize(raw)
        except RowError:
            raise Rejected("bad_phone", value=raw) from None
        note = text(cells[note_at])[:NOTE_MAX] if note_at is not None and note_at < len(cells) else ""
        return phone, note or None
