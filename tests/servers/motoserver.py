"""moto's S3 server, in this process, started once and stopped at exit.

It is an emulator: good for the API's shape and for fault injection (it can be stopped and
started again on the same port), not for speed figures.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import uuid
from collections.abc import Iterator

import boto3
import obstore
from botocore.config import Config
from moto.server import ThreadedMotoServer
from obstore.store import MemoryStore

ACCESS_KEY = "motoaccess"
SECRET_KEY = "motosecret-do-not-print"
REGION = "us-east-1"

_lock = threading.Lock()
_server: ThreadedMotoServer | None = None
_endpoint: str | None = None


def warm_obstore() -> None:
    """Create obstore's process-wide runtime now, outside any test.

    Its tokio runtime owns an eventfd for the life of the process; created inside a test, the
    suite's leak guard would blame that test for it.
    """
    obstore.put(MemoryStore(), "warm", b"")


# At import (test collection), before any test's leak guard takes its snapshot.
warm_obstore()


def endpoint() -> str:
    """The URL of the shared moto server (started on first call)."""
    global _server, _endpoint
    with _lock:
        if _server is None:
            _server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            _server.start()
            host, port = _server.get_host_and_port()
            _endpoint = f"http://{host}:{port}"
            atexit.register(stop)
        assert _endpoint is not None
        return _endpoint


def stop() -> None:
    """Stop the shared server; idempotent."""
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.stop()


@contextlib.contextmanager
def outage() -> Iterator[None]:
    """Stop the shared server for the block, then start it again on the same port.

    While stopped, the port is closed: a client gets "connection refused" at once, as from a
    server that is down. Its buckets and objects live in this process and are kept.
    """
    global _server
    endpoint()
    with _lock:
        server = _server
        assert server is not None
        host, port = server.get_host_and_port()
        server.stop()
        assert server._server is not None
        server._server.server_close()  # stop() leaves the socket listening: refuse, not hang
    try:
        yield
    finally:
        with _lock:
            _server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
            _server.start()


def client(endpoint_url: str, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
    """A boto3 client for checking what is in a bucket (tests only)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
    )


def new_bucket(
    endpoint_url: str, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> str:
    """Create a bucket with a fresh name and return the name."""
    name = f"fsr-{uuid.uuid4().hex[:20]}"
    client(endpoint_url, access_key=access_key, secret_key=secret_key).create_bucket(Bucket=name)
    return name


def empty_bucket(
    endpoint_url: str, bucket: str, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> None:
    """Delete every object, unfinished upload and then the bucket itself (best effort)."""
    s3 = client(endpoint_url, access_key=access_key, secret_key=secret_key)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=bucket)
    except Exception:
        pass
    finally:
        s3.close()
