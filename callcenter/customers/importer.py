"""CSV import of customers: the file is checked here (pure, no database); the service then stores the
good rows in one transaction and adds the rows the database refuses (duplicates) to the rejected ones.

The file: UTF-8 (a byte-order mark is fine), comma-separated (or semicolon-separated, as spreadsheets
write it in many countries: the header line decides), a header row naming the columns. `reference`
and `name` are required; the other columns are optional:

    reference,name,company,address,segment,vip,value,notes,phones
    C-1001,Ada Lovelace,Analytical Ltd,"1 Engine Road, London",gold,yes,900,,+44 20 7946 0001|020 7946 0002

`vip` is yes/no, true/false, 1/0 or empty (no); `value` a whole number or empty; `phones` one or more
numbers separated by `|`, `;` or `,`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from pydantic import ValidationError

from callcenter.customers.schemas import CustomerIn
from callcenter.errors import Invalid

COLUMNS = ("reference", "name", "company", "address", "segment", "vip", "value", "notes", "phones")
REQUIRED = ("reference", "name")
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
_PHONE_SEPARATORS = re.compile(r"[|;,]")


class CsvError(Invalid):
    """The file as a whole cannot be read: nothing is imported."""


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int                 # the header is row 1, as a spreadsheet numbers them
    reference: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class CsvRow:
    row: int
    customer: CustomerIn


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    rejected: tuple[Rejected, ...]


def parse_csv(data: bytes) -> tuple[list[CsvRow], list[Rejected]]:
    """The rows that are valid customers, and the rejected ones with their reasons."""
    if len(data) > MAX_BYTES:
        raise CsvError(f"the file has {len(data)} bytes; at most {MAX_BYTES} are imported at once")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                       "save it as 'CSV UTF-8'") from None
    if "\x00" in text:
        raise CsvError(f"the file contains a NUL character (offset {text.index(chr(0))}): it is not a CSV text file")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    good: list[CsvRow] = []
    rejected: list[Rejected] = []
    try:
        header = _header(next(reader, None))
        for number, fields in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                raise CsvError(f"the file has more than {MAX_ROWS} rows; split it")
            if not any(field.strip() for field in fields):
                continue  # blank line
            if len(fields) != len(header):
                at = header.index("reference")
                reference = fields[at].strip() or None if at < len(fields) else None
                rejected.append(Rejected(number, reference, f"the row has {len(fields)} fields, the header has "
                                                            f"{len(header)}"))
                continue
            record = dict(zip(header, fields, strict=True))
            reference = record["reference"].strip() or None
            try:
                good.append(CsvRow(number, CustomerIn.model_validate(_customer_fields(record))))
            except ValidationError as exc:
                rejected.append(Rejected(number, reference, _reasons(exc)))
    except csv.Error as exc:
        raise CsvError(f"row {reader.line_num}: not valid CSV: {exc}") from None
    return good, rejected


def _header(fields: list[str] | None) -> list[str]:
    if fields is None:
        raise CsvError("the file is empty: expected a header row naming the columns")
    header = [field.strip().lower() for field in fields]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvError(f"the header row must name the columns {' and '.join(REQUIRED)}; "
                       f"missing: {', '.join(missing)} (found: {', '.join(header) or 'nothing'})")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CsvError(f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join(COLUMNS)}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise CsvError(f"column(s) named twice: {', '.join(repeated)}")
    return header


def _customer_fields(record: dict[str, str]) -> dict[str, object]:
    fields: dict[str, object] = {name: value for name, value in record.items() if name not in ("vip", "value",
                                                                                               "phones")}
    if record.get("vip", "").strip():
        fields["vip"] = record["vip"].strip().lower()
    if record.get("value", "").strip():
        fields["value"] = record["value"].strip()
    numbers = (n.strip() for n in _PHONE_SEPARATORS.split(record.get("phones", "")))
    fields["phones"] = [{"number": n} for n in numbers if n]
    return fields


def _reasons(exc: ValidationError) -> str:
    reasons = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "row"
        message = error["msg"].removeprefix("Value error, ")
        reasons.append(f"{field}: {message}")
    return "; ".join(reasons)
