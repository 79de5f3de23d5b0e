"""The embedded default's settings follow the variables `make run` reads (N1)."""

import os
import subprocess
import sys


def _dev_setting(name: str, **env) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    clean = {k: v for k, v in os.environ.items() if k not in ("STRIPE_API_BASE", "PUBLIC_URL", "PORT", "EMULATOR_PORT")}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "settle.settings.dev", **env},
        capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout.strip()


def test_management_commands_reach_the_emulator_make_run_started():  # N1, X1
    # `EMULATOR_PORT=13111 make run` moves the emulator; a command from another shell must follow it.
    assert _dev_setting("STRIPE_API_BASE", EMULATOR_PORT="13111") == "http://127.0.0.1:13111"
    assert _dev_setting("PUBLIC_URL", PORT="8111") == "http://127.0.0.1:8111"
    assert _dev_setting("STRIPE_API_BASE") == "http://127.0.0.1:12111"
