"""Importing clients from a CSV file (S1).

`read_client_file` reads and checks every row without saving anything: that is the
preview. `import_clients` checks the same file again and saves in one transaction,
either every row (refused while any row has an error) or, when the user chose so,
only the valid rows.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.db import transaction

from settle.core.errors import SettleError

from ..models import Client
from ..selectors import connected_processors
from .clients import clean_address, clean_name, create_client, normalize_emails

MAX_BYTES = 1_000_000
MAX_ROWS = 2_000

# Column names accepted for each field, compared without case, spaces or punctuation, so a
# file exported by Settle or by another bookkeeping product reads as it is.
COLUMN_NAMES = {
    "name": ("name", "client", "client name", "customer", "customer name", "display name", "company name"),
    "emails": ("email", "emails", "email(s)", "email address", "email addresses", "contact email", "contact email(s)", "contact emails"),
    "address": ("address", "billing address", "street address"),
    "processor": ("credit card processor", "card processor", "processor"),
}
FIELD_LABELS = {"name": "Name", "emails": "Email", "address": "Address", "processor": "Credit card processor"}
SAVE_AS_CSV = "Save it from your spreadsheet as “CSV UTF-8 (Comma delimited)” and upload that file."


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


_FIELD_BY_KEY = {_key(name): field for field, names in COLUMN_NAMES.items() for name in names}


@dataclass
class ImportRow:
    number: int  # the row as a spreadsheet numbers it: the header is row 1
    name: str
    emails: str
    address: str
    processor_name: str
    processor: object = None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ClientFile:
    rows: list[ImportRow]
    columns: list[str]  # the fields the file has, in FIELD_LABELS order
    ignored_columns: list[str]

    @property
    def valid_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.ok]

    @property
    def error_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if not row.ok]


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise SettleError(
            f"The file is too big ({len(data) / 1_000_000:.1f} MB). Import at most {MAX_BYTES // 1_000_000} MB "
            f"({MAX_ROWS:,} clients) at a time: split the file.", field="file",
        )
    if not data.strip():
        raise SettleError("The file is empty.", field="file")
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SettleError(f"This is a spreadsheet workbook (such as .xlsx, .xls or .ods), not a CSV file. {SAVE_AS_CSV}", field="file")
    if data.startswith(b"%PDF"):
        raise SettleError(f"This is a PDF document, not a CSV file. {SAVE_AS_CSV}", field="file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SettleError(f"The file is UTF-16 text (Excel’s “Unicode Text”), not UTF-8. {SAVE_AS_CSV}", field="file")
    if b"\x00" in data:
        raise SettleError(f"This is not a CSV file: it holds binary data. {SAVE_AS_CSV}", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SettleError(
            f"The file is not UTF-8 text: line {line} has a character UTF-8 cannot read (an accented letter "
            f"saved as Windows-1252 or Latin-1, for example). {SAVE_AS_CSV} In LibreOffice, choose the "
            "character set “Unicode (UTF-8)”.", field="file",
        ) from None


def _records(text: str) -> list[list[str]]:
    first_line, _, rest = text.partition("\n")
    if re.fullmatch(r"sep=.\r?", first_line):  # Excel's hint line naming the delimiter
        delimiter, text = first_line[4], rest
    elif "," in first_line:
        delimiter = ","
    else:  # spreadsheets in many European locales save with semicolons
        delimiter = ";" if ";" in first_line else ("\t" if "\t" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > MAX_ROWS + 1:
                raise SettleError(f"The file has more than {MAX_ROWS:,} rows. Import at most {MAX_ROWS:,} clients at a time: split the file.", field="file")
    except csv.Error as exc:
        raise SettleError(
            f"Row {len(records) + 1} is not valid CSV ({exc}). A quote may be left open: open the file in a "
            f"spreadsheet and save it again as CSV.", field="file",
        ) from None
    return records


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    positions: dict[str, int] = {}
    ignored = []
    for index, title in enumerate(header):
        title = title.strip()
        field_name = _FIELD_BY_KEY.get(_key(title))
        if field_name is None:
            if title:
                ignored.append(title)
            continue
        if field_name in positions:
            raise SettleError(
                f"The file has two {FIELD_LABELS[field_name]} columns (“{header[positions[field_name]].strip()}” and "
                f"“{title}”). Keep one.", field="file",
            )
        positions[field_name] = index
    if "name" not in positions:
        found = ", ".join(f"“{t.strip()[:40]}”" for t in header if t.strip()) or "nothing"
        raise SettleError(
            "The file has no Name column. Its first row must name the columns, such as Name, Email, Address "
            f"(Credit card processor is optional); it has {found}.", field="file",
        )
    return positions, ignored


def read_client_file(*, company, data: bytes) -> ClientFile:
    """Decode, parse and check every row of a CSV of clients; save nothing.

    Raises SettleError(field="file") for a file that cannot be read as a whole (too big,
    not CSV, not UTF-8, no Name column, no rows). Problems of single rows are kept on the
    rows, every problem of a row at once.
    """
    records = _records(_decode(data))
    positions, ignored = _columns(records[0])
    processors = {p.name.strip().lower(): p for p in connected_processors(company=company)}
    taken = {name.lower() for name in Client.objects.filter(company=company).values_list("name", flat=True)}
    seen: dict[str, int] = {}
    rows = []
    for index, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        cells = {f: (record[i] if i < len(record) else "") for f, i in positions.items()}
        row = ImportRow(
            number=index, name=cells["name"].strip(), emails=cells.get("emails", "").strip(),
            address=cells.get("address", "").strip(), processor_name=cells.get("processor", "").strip(),
        )
        if len(record) > len(records[0]):
            row.errors.append("This row has more cells than the file has columns; a comma in a value needs quotes around the value.")
        try:
            row.name = clean_name(row.name)
        except SettleError as exc:
            row.errors.append(exc.message)
        else:
            if row.name.lower() in taken:
                row.errors.append(f"A client named “{row.name}” already exists.")
            elif row.name.lower() in seen:
                row.errors.append(f"Row {seen[row.name.lower()]} has the same name.")
            else:
                seen[row.name.lower()] = index
        for clean, attr in ((normalize_emails, "emails"), (clean_address, "address")):
            try:
                setattr(row, attr, clean(getattr(row, attr)))
            except SettleError as exc:
                row.errors.append(exc.message)
        if row.processor_name and row.processor_name.lower() != "none":
            row.processor = processors.get(row.processor_name.lower())
            if row.processor is None:
                offered = ", ".join(p.name for p in processors.values()) or "none is connected"
                row.errors.append(f"No connected credit card processor is named “{row.processor_name[:60]}” ({offered}).")
        rows.append(row)
    if not rows:
        raise SettleError("The file names its columns but has no clients below them.", field="file")
    columns = [FIELD_LABELS[f] for f in FIELD_LABELS if f in positions]
    return ClientFile(rows=rows, columns=columns, ignored_columns=ignored)


@dataclass(frozen=True)
class ImportResult:
    created: int
    skipped: list[ImportRow]


@transaction.atomic
def import_clients(*, company, data: bytes, valid_only: bool = False) -> ImportResult:
    """Create the clients of a CSV file in one transaction.

    Every row is checked again (the file may have been previewed a while ago). While any
    row has an error nothing is saved, unless `valid_only`: then the valid rows are saved
    and the others skipped.
    """
    parsed = read_client_file(company=company, data=data)
    errors = parsed.error_rows
    if errors and not valid_only:
        raise SettleError(
            f"{len(errors)} row{'s' if len(errors) != 1 else ''} of the file {'have' if len(errors) != 1 else 'has'} "
            "errors, so nothing was imported. Correct the file and upload it again, or import only the valid rows."
        )
    if not parsed.valid_rows:
        raise SettleError("No row of the file can be imported; nothing was imported.")
    for row in parsed.valid_rows:
        create_client(company=company, name=row.name, emails=row.emails, address=row.address, default_processor=row.processor)
    return ImportResult(created=len(parsed.valid_rows), skipped=errors)
