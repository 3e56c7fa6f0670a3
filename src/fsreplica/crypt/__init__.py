"""Encryption at the destination: a wrapper that makes any destination store ciphertext only.

Needs the `crypt` extra (`pip install 'fsreplica[crypt]'`: `cryptography`, and `pyrage` for age
recipients). The format, what it hides and what it does not, and how to restore without
fsreplica's daemon are in docs/encryption.md. `init_key` creates a destination's data key once,
`open_encrypted` unlocks it and returns the wrapper, which a `Replicator` takes as its
destination.

Importing this package needs nothing more than fsreplica (`KEY_OBJECT` is here, so a plain copy
can refuse an encrypted destination without the extra); the rest is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

KEY_OBJECT = ".fsreplica-crypt.json"
"""The key of the key object at the destination (never listed by the encrypting wrapper)."""
EXTRA_HINT = "pip install 'fsreplica[crypt]' (in a clone of fsreplica: pip install '.[crypt]')"

if TYPE_CHECKING:
    from fsreplica.crypt._destination import CryptDestination, encrypted
    from fsreplica.crypt._keys import (
        DEFAULT_SCRYPT_LOG_N,
        Keyring,
        Secrets,
        check_identity,
        check_recipient,
    )
    from fsreplica.crypt._secrets import (
        NEW_PASSPHRASE_ENV,
        PASSPHRASE_ENV,
        new_key_file,
        passphrase_from_env_or_prompt,
        read_key_file,
    )
    from fsreplica.crypt._store import (
        init_key,
        is_encrypted,
        open_encrypted,
        read_key_object,
        rewrap,
        rotate_key,
        unlock_destination,
    )

_LAZY = {
    "CryptDestination": "_destination",
    "encrypted": "_destination",
    "DEFAULT_SCRYPT_LOG_N": "_keys",
    "Keyring": "_keys",
    "Secrets": "_keys",
    "check_identity": "_keys",
    "check_recipient": "_keys",
    "NEW_PASSPHRASE_ENV": "_secrets",
    "PASSPHRASE_ENV": "_secrets",
    "new_key_file": "_secrets",
    "passphrase_from_env_or_prompt": "_secrets",
    "read_key_file": "_secrets",
    "init_key": "_store",
    "is_encrypted": "_store",
    "open_encrypted": "_store",
    "read_key_object": "_store",
    "rewrap": "_store",
    "rotate_key": "_store",
    "unlock_destination": "_store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fsreplica.crypt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fsreplica.crypt.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_SCRYPT_LOG_N",
    "EXTRA_HINT",
    "KEY_OBJECT",
    "NEW_PASSPHRASE_ENV",
    "PASSPHRASE_ENV",
    "CryptDestination",
    "Keyring",
    "Secrets",
    "check_identity",
    "check_recipient",
    "encrypted",
    "init_key",
    "is_encrypted",
    "new_key_file",
    "open_encrypted",
    "passphrase_from_env_or_prompt",
    "read_key_file",
    "read_key_object",
    "rewrap",
    "rotate_key",
    "unlock_destination",
]
