"""An encrypted text field for secrets at rest (Stripe keys, webhook signing secrets).

Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`; settings.ENCRYPTION_KEYS lists
keys newest first: the first encrypts, all decrypt, so keys rotate without downtime
(`manage.py rotate_encryption_key` re-encrypts every row with the first key).

Reading a row decrypts its secrets once per process: plaintexts are kept by (keys, ciphertext),
so a re-encrypted or replaced secret (a new ciphertext) is decrypted afresh, and
`forget_decrypted()` drops them all (called when a processor's key or signing secret changes).
"""

import threading
from collections import OrderedDict
from functools import lru_cache

from cryptography.fernet import InvalidToken, MultiFernet, Fernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEY is not set.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured("A stored secret cannot be decrypted with the configured ENCRYPTION_KEY.") from None


_DECRYPTED: "OrderedDict[tuple[tuple[str, ...], str], str]" = OrderedDict()
_DECRYPTED_MAX = 1024
_DECRYPTED_LOCK = threading.Lock()


def decrypt_cached(token: str) -> str:
    """`decrypt`, once per process for each ciphertext and set of keys (least recently used first out)."""
    cache_key = (tuple(settings.ENCRYPTION_KEYS), token)
    with _DECRYPTED_LOCK:
        plaintext = _DECRYPTED.get(cache_key)
        if plaintext is not None:
            _DECRYPTED.move_to_end(cache_key)
            return plaintext
    plaintext = decrypt(token)
    with _DECRYPTED_LOCK:
        _DECRYPTED[cache_key] = plaintext
        while len(_DECRYPTED) > _DECRYPTED_MAX:
            _DECRYPTED.popitem(last=False)
    return plaintext


def forget_decrypted() -> None:
    """Drop every kept plaintext of this process (a secret was rotated or replaced)."""
    with _DECRYPTED_LOCK:
        _DECRYPTED.clear()


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


class Secret(str):
    """A decrypted secret whose repr never shows it (so it never lands in a log or traceback)."""

    def __repr__(self) -> str:
        return "Secret('****')"

    @property
    def last4(self) -> str:
        return str.__str__(self)[-4:]


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees a `Secret` (a str)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return Secret(decrypt_cached(value))

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return encrypt(str.__str__(value))
