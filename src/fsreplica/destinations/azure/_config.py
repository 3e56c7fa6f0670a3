"""Where to connect and with which credentials, resolved once the way Azure's own tools do.

In order, the first that applies:

1. what the program passed (`account_name` with `account_key` or `sas_token`, or a
   `connection_string`);
2. `AZURE_STORAGE_CONNECTION_STRING` (`AccountName=...;AccountKey=...;BlobEndpoint=...`, a
   `SharedAccessSignature=...`, or `UseDevelopmentStorage=true` for a local Azurite);
3. `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY` or `AZURE_STORAGE_SAS_TOKEN`;
4. `AZURE_STORAGE_ACCOUNT_NAME` alone: the default credential chain of obstore's Azure client
   (a service principal in `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET` / `AZURE_TENANT_ID`,
   workload identity, the Azure CLI with `AZURE_USE_AZURE_CLI=true`, then managed identity).

The endpoint is the argument (`--endpoint-url`: an emulator, a sovereign cloud), else the
connection string's `BlobEndpoint` (or its `EndpointSuffix`), else `AZURE_STORAGE_ENDPOINT`, else
`https://ACCOUNT.blob.core.windows.net`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from fsreplica.errors import PreflightError

# Azurite's well-known development account, which `UseDevelopmentStorage=true` names (published
# by Microsoft; the same in every installation).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEV_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1"


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed `az://container/prefix` URL.

    Attributes:
        container: The container name.
        prefix: The blob name prefix, '' or ending with '/'.
    """

    container: str
    prefix: str

    @property
    def url(self) -> str:
        """The display form, `az://container/prefix` without a trailing slash."""
        return f"az://{self.container}/{self.prefix}".rstrip("/")


def parse_url(url: str) -> Location:
    """Parse `az://container[/prefix]`.

    Raises:
        ValueError: Not an az:// URL, no container, or credentials or a query in the URL.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "az" or not parts.netloc:
        raise ValueError(f"not an az url (expected az://container/prefix): {url!r}")
    if "@" in parts.netloc or parts.query or parts.fragment:
        # A SAS token in a URL ends up in shell history and logs: refuse rather than strip.
        raise ValueError("az url must be az://container/prefix, without credentials or query")
    prefix = "/".join(p for p in parts.path.split("/") if p)
    return Location(parts.netloc, f"{prefix}/" if prefix else "")


@dataclass(frozen=True, slots=True)
class Connection:
    """The account, its blob endpoint and the credentials to use.

    Attributes:
        account: The storage account name.
        endpoint_url: The blob endpoint (`http://127.0.0.1:10000/devstoreaccount1`), or None for
            `https://ACCOUNT.blob.core.windows.net`.
        account_key: The shared key, or None.
        sas_token: A shared access signature (without the leading '?'), or None.
        source: Where the credentials came from, for messages ("AZURE_STORAGE_ACCOUNT_KEY").
    """

    account: str
    endpoint_url: str | None
    account_key: str | None = None
    sas_token: str | None = None
    source: str = "the default azure credential chain"

    @property
    def blob_endpoint(self) -> str:
        """The endpoint requests go to."""
        return self.endpoint_url or f"https://{self.account}.blob.core.windows.net"

    @property
    def uses_chain(self) -> bool:
        """Whether the credentials come from the default chain (no key, no SAS)."""
        return self.account_key is None and self.sas_token is None

    def secrets(self) -> tuple[str, ...]:
        """The secret strings in use (to scrub them from any text shown)."""
        return tuple(s for s in (self.account_key, self.sas_token) if s)

    def __repr__(self) -> str:
        return f"Connection({self.account!r}, {self.endpoint_url!r}, credentials={self.source!r})"


def parse_connection_string(text: str) -> dict[str, str]:
    """The `Name=value` pairs of a connection string (names as written; values may hold '=')."""
    pairs: dict[str, str] = {}
    for part in text.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name:
            pairs[name.strip()] = value.strip()
    return pairs


def _from_connection_string(text: str, source: str, where: str) -> Connection:
    pairs = {name.lower(): value for name, value in parse_connection_string(text).items()}
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        proxy = pairs.get("developmentstorageproxyuri")
        dev = f"{proxy.rstrip('/')}:10000/{DEV_ACCOUNT}" if proxy else DEV_ENDPOINT
        return Connection(DEV_ACCOUNT, dev, DEV_KEY, source=source)
    account = pairs.get("accountname")
    endpoint = pairs.get("blobendpoint")
    if not endpoint and account and pairs.get("endpointsuffix"):
        protocol = pairs.get("defaultendpointsprotocol", "https")
        endpoint = f"{protocol}://{account}.blob.{pairs['endpointsuffix']}"
    if not account and endpoint:
        account = _account_of(endpoint)
    if not account:
        raise PreflightError(where, f"no AccountName in {source}")
    sas = pairs.get("sharedaccesssignature")
    return Connection(
        account,
        endpoint or None,
        pairs.get("accountkey") or None,
        sas.lstrip("?") if sas else None,
        source=source,
    )


def _account_of(endpoint: str) -> str | None:
    """The account named by a blob endpoint: its first host label, or its first path segment."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if host.replace(".", "").isdigit() or host == "localhost":
        segment = parts.path.strip("/").split("/")[0]
        return segment or None
    return host.split(".")[0] or None


def check_endpoint(endpoint: str) -> str:
    """`endpoint` without a trailing '/'.

    Raises:
        ValueError: Not an http:// or https:// URL.
    """
    if urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError(f"endpoint url must start with http:// or https://: {endpoint!r}")
    return endpoint.rstrip("/")


def resolve(
    *,
    where: str,
    endpoint_url: str | None,
    account_name: str | None = None,
    account_key: str | None = None,
    sas_token: str | None = None,
    connection_string: str | None = None,
) -> Connection:
    """Resolve account, endpoint and credentials (see the module docstring for the order).

    Args:
        where: The destination's URL, for messages.
        endpoint_url: An explicit blob endpoint.
        account_name: An explicit account.
        account_key: The explicit account's shared key.
        sas_token: A shared access signature for the explicit account.
        connection_string: An explicit connection string (instead of all of the above).

    Raises:
        ValueError: A malformed endpoint.
        PreflightError: No account is named anywhere, or a connection string names none.
    """
    env = os.environ
    if connection_string:
        found = _from_connection_string(connection_string, "the connection string", where)
    elif account_name and (account_key or sas_token):
        found = Connection(
            account_name,
            None,
            account_key or None,
            (sas_token or "").lstrip("?") or None,
            source="the given credentials",
        )
    elif env.get("AZURE_STORAGE_CONNECTION_STRING"):
        found = _from_connection_string(
            env["AZURE_STORAGE_CONNECTION_STRING"], "AZURE_STORAGE_CONNECTION_STRING", where
        )
    else:
        account = account_name or env.get("AZURE_STORAGE_ACCOUNT_NAME")
        if not account:
            raise PreflightError(
                where,
                "no storage account (set AZURE_STORAGE_ACCOUNT_NAME, or "
                "AZURE_STORAGE_CONNECTION_STRING)",
            )
        key = env.get("AZURE_STORAGE_ACCOUNT_KEY") or env.get("AZURE_STORAGE_KEY")
        sas = env.get("AZURE_STORAGE_SAS_TOKEN")
        if key:
            found = Connection(account, None, key, source="AZURE_STORAGE_ACCOUNT_KEY")
        elif sas:
            found = Connection(account, None, None, sas.lstrip("?"), "AZURE_STORAGE_SAS_TOKEN")
        else:
            found = Connection(account, None)
    endpoint = endpoint_url or found.endpoint_url or env.get("AZURE_STORAGE_ENDPOINT") or None
    if endpoint is not None:
        endpoint = check_endpoint(endpoint)
    return Connection(
        found.account, endpoint, found.account_key, found.sas_token, source=found.source
    )
