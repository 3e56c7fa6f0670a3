"""Where to connect and with which credentials, found the way Google's own tools find them.

The endpoint is the argument, else `STORAGE_EMULATOR_HOST` (as Google's clients read it: a host
and port, or a URL), else Google's. Credentials, in order:

1. With `STORAGE_EMULATOR_HOST` set, none: anonymous requests, as Google's clients send to an
   emulator.
2. The file named by the argument or `GOOGLE_APPLICATION_CREDENTIALS` (a service account key,
   an authorized user, external account or impersonation configuration).
3. The application-default credentials that `gcloud auth application-default login` wrote
   (`$CLOUDSDK_CONFIG/application_default_credentials.json`, by default under ~/.config/gcloud).
4. On a Compute Engine machine, known by its firmware's product name (a local file, so nothing
   is dialled to find out), the instance's service account from its metadata server.
5. With an endpoint given, none: anonymous requests (an emulator, or a proxy that signs).

Otherwise there are none, which the preflight says in one line. Unlike `google.auth.default()`,
this never probes the metadata server (169.254.169.254) on a machine that has none: that costs
seconds of timeouts, and on a network that routes it, a request to an address nobody asked for.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fsreplica.errors import PreflightError

SCOPE = "https://www.googleapis.com/auth/devstorage.read_write"
EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
CREDENTIALS_ENV = "GOOGLE_APPLICATION_CREDENTIALS"
_PROJECT_ENVS = ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT")
_GCE_PRODUCT_NAME = "/sys/class/dmi/id/product_name"


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed `gs://bucket/prefix` URL.

    Attributes:
        bucket: The bucket name.
        prefix: The object name prefix, '' or ending with '/'.
    """

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        """The display form, `gs://bucket/prefix` without a trailing slash."""
        return f"gs://{self.bucket}/{self.prefix}".rstrip("/")


def parse_url(url: str) -> Location:
    """Parse `gs://bucket[/prefix]`.

    Raises:
        ValueError: Not a gs:// URL, no bucket, or credentials or a query in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "gs" or not parts.netloc:
        raise ValueError(f"not a gs url (expected gs://bucket/prefix): {url!r}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        # Credentials in a URL end up in shell history and logs: refuse rather than strip.
        raise ValueError("gs url must be gs://bucket/prefix, without credentials or query")
    prefix = "/".join(p for p in parts.path.split("/") if p)
    return Location(parts.netloc, f"{prefix}/" if prefix else "")


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything needed to open a client for one bucket.

    Attributes:
        endpoint: The JSON API's base URL, or None for Google's.
        credentials: A google-auth credentials object, or None when none were found.
        project: The project, if one is known (objects need none; it is passed so that the
            client never looks for one).
        source: Where the credentials came from, for messages ("STORAGE_EMULATOR_HOST", ...).
    """

    endpoint: str | None
    credentials: Any
    project: str | None
    source: str

    @property
    def anonymous(self) -> bool:
        """Whether requests go unsigned (an emulator)."""
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        return isinstance(self.credentials, AnonymousCredentials)


def endpoint_from(value: str) -> str:
    """An endpoint URL from `value`: a URL, or `host:port` as STORAGE_EMULATOR_HOST may hold.

    Raises:
        ValueError: Not http(s), or no host.
    """
    url = value if "://" in value else f"http://{value}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint url must be http:// or https:// and a host: {value!r}")
    return url.rstrip("/")


def resolve(  # noqa: PLR0911 (one return per link of the chain)
    location: Location,
    *,
    endpoint_url: str | None = None,
    credentials_file: str | os.PathLike[str] | None = None,
    project: str | None = None,
    credentials: Any = None,
) -> Connection:
    """Find the endpoint, credentials and project (see the module's docstring for the order).

    Args:
        location: The bucket, for messages.
        endpoint_url: An endpoint that wins over `STORAGE_EMULATOR_HOST`.
        credentials_file: A credentials file that wins over `GOOGLE_APPLICATION_CREDENTIALS`.
        project: The project; else `GOOGLE_CLOUD_PROJECT`, else the credentials'.
        credentials: Credentials to use as they are, instead of finding them.

    Raises:
        ValueError: A malformed endpoint.
        PreflightError: A credentials file that cannot be read or used.
    """
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415 (slow import)

    env = os.environ
    emulator = env.get(EMULATOR_ENV) or None
    given = endpoint_url or emulator
    endpoint = endpoint_from(given) if given else None
    project = project or next((env[name] for name in _PROJECT_ENVS if env.get(name)), None)
    where = f"gs://{location.bucket}"
    if credentials is not None:
        return Connection(endpoint, credentials, project, "given")
    if emulator is not None and credentials_file is None:
        return Connection(endpoint, AnonymousCredentials(), project, EMULATOR_ENV)  # type: ignore[no-untyped-call]
    named = credentials_file or env.get(CREDENTIALS_ENV) or None
    if named is not None:
        label = "credentials file" if credentials_file else CREDENTIALS_ENV
        credentials, found = _from_file(os.fspath(named), where, label)
        return Connection(endpoint, credentials, project or found, label)
    adc = _adc_path()
    if os.path.isfile(adc):
        credentials, found = _from_file(adc, where, "application-default credentials")
        return Connection(endpoint, credentials, project or found, "application-default")
    if _on_compute_engine():
        from google.auth import compute_engine  # noqa: PLC0415

        credentials = compute_engine.Credentials()  # type: ignore[no-untyped-call]
        return Connection(endpoint, credentials, project, "compute engine")
    if endpoint is not None:
        anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return Connection(endpoint, anonymous, project, "none (anonymous)")
    return Connection(None, None, project, "none")


def _from_file(path: str, where: str, label: str) -> tuple[Any, str | None]:
    import google.auth  # noqa: PLC0415
    from google.auth import exceptions  # noqa: PLC0415

    try:
        # google-auth warns that a credentials file from an untrusted source must be validated
        # first. This one is the user's own (named by them, or written by gcloud), which
        # google.auth.default() loads the same way.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            load = google.auth.load_credentials_from_file
            credentials, project = load(path, scopes=[SCOPE])  # type: ignore[no-untyped-call]
    except exceptions.DefaultCredentialsError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError):
            reason = (cause.strerror or type(cause).__name__).lower()
        elif "not found" in str(exc).lower() or not os.path.exists(path):
            reason = "no such file or directory"
        else:
            reason = "not a credentials file google-auth can use"
        raise PreflightError(where, f"{label} {path}: {reason}") from None
    return credentials, project


def _adc_path() -> str:
    config = os.environ.get("CLOUDSDK_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".config", "gcloud"
    )
    return os.path.join(config, "application_default_credentials.json")


def _on_compute_engine() -> bool:
    """Whether this machine's firmware says it is a Compute Engine VM (no request is sent)."""
    try:
        with open(_GCE_PRODUCT_NAME, encoding="utf-8", errors="replace") as file:
            return file.read().strip().startswith("Google")
    except OSError:
        return False
