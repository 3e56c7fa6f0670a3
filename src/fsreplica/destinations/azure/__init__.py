"""Azure Blob Storage (and Azurite, its emulator) as a destination.

Open one with `open_destination("az://container/prefix")` or, with every option at its default::

    from fsreplica.destinations.azure import AzureDestination

    with AzureDestination.from_url(
        "az://container/prefix",
        endpoint_url=None,  # else the connection string's, else AZURE_STORAGE_ENDPOINT
        account_name=None,  # else AZURE_STORAGE_ACCOUNT_NAME (or the connection string's)
        account_key=None,  # else AZURE_STORAGE_ACCOUNT_KEY
        sas_token=None,  # else AZURE_STORAGE_SAS_TOKEN
        connection_string=None,  # else AZURE_STORAGE_CONNECTION_STRING
        multipart_threshold=16 * 1024 * 1024,
        part_size=8 * 1024 * 1024,
        upload_concurrency=4,
        conditional=None,  # If-None-Match / If-Match; None = yes unless preflight says no
    ) as destination:
        print(destination.url)  # az://container/prefix

Credentials are found as Azure's own tools find them (see `_config`): a connection string, an
account name with its key or a SAS token, or the account name alone with the default credential
chain (service principal, workload identity, Azure CLI, managed identity). `from_url` calls
`preflight()` unless told not to: it turns a missing container, refused credentials or an
unreachable endpoint into one line (`az://container: container does not exist`).

Blob names are the POSIX relative paths under the prefix; a name that is not UTF-8, holds a
control character or a backslash, or has a path segment ending in '.' is stored under the
reversible encoding of `fsreplica._names.to_blob_key` and listed under its name again. Each blob
carries `mtime` and `mode` (rclone's encoding), `sha256` and the source ctime
(`fsreplica_ctime_ns`: Azure metadata names are identifiers) as metadata, so `stat` is one HEAD.
The data path is obstore (the same as for S3, shared in `fsreplica.destinations._store`); files
above the threshold go as blocks and a block list, with bounded memory. Renames are server-side
copies; conditional writes use If-None-Match / If-Match on the ETag. Only a metadata update (a
file touched, not rewritten) goes through `azure-storage-blob`, imported when first needed.
"""

from fsreplica.destinations.azure._destination import AzureDestination
from fsreplica.errors import PreflightError

__all__ = ["AzureDestination", "PreflightError"]
