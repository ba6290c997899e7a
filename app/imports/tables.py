"""An uploaded file as a table: its header and its rows, whatever the format and encoding.

CSV (UTF-8 or GBK/GB18030, with or without BOM, comma, tab or semicolon separated) and XLSX
(read with openpyxl in read-only mode). Anything else is refused with a TableError whose
message is shown next to the file field.
"""

import codecs
import csv
import io
import itertools
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from charset_normalizer import from_bytes
from flask_babel import lazy_gettext as _l

from .values import header_key, text

# How many rows from the top may hold a title before the header row.
HEADER_SEARCH_ROWS = 10
# An XLSX is a zip: one whose parts unpack to more than this is refused before it is read
# (openpyxl holds some parts in memory; a few KB can claim gigabytes, a "zip bomb").
XLSX_MAX_UNPACKED = 500 * 1024 * 1024
_SAMPLE = 64 * 1024


class TableError(ValueError):
    """The file cannot be read as a table; `message` says why, for the person uploading it."""

    def __init__(self, message):
        super().__init__(message)  # kept lazy: the job has no reader's language to translate into
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class Table:
    kind: str  # "csv" or "xlsx"
    encoding: str | None  # for CSV: the encoding it was read in
    header: list[str]
    header_line: int  # 1-based
    records: Callable[[], Iterator]  # every row from the top, as sequences of cells; TableError if damaged
    approximate_rows: int = 0  # cheap to know: lines under the header (CSV), the sheet's size (XLSX)

    def rows(self) -> Iterator[tuple[int, list]]:
        """(line number, cells) of each non-empty row under the header; line 1 is the file's first."""
        records = itertools.islice(self.records(), self.header_line, None)
        for line, cells in enumerate(records, self.header_line + 1):
            if any(cells):
                yield line, cells

    @cached_property
    def row_count(self) -> int:
        """The exact number of non-empty rows under the header (reads the whole file)."""
        return sum(1 for cells in itertools.islice(self.records(), self.header_line, None) if any(cells))

    def first_rows(self, count: int) -> list[tuple[int, list]]:
        return list(itertools.islice(self.rows(), count))

    @property
    def column_names(self) -> list[str]:
        """The header, with a name for unnamed columns."""
        return [name or _l("Column %(n)d", n=i + 1) for i, name in enumerate(self.header)]


def read_table(
    content: bytes,
    filename: str = "",
    pick_header: Callable[[list[str]], int] | None = None,
    min_columns: int = 2,
) -> Table:
    """The file as a Table, or TableError.

    `pick_header` scores a candidate header row (the number of column names it knows); the
    best of the first rows is the header, so a title line above it does no harm. A header
    naming fewer than `min_columns` columns is no table (an order report has many; a list of
    phone numbers for the blacklist may have one).
    """
    if not content or not content.strip():
        raise TableError(_l("The file is empty."))
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content, pick_header, min_columns)
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise TableError(
            _l("Old Excel files (.xls) cannot be read: open the file in Excel or WPS and save it as .xlsx or CSV.")
        )
    text_content, encoding = decode(content)
    return _read_csv(text_content, encoding, pick_header, min_columns)


def decode(content: bytes) -> tuple[str, str]:
    """The file's text and the name of its encoding: UTF-8 (with or without BOM), UTF-16 with
    BOM, GBK or GB18030, then whatever charset-normalizer recognises."""
    for bom, codec, name in (
        (codecs.BOM_UTF8, "utf-8", "UTF-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
    ):
        if content.startswith(bom):
            try:
                return _checked(content[len(bom) :].decode(codec)), name
            except UnicodeDecodeError:
                raise TableError(_l("The file says it is %(encoding)s text but is not.", encoding=name)) from None
    if b"\x00" in content:  # no text has one; PostgreSQL could not store it
        raise _not_a_table()
    # UTF-8 first: GBK text is practically never valid UTF-8, while the reverse often decodes.
    for codec, name in (("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GB18030")):
        try:
            return _checked(content.decode(codec)), name
        except UnicodeDecodeError:
            continue
    guess = from_bytes(content[:_SAMPLE]).best()
    if guess is not None:
        try:
            return _checked(content.decode(guess.encoding)), guess.encoding.upper()
        except (UnicodeDecodeError, LookupError):
            pass
    raise TableError(_l("The file's text encoding could not be recognised: save it as CSV in UTF-8 or GBK."))


def _checked(content: str) -> str:
    """Text that is mostly control characters is some binary file that happened to decode."""
    if "\x00" in content:
        raise _not_a_table()
    sample = content[:_SAMPLE]
    controls = sum(1 for ch in sample if ch < " " and ch not in "\t\r\n")
    if controls > max(2, len(sample) // 100):
        raise _not_a_table()
    return content


def _not_a_table() -> TableError:
    return TableError(_l("This file is not a table: upload the CSV or XLSX file exported from the platform."))


def _no_header() -> TableError:
    return TableError(_l("No table found in the file: its first row must name at least two columns."))


def _read_csv(content: str, encoding: str, pick_header, min_columns: int) -> Table:
    first_line = next((line for line in content[:_SAMPLE].splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first_line.count) if any(d in first_line for d in ",\t;") else ","

    def records():
        try:
            yield from csv.reader(io.StringIO(content), delimiter=delimiter)
        except csv.Error:  # say, a field longer than csv allows (128 KB)
            raise _not_a_table() from None

    top = list(itertools.islice(records(), HEADER_SEARCH_ROWS))
    header_line, header = _find_header(top, pick_header, min_columns)
    lines = content.count("\n") + (not content.endswith("\n"))
    table = Table("csv", encoding, header, header_line, records, max(0, lines - header_line))
    if not table.first_rows(1):
        raise TableError(_l("The file has a header row but no rows of data under it."))
    return table


def _not_a_workbook() -> TableError:
    return TableError(_l("This file is not an Excel workbook (.xlsx) that can be read."))


def _read_xlsx(content: bytes, pick_header, min_columns: int) -> Table:
    from openpyxl import load_workbook

    def open_sheet():
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        return workbook, workbook.active if workbook.active is not None else workbook.worksheets[0]

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _not_a_workbook() from None
    if unpacked > XLSX_MAX_UNPACKED:
        raise TableError(_l("This workbook is too large once unpacked: save it as CSV, or split it."))
    # A damaged or forged workbook makes openpyxl, zipfile or the XML parser raise any of many
    # errors (BadZipFile, zlib.error, ParseError, KeyError for a missing part…): all mean the same.
    try:
        workbook, sheet = open_sheet()
        estimated = (sheet.max_row or 0) or None
        workbook.close()
    except Exception:
        raise _not_a_workbook() from None

    def records():
        workbook, sheet = open_sheet()
        try:
            # Some generators write a wrong sheet size; reading row by row needs none.
            sheet.reset_dimensions()
            yield from sheet.iter_rows(values_only=True)
        except Exception:  # a damaged sheet inside a valid zip, as above
            raise _not_a_workbook() from None
        finally:
            workbook.close()

    top = list(itertools.islice(records(), HEADER_SEARCH_ROWS))
    header_line, header = _find_header(top, pick_header, min_columns)
    table = Table("xlsx", None, header, header_line, records, max(0, (estimated or 0) - header_line))
    if not table.first_rows(1):
        raise TableError(_l("The file has a header row but no rows of data under it."))
    return table


def _find_header(top: list, pick_header, min_columns: int) -> tuple[int, list[str]]:
    candidates = [(line, [text(cell) for cell in cells]) for line, cells in enumerate(top, 1) if any(cells)]
    candidates = [(line, cells) for line, cells in candidates if any(cells)]
    if not candidates:
        raise _no_header()
    best_line, best = candidates[0]
    if pick_header is not None:
        scored = [(pick_header(cells), -line, line, cells) for line, cells in candidates]
        score, _, line, cells = max(scored)
        if score > 0:
            best_line, best = line, cells
    while best and not best[-1]:  # trailing separators make unnamed, empty columns
        best.pop()
    if len(best) < min_columns:
        raise _no_header()
    return best_line, best


def known_columns(names: set[str]) -> Callable[[list[str]], int]:
    """A header scorer for read_table: how many of the row's cells are known column names."""
    keys = {header_key(n) for n in names}
    return lambda cells: sum(1 for cell in cells if header_key(cell) in keys)
