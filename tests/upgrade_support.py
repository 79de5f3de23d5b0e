"""Upgrade tests: a script run against a database of its own, so the test database is untouched."""

import os
import subprocess
import sys
import uuid

from django.db import connection


def run_in_own_database(script: str, tmp_path) -> str:
    """Run `script` (Python, `-c`) with DATABASE_URL naming a new, empty database of the test
    database's vendor (PostgreSQL: created beside it, dropped after; SQLite: a file under
    `tmp_path`). Asserts it exits 0 and printed UPGRADED; returns its output."""
    name = f"settle_upgrade_{uuid.uuid4().hex[:8]}"
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        url = f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{name}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    else:
        url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "settle.settings.test"}
    try:
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    assert result.returncode == 0, result.stderr[-3000:]
    assert "UPGRADED" in result.stdout
    return result.stdout
