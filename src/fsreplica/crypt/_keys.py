"""The data key of an encrypted destination, and the key object that keeps it wrapped there.

Each destination has one random 32-byte data key. The key object (`KEY_OBJECT`, JSON, beside
the data) holds it wrapped once per way in: by a passphrase (scrypt, then AES-256-GCM) and/or by
age X25519 recipients (one age file for all of them), or by a random key in a key file made by
fsreplica (HKDF, then AES-256-GCM: a random 256-bit key needs no stretching). Rotating replaces
the wraps and keeps the data key, so nothing else is written again. The parameters that say how
objects are read (key id, name encryption, chunk size) are authenticated with a MAC under a key
derived from the data key: a key object altered to turn name encryption off, say, is refused
once unwrapped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from fsreplica.crypt import EXTRA_HINT
from fsreplica.crypt._format import CHUNK, KEY_ID_SIZE, ContentKeys
from fsreplica.crypt._names import NameCipher

FORMAT = "fsreplica-crypt/v1"
DEFAULT_SCRYPT_LOG_N = 17  # 128 MiB and about half a second: age's work factor is 18
MIN_SCRYPT_LOG_N = 10
_WRAP_INFO = b"fsreplica-crypt/v1 wrap\0"
_KEY_INFO = b"fsreplica-crypt/v1 key file"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


def _derive(data_key: bytes, name: str, length: int = 32) -> bytes:
    info = b"fsreplica-crypt/v1 " + name.encode("ascii")
    return HKDF(hashes.SHA256(), length, None, info).derive(data_key)


@dataclass(frozen=True, slots=True)
class Secrets:
    """What the user holds to unlock (or to wrap) a data key.

    Attributes:
        passphrase: A passphrase (from a key file, `FSREPLICA_PASSPHRASE` or a prompt).
        identities: age identities (`AGE-SECRET-KEY-1...`), to unwrap.
        recipients: age recipients (`age1...`), to wrap for.
        scrypt_log_n: The scrypt cost of a new passphrase wrap (2**log_n iterations).
    """

    passphrase: bytes | None = None
    identities: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    scrypt_log_n: int = DEFAULT_SCRYPT_LOG_N


class Keyring:
    """An unwrapped data key and everything derived from it.

    Attributes:
        key_id: The data key's id (hex), written in every object header.
        encrypt_names: Whether names are sealed (see `_names`).
        content: The keys of the object format.
        names: The name cipher, or None when names travel in clear.
    """

    def __init__(self, data_key: bytes, *, key_id: bytes, encrypt_names: bool) -> None:
        self._data_key = data_key
        self.key_id = key_id.hex()
        self.encrypt_names = encrypt_names
        self.content = ContentKeys(
            key_id=key_id,
            content=_derive(data_key, "content"),
            digest=_derive(data_key, "digest"),
        )
        self.names = NameCipher(_derive(data_key, "names", 64)) if encrypt_names else None

    def params_mac(self, params: dict[str, Any]) -> str:
        """The MAC of the key object's parameters, under a key derived from the data key."""
        text = json.dumps(params, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(_derive(self._data_key, "params"), text, hashlib.sha256).hexdigest()

    def document(self, secrets: Secrets) -> bytes:
        """A key object for this data key, wrapped for `secrets` (a passphrase, recipients)."""
        params = {
            "format": FORMAT,
            "key_id": self.key_id,
            "encrypt_names": self.encrypt_names,
            "chunk": CHUNK,
        }
        wraps = []
        if (generated := _generated(secrets.passphrase)) is not None:
            wraps.append(_wrap_key(self._data_key, self.key_id, generated))
        elif secrets.passphrase is not None:
            wraps.append(_wrap_passphrase(self._data_key, self.key_id, secrets))
        if secrets.recipients:
            wraps.append(_wrap_age(self._data_key, secrets.recipients))
        if not wraps:
            raise ValueError("no passphrase, key file or recipient to wrap the data key for")
        document = {**params, "mac": self.params_mac(params), "wraps": wraps}
        return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def new_keyring(*, encrypt_names: bool = False) -> Keyring:
    """A keyring with a fresh random data key and key id."""
    return Keyring(os.urandom(32), key_id=os.urandom(KEY_ID_SIZE), encrypt_names=encrypt_names)


class UnlockError(Exception):
    """The key object cannot be opened with the secrets given (the reason is the message)."""


def unlock(document: bytes, secrets: Secrets) -> Keyring:
    """Unwrap the data key of a key object with `secrets` and check its parameters.

    Raises:
        UnlockError: Malformed, of another format, no wrap opens with these secrets, or the
            parameters were altered.
    """
    try:
        doc = json.loads(document)
        params = {name: doc[name] for name in ("format", "key_id", "encrypt_names", "chunk")}
        wraps = doc["wraps"]
        mac = doc["mac"]
    except (ValueError, KeyError, TypeError):
        raise UnlockError("the key object is not valid JSON of fsreplica") from None
    if params["format"] != FORMAT:
        raise UnlockError(f"unknown key format {params['format']!r}")
    if params["chunk"] != CHUNK:
        raise UnlockError(f"unsupported chunk size {params['chunk']!r}")
    data_key = None
    kinds = []
    generated = _generated(secrets.passphrase)
    for wrap in wraps if isinstance(wraps, list) else ():
        kind = wrap.get("kind") if isinstance(wrap, dict) else None
        kinds.append(str(kind))
        try:
            if kind == "key" and generated is not None:
                data_key = _unwrap_key(wrap, params["key_id"], generated)
            elif kind == "scrypt" and secrets.passphrase is not None and generated is None:
                data_key = _unwrap_passphrase(wrap, params["key_id"], secrets.passphrase)
            elif kind == "age" and secrets.identities:
                data_key = _unwrap_age(wrap, secrets.identities)
        except (ValueError, KeyError, TypeError, InvalidTag):
            continue
        if data_key is not None:
            break
    if data_key is None:
        if not _usable(kinds, secrets):
            raise UnlockError(f"no key given for this destination (it is wrapped by: {kinds})")
        raise UnlockError("wrong passphrase or key")
    try:
        key_id = bytes.fromhex(params["key_id"])
    except (TypeError, ValueError):
        raise UnlockError("the key object has a malformed key id") from None
    keyring = Keyring(data_key, key_id=key_id, encrypt_names=bool(params["encrypt_names"]))
    if not hmac.compare_digest(str(mac), keyring.params_mac(params)):
        raise UnlockError("the key object's parameters were altered")
    return keyring


def _usable(kinds: list[str], secrets: Secrets) -> bool:
    """Whether a wrap of the kind of secret given is there (so a failure means a wrong one)."""
    secret = secrets.passphrase is not None and ("scrypt" in kinds or "key" in kinds)
    return secret or ("age" in kinds and bool(secrets.identities))


_GENERATED = re.compile(rb"FSREPLICA-KEY-1 ([A-Za-z0-9_-]{43})")


def _generated(passphrase: bytes | None) -> bytes | None:
    """The random key of a key file made by fsreplica, or None for a passphrase."""
    match = _GENERATED.fullmatch(passphrase.strip()) if passphrase is not None else None
    return base64.urlsafe_b64decode(match.group(1) + b"=") if match else None


def _key_kek(key: bytes, salt: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt, _KEY_INFO).derive(key)


def _wrap_key(data_key: bytes, key_id: str, key: bytes) -> dict[str, Any]:
    salt, nonce = os.urandom(16), os.urandom(12)
    aad = _WRAP_INFO + key_id.encode("ascii")
    sealed = AESGCM(_key_kek(key, salt)).encrypt(nonce, data_key, aad)
    return {"kind": "key", "salt": _b64(salt), "nonce": _b64(nonce), "sealed": _b64(sealed)}


def _unwrap_key(wrap: dict[str, Any], key_id: str, key: bytes) -> bytes:
    kek = _key_kek(key, _unb64(wrap["salt"]))
    aad = _WRAP_INFO + key_id.encode("ascii")
    return AESGCM(kek).decrypt(_unb64(wrap["nonce"]), _unb64(wrap["sealed"]), aad)


def _kek(passphrase: bytes, salt: bytes, log_n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=1 << log_n, r=8, p=1).derive(passphrase)


def _wrap_passphrase(data_key: bytes, key_id: str, secrets: Secrets) -> dict[str, Any]:
    assert secrets.passphrase is not None
    log_n = max(secrets.scrypt_log_n, MIN_SCRYPT_LOG_N)
    salt = os.urandom(16)
    nonce = os.urandom(12)
    kek = _kek(secrets.passphrase, salt, log_n)
    sealed = AESGCM(kek).encrypt(nonce, data_key, _WRAP_INFO + key_id.encode("ascii"))
    return {
        "kind": "scrypt",
        "log_n": log_n,
        "r": 8,
        "p": 1,
        "salt": _b64(salt),
        "nonce": _b64(nonce),
        "sealed": _b64(sealed),
    }


def _unwrap_passphrase(wrap: dict[str, Any], key_id: str, passphrase: bytes) -> bytes:
    log_n = int(wrap["log_n"])
    if not MIN_SCRYPT_LOG_N <= log_n <= 24 or (wrap["r"], wrap["p"]) != (8, 1):
        raise ValueError("scrypt parameters out of range")
    kek = _kek(passphrase, _unb64(wrap["salt"]), log_n)
    aad = _WRAP_INFO + key_id.encode("ascii")
    return AESGCM(kek).decrypt(_unb64(wrap["nonce"]), _unb64(wrap["sealed"]), aad)


def _age() -> Any:
    try:
        import pyrage  # type: ignore[import-untyped]  # noqa: PLC0415 - only for age
    except ImportError as exc:
        raise UnlockError(f"age recipients and identities need pyrage: {EXTRA_HINT}") from exc
    return pyrage


def _wrap_age(data_key: bytes, recipients: tuple[str, ...]) -> dict[str, Any]:
    pyrage = _age()
    try:
        parsed = [pyrage.x25519.Recipient.from_str(text) for text in recipients]
    except pyrage.RecipientError as exc:
        raise ValueError(f"not an age X25519 recipient ({exc})") from None
    return {"kind": "age", "sealed": _b64(pyrage.encrypt(data_key, parsed))}


def _unwrap_age(wrap: dict[str, Any], identities: tuple[str, ...]) -> bytes | None:
    pyrage = _age()
    parsed = [pyrage.x25519.Identity.from_str(text) for text in identities]
    try:
        data: bytes = pyrage.decrypt(_unb64(wrap["sealed"]), parsed)
    except pyrage.DecryptError:
        return None
    return data


def check_recipient(text: str) -> str:
    """Return `text` if it is an age X25519 recipient, else raise ValueError."""
    pyrage = _age()
    try:
        pyrage.x25519.Recipient.from_str(text)
    except pyrage.RecipientError:
        raise ValueError(f"not an age X25519 recipient: {text}") from None
    return text


def check_identity(text: str) -> str:
    """Return `text` if it is an age X25519 identity, else raise ValueError (never showing it)."""
    pyrage = _age()
    try:
        pyrage.x25519.Identity.from_str(text)
    except pyrage.IdentityError:
        raise ValueError("not an age X25519 identity") from None
    return text
