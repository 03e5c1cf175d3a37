"""Reads and checks dataset files for web uploads and the `import_dataset` command, row by row.

iter_dataset_rows() walks a .jsonl, .json or .csv file, a .zip of them or a folder of them and
yields a ParsedItem for each good row and a RowError, with the line and the reason, for each
problem. It streams: no file, and no archive, is ever held in memory whole.

Field mapping
-------------
Column and key names are case-insensitive; spaces around them are ignored.

- question: `question`; also `prompt`, `query`, `input`, `problem`, `问题`, `题目`.
- choices (multiple choice only): a `choices` or `options` key holding a list of strings or an
  object {"A": "...", "B": "..."} (taken in letter order), or one column per choice named `A`,
  `B`, `C`, ... running from A without gaps (A, B, D is an error). Empty trailing choice columns
  are dropped, so C-Eval and MMLU files whose questions have different numbers of choices work.
  In CSV a `choices` cell holds the list or object as JSON text.
- answer: `answer`; also `target`, `label`, `reference`, `ground_truth`, `output`, `答案`.
  Multiple choice: the letter(s) of the correct choice(s). "B", "b", " B. ", "(B)", "AC", "A,C"
  and "A C" are read as "B" or "AC" (sorted, each letter once; full-width letters work too). A
  number such as 1 is refused: give letters, A for the first choice. Question and answer: the
  reference answer (text or a number).
- id (`id` or `item_id`): at most 64 characters, unique within its subset and split (public
  test sets number their items per file). A row without an id
  gets "<subset>-<split>-<n>", n counting the rows of its file from 1.
- subset (at most 100 characters) and split (at most 32).
- tags: a list of strings, or one string split on commas and semicolons (，and ；too).
- explanation: kept as extra["explanation"].
- extra: a JSON object (in CSV, a cell holding one as JSON text); and any column named
  `extra.<key>` or `extra_<key>`, kept as extra[key].
- Any other column is an error: "unknown column “foo”". A CSV file with one is refused whole,
  reported once at its header line; in JSON and JSON Lines each row that has one is refused.

Subset and split come from, first match wins: the row; the file name; the subset and split
chosen for the import; the defaults "default" and "test". A file named `<subset>_<split>.<ext>`,
where split is train, val, validation, dev or test (any case), gives both:
computer_network_val.csv is subset computer_network, split val. A file named `<split>.<ext>`
inside a folder X gives the split and subset X. Other file names give nothing.

Formats
-------
- JSON Lines (.jsonl): one JSON object per line; blank lines are skipped.
- JSON (.json): one array of objects.
- CSV (.csv): comma-separated, standard quoting, a header row. The exception is the MMLU layout:
  a file whose first row has exactly 6 cells, none of them a known column name (a single letter
  does not count, since the answer cell holds one), is read as headerless
  `question, A, B, C, D, answer`.
- Files must be UTF-8; a byte order mark is fine.
- A .zip archive or a folder is read file by file in path order. Hidden files and files of other
  types (README, .DS_Store, ...) are skipped.
"""

import codecs
import csv
import hashlib
import json
import re
import sqlite3
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.utils.translation import gettext as _

from datasets.models import Dataset, DatasetItem

MCQ = Dataset.Format.MCQ
QA = Dataset.Format.QA

DATA_SUFFIXES = (".jsonl", ".json", ".csv")
SPLIT_NAMES = {"train", "val", "validation", "dev", "test"}
DEFAULT_SUBSET = "default"
DEFAULT_SPLIT = "test"
ID_MAX_LENGTH = DatasetItem._meta.get_field("item_id").max_length
SUBSET_MAX_LENGTH = DatasetItem._meta.get_field("subset").max_length
SPLIT_MAX_LENGTH = DatasetItem._meta.get_field("split").max_length
MMLU_COLUMNS = ("question", "A", "B", "C", "D", "answer")

COLUMN_NAMES = {
    "question": ("question", "prompt", "query", "input", "problem", "问题", "题目"),
    "choices": ("choices", "options"),
    "answer": ("answer", "target", "label", "reference", "ground_truth", "output", "答案"),
    "id": ("id", "item_id"),
    "subset": ("subset",),
    "split": ("split",),
    "tags": ("tags",),
    "explanation": ("explanation",),
    "extra": ("extra",),
}
_FIELD_BY_COLUMN_NAME = {name: field for field, names in COLUMN_NAMES.items() for name in names}

JSON_CHUNK_BYTES = 64 * 1024
# A bigger array element is not a test item; refusing it stops a broken file from being read
# into memory whole while looking for the end of an unterminated string.
JSON_ITEM_MAX_CHARS = 32 * 1024 * 1024

_ANSWER_LETTERS = re.compile(r"\(?\s*([A-Za-z](?:[\s,;、]*[A-Za-z])*)\s*\)?\.?")
_TAG_SEPARATORS = re.compile(r"[,;，；]")
_NOT_JSON_SPACE = re.compile(r"[^ \t\r\n]")


@dataclass(frozen=True)
class ParsedItem:
    """A good row, with the fields of a DatasetItem."""

    source: str  # the file name, or "archive.zip:inner/name.csv"
    line: int  # where the row starts
    item_id: str
    subset: str
    split: str
    question: str
    choices: list[str]
    answer: str
    tags: list[str]
    extra: dict


@dataclass(frozen=True)
class RowError:
    """A problem, where it is and, in the message, why it is one."""

    source: str
    line: int  # 0 when the error concerns the whole file
    message: str


def iter_dataset_rows(
    path: str | Path,
    *,
    format: str,
    subset: str | None = None,
    split: str | None = None,
    original_name: str | None = None,
) -> Iterator[ParsedItem | RowError]:
    """Every row of the file, archive or folder at `path`, as an item or as errors.

    `original_name` is the user's name for a temporary upload at `path`: it names the source
    and gives the file type and the subset and split the name implies.
    """
    if format not in Dataset.Format.values:
        raise ValueError(f"format must be one of {Dataset.Format.values}, not {format!r}")
    path = Path(path)
    return _dataset_rows(
        path, original_name or path.name, format=format, subset=subset, split=split
    )


def _dataset_rows(
    path: Path, name: str, *, format: str, subset: str | None, split: str | None
) -> Iterator[ParsedItem | RowError]:
    seen_ids = _SeenIds()
    try:
        for data_file in _data_files(path, name):
            if isinstance(data_file, RowError):
                yield data_file
            else:
                yield from _file_rows(
                    data_file, format=format, subset=subset, split=split, seen_ids=seen_ids
                )
    finally:
        seen_ids.close()


# Files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DataFile:
    source: str
    path: PurePosixPath  # within the archive or folder; gives the type, subset and split
    open: Callable[[], BinaryIO]


def _data_files(path: Path, name: str) -> Iterator[_DataFile | RowError]:
    suffix = PurePosixPath(name).suffix.lower()
    if path.is_dir() or suffix == ".zip":
        yield from _collection_files(path, name)
    elif suffix in DATA_SUFFIXES:
        yield _DataFile(name, PurePosixPath(name), partial(path.open, "rb"))
    else:
        message = _("“%(name)s” is not a .jsonl, .json, .csv or .zip file") % {"name": name}
        yield RowError(name, 0, message)


def _collection_files(path: Path, name: str) -> Iterator[_DataFile | RowError]:
    members = _folder_files(path, name) if path.is_dir() else _zip_files(path, name)
    found_any = False
    for member in members:
        found_any = True
        yield member
    if not found_any:
        yield RowError(name, 0, _("there is no .jsonl, .json or .csv file in it"))


def _folder_files(root: Path, name: str) -> Iterator[_DataFile]:
    relative_paths = sorted(path.relative_to(root).as_posix() for path in root.rglob("*"))
    for relative in relative_paths:
        member = PurePosixPath(relative)
        if _is_data_file(member) and (root / relative).is_file():
            yield _DataFile(f"{name}/{relative}", member, partial((root / relative).open, "rb"))


def _zip_files(path: Path, name: str) -> Iterator[_DataFile | RowError]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        yield RowError(name, 0, _("this is not a valid .zip archive"))
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda info: info.filename):
            member = PurePosixPath(info.filename)
            if info.is_dir() or not _is_data_file(member):
                continue
            source = f"{name}:{info.filename}"
            if info.flag_bits & 0x1:
                yield RowError(source, 0, _("this file is encrypted; zip it without a password"))
            else:
                yield _DataFile(source, member, partial(archive.open, info))


def _is_data_file(member: PurePosixPath) -> bool:
    # macOS puts "._name" copies of every file in archives; the dot rule skips them too.
    hidden = any(part.startswith(".") for part in member.parts)
    return not hidden and member.suffix.lower() in DATA_SUFFIXES


def _names_from_path(member: PurePosixPath) -> tuple[str | None, str | None]:
    """The (subset, split) a file's name implies, each None when it implies nothing."""
    subset, underscore, split = member.stem.rpartition("_")
    if underscore and subset and split.lower() in SPLIT_NAMES:
        return subset, split.lower()
    if member.stem.lower() in SPLIT_NAMES and len(member.parts) > 1:
        return member.parent.name, member.stem.lower()
    return None, None


def _file_rows(
    data_file: _DataFile,
    *,
    format: str,
    subset: str | None,
    split: str | None,
    seen_ids: "_SeenIds",
) -> Iterator[ParsedItem | RowError]:
    name_subset, name_split = _names_from_path(data_file.path)
    place = _Place(
        source=data_file.source,
        subset=name_subset or subset or DEFAULT_SUBSET,
        split=name_split or split or DEFAULT_SPLIT,
    )
    row_number = 0
    try:
        with data_file.open() as binary:
            for entry in _records(binary, data_file, format):
                if isinstance(entry, RowError):
                    yield entry
                    continue
                # Unreadable rows count too, so fixing one does not renumber the rows after it.
                row_number += 1
                line, record = entry
                if isinstance(record, RowError):
                    yield record
                else:
                    yield from _checked_row(
                        record, place=place, line=line, row_number=row_number,
                        format=format, seen_ids=seen_ids,
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        message = _("this file in the archive cannot be read: %(error)s") % {"error": error}
        yield RowError(data_file.source, 0, message)


def _records(binary: BinaryIO, data_file: _DataFile, format: str) -> Iterator:
    """(line, record) for each row, where the record is a RowError when the row could not be
    read, and a bare RowError for a problem that ends the file."""
    suffix = data_file.path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_records(binary, data_file.source)
    if suffix == ".json":
        return _json_array_records(binary, data_file.source)
    return _csv_records(binary, data_file.source, format)


# Text and encodings ------------------------------------------------------------------------


def _decoded_lines(binary: BinaryIO, source: str) -> Iterator[tuple[int, str | RowError]]:
    """(line number, text) for each line; the text is a RowError when the line is not UTF-8."""
    for number, raw in enumerate(binary, start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, _not_utf8(source, number, raw)


def _not_utf8(source: str, line: int, raw: bytes) -> RowError:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        message = _("this line is not UTF-8 text; save the file as UTF-8 and try again")
    else:
        message = _(
            "this line is not UTF-8 text; it looks like GBK/GB18030, which Excel and Notepad "
            "on Chinese Windows often use. Save the file as UTF-8 and try again"
        )
    return RowError(source, line, message)


# JSON Lines --------------------------------------------------------------------------------


def _jsonl_records(binary: BinaryIO, source: str) -> Iterator[tuple[int, object]]:
    for number, text in _decoded_lines(binary, source):
        if isinstance(text, RowError):
            yield number, text
        elif text.strip():
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                record = RowError(source, number, _invalid_json(error))
            yield number, record


def _invalid_json(error: json.JSONDecodeError) -> str:
    return _("this is not valid JSON: %(error)s (column %(column)d)") % {
        "error": error.msg,
        "column": error.colno,
    }


# JSON arrays -------------------------------------------------------------------------------


class _JsonText:
    """The text of a JSON file, decoded a chunk at a time, with the line number of any position.

    `text` holds what has been read and not yet dropped, `pos` is where reading stands in it and
    `line` is the line number at `pos`. `not_utf8` is set when a bad byte ended the text early.
    """

    def __init__(self, binary: BinaryIO, source: str):
        self._binary = binary
        self._source = source
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.line = 1
        self.ended = False
        self.not_utf8: RowError | None = None
        self._bad_line: bytes | None = None
        self._first_read = True

    def line_at(self, position: int) -> int:
        return self.line + self.text.count("\n", self.pos, position)

    def advance(self, position: int) -> None:
        self.line = self.line_at(position)
        self.pos = position

    def next_char(self) -> str:
        """Skips white space; returns the next character, or "" when the text has ended."""
        while True:
            match = _NOT_JSON_SPACE.search(self.text, self.pos)
            if match:
                self.advance(match.start())
                return self.text[self.pos]
            self.advance(len(self.text))
            if not self.read_more():
                return ""

    def decode_value(self, decoder: json.JSONDecoder) -> object:
        """The JSON value at `pos`, reading on as far as it goes; raises JSONDecodeError."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.may_be_cut(error) and self.read_more():
                    continue
                raise
            # A number or literal that ends with the text may go on in the next chunk.
            if end == len(self.text) and self.read_more():
                continue
            self.advance(end)
            return value

    def may_be_cut(self, error: json.JSONDecodeError) -> bool:
        """Whether the error may only mean that the text read so far ends inside the value."""
        return error.msg.startswith("Unterminated string") or error.pos >= len(self.text) - 16

    def read_more(self) -> bool:
        """Drops the text before `pos` and reads at least as much again as is left after it, so
        that a long item is parsed again only a few times. False when nothing could be added."""
        left = len(self.text) - self.pos
        if self.ended or left > JSON_ITEM_MAX_CHARS:
            return False
        pieces, added = [self.text[self.pos :]], 0
        while added < max(left, JSON_CHUNK_BYTES) and not self.ended:
            pieces.append(self._decoded(self._binary.read(JSON_CHUNK_BYTES)))
            added += len(pieces[-1])
        self.text, self.pos = "".join(pieces), 0
        if self._first_read:
            self.text = self.text.removeprefix("\ufeff")
            self._first_read = False
        if self._bad_line is not None and self.not_utf8 is None:
            # The bad byte comes right after the text read so far.
            line = self.line_at(len(self.text))
            self.not_utf8 = _not_utf8(self._source, line, self._bad_line)
        return added > 0

    def _decoded(self, chunk: bytes) -> str:
        self.ended = not chunk
        try:
            return self._decoder.decode(chunk, final=self.ended)
        except UnicodeDecodeError as error:
            self.ended = True
            data, start = error.object, error.start
            line_start = data.rfind(b"\n", 0, start) + 1
            line_end = data.find(b"\n", start)
            self._bad_line = data[line_start : line_end if line_end >= 0 else None]
            return data[:start].decode("utf-8")


def _json_array_records(binary: BinaryIO, source: str) -> Iterator:
    text = _JsonText(binary, source)
    if text.next_char() != "[":
        yield text.not_utf8 or RowError(source, 1, _not_an_array())
        return
    text.advance(text.pos + 1)
    decoder = json.JSONDecoder()
    char = text.next_char()
    while char != "]":
        if not char:
            yield text.not_utf8 or RowError(source, text.line, _unfinished_array(char))
            return
        line = text.line
        try:
            value = text.decode_value(decoder)
        except json.JSONDecodeError as error:
            if text.not_utf8 and text.may_be_cut(error):
                yield text.not_utf8
            else:
                yield RowError(source, text.line_at(error.pos), _invalid_json_in_array(error))
            return
        yield line, value
        char = text.next_char()
        if char == ",":
            text.advance(text.pos + 1)
            char = text.next_char()
        elif char != "]":
            yield text.not_utf8 or RowError(source, text.line, _unfinished_array(char))
            return
    text.advance(text.pos + 1)
    if text.next_char():
        yield RowError(source, text.line, _("there is more text after the “]” that ends the array"))
    elif text.not_utf8:
        yield text.not_utf8


def _not_an_array() -> str:
    return _(
        "the file is not a JSON array: a .json file must hold [{…}, {…}, …]. "
        "For one JSON object per line, name the file .jsonl"
    )


def _invalid_json_in_array(error: json.JSONDecodeError) -> str:
    return _("this is not valid JSON: %(error)s; nothing after it can be read") % {
        "error": error.msg
    }


def _unfinished_array(char: str) -> str:
    if not char:
        return _("the file ends before the “]” that closes the array")
    return _("expected “,” or “]” after an item, found “%(char)s”") % {"char": char}


# CSV ---------------------------------------------------------------------------------------


class _CsvLines:
    """Hands lines to csv.reader, noting the line each row starts on; sets aside the lines that
    are not UTF-8 so that reading goes on after them."""

    def __init__(self, lines: Iterator[tuple[int, str | RowError]]):
        self._lines = lines
        self.row_start = 0
        self.not_utf8: list[tuple[int, RowError]] = []

    def __iter__(self) -> "_CsvLines":
        return self

    def __next__(self) -> str:
        number, text = next(self._lines)
        while isinstance(text, RowError):
            self.not_utf8.append((number, text))
            number, text = next(self._lines)
        if not self.row_start:
            self.row_start = number
        return text

    def take_not_utf8(self) -> list[tuple[int, RowError]]:
        taken, self.not_utf8 = self.not_utf8, []
        return taken


def _csv_records(binary: BinaryIO, source: str, format: str) -> Iterator:
    lines = _CsvLines(_decoded_lines(binary, source))
    reader = csv.reader(lines)
    columns = None
    while True:
        lines.row_start = 0
        try:
            cells = next(reader, None)
        except csv.Error as error:
            yield from lines.take_not_utf8()
            message = _("this row cannot be read as CSV: %(error)s") % {"error": error}
            yield RowError(source, lines.row_start, message)
            return
        yield from lines.take_not_utf8()
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns, is_header = _csv_columns(cells, format)
            problems = _header_problems(columns, format)
            if problems:
                yield from (RowError(source, lines.row_start, problem) for problem in problems)
                return
            if is_header:
                continue
        yield lines.row_start, _csv_record(columns, cells, source, lines.row_start)


def _csv_columns(first_row: list[str], format: str) -> tuple[list[str], bool]:
    """The column names, and whether the first row is a header rather than MMLU data."""
    names = [cell.strip() for cell in first_row]
    if format == MCQ and len(names) == len(MMLU_COLUMNS) and not any(map(_names_a_field, names)):
        return list(MMLU_COLUMNS), False
    return names, True


def _names_a_field(name: str) -> bool:
    # A lone letter could be a choice column, or the answer cell of an MMLU row.
    role = _column_role(name)
    return role is not None and role[0] != "option"


def _header_problems(columns: list[str], format: str) -> list[str]:
    problems: list[str] = []
    roles = _values_by_role(((name, None) for name in columns), problems)
    fields = {field for field, _key in roles}
    letters = sorted(key for field, key in roles if field == "option")
    if "question" not in fields:
        problems.append(_no_column("question"))
    if "answer" not in fields:
        problems.append(_no_column("answer"))
    if format == QA:
        if letters or "choices" in fields:
            problems.append(_choices_in_qa())
    elif "choices" in fields and letters:
        problems.append(_choices_twice())
    elif not letters and "choices" not in fields:
        problems.append(_("there are no choices: add columns A, B, C, … or a “choices” column"))
    elif _missing_letter(letters):
        problems.append(_letter_gap(_missing_letter(letters)))
    return problems


def _no_column(field: str) -> str:
    first, *others = COLUMN_NAMES[field]
    return _("there is no “%(name)s” column (or %(others)s)") % {
        "name": first,
        "others": ", ".join(others),
    }


def _csv_record(columns: list[str], cells: list[str], source: str, line: int) -> dict | RowError:
    if any(cell.strip() for cell in cells[len(columns) :]):
        message = _(
            "this row has %(count)d values but the header has %(columns)d columns; "
            "look for a missing quote or an extra comma"
        ) % {"count": len(cells), "columns": len(columns)}
        return RowError(source, line, message)
    # Missing trailing cells read as empty, as spreadsheets leave them.
    return dict(zip(columns, cells))


# Rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """The file a row comes from and the subset and split its rows get unless they say."""

    source: str
    subset: str
    split: str


@lru_cache(maxsize=4096)
def _column_role(name: str) -> tuple[str, str] | None:
    """What a column holds: ("question", ""), ("option", "B"), ("extra_key", key) for
    extra.<key> and extra_<key>, or None when the name is unknown."""
    name = name.strip()
    lowered = name.lower()
    if lowered in _FIELD_BY_COLUMN_NAME:
        return _FIELD_BY_COLUMN_NAME[lowered], ""
    if len(name) == 1 and "a" <= lowered <= "z":
        return "option", name.upper()
    if lowered[:6] in ("extra.", "extra_") and name[6:].strip():
        return "extra_key", name[6:].strip()
    return None


def _values_by_role(
    pairs: Iterable[tuple[str, object]], errors: list[str]
) -> dict[tuple[str, str], object]:
    values: dict[tuple[str, str], object] = {}
    names: dict[tuple[str, str], str] = {}
    for name, value in pairs:
        role = _column_role(name)
        if not name.strip():
            errors.append(_("a column has no name"))
        elif role is None:
            errors.append(_("unknown column “%(name)s”") % {"name": name})
        elif role in values:
            errors.append(
                _("columns “%(first)s” and “%(second)s” mean the same thing; keep one of them")
                % {"first": names[role], "second": name}
            )
        else:
            values[role] = value
            names[role] = name
    return values


def _checked_row(
    record: object,
    *,
    place: _Place,
    line: int,
    row_number: int,
    format: str,
    seen_ids: "_SeenIds",
) -> list[ParsedItem] | list[RowError]:
    if not isinstance(record, dict):
        message = _("this item is not a JSON object such as {\"question\": …, \"answer\": …}")
        return [RowError(place.source, line, message)]
    errors: list[str] = []
    values = _values_by_role(record.items(), errors)
    fields = {field: value for (field, key), value in values.items() if not key}
    options = {key: value for (field, key), value in values.items() if field == "option"}
    extra_columns = {key: value for (field, key), value in values.items() if field == "extra_key"}

    question, choices, answer = _question_and_answer(fields, options, format, errors)
    tags = _tags(fields.get("tags"), errors)
    extra = _extra(fields.get("extra"), fields.get("explanation"), extra_columns, errors)
    subset, split = _subset_and_split(fields, place, errors)
    item_id = _unique_id(
        fields.get("id"), subset, split, place=place, line=line, row_number=row_number,
        seen_ids=seen_ids, errors=errors,
    )
    if errors:
        return [RowError(place.source, line, message) for message in errors]
    return [ParsedItem(
        source=place.source, line=line, item_id=item_id, subset=subset, split=split,
        question=question, choices=choices, answer=answer, tags=tags, extra=extra,
    )]


def _question_and_answer(
    fields: dict[str, object], options: dict[str, object], format: str, errors: list[str]
) -> tuple[str, list[str], str]:
    """The question, the choices (none for QA) and the answer."""
    question = _question(fields.get("question"), errors)
    if format == QA:
        if _has_choices(fields.get("choices"), options):
            errors.append(_choices_in_qa())
        return question, [], _reference_answer(fields.get("answer"), errors)
    choices = _choices(fields.get("choices"), options, errors)
    return question, choices or [], _mcq_answer(fields.get("answer"), choices, errors)


def _subset_and_split(
    fields: dict[str, object], place: _Place, errors: list[str]
) -> tuple[str, str]:
    subset = _label(fields.get("subset"), "subset", errors) or place.subset
    split = _label(fields.get("split"), "split", errors) or place.split
    _check_length(subset, "subset", SUBSET_MAX_LENGTH, errors)
    _check_length(split, "split", SPLIT_MAX_LENGTH, errors)
    return subset, split


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _question(value: object, errors: list[str]) -> str:
    if _is_blank(value):
        errors.append(_("the question is missing or empty"))
    elif not isinstance(value, str):
        errors.append(_("the question must be text"))
    else:
        return value
    return ""


def _choices(value: object, options: dict[str, object], errors: list[str]) -> list[str] | None:
    """The choice texts in letter order, or None when they are unusable (errors say why)."""
    if options and value is not None:
        errors.append(_choices_twice())
        return None
    if options:
        texts = _lettered_texts(options, errors)
    elif _is_blank(value):
        texts = []
    else:
        texts = _choice_value_texts(value, errors)
    if texts is not None and len(texts) < 2:
        errors.append(
            _("a multiple-choice question needs at least 2 choices; this one has %(count)d")
            % {"count": len(texts)}
        )
        return None
    return texts


def _choice_value_texts(value: object, errors: list[str]) -> list[str] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)  # a CSV cell holds the list or object as JSON text
        except json.JSONDecodeError:
            pass
    if isinstance(value, list):
        return _choice_texts(value, errors)
    if isinstance(value, dict):
        by_letter = {}
        for key, text in value.items():
            letter = key.strip().upper()
            if len(letter) != 1 or not "A" <= letter <= "Z":
                errors.append(
                    _("choice keys must be letters A, B, C, …; “%(key)s” is not one")
                    % {"key": _shortened(key)}
                )
                return None
            by_letter[letter] = text
        return _lettered_texts(by_letter, errors)
    errors.append(
        _("choices must be a list of strings or an object such as {\"A\": \"…\", \"B\": \"…\"}")
    )
    return None


def _lettered_texts(by_letter: dict[str, object], errors: list[str]) -> list[str] | None:
    letters = sorted(by_letter)
    missing = _missing_letter(letters)
    if missing:
        errors.append(_letter_gap(missing))
        return None
    texts = [by_letter[letter] for letter in letters]
    # C-Eval and MMLU files give every row the same choice columns and leave unused ones empty.
    while texts and _is_blank(texts[-1]):
        texts.pop()
    return _choice_texts(texts, errors)


def _choice_texts(texts: list, errors: list[str]) -> list[str] | None:
    if len(texts) > 26:
        errors.append(_("there are %(count)d choices; at most 26 (A to Z) are allowed") % {
            "count": len(texts)
        })
        return None
    problems = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            problems.append(_("choice %(letter)s must be text") % {"letter": _letter(index)})
        elif not text.strip():
            problems.append(_("choice %(letter)s is empty") % {"letter": _letter(index)})
    errors.extend(problems)
    return None if problems else texts


def _missing_letter(letters: list[str]) -> str | None:
    """The first letter missing from a sorted run that should go A, B, C, …"""
    for index, letter in enumerate(letters):
        if letter != _letter(index):
            return _letter(index)
    return None


def _letter_gap(missing: str) -> str:
    return _("choices must be lettered A, B, C, … without gaps; “%(letter)s” is missing") % {
        "letter": missing
    }


def _choices_twice() -> str:
    return _("give the choices either as a “choices” list or as columns A, B, C, …, not both")


def _choices_in_qa() -> str:
    return _(
        "choices belong to multiple-choice datasets; remove them or import the dataset as "
        "multiple choice"
    )


def _has_choices(value: object, options: dict[str, object]) -> bool:
    given = not _is_blank(value) and value not in ([], {})
    return given or any(not _is_blank(text) for text in options.values())


def _mcq_answer(value: object, choices: list[str] | None, errors: list[str]) -> str:
    if _is_blank(value):
        errors.append(
            _("the answer is missing; give the letter of the correct choice, such as “B”")
        )
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    match = _ANSWER_LETTERS.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if not isinstance(value, str) or not match:
        errors.append(
            _("the answer “%(answer)s” is not a choice letter; letters such as “B” or “AC” are "
              "expected, A for the first choice") % {"answer": _shortened(text)}
        )
        return ""
    letters = "".join(sorted({char for char in match.group(1).upper() if char.isalpha()}))
    if choices:
        outside = "".join(letter for letter in letters if ord(letter) - ord("A") >= len(choices))
        if outside:
            errors.append(
                _("answer “%(letters)s” is not among the choices A–%(last)s")
                % {"letters": outside, "last": _letter(len(choices) - 1)}
            )
    return letters


def _reference_answer(value: object, errors: list[str]) -> str:
    if _is_blank(value):
        errors.append(_("the reference answer is missing or empty"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    elif not isinstance(value, str):
        errors.append(_("the reference answer must be text or a number"))
    else:
        return value
    return ""


def _tags(value: object, errors: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in _TAG_SEPARATORS.split(value) if tag.strip()]
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return [tag.strip() for tag in value if tag.strip()]
    errors.append(_("tags must be a list of strings, or one string with commas between tags"))
    return []


def _extra(
    value: object, explanation: object, columns: dict[str, object], errors: list[str]
) -> dict:
    extra = {}
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)  # a CSV cell holds the object as JSON text
        except json.JSONDecodeError:
            pass
    if isinstance(value, dict):
        extra.update(value)
    elif not _is_blank(value):
        errors.append(_("“extra” must be a JSON object, such as {\"source\": \"web\"}"))
    if isinstance(explanation, str) and explanation.strip():
        extra["explanation"] = explanation
    elif not _is_blank(explanation):
        errors.append(_("the explanation must be text"))
    extra.update((key, text) for key, text in columns.items() if not _is_blank(text))
    return extra


def _label(value: object, column: str, errors: list[str]) -> str | None:
    """A subset or split the row gives, or None when it gives none."""
    if _is_blank(value):
        return None
    if not isinstance(value, str):
        errors.append(_("“%(column)s” must be text") % {"column": column})
        return None
    return value.strip()


def _check_length(value: str, column: str, limit: int, errors: list[str]) -> None:
    if len(value) > limit:
        errors.append(
            _("the %(column)s “%(value)s” is %(length)d characters long; the limit is %(limit)d")
            % {"column": column, "value": _shortened(value), "length": len(value), "limit": limit}
        )


# Ids ---------------------------------------------------------------------------------------


def _unique_id(
    value: object,
    subset: str,
    split: str,
    *,
    place: _Place,
    line: int,
    row_number: int,
    seen_ids: "_SeenIds",
    errors: list[str],
) -> str:
    item_id = _given_id(value, errors)
    if item_id is None:
        generated = _generated_id(subset, split, row_number)
        first = seen_ids.first_place((subset, split, generated), place.source, line)
        if first:
            errors.append(
                _("this row has no id and its generated id “%(id)s” is already used at "
                  "%(place)s; add an id column") % {"id": generated, "place": _place(first, place)}
            )
        return generated
    if item_id:
        first = seen_ids.first_place((subset, split, item_id), place.source, line)
        if first:
            errors.append(
                _("the id “%(id)s” is already used at %(place)s")
                % {"id": _shortened(item_id), "place": _place(first, place)}
            )
    return item_id


def _given_id(value: object, errors: list[str]) -> str | None:
    """The row's own id; None when it has none, "" when the one it has is unusable."""
    if _is_blank(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors.append(_("the id must be text or a whole number"))
        return ""
    item_id = str(value).strip()
    if len(item_id) > ID_MAX_LENGTH:
        _check_length(item_id, "id", ID_MAX_LENGTH, errors)
        return ""
    return item_id


def _generated_id(subset: str, split: str, row_number: int) -> str:
    item_id = f"{subset}-{split}-{row_number}"
    if len(item_id) <= ID_MAX_LENGTH:
        return item_id
    # A long subset name is cut; the digest keeps two cut names that start alike apart.
    digest = hashlib.sha1(subset.encode()).hexdigest()[:8]
    kept = len(subset) - (len(item_id) - ID_MAX_LENGTH) - len(digest) - 1
    return f"{subset[:kept]}~{digest}-{split}-{row_number}"


def _place(first: tuple[str, int], current: _Place) -> str:
    source, line = first
    if source == current.source:
        return _("line %(line)d") % {"line": line}
    return _("%(source)s, line %(line)d") % {"source": source, "line": line}


class _SeenIds:
    """Where each item id of one import was first seen.

    A temporary SQLite table rather than a dict: a dict of a million ids takes about 150 MB,
    while SQLite keeps a small page cache and spills the rest to a temporary file.
    """

    def __init__(self):
        self._sources: list[str] = []
        self._db = sqlite3.connect("")  # "" is a private temporary database
        self._db.execute(
            "CREATE TABLE seen (item_id TEXT PRIMARY KEY, source INTEGER, line INTEGER) "
            "WITHOUT ROWID"
        )

    def first_place(
        self, key: tuple[str, str, str], source: str, line: int
    ) -> tuple[str, int] | None:
        """Records (subset, split, id); returns the (source, line) where it was seen before."""
        item_id = "\x1f".join(key)
        if not self._sources or self._sources[-1] != source:
            self._sources.append(source)
        added = self._db.execute(
            "INSERT OR IGNORE INTO seen VALUES (?, ?, ?)",
            (item_id, len(self._sources) - 1, line),
        ).rowcount
        if added:
            return None
        source_number, first_line = self._db.execute(
            "SELECT source, line FROM seen WHERE item_id = ?", (item_id,)
        ).fetchone()
        return self._sources[source_number], first_line

    def close(self) -> None:
        self._db.close()
