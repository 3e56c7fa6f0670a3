"""Fuzz the OpenAPI document against a real daemon (schemathesis): no 5xx, answers as documented.

Requests go to the daemon's TCP listener (loopback, with its token). Policies the fuzzer makes
are kept inside the test's directory and disabled: a generated source of "/" must not start a
replication of the whole machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_daemon import RunningDaemon, running
from hypothesis import HealthCheck, Phase, given, settings

from fsreplica.daemon.api import openapi_document

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 8
"""Cases per operation: the whole run stays under the per-test timeout on a busy machine."""


def contained(daemon: RunningDaemon, case: Any) -> None:
    """Keep a generated policy's paths inside the test's directory, and the policy disabled."""
    body = case.body
    if case.method not in ("POST", "PUT", "PATCH") or not isinstance(body, dict):
        return
    if case.method != "PATCH" or "source" in body or "destination" in body:
        body["source"] = str(daemon.root / "fuzz-src")
        body["destination"] = str(daemon.root / "fuzz-dst")
    if case.method == "PUT":
        body["id"] = case.path_parameters["policy_id"]  # else only the id mismatch is seen
    if "state" in body:
        body["state"] = None
    body["enabled"] = False


def test_the_openapi_document_holds_against_the_daemon(tmp_path: Path) -> None:
    from schemathesis.checks import (  # noqa: PLC0415
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    with running(tmp_path, tcp=True) as daemon:
        (daemon.root / "fuzz-src").mkdir()
        headers = {"Authorization": f"Bearer {daemon.token}"}
        status, _, served = daemon.raw("GET", "/api/v1/openapi.json", headers=headers, tcp=True)
        assert status == 200
        # The document docs/api.md is generated from is the one the daemon serves.
        assert json.loads(json.dumps(openapi_document())) == served
        schema = schemathesis.openapi.from_dict(served)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 14
        base_url = f"http://{daemon.tcp}"
        checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
        seen: set[tuple[str, str, int]] = set()

        def fuzz(case: Any) -> None:
            known = case.path_parameters or {}
            if len(known.get("policy_id", "")) % 2:
                known["policy_id"] = "docs"  # half the time a policy that exists (or did)
            if case.path.endswith("/events"):
                case.query = {**(case.query or {}), "timeout": 0}
            contained(daemon, case)
            response = case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
            seen.add((case.method, case.path, response.status_code))

        fuzz_settings = settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        for operation in operations:

            def one(case: Any) -> None:  # a function of its own: hypothesis decorates it once
                fuzz(case)

            fuzz_settings(given(case=operation.as_strategy())(one))()
        # Every operation was called, and some answered 2xx (the fuzzer got past validation).
        assert {(method, path) for method, path, _ in seen} == {
            (operation.method.upper(), operation.path) for operation in operations
        }
        assert daemon.client().get("/health")["status"] == "ok"
