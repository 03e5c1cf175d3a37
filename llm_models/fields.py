"""A text field stored encrypted at rest (Fernet, keyed from settings.FIELD_ENCRYPTION_KEYS)."""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = []
    for secret in settings.FIELD_ENCRYPTION_KEYS:
        # Any passphrase works: it is stretched to the 32-byte key Fernet wants.
        digest = hashlib.sha256(secret.encode()).digest()
        keys.append(Fernet(base64.urlsafe_b64encode(digest)))
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must name at least one key.")
    # The first key encrypts; every key decrypts, so keys can be rotated.
    return MultiFernet(keys)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY does not include the key "
            "it was encrypted with."
        ) from exc


class EncryptedTextField(models.TextField):
    """Plain text in Python, Fernet ciphertext in the database. Empty stays empty."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
