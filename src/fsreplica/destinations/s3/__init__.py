"""S3 and S3-compatible object stores (AWS, Ceph RGW, MinIO, ...) as a destination.

Open one with `open_destination("s3://bucket/prefix")` or, with every option at its default::

    from fsreplica.destinations.s3 import S3Destination

    with S3Destination.from_url(
        "s3://bucket/prefix",
        endpoint_url=None,  # else AWS_ENDPOINT_URL(_S3); e.g. "http://127.0.0.1:7480"
        region=None,  # else the AWS chain's, else us-east-1
        path_style=None,  # default: path-style exactly when an endpoint is given
        profile=None,  # else AWS_PROFILE / the default chain
        multipart_threshold=16 * 1024 * 1024,
        part_size=8 * 1024 * 1024,
        upload_concurrency=4,
        conditional=None,  # If-None-Match / If-Match; None = yes unless preflight says no
    ) as destination:
        print(destination.url)  # s3://bucket/prefix

Credentials are the keys given to `from_url`, else those of the standard AWS chain, found as the
AWS CLI finds them (see `_config.resolve`): keys in `AWS_ACCESS_KEY_ID` and
`AWS_SECRET_ACCESS_KEY` with a known region are read directly; a profile, a config file that may
name the region, or any other link of the chain (SSO, web identity, container and instance roles)
is resolved by botocore. `from_url` calls `preflight()` unless told not to: it turns a missing
bucket, wrong credentials or an unreachable endpoint into one line
(`s3://bucket: access denied (check AWS_ACCESS_KEY_ID)`).

Keys are the POSIX relative paths under the prefix; a name that is not UTF-8 or holds a control
character is stored under the reversible encoding of `fsreplica._names.to_key` (rclone's
InvalidUtf8 quoting) and listed under its name again. Each object carries `mtime` and `mode`
(rclone's encoding), `sha256` and the source ctime as user metadata, so `stat` is one HEAD.
S3 lists no metadata: `list` pays a HEAD for each object that the metadata cache (`_store.cache`,
kept between runs) does not hold with the same ETag and size.

obstore (Rust, object_store) carries the data path: a request costs less latency and a fraction
of the client CPU that boto3 spends (figures in docs/benchmarks.md). botocore stays for what
obstore lacks: the full credential chain, listing and aborting multipart uploads, metadata
replacement, and saying precisely why a preflight failed. It is imported only when needed: keys
from the environment and a preflight that passes (checked through obstore) do without it, and
stale uploads are swept once an hour.
"""

from fsreplica.destinations.s3._destination import S3Destination
from fsreplica.errors import PreflightError

__all__ = ["PreflightError", "S3Destination"]
