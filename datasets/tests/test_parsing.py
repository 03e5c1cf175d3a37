"""iter_dataset_rows: each file format, each validation message with its line, and streaming."""

import json
import os
import tracemalloc
import zipfile

import django
import pytest

# pytest-django sets Django up already; this lets the file run under `-p no:django` as well.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalplatform.settings")
django.setup()

from django.utils import translation  # noqa: E402

from datasets import parsing  # noqa: E402
from datasets.parsing import ParsedItem, RowError, iter_dataset_rows  # noqa: E402


@pytest.fixture(autouse=True)
def english():
    # The site's default language is Chinese; the assertions below quote the English messages.
    with translation.override("en"):
        yield


def parse(path, format="mcq", **options) -> tuple[list[ParsedItem], list[RowError]]:
    rows = list(iter_dataset_rows(path, format=format, **options))
    items = [row for row in rows if isinstance(row, ParsedItem)]
    errors = [row for row in rows if isinstance(row, RowError)]
    assert len(items) + len(errors) == len(rows)
    return items, errors


def write_jsonl(path, *rows):
    """Writes one line per row: a dict as JSON, a string as it is."""
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mcq(**fields) -> dict:
    return {"question": "2 + 2 = ?", "choices": ["3", "4", "5", "6"], "answer": "B", **fields}


def qa(**fields) -> dict:
    return {"question": "Capital of France?", "answer": "Paris", **fields}


def lines_and_messages(errors) -> list[tuple[int, str]]:
    return [(error.line, error.message) for error in errors]


# Formats ------------------------------------------------------------------------------------


def test_jsonl_rows_become_items_numbered_by_physical_line(tmp_path):
    path = write_jsonl(
        tmp_path / "quiz.jsonl",
        mcq(id="q1", tags=["math"], explanation="4 is 2 + 2"),
        "",
        mcq(question="3 + 3 = ?", choices=["6", "7"], answer="a"),
    )
    items, errors = parse(path)
    assert errors == []
    assert items[0] == ParsedItem(
        source="quiz.jsonl", line=1, item_id="q1", subset="default", split="test",
        question="2 + 2 = ?", choices=["3", "4", "5", "6"], answer="B", tags=["math"],
        extra={"explanation": "4 is 2 + 2"},
    )
    assert (items[1].line, items[1].item_id, items[1].answer) == (3, "default-test-2", "A")


def test_qa_rows_keep_the_reference_answer(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", qa(), {"prompt": "6 * 7?", "target": 42})
    items, errors = parse(path, format="qa")
    assert errors == []
    assert [(item.question, item.choices, item.answer) for item in items] == [
        ("Capital of France?", [], "Paris"),
        ("6 * 7?", [], "42"),
    ]


def test_pretty_printed_json_array_gives_the_line_each_object_starts_on(tmp_path):
    rows = [mcq(id="a"), mcq(id="b", extra={"source": "web"}, tags="x, y"), mcq(id="c")]
    content = json.dumps(rows, indent=2)
    (tmp_path / "quiz.json").write_text(content)
    items, errors = parse(tmp_path / "quiz.json")
    assert errors == []
    object_starts = [n for n, text in enumerate(content.splitlines(), start=1) if text == "  {"]
    assert [(item.item_id, item.line) for item in items] == list(zip("abc", object_starts))
    assert object_starts == [2, 13, 28]
    assert (items[1].extra, items[1].tags) == ({"source": "web"}, ["x", "y"])


def test_one_line_json_array_puts_every_object_on_line_1(tmp_path):
    (tmp_path / "quiz.json").write_text(json.dumps([mcq(id="a"), mcq(id="b")]))
    items, errors = parse(tmp_path / "quiz.json")
    assert errors == []
    assert [(item.item_id, item.line) for item in items] == [("a", 1), ("b", 1)]


def test_json_array_read_in_chunks_keeps_long_texts_and_line_numbers(tmp_path):
    # Texts of up to 270 kB of three-byte characters cross many 64 kB read boundaries.
    rows = [
        mcq(id=f"q{n}", question="长" * (n * 9973 % 90_000 + 1), extra={"n": 10**n})
        for n in range(40)
    ]
    pretty = json.dumps(rows, indent=1, ensure_ascii=False)
    (tmp_path / "pretty.json").write_text(pretty, encoding="utf-8")
    (tmp_path / "compact.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")

    items, errors = parse(tmp_path / "pretty.json")
    assert errors == []
    assert [(item.question, item.extra) for item in items] == [
        (row["question"], row["extra"]) for row in rows
    ]
    object_starts = [n for n, text in enumerate(pretty.splitlines(), start=1) if text == " {"]
    assert [item.line for item in items] == object_starts

    items, errors = parse(tmp_path / "compact.json")
    assert errors == [] and len(items) == 40


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 8, 13])
def test_json_array_split_at_every_kind_of_chunk_boundary(tmp_path, monkeypatch, chunk_bytes):
    # Tiny reads cut numbers, literals, escapes and multi-byte characters at every position.
    monkeypatch.setattr(parsing, "JSON_CHUNK_BYTES", chunk_bytes)
    extra = {"n": -12345.678e-3, "big": 10**20, "flags": [True, False, None], "text": "é\\\"😀长"}
    rows = [mcq(id=str(n), extra=extra) for n in range(3)]
    content = "[\n" + ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n]"
    (tmp_path / "quiz.json").write_text(content, encoding="utf-8")
    items, errors = parse(tmp_path / "quiz.json")
    assert errors == []
    assert [(item.line, item.extra) for item in items] == [(2, extra), (3, extra), (4, extra)]


def test_csv_with_a_header_row(tmp_path):
    (tmp_path / "quiz.csv").write_text(
        "ID,Question,A,B,C,Answer,Tags,extra,extra.source,extra_level\n"
        'q1,2 + 2 = ?,3,4,5,B,"math; easy","{""year"": 2024}",web,1\n'
        "q2,3 + 3 = ?,6,7,,A,,,,\n"
    )
    items, errors = parse(tmp_path / "quiz.csv")
    assert errors == []
    first, second = items
    assert (first.line, first.item_id, first.answer) == (2, "q1", "B")
    assert first.choices == ["3", "4", "5"]
    assert first.tags == ["math", "easy"]
    assert first.extra == {"year": 2024, "source": "web", "level": "1"}
    assert (second.line, second.choices, second.tags, second.extra) == (3, ["6", "7"], [], {})


def test_headerless_mmlu_csv(tmp_path):
    (tmp_path / "abstract_algebra_test.csv").write_text(
        '"Find the degree of Q(sqrt(2)) over Q.",0,2,4,6,B\n'
        "Is every group abelian?,Yes,No,Only finite ones,Only cyclic ones,D\n"
    )
    items, errors = parse(tmp_path / "abstract_algebra_test.csv")
    assert errors == []
    assert [(item.line, item.item_id, item.choices, item.answer) for item in items] == [
        (1, "abstract_algebra-test-1", ["0", "2", "4", "6"], "B"),
        (2, "abstract_algebra-test-2", ["Yes", "No", "Only finite ones", "Only cyclic ones"], "D"),
    ]


def test_ceval_csv_with_id_and_explanation_columns(tmp_path):
    (tmp_path / "computer_network_val.csv").write_text(
        "\ufeffid,question,A,B,C,D,answer,explanation\n"
        '0,使用位填充方法，以01111110为位首flag，数据为011011111111111111110010，求问传送时要添加几个0____,1,2,3,4,C,'
        '"1. 每5个连续的1后添加一个0\n2. 共3个"\n'
        "1,哪一层负责路由选择？,网络层,传输层,,,A,\n",
        encoding="utf-8",
    )
    items, errors = parse(tmp_path / "computer_network_val.csv")
    assert errors == []
    first, second = items
    assert (first.item_id, first.answer) == ("0", "C")
    assert (first.subset, first.split) == ("computer_network", "val")
    assert first.extra == {"explanation": "1. 每5个连续的1后添加一个0\n2. 共3个"}
    assert (second.line, second.item_id, second.extra) == (4, "1", {})
    assert second.choices == ["网络层", "传输层"]


def test_zip_of_subset_split_csv_files(tmp_path):
    archive = tmp_path / "ceval.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("val/computer_network_val.csv", "id,question,A,B,answer\ncn-1,TCP?,yes,no,A\n")
        zf.writestr("test/abstract_algebra_test.csv", "q1,a,b,c,d,C\nq2,a,b,c,d,D\n")
        zf.writestr("README.md", "# C-Eval\n")
        zf.writestr("__MACOSX/test/._abstract_algebra_test.csv", "\x00\x05\x16\x07")
        zf.writestr("test/.DS_Store", "\x00\x00")
    items, errors = parse(archive)
    assert errors == []
    algebra = "ceval.zip:test/abstract_algebra_test.csv"
    network = "ceval.zip:val/computer_network_val.csv"
    assert [(item.source, item.line, item.subset, item.split) for item in items] == [
        (algebra, 1, "abstract_algebra", "test"),
        (algebra, 2, "abstract_algebra", "test"),
        (network, 2, "computer_network", "val"),
    ]
    assert [item.item_id for item in items] == [
        "abstract_algebra-test-1", "abstract_algebra-test-2", "cn-1"
    ]


def test_folder_of_subset_folders(tmp_path):
    folder = tmp_path / "bench"
    write_jsonl(folder / "physics" / "test.jsonl", mcq(id="p1"), mcq(id="p2"))
    write_jsonl(folder / "chemistry" / "test.jsonl", mcq(id="c1"))
    write_jsonl(folder / "physics" / ".draft.jsonl", {"junk": True})
    (folder / "notes.txt").write_text("not data")
    items, errors = parse(folder)
    assert errors == []
    assert [(item.source, item.subset, item.split, item.item_id) for item in items] == [
        ("bench/chemistry/test.jsonl", "chemistry", "test", "c1"),
        ("bench/physics/test.jsonl", "physics", "test", "p1"),
        ("bench/physics/test.jsonl", "physics", "test", "p2"),
    ]


def test_temporary_upload_is_named_after_the_users_file(tmp_path):
    upload = write_jsonl(tmp_path / "tmp4f8a2.upload", mcq())
    items, errors = parse(upload, original_name="Physics_DEV.jsonl")
    assert errors == []
    item = items[0]
    assert (item.source, item.subset, item.split) == ("Physics_DEV.jsonl", "Physics", "dev")
    assert item.item_id == "Physics-dev-1"


def test_top_level_file_of_another_type_is_refused(tmp_path):
    (tmp_path / "quiz.xlsx").write_bytes(b"PK\x03\x04")
    items, errors = parse(tmp_path / "quiz.xlsx")
    assert items == []
    assert lines_and_messages(errors) == [
        (0, "“quiz.xlsx” is not a .jsonl, .json, .csv or .zip file")
    ]


def test_archive_without_data_files_and_broken_archive(tmp_path):
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("README.md", "nothing here")
    (tmp_path / "broken.zip").write_bytes(b"not a zip at all")
    assert lines_and_messages(parse(tmp_path / "empty.zip")[1]) == [
        (0, "there is no .jsonl, .json or .csv file in it")
    ]
    assert lines_and_messages(parse(tmp_path / "broken.zip")[1]) == [
        (0, "this is not a valid .zip archive")
    ]


def test_unknown_format_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError):
        iter_dataset_rows(tmp_path, format="essay")


# Validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, message",
    [
        (mcq(question=""), "the question is missing or empty"),
        ({"choices": ["a", "b"], "answer": "A"}, "the question is missing or empty"),
        (mcq(question=["list"]), "the question must be text"),
        (mcq(choices=["only one"], answer="A"), "at least 2 choices; this one has 1"),
        (mcq(choices=[]), "at least 2 choices; this one has 0"),
        ({"question": "q", "choices": ["a", "b"]}, "the answer is missing"),
        (mcq(answer="E"), "answer “E” is not among the choices A–D"),
        (mcq(answer="B,F"), "answer “F” is not among the choices A–D"),
        (
            mcq(answer=1),
            "the answer “1” is not a choice letter; letters such as “B” or “AC” are expected",
        ),
        (mcq(answer="0"), "the answer “0” is not a choice letter"),
        (mcq(choices=["a", 2]), "choice B must be text"),
        (mcq(choices=["a", " "]), "choice B is empty"),
        (mcq(choices="a or b"), "choices must be a list of strings or an object"),
        (
            mcq(choices={"A": "a", "B": "b", "D": "d"}),
            "lettered A, B, C, … without gaps; “C” is missing",
        ),
        (
            mcq(choices={"first": "a", "second": "b"}),
            "choice keys must be letters A, B, C, …; “first” is not one",
        ),
        ({"question": "q", "A": "a", "B": "b", "answer": "A", "choices": ["a", "b"]}, "not both"),
        (mcq(tags=5), "tags must be a list of strings"),
        (mcq(tags=["ok", 1]), "tags must be a list of strings"),
        (mcq(extra="notes"), "“extra” must be a JSON object"),
        (mcq(extra=["a"]), "“extra” must be a JSON object"),
        (mcq(explanation={"why": "?"}), "the explanation must be text"),
        (mcq(id="x" * 65), "the id “" + "x" * 39 + "…” is 65 characters long; the limit is 64"),
        (mcq(id=1.5), "the id must be text or a whole number"),
        (mcq(subset="s" * 101), "is 101 characters long; the limit is 100"),
        (mcq(subset=3), "“subset” must be text"),
        (mcq(split="t" * 33), "is 33 characters long; the limit is 32"),
        (mcq(foo="bar"), "unknown column “foo”"),
        (
            mcq(prompt="again?"),
            "columns “question” and “prompt” mean the same thing; keep one of them",
        ),
        (
            '{"question": "q", choices: []}',
            "this is not valid JSON: Expecting property name enclosed in double quotes (column 19)",
        ),
        ("[1, 2]", "this item is not a JSON object"),
        ('"just text"', "this item is not a JSON object"),
    ],
)
def test_mcq_row_problem_is_reported_on_its_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "quiz.jsonl", mcq(id="good"), row, mcq(id="also-good"))
    items, errors = parse(path)
    assert [item.line for item in items] == [1, 3]
    assert [error.line for error in errors] == [2]
    assert message in errors[0].message
    assert errors[0].source == "quiz.jsonl"


@pytest.mark.parametrize(
    "row, message",
    [
        ({"question": "q"}, "the reference answer is missing or empty"),
        (qa(answer="  "), "the reference answer is missing or empty"),
        (qa(answer=["Paris", "paris"]), "the reference answer must be text or a number"),
        (qa(choices=["a", "b"]), "choices belong to multiple-choice datasets"),
        (qa(question=""), "the question is missing or empty"),
    ],
)
def test_qa_row_problem_is_reported_on_its_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "qa.jsonl", qa(id="good"), row)
    items, errors = parse(path, format="qa")
    assert [item.line for item in items] == [1]
    assert [error.line for error in errors] == [2]
    assert message in errors[0].message


def test_a_row_with_several_problems_gets_one_error_for_each(tmp_path):
    row = {"question": "", "choices": ["a"], "tags": 1, "colour": "red"}
    path = write_jsonl(tmp_path / "quiz.jsonl", row)
    items, errors = parse(path)
    assert items == []
    assert lines_and_messages(errors) == [
        (1, "unknown column “colour”"),
        (1, "the question is missing or empty"),
        (1, "a multiple-choice question needs at least 2 choices; this one has 1"),
        (1, "the answer is missing; give the letter of the correct choice, such as “B”"),
        (1, "tags must be a list of strings, or one string with commas between tags"),
    ]


def test_duplicate_id_names_the_first_line(tmp_path):
    path = write_jsonl(tmp_path / "quiz.jsonl", mcq(id="q1"), mcq(id="q2"), mcq(id="q1"))
    items, errors = parse(path)
    assert [item.item_id for item in items] == ["q1", "q2"]
    assert lines_and_messages(errors) == [(3, "the id “q1” is already used at line 1")]


def test_duplicate_id_across_files_of_one_import(tmp_path):
    write_jsonl(tmp_path / "bench" / "a.jsonl", mcq(id="q1"))
    write_jsonl(tmp_path / "bench" / "b.jsonl", mcq(id="q2"), mcq(id="q1"))
    items, errors = parse(tmp_path / "bench")
    assert len(items) == 2
    assert [(error.source, error.line, error.message) for error in errors] == [
        ("bench/b.jsonl", 2, "the id “q1” is already used at bench/a.jsonl, line 1")
    ]


def test_generated_ids_that_clash_ask_for_an_id_column(tmp_path):
    write_jsonl(tmp_path / "bench" / "part1.jsonl", mcq())
    write_jsonl(tmp_path / "bench" / "part2.jsonl", mcq())
    items, errors = parse(tmp_path / "bench")
    assert [item.item_id for item in items] == ["default-test-1"]
    assert lines_and_messages(errors) == [
        (1, "this row has no id and its generated id “default-test-1” is already used at "
            "bench/part1.jsonl, line 1; add an id column")
    ]


def test_generated_ids_count_rows_with_errors_and_stay_short(tmp_path):
    path = write_jsonl(tmp_path / "quiz.jsonl", mcq(), "not json", mcq(subset="s" * 100))
    items, errors = parse(path)
    assert [error.line for error in errors] == [2]
    assert items[0].item_id == "default-test-1"
    assert items[1].item_id.endswith("-test-3") and len(items[1].item_id) == 64


def test_unknown_csv_column_is_reported_once_and_ends_the_file(tmp_path):
    (tmp_path / "quiz.csv").write_text("question,A,B,answer,Difficulty\nq,a,b,A,1\nq,a,b,B,2\n")
    items, errors = parse(tmp_path / "quiz.csv")
    assert items == []
    assert lines_and_messages(errors) == [(1, "unknown column “Difficulty”")]


@pytest.mark.parametrize(
    "header, message",
    [
        (
            "question,A,B,D,answer",
            "choices must be lettered A, B, C, … without gaps; “C” is missing",
        ),
        (
            "question,A,B",
            "there is no “answer” column (or target, label, reference, ground_truth, output, 答案)",
        ),
        ("prompt,label", "there are no choices: add columns A, B, C, … or a “choices” column"),
        (
            "question,Prompt,A,B,answer",
            "columns “question” and “Prompt” mean the same thing; keep one of them",
        ),
        ("question,,A,B,answer", "a column has no name"),
    ],
)
def test_csv_header_problem_is_reported_at_line_1(tmp_path, header, message):
    (tmp_path / "quiz.csv").write_text(header + "\nq,a,b,c,A\n")
    items, errors = parse(tmp_path / "quiz.csv")
    assert items == []
    assert (errors[0].line, errors[0].message) == (1, message)


def test_csv_row_with_too_many_values(tmp_path):
    (tmp_path / "quiz.csv").write_text("question,A,B,answer\nq,a,b,A,oops\nq,a,b,B\n")
    items, errors = parse(tmp_path / "quiz.csv")
    assert [item.line for item in items] == [3]
    assert [error.line for error in errors] == [2]
    assert "this row has 5 values but the header has 4 columns" in errors[0].message


def test_choice_columns_in_a_qa_csv_are_refused(tmp_path):
    (tmp_path / "qa.csv").write_text("question,A,B,answer\nq,a,b,A\n")
    _items, errors = parse(tmp_path / "qa.csv", format="qa")
    assert lines_and_messages(errors)[0][0] == 1
    assert "choices belong to multiple-choice datasets" in errors[0].message


def test_json_file_that_is_not_an_array(tmp_path):
    (tmp_path / "quiz.json").write_text(json.dumps(mcq()) + "\n" + json.dumps(mcq()) + "\n")
    items, errors = parse(tmp_path / "quiz.json")
    assert items == []
    assert [error.line for error in errors] == [1]
    assert "the file is not a JSON array" in errors[0].message


def test_invalid_json_in_an_array_stops_at_its_line(tmp_path):
    (tmp_path / "quiz.json").write_text(
        '[\n  {"question": "q", "choices": ["a", "b"], "answer": "A"},\n'
        '  {"question": "q"\n   "answer": "A"},\n'
        '  {"question": "q", "choices": ["a", "b"], "answer": "B"}\n]\n'
    )
    items, errors = parse(tmp_path / "quiz.json")
    assert [item.line for item in items] == [2]
    assert lines_and_messages(errors) == [
        (4, "this is not valid JSON: Expecting ',' delimiter; nothing after it can be read")
    ]


def test_json_array_cut_short(tmp_path):
    (tmp_path / "quiz.json").write_text("[\n  " + json.dumps(mcq()) + ",\n")
    items, errors = parse(tmp_path / "quiz.json")
    assert len(items) == 1
    assert lines_and_messages(errors) == [(3, "the file ends before the “]” that closes the array")]


# Subset and split -----------------------------------------------------------------------------

ARGS = {"subset": "arg", "split": "val"}


@pytest.mark.parametrize(
    "relative_path, row, arguments, expected",
    [
        ("physics_dev.jsonl", {"subset": "optics", "split": "train"}, ARGS, ("optics", "train")),
        ("physics_dev.jsonl", {"subset": "optics"}, ARGS, ("optics", "dev")),
        ("physics_dev.jsonl", {}, ARGS, ("physics", "dev")),
        ("computer_network_VALIDATION.jsonl", {}, {}, ("computer_network", "validation")),
        ("quiz.jsonl", {}, ARGS, ("arg", "val")),
        ("quiz.jsonl", {}, {"split": "val"}, ("default", "val")),
        ("quiz.jsonl", {}, {}, ("default", "test")),
        ("train.jsonl", {}, {}, ("default", "test")),
        ("results_final.jsonl", {}, {"subset": "arg"}, ("arg", "test")),
        ("bench/optics/train.jsonl", {}, ARGS, ("optics", "train")),
        ("bench/optics/train.jsonl", {"split": "dev"}, {}, ("optics", "dev")),
    ],
)
def test_subset_and_split_precedence(tmp_path, relative_path, row, arguments, expected):
    write_jsonl(tmp_path / relative_path, mcq(**row))
    path = tmp_path / relative_path.split("/")[0]
    items, errors = parse(path, **arguments)
    assert errors == []
    assert (items[0].subset, items[0].split) == expected


# Answers, text and encodings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, normalised",
    [
        ("B", "B"), ("b", "B"), (" B. ", "B"), ("(B)", "B"), ("AC", "AC"), ("A,C", "AC"),
        ("A C", "AC"), ("CA", "AC"), ("c, a, c", "AC"), ("（Ｂ）", "B"), ("A、D", "AD"),
    ],
)
def test_answer_letters_are_normalised(tmp_path, given, normalised):
    items, errors = parse(write_jsonl(tmp_path / "quiz.jsonl", mcq(answer=given)))
    assert errors == []
    assert items[0].answer == normalised


@pytest.mark.parametrize("given", [0, 1, "1", True, ["A"], "Answer: B", "B?"])
def test_answers_that_are_not_letters_are_refused(tmp_path, given):
    items, errors = parse(write_jsonl(tmp_path / "quiz.jsonl", mcq(answer=given)))
    assert items == []
    assert "is not a choice letter; letters such as “B” or “AC” are expected" in errors[0].message


ROUND_TRIP = {
    "question": "下列哪个是质数？🤔\n(第二行)",
    "choices": ["四", "五 🎉"],
    "answer": "B",
    "tags": ["数学", "基础"],
    "extra": {"来源": "人工 ✍️"},
}


def test_chinese_and_emoji_survive_every_format(tmp_path):
    write_jsonl(tmp_path / "zh.jsonl", {**ROUND_TRIP, "id": "jsonl"})
    (tmp_path / "zh.json").write_text(
        json.dumps([{**ROUND_TRIP, "id": "json"}], ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (tmp_path / "zh.csv").write_text(
        'id,问题,A,B,答案,tags,extra.来源\ncsv,"下列哪个是质数？🤔\n(第二行)",四,五 🎉,B,数学；基础,人工 ✍️\n',
        encoding="utf-8",
    )
    for name in ("zh.jsonl", "zh.json", "zh.csv"):
        items, errors = parse(tmp_path / name)
        assert errors == []
        item = items[0]
        assert {
            "question": item.question, "choices": item.choices, "answer": item.answer,
            "tags": item.tags, "extra": item.extra,
        } == ROUND_TRIP, name


def gbk_line(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode("gbk") + b"\n"


def utf8_line(row: dict) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"


def test_gbk_line_in_jsonl_is_reported_and_reading_goes_on(tmp_path):
    (tmp_path / "zh.jsonl").write_bytes(
        utf8_line(mcq(id="1", question="一")) + gbk_line(mcq(id="2", question="二加二等于几？"))
        + utf8_line(mcq(id="3", question="三"))
    )
    items, errors = parse(tmp_path / "zh.jsonl")
    assert [(item.line, item.question) for item in items] == [(1, "一"), (3, "三")]
    assert [error.line for error in errors] == [2]
    assert "not UTF-8" in errors[0].message and "GBK/GB18030" in errors[0].message
    assert "Save the file as UTF-8" in errors[0].message


def test_gbk_line_in_csv_is_reported_and_reading_goes_on(tmp_path):
    (tmp_path / "zh.csv").write_bytes(
        "question,A,B,answer\n一,甲,乙,A\n".encode() + "二,甲,乙,B\n".encode("gbk")
        + "三,甲,乙,B\n".encode()
    )
    items, errors = parse(tmp_path / "zh.csv")
    assert [(item.line, item.question) for item in items] == [(2, "一"), (4, "三")]
    assert [error.line for error in errors] == [3]
    assert "GBK/GB18030" in errors[0].message


def test_gbk_text_in_a_json_array_stops_the_file_at_its_line(tmp_path):
    first, second = utf8_line(mcq(question="一")), gbk_line(mcq(question="二"))
    (tmp_path / "zh.json").write_bytes(b"[\n" + first[:-1] + b",\n" + second[:-1] + b"\n]\n")
    items, errors = parse(tmp_path / "zh.json")
    assert [item.line for item in items] == [2]
    assert [error.line for error in errors] == [3]
    assert "GBK/GB18030" in errors[0].message


def test_bytes_that_are_not_gbk_either_get_the_plain_message(tmp_path):
    (tmp_path / "bad.jsonl").write_bytes(b'{"question": "caf\xe9", "answer": "A"}\n\xff\xfe\n')
    _items, errors = parse(tmp_path / "bad.jsonl", format="qa")
    assert lines_and_messages(errors)[1] == (
        2, "this line is not UTF-8 text; save the file as UTF-8 and try again"
    )


def test_csv_quoted_newlines_keep_later_line_numbers_right(tmp_path):
    (tmp_path / "quiz.csv").write_text(
        'question,A,B,answer\n"first line\nsecond line\nthird line",x,y,A\nq2,x,y,B\n\nq3,x,y,Z\n'
    )
    items, errors = parse(tmp_path / "quiz.csv")
    assert [(item.line, item.question) for item in items] == [
        (2, "first line\nsecond line\nthird line"),
        (5, "q2"),
    ]
    assert lines_and_messages(errors) == [(7, "answer “Z” is not among the choices A–B")]


def test_byte_order_mark_is_ignored(tmp_path):
    (tmp_path / "quiz.json").write_text(json.dumps([mcq()]), encoding="utf-8-sig")
    write_jsonl(tmp_path / "quiz.jsonl", mcq())
    (tmp_path / "quiz.jsonl").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "quiz.jsonl").read_bytes())
    for name in ("quiz.json", "quiz.jsonl"):
        items, errors = parse(tmp_path / name)
        assert (len(items), errors) == (1, []), name


# Streaming ------------------------------------------------------------------------------------


def test_a_200k_row_file_is_read_in_flat_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(200_000):
            row = {
                "id": f"item-{n:07d}",
                "question": f"Question {n}: " + "lorem ipsum " * 6,
                "answer": f"Reference answer {n}, " + "dolor sit " * 3,
                "tags": ["bulk"],
            }
            out.write(json.dumps(row) + "\n")
    assert path.stat().st_size > 38_000_000

    tracemalloc.start()
    try:
        items = errors = 0
        for row in iter_dataset_rows(path, format="qa"):
            items += isinstance(row, ParsedItem)
            errors += isinstance(row, RowError)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (items, errors) == (200_000, 0)
    assert peak < 20 * 1024 * 1024
