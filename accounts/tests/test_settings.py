"""Settings parsing: run in a subprocess so each case gets a fresh settings module."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def settings_value(expression: str, **environ: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL"}}
    env.update(environ)
    code = f"import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','evalplatform.settings'); django.setup(); from django.conf import settings; value = ({expression}); print(*value) if isinstance(value, tuple) else print(value)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_secret_key_required_when_debug_off(tmp_path):
    result = settings_value("settings.DEBUG", DEBUG="0", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_wrong_value_names_the_variable(tmp_path):
    result = settings_value("settings.DEBUG", DEBUG="1", JOB_TIME_LIMIT="soon", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "JOB_TIME_LIMIT" in result.stderr


def test_default_database_is_sqlite_in_data_folder(tmp_path):
    result = settings_value("settings.DATABASES['default']['NAME']", DEBUG="1", DATA_DIR=str(tmp_path))
    assert result.stdout.strip() == str(tmp_path / "db.sqlite3")


def test_mysql_url_uses_utf8mb4(tmp_path):
    result = settings_value(
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['OPTIONS']['charset']",
        DEBUG="1", DATA_DIR=str(tmp_path), DATABASE_URL="mysql://u:p@db.example:3306/evalplatform",
    )
    assert result.stdout.strip() == "django.db.backends.mysql utf8mb4"


def test_redis_url_switches_channel_layer_and_broker(tmp_path):
    expr = "settings.CHANNEL_LAYERS['default']['BACKEND'], 'redis' in settings.Q_CLUSTER, 'orm' in settings.Q_CLUSTER"
    without = settings_value(expr, DEBUG="1", DATA_DIR=str(tmp_path))
    with_redis = settings_value(expr, DEBUG="1", DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/0")
    assert without.stdout.split() == ["channels.layers.InMemoryChannelLayer", "False", "True"]
    assert with_redis.stdout.split() == ["channels_redis.core.RedisChannelLayer", "True", "False"]


def test_a_job_is_never_handed_out_twice(tmp_path):
    result = settings_value(
        "settings.JOB_TIME_LIMIT, settings.Q_CLUSTER['timeout'], settings.Q_CLUSTER['retry']",
        DEBUG="1", DATA_DIR=str(tmp_path),
    )
    limit, timeout, retry = map(int, result.stdout.split())
    assert limit < timeout < retry


PRODUCTION_ENV = {
    "DEBUG": "0", "SECRET_KEY": "x" * 60 + "-production-secret", "ALLOWED_HOSTS": "eval.corp.example",
    "CSRF_TRUSTED_ORIGINS": "https://eval.corp.example", "BEHIND_HTTPS_PROXY": "1", "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_SECONDS": "31536000", "FIELD_ENCRYPTION_KEY": "another-long-key",
}


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    ignored = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in ignored}
    env.update(PRODUCTION_ENV, DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
