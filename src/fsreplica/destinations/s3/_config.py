"""Where to connect and with which credentials: the standard AWS chain, resolved once.

botocore resolves credentials and region exactly as the AWS CLI does (environment, shared
config and credentials files, profiles, SSO, web identity, container and instance roles), so
users configure fsreplica the way they configure every other S3 tool. The endpoint comes from the
argument, then `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`.

When the answer is plain without botocore (keys given or in the environment, which come first in
its chain, and a region given, in `AWS_DEFAULT_REGION` or in no config file at all) it is not
imported: importing it and loading its S3 model costs a large share of a no-change sync's CPU
(see docs/benchmarks.md).
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


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """Keys that never change, in the shape of botocore's credentials.

    Attributes:
        access_key: The access key id.
        secret_key: The secret access key.
        token: The session token of temporary keys, or None.
    """

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> StaticCredentials:
        """Themselves (botocore's credentials answer a frozen copy)."""
        return self

    def __repr__(self) -> str:
        return f"StaticCredentials({self.access_key!r}, ***)"


@dataclass(slots=True)
class Connection:
    """Everything needed to open clients for one bucket.

    Attributes:
        endpoint_url: The S3 endpoint, or None for AWS's own.
        region: The signing region.
        path_style: Address buckets as `endpoint/bucket` instead of `bucket.endpoint`.
        credentials: botocore's credentials object or `StaticCredentials`, or None to send
            unsigned requests.
        profile: The profile asked for, if any.
        botocore_session: The botocore session that resolved them, or None when they were
            resolved without botocore (see `session`).
    """

    endpoint_url: str | None
    region: str
    path_style: bool
    credentials: Any
    profile: str | None = None
    botocore_session: Any = None

    @property
    def session(self) -> Any:
        """A botocore session holding these credentials (created on first use)."""
        if self.botocore_session is None:
            import botocore.session  # type: ignore[import-untyped]  # noqa: PLC0415 (slow import)

            session = botocore.session.Session(profile=self.profile)
            if self.credentials is not None:
                frozen = self.credentials.get_frozen_credentials()
                session.set_credentials(frozen.access_key, frozen.secret_key, frozen.token)
            self.botocore_session = session
        return self.botocore_session

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
    style = (endpoint is not None) if path_style is None else path_style
    quick = _without_botocore(
        profile=profile,
        region=region,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        session_token=session_token,
    )
    if quick is not None:
        credentials, resolved_region = quick
        return Connection(endpoint, resolved_region, style, credentials, profile)
    import botocore.session  # noqa: PLC0415 (slow import)

    session = botocore.session.Session(profile=profile)
    if access_key_id and secret_access_key:
        session.set_credentials(access_key_id, secret_access_key, session_token)
    resolved_region = region or session.get_config_variable("region") or DEFAULT_REGION
    return Connection(endpoint, resolved_region, style, session.get_credentials(), profile, session)


def _without_botocore(
    *,
    profile: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    session_token: str | None,
) -> tuple[StaticCredentials, str] | None:
    """(credentials, region) when botocore would surely find these; None to ask botocore.

    Explicit keys, then `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, are the first links of
    botocore's chain (with `AWS_SECURITY_TOKEN` or `AWS_SESSION_TOKEN`); a profile, keys with
    an expiry time or a region that a config file may hold are left to botocore.
    """
    env = os.environ
    if profile is not None or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE"):
        return None
    if access_key_id and secret_access_key:
        credentials = StaticCredentials(access_key_id, secret_access_key, session_token or None)
    elif (
        env.get("AWS_ACCESS_KEY_ID")
        and env.get("AWS_SECRET_ACCESS_KEY")
        and not env.get("AWS_CREDENTIAL_EXPIRATION")
    ):
        token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
        credentials = StaticCredentials(
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], token
        )
    else:
        return None
    region = region or env.get("AWS_DEFAULT_REGION") or None
    if region is None:
        config = env.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config")
        if os.path.exists(os.path.expanduser(config)):
            return None  # its default profile may name a region
        region = DEFAULT_REGION
    return credentials, region
