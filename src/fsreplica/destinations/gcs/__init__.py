"""Google Cloud Storage as a destination, through the JSON API (google-cloud-storage).

Open one with `open_destination("gs://bucket/prefix")` or, with every option at its default::

    from fsreplica.destinations.gcs import GCSDestination

    with GCSDestination.from_url(
        "gs://bucket/prefix",
        endpoint_url=None,  # else STORAGE_EMULATOR_HOST; e.g. "http://127.0.0.1:4443"
        credentials_file=None,  # else GOOGLE_APPLICATION_CREDENTIALS, then gcloud's ADC
        project=None,  # else GOOGLE_CLOUD_PROJECT (objects need none)
        resumable_threshold=16 * 1024 * 1024,
        chunk_size=16 * 1024 * 1024,
        conditional=None,  # if_generation_match; None = yes unless preflight says no
    ) as destination:
        print(destination.url)  # gs://bucket/prefix

Credentials are found as Google's tools find them (see `_config`), except that the metadata
server is asked only on a machine that is a Compute Engine VM. `from_url` calls `preflight()`
unless told not to: it turns a missing bucket, refused credentials or an unreachable endpoint
into one line (`gs://bucket: bucket does not exist`).

Keys are the POSIX relative paths under the prefix, with the encoding of `fsreplica._names.to_key`
for names that are not UTF-8 or hold a control character, as on S3. Each object carries `mtime`
and `mode` (rclone's encoding), `sha256` and the source ctime as custom metadata, which the JSON
API lists with each object: a listing needs no request per object and no cache.

The JSON API, not the XML API that obstore's GCS store writes through: it is the API Google's
own clients use, and the one the GCS emulator (fake-gcs-server) serves in full, so every path
here is tested against a real server. Conditional writes go by generation.
"""

from fsreplica.destinations.gcs._destination import GCSDestination
from fsreplica.errors import PreflightError

__all__ = ["GCSDestination", "PreflightError"]
