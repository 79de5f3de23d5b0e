"""Production settings (N4): check --deploy is clean, weak secrets refuse to start, a wrong
ENCRYPTION_KEY is found at start-up, not per request."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from settle.core.checks import check_encryption_key, encryption_key_problem

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x7Gq2LmN9pR4sT6vW8yZ1aB3cD5eF7gH9jK2mN4pQ6rS8tU0vW"


def run_manage(*args, **env):
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ENCRYPTION_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    environ.update(
        {"DJANGO_SETTINGS_MODULE": "settle.settings.production", "ALLOWED_HOSTS": "books.example.com",
         "DATABASE_URL": "sqlite:////nonexistent-dir/settle.sqlite3", **env}
    )
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True)


def test_check_deploy_gives_no_warning():  # N4
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEY=Fernet.generate_key().decode()
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", ["x", "dev-only-secret-key-not-for-production", "a" * 60])
def test_short_or_default_secret_key_refuses_to_start(secret):  # N4
    result = run_manage("check", "--deploy", SECRET_KEY=secret, ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_security_settings(monkeypatch):  # N4
    script = (
        "from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME)"
    )
    result = run_manage(
        "shell", "-c", script, SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", HSTS_INCLUDE_SUBDOMAINS="false",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == (
        "31536000 False True ('HTTP_X_FORWARDED_PROTO', 'https') __Host-sessionid __Host-csrftoken"
    )


@pytest.mark.django_db
def test_wrong_encryption_key_is_found_by_the_start_up_check(processor, settings):  # P2 N4
    assert encryption_key_problem() is None
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    errors = check_encryption_key(None)
    assert [e.id for e in errors] == ["settle.E002"]
    assert "cannot decrypt" in errors[0].msg


@pytest.mark.parametrize(
    ("database_url", "pooling", "expected"),
    [
        ("postgres://settle@db.example/settle", "", "{'server_side_binding': True, 'prepare_threshold': 5} False"),
        ("postgres://settle@pgbouncer.example/settle", "true", "{} True"),
        ("sqlite:////nonexistent-dir/settle.sqlite3", "", "{'timeout': 20, 'transaction_mode': 'IMMEDIATE', "
         "'init_command': 'PRAGMA journal_mode=WAL;'} False"),
    ],
)
def test_statements_prepared_on_postgresql_unless_behind_a_transaction_pooler(database_url, pooling, expected):  # N4
    """On PostgreSQL a statement repeated on one connection is prepared there (server-side binding,
    psycopg's automatic preparation). Behind a pooler in transaction mode nothing may outlive a
    transaction: no prepared statement and no server-side cursor."""
    script = (
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(d.get('OPTIONS', {}), d.get('DISABLE_SERVER_SIDE_CURSORS'))"
    )
    result = run_manage(
        "shell", "-c", script, SECRET_KEY=GOOD_SECRET, ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DATABASE_URL=database_url, DATABASE_TRANSACTION_POOLING=pooling,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == expected
