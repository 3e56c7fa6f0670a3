"""Where to connect and with which credentials: the standard AWS chain, resolved once.

botocore resolves credentials and region exactly as the AWS CLI does (environment, shared
config and credentials files, profiles, SSO, web identity, container and instance roles), so
users configure fsreplica the way they configure every other S3 tool. The endpoint comes from the
argument, then `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from obstore.store import S3Credential

DEFAULT_REGION = "us-east-1"
# botocore refreshes temporary credentials this long before they expire; asking it again after
# this long keeps obstore's copy fresh without a call per request.
CREDENTIAL_TTL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed `s3://bucket/prefix` URL.

    Attributes:
        bucket: The bucket name.
        prefix: The key prefix, '' or ending with '/'.
    """

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        """The display form, `s3://bucket/prefix` without a trailing slash."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_url(url: str) -> Location:
    """Parse `s3://bucket[/prefix]`.

    Raises:
        ValueError: Not an s3:// URL, no bucket, or credentials or a query in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise ValueError(f"not an s3 url (expected s3://bucket/prefix): {url!r}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        # Credentials in a URL end up in shell history and logs: refuse rather than strip.
        raise ValueError("s3 url must be s3://bucket/prefix, without credentials or query")
    prefix = "/".join(p for p in parts.path.split("/") if p)
    return Location(parts.netloc, f"{prefix}/" if prefix else "")


@dataclass(slots=True)
class Connection:
    """Everything needed to open clients for one bucket.

    Attributes:
        endpoint_url: The S3 endpoint, or None for AWS's own.
        region: The signing region.
        path_style: Address buckets as `endpoint/bucket` instead of `bucket.endpoint`.
        credentials: botocore's credentials object, or None to send unsigned requests.
        session: The botocore session that resolved them.
    """

    endpoint_url: str | None
    region: str
    path_style: bool
    credentials: Any
    session: Any

    def secrets(self) -> tuple[str, ...]:
        """The secret strings in use (to scrub them from any text shown)."""
        frozen = self._frozen()
        if frozen is None:
            return ()
        return tuple(s for s in (frozen.secret_key, frozen.token) if s)

    def _frozen(self) -> Any:
        return None if self.credentials is None else self.credentials.get_frozen_credentials()

    def is_static(self) -> bool:
        """Whether the credentials never change (so obstore can hold them directly)."""
        return self.credentials is not None and not hasattr(self.credentials, "refresh_needed")

    def obstore_credential(self) -> S3Credential:
        """The current credentials in obstore's form (a credential-provider callback)."""
        frozen = self._frozen()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + CREDENTIAL_TTL,
        }


def resolve(
    *,
    endpoint_url: str | None,
    region: str | None,
    path_style: bool | None,
    profile: str | None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
) -> Connection:
    """Resolve endpoint, region, addressing style and credentials.

    Args:
        endpoint_url: Explicit endpoint; else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
        region: Explicit region; else the profile's or `AWS_REGION`, else us-east-1.
        path_style: Explicit choice; else path-style exactly when a custom endpoint is used
            (S3-compatible stores rarely have wildcard DNS).
        profile: A profile of the shared config files; else `AWS_PROFILE` or the default.
        access_key_id: Explicit credentials, instead of the chain (with `secret_access_key`).
        secret_access_key: The secret of `access_key_id`.
        session_token: The token of temporary explicit credentials.
    """
    import botocore.session  # type: ignore[import-untyped]  # noqa: PLC0415 (slow import)

    session = botocore.session.Session(profile=profile)
    if access_key_id and secret_access_key:
        session.set_credentials(access_key_id, secret_access_key, session_token)
    endpoint = (
        endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    if endpoint is not None:
        scheme = urlsplit(endpoint).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"endpoint url must start with http:// or https://: {endpoint!r}")
        endpoint = endpoint.rstrip("/")
    resolved_region = region or session.get_config_variable("region") or DEFAULT_REGION
    credentials = session.get_credentials()
    return Connection(
        endpoint_url=endpoint,
        region=resolved_region,
        path_style=(endpoint is not None) if path_style is None else path_style,
        credentials=credentials,
        session=session,
    )
