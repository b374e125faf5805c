"""Ed25519 signatures for audit digests and export manifests, with a key kept outside the database.

The private key lives in ``AUDIT_SIGNING_KEY_FILE`` (PEM, mode 0600). Only
``manage.py create_audit_key`` creates it: a process that finds no key refuses to sign, naming
that command, so no web request or worker ever makes a key of its own that nobody pinned or
backed up. ``AUDIT_KEY_FINGERPRINT``, when set, pins the key every process must find. Anyone
holding the public key (shown on the Audit page) can check a digest or an export offline.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from lifecycle.models.audit import canonical_json

SIGNATURE_FIELD = "signature"


class SigningKeyError(Exception):
    """The signing or public key is missing or unreadable."""


def signing_key_path() -> Path:
    return Path(settings.AUDIT_SIGNING_KEY_FILE)


CREATE_COMMAND = "python manage.py create_audit_key"


def signing_key() -> Ed25519PrivateKey:
    """The private key; SigningKeyError when it is missing, unreadable or not the pinned one."""
    path = signing_key_path()
    if not path.exists():
        raise SigningKeyError(f"no audit signing key at {path}: create it with `{CREATE_COMMAND}`")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise SigningKeyError(f"cannot read the audit signing key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    check_pinned(key.public_key(), path)
    return key


def check_pinned(key: Ed25519PublicKey, path: Path) -> None:
    """Refuse a key other than the one AUDIT_KEY_FINGERPRINT names (a swapped key file)."""
    pinned = settings.AUDIT_KEY_FINGERPRINT
    if pinned and fingerprint(key) != pinned:
        raise SigningKeyError(
            f"the audit signing key {path} has fingerprint {fingerprint(key)}, but "
            f"AMIDASH_AUDIT_KEY_FINGERPRINT expects {pinned}"
        )


def create_signing_key() -> tuple[Ed25519PrivateKey, bool]:
    """The signing key, made now (mode 0600) unless it exists; returns it and whether it is new.

    An existing key is never overwritten: digests and exports signed with it must stay
    verifiable.
    """
    created = _create_key_file(signing_key_path())
    return signing_key(), created


def _create_key_file(path: Path) -> bool:
    """Write a new key to ``path`` unless a key is there. The key is written to a file of its own
    and linked into place, so a process that finds ``path`` always reads a whole key (two
    processes starting at once once read a half-written one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(draft, path)
    except FileExistsError:
        return False
    finally:
        draft.unlink(missing_ok=True)
    return True


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file holding the public or the private key."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SigningKeyError(f"cannot read {path}: {error.strerror}") from None
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError):
            raise SigningKeyError(f"{path} holds no PEM Ed25519 key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 key")
    return key


def default_public_key() -> Ed25519PublicKey:
    """The public half of the configured signing key (which must exist)."""
    return signing_key().public_key()


def verifying_key(path: Path | str | None = None) -> Ed25519PublicKey:
    """The key a verification checks against: the public key file at ``path`` when given, else
    the public half of the configured signing key."""
    return load_public_key(path) if path else default_public_key()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex, as shown next to every signature."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_document(document: dict[str, Any], key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """The document with the signer's fingerprint and a signature over its canonical JSON."""
    key = key or signing_key()
    signed = {**document, "public_key_fingerprint": fingerprint(key.public_key())}
    signature = key.sign(canonical_json(signed).encode())
    return {**signed, SIGNATURE_FIELD: base64.b64encode(signature).decode()}


def verify_document(document: dict[str, Any], key: Ed25519PublicKey) -> str | None:
    """None when the signature is valid for ``key``; otherwise what is wrong."""
    unsigned = {k: v for k, v in document.items() if k != SIGNATURE_FIELD}
    signature = document.get(SIGNATURE_FIELD)
    if not isinstance(signature, str):
        return "it carries no signature"
    if unsigned.get("public_key_fingerprint") != fingerprint(key):
        return "it was signed with another key (fingerprint differs)"
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical_json(unsigned).encode())
    except (InvalidSignature, ValueError):
        return "its signature does not match its content"
    return None
