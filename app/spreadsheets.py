"""Files users download to open in Excel or WPS: CSV and XLSX, written one way.

CSV is UTF-8 with a BOM: without it Excel reads the Chinese text as another encoding. Text a
buyer or a user typed may start with = + - @, which a spreadsheet would run as a formula
(CSV injection): every text cell goes through `text_cell`, so no caller can forget it.
"""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from flask import Response, stream_with_context
from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text_cell(value: str | None) -> str:
    """Typed text that a spreadsheet shows as typed and never runs as a formula."""
    value = value or ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cells(row: Sequence) -> list:
    return [text_cell(value) if isinstance(value, str) else value for value in row]


def csv_chunks(rows: Iterable[Sequence], rows_per_chunk: int = 500) -> Iterator[str]:
    """The rows as CSV text with a BOM, a chunk at a time (for streaming long lists)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    for number, row in enumerate(rows, 1):
        writer.writerow(_cells(row))
        if number % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_text(rows: Iterable[Sequence]) -> str:
    return "".join(csv_chunks(rows))


def xlsx_bytes(rows: Iterable[Sequence], sheet: str) -> bytes:
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    for row in rows:
        worksheet.append([float(v) if isinstance(v, Decimal) else v for v in _cells(row)])  # a number cell
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_download(rows: Iterable[Sequence], filename: str) -> Response:
    """A CSV attachment, streamed: rows may be read from the database as it goes."""
    return Response(
        stream_with_context(csv_chunks(rows)),
        mimetype="text/csv",  # Flask adds the charset
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def xlsx_download(rows: Iterable[Sequence], filename: str, sheet: str) -> Response:
    return Response(
        xlsx_bytes(rows, sheet),
        mimetype=XLSX_MIMETYPE,
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
