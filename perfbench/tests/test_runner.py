"""How evalscope is started: out of the project's reach, with its secrets out of sight."""

import ast
import json
import subprocess
from pathlib import Path

import pytest

from perfbench import runner

PROJECT_ROOT = Path(__file__).parents[2]


def command(**overrides) -> runner.EvalscopeCommand:
    arguments = dict(
        url="http://127.0.0.1:9/v1/", model_name="demo-fast", api_key="sk-very-secret",
        headers={"X-Tenant-Token": "tenant-secret"}, extra_body={"top_p": 0.9},
        prompts_file=Path("prompts.jsonl"), outputs_dir=Path("outputs"), pairs=[(1, 4), (2, 8)],
        max_tokens=16, stream=True, sweep_pause=0, connect_timeout=10, read_timeout=120,
    )
    return runner.evalscope_command(**{**arguments, **overrides})


@pytest.mark.parametrize("cwd", ["run folder", "project root"])
def test_evalscope_process_imports_huggingface_datasets_not_the_app(tmp_path, cwd):
    # Even started from the project root, the app `datasets/` must not shadow HuggingFace's.
    folder = tmp_path if cwd == "run folder" else PROJECT_ROOT
    probe = "import datasets, evalscope.perf.main, sys; print(datasets.__file__); print(sys.path)"
    output = subprocess.run(
        [*runner.python_command(), "-c", probe], cwd=folder, env=runner.evalscope_env(),
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert "site-packages" in output[0] and str(PROJECT_ROOT / "datasets") not in output[0]
    search_path = ast.literal_eval(output[1])
    assert str(PROJECT_ROOT) not in search_path and "" not in search_path and str(folder) not in search_path


def test_evalscope_environment_carries_no_platform_secrets(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "django-secret")
    monkeypatch.setenv("DATABASE_URL", "mysql://root:pw@db/evalplatform")
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    env = runner.evalscope_env()
    assert "SECRET_KEY" not in env and "DATABASE_URL" not in env and "PYTHONPATH" not in env
    assert env["HTTPS_PROXY"] == "http://proxy.corp:3128" and env["PYTHONSAFEPATH"] == "1"


def test_key_and_headers_go_through_stdin_not_the_process_list():
    cmd = command()
    assert not any("secret" in arg for arg in cmd.argv)
    assert cmd.secret_args == [
        "--api-key", "sk-very-secret", "--headers", "X-Tenant-Token=tenant-secret", "--extra-args", '{"top_p": 0.9}',
    ]
    assert set(cmd.secrets) == {"sk-very-secret", "tenant-secret"}
    assert "secret" not in cmd.display() and cmd.display().endswith("--api-key •••• --headers •••• --extra-args ••••")


def test_sweep_is_one_evalscope_call_with_a_parallel_and_a_number_list():
    argv = command(stream=False).argv
    start = argv.index("--parallel")
    assert argv[start:start + 6] == ["--parallel", "1", "2", "--number", "4", "8"]
    assert "--no-stream" in argv and "--no-test-connection" in argv
    assert argv[argv.index("--url") + 1] == "http://127.0.0.1:9/v1/chat/completions"
    assert argv[argv.index("--dataset") + 1] == "line_by_line"


def test_model_without_key_sends_no_secret_arguments():
    cmd = command(api_key="", headers={}, extra_body={})
    assert cmd.secret_args == [] and cmd.secrets == []


def test_prompts_file_keeps_line_breaks_and_json_looking_questions(tmp_path):
    prompts = ["one line", "two\nlines", '[{"role": "system"}]', "中文"]
    assert runner.prompts_write(tmp_path / "p.jsonl", prompts) == 4
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    assert [json.loads(line) for line in lines] == [[{"role": "user", "content": p}] for p in prompts]


def test_stored_log_has_secrets_replaced_and_the_middle_of_a_huge_log_left_out():
    assert runner.log_redact("Bearer sk-1 and sk-1", ["sk-1", ""]) == "Bearer •••• and ••••"
    huge = "a" * runner.LOG_HEAD_CHARS + "b" * 500_000 + "c" * runner.LOG_TAIL_CHARS
    trimmed = runner.log_trim(huge)
    assert trimmed.startswith("a" * runner.LOG_HEAD_CHARS) and trimmed.endswith("c" * runner.LOG_TAIL_CHARS)
    assert "500000 characters left out" in trimmed
