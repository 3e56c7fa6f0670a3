"""Every route of the control API, on a real daemon's socket: bodies, statuses, the error shape."""

from __future__ import annotations

import itertools
import json
import os
import stat
from typing import Any

from api_daemon import DEADLINE, RunningDaemon, policy_body, refused, wait_for

from fsreplica.daemon.client import segment

JSON = {"Content-Type": "application/json"}


def assert_error(body: Any) -> None:
    """The shape of every error: {"error": one line, "detail": anything}."""
    assert set(body) == {"error", "detail"}, body
    assert isinstance(body["error"], str)
    assert body["error"]
    assert "\n" not in body["error"]
    assert "Traceback" not in json.dumps(body)


class TestPolicies:
    """GET/POST /policies, GET/PUT/PATCH/DELETE /policies/{id}."""

    def test_list_and_get(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        listed = api.get("/policies")
        docs = next(p for p in listed if p["id"] == "docs")
        assert docs["source"] == str(shared_daemon.src)
        assert docs["scan_interval"] == 3600.0
        assert api.get("/policies/docs") == docs

    def test_add_replace_patch_delete(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        body = policy_body(shared_daemon, "crud", exclude=["*.tmp"], transfers=2)
        status, _, added = shared_daemon.raw(
            "POST", "/api/v1/policies", json.dumps(body).encode(), headers=JSON
        )
        assert status == 201, added
        assert (added["id"], added["exclude"], added["transfers"]) == ("crud", ["*.tmp"], 2)
        assert added["enabled"] is True
        assert api.get("/policies/crud") == added
        assert "crud" in [p["id"] for p in api.get("/policies")]

        replaced = api.put("/policies/crud", {**body, "transfers": 3, "exclude": []})
        assert (replaced["transfers"], replaced["exclude"]) == (3, [])

        patched = api.patch("/policies/crud", {"enabled": False, "debounce": 0.5})
        assert (patched["enabled"], patched["debounce"], patched["transfers"]) == (False, 0.5, 3)
        assert api.get("/policies/crud")["enabled"] is False

        status, _, empty = shared_daemon.raw("DELETE", "/api/v1/policies/crud")
        assert (status, empty) == (204, b"")
        assert refused(lambda: api.get("/policies/crud")).status == 404

    def test_changes_reach_the_config_file_0600_with_its_comments(
        self, shared_daemon: RunningDaemon
    ) -> None:
        api = shared_daemon.client()
        api.post("/policies", policy_body(shared_daemon, "filed"))
        text = shared_daemon.config.read_text()
        assert 'id = "filed"' in text
        assert "# fsreplica daemon config" in text
        assert "# its id" in text
        assert stat.S_IMODE(os.stat(shared_daemon.config).st_mode) == 0o600
        api.delete("/policies/filed")
        assert 'id = "filed"' not in shared_daemon.config.read_text()

    def test_put_adds_a_missing_policy(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        put = api.put("/policies/put-new", policy_body(shared_daemon, "put-new"))
        assert api.get("/policies/put-new") == put
        api.delete("/policies/put-new")


class TestPolicyErrors:
    """404, 409, 422 and 400, each as {"error", "detail"}."""

    def test_unknown_policy_is_404_on_every_route(self, shared_daemon: RunningDaemon) -> None:
        for method, path, body in [
            ("GET", "/api/v1/policies/nope", None),
            ("PATCH", "/api/v1/policies/nope", b'{"enabled": false}'),
            ("DELETE", "/api/v1/policies/nope", None),
            ("POST", "/api/v1/policies/nope/sync", None),
            ("GET", "/api/v1/policies/nope/status", None),
            ("GET", "/api/v1/jobs/nope", None),
        ]:
            status, headers, answer = shared_daemon.raw(method, path, body, headers=JSON)
            assert status == 404, (method, path, answer)
            assert headers["content-type"] == "application/json"
            assert_error(answer)

    def test_an_existing_id_is_409(self, shared_daemon: RunningDaemon) -> None:
        body = json.dumps(policy_body(shared_daemon, "docs")).encode()
        status, _, answer = shared_daemon.raw("POST", "/api/v1/policies", body, headers=JSON)
        assert status == 409
        assert_error(answer)
        assert "docs" in answer["error"]

    def test_invalid_bodies_are_422_naming_the_field(self, shared_daemon: RunningDaemon) -> None:
        good = policy_body(shared_daemon, "bad")
        for body, field in [
            ({k: v for k, v in good.items() if k != "destination"}, "destination"),
            ({**good, "enabeld": False}, "enabeld"),
            ({**good, "transfers": "many"}, "transfers"),
            ({**good, "exclude": "*.log"}, "exclude"),
        ]:
            status, _, answer = shared_daemon.raw(
                "POST", "/api/v1/policies", json.dumps(body).encode(), headers=JSON
            )
            assert status == 422, (body, answer)
            assert_error(answer)
            assert field in answer["error"], answer

    def test_a_bad_id_is_422(self, shared_daemon: RunningDaemon) -> None:
        body = json.dumps(policy_body(shared_daemon, "Bad Id")).encode()
        status, _, answer = shared_daemon.raw("POST", "/api/v1/policies", body, headers=JSON)
        assert status == 422
        assert_error(answer)
        status, _, answer = shared_daemon.raw("GET", "/api/v1/policies/Bad%20Id")
        assert status == 422
        assert_error(answer)

    def test_a_body_that_is_not_json_is_400(self, shared_daemon: RunningDaemon) -> None:
        status, _, answer = shared_daemon.raw(
            "POST", "/api/v1/policies", b'{"id": "x",', headers=JSON
        )
        assert status == 400
        assert_error(answer)

    def test_put_with_another_id_in_the_body_is_422(self, shared_daemon: RunningDaemon) -> None:
        body = json.dumps(policy_body(shared_daemon, "other")).encode()
        status, _, answer = shared_daemon.raw("PUT", "/api/v1/policies/docs", body, headers=JSON)
        assert status == 422
        assert_error(answer)
        assert shared_daemon.client().get("/policies/docs")["source"] == str(shared_daemon.src)

    def test_patch_refuses_the_id_and_unknown_fields(self, shared_daemon: RunningDaemon) -> None:
        for body in (b'{"id": "renamed"}', b'{"enabled": "perhaps"}', b'{"nope": 1}'):
            status, _, answer = shared_daemon.raw(
                "PATCH", "/api/v1/policies/docs", body, headers=JSON
            )
            assert status == 422, answer
            assert_error(answer)

    def test_unknown_routes_and_methods(self, shared_daemon: RunningDaemon) -> None:
        status, _, answer = shared_daemon.raw("GET", "/api/v1/nothing")
        assert status == 404
        assert_error(answer)
        status, headers, answer = shared_daemon.raw("DELETE", "/api/v1/status")
        assert status == 405
        assert_error(answer)
        assert headers["allow"] == "GET"


class TestJobsStatusEvents:
    """Sync jobs, status, the events' long poll, reload, health, metrics, the document."""

    def test_sync_answers_202_with_a_job_that_finishes(self, shared_daemon: RunningDaemon) -> None:
        (shared_daemon.src / "for-the-job.txt").write_text("job")
        status, _, job = shared_daemon.raw("POST", "/api/v1/policies/docs/sync")
        assert status == 202, job
        assert (job["policy"], job["state"] in ("queued", "running", "done")) == ("docs", True)
        api = shared_daemon.client()
        path = f"/jobs/{segment(job['id'])}"
        wait_for(lambda: api.get(path)["state"] in ("done", "failed"), "the job to finish")
        finished = api.get(path)
        assert finished["state"] == "done", finished
        assert finished["result"]
        assert (shared_daemon.dst / "for-the-job.txt").read_text() == "job"

    def test_sync_all(self, shared_daemon: RunningDaemon) -> None:
        status, _, jobs = shared_daemon.raw("POST", "/api/v1/sync")
        assert status == 202
        assert "docs" in [job["policy"] for job in jobs]

    def test_status(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        status = api.get("/status")
        assert status["config"].endswith("config.toml")
        assert isinstance(status["ready"], bool)
        docs = next(p for p in status["policies"] if p["id"] == "docs")
        assert api.get("/policies/docs/status")["id"] == "docs"
        assert docs["state"] in ("starting", "reconciling", "live", "catching-up")

    def test_events_long_poll(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        now = api.get("/events?since=0")
        since = now["next"]
        (shared_daemon.src / "event.txt").write_text("e")
        seen: list[dict[str, Any]] = []

        def put_seen() -> bool:
            nonlocal since
            page = api.get(f"/events?since={since}&timeout=5", timeout=DEADLINE)
            seen.extend(page["events"])
            since = page["next"]
            return any(e["kind"] == "put" and e["path"] == "event.txt" for e in seen)

        wait_for(put_seen, "the put event")
        ids = [event["id"] for event in seen]
        assert ids == sorted(ids)
        assert all(b - a == 1 for a, b in itertools.pairwise(ids))

    def test_a_long_poll_without_events_returns_empty(self, shared_daemon: RunningDaemon) -> None:
        api = shared_daemon.client()
        since = api.get("/events?since=0")["next"]
        page = api.get(f"/events?since={since}&timeout=0.2")
        assert page["events"] == []

    def test_event_parameters_are_bounded(self, shared_daemon: RunningDaemon) -> None:
        for query in ("timeout=61", "timeout=-1", "since=-1", "limit=0", "since=x"):
            status, _, answer = shared_daemon.raw("GET", f"/api/v1/events?{query}")
            assert status == 422, query
            assert_error(answer)

    def test_reload_applies_a_hand_edit(self, shared_daemon: RunningDaemon) -> None:
        source = shared_daemon.root / "src-by-hand"
        source.mkdir()
        with shared_daemon.config.open("a") as config:
            config.write(
                f'\n[[policy]]\nid = "by-hand"\nsource = "{source}"\n'
                f'destination = "{shared_daemon.root / "dst-by-hand"}"\n'
            )
        status, _, changes = shared_daemon.raw("POST", "/api/v1/reload")
        assert status == 200, changes
        assert changes["added"] == ["by-hand"]
        assert shared_daemon.client().get("/policies/by-hand")["source"] == str(source)
        shared_daemon.client().delete("/policies/by-hand")

    def test_health_and_openapi(self, shared_daemon: RunningDaemon) -> None:
        status, _, health = shared_daemon.raw("GET", "/api/v1/health")
        assert (status, health["status"]) == (200, "ok")
        status, _, document = shared_daemon.raw("GET", "/api/v1/openapi.json")
        assert status == 200
        assert document["openapi"].startswith("3.")
        paths = set(document["paths"])
        assert {
            "/api/v1/policies",
            "/api/v1/policies/{policy_id}",
            "/api/v1/policies/{policy_id}/sync",
            "/api/v1/policies/{policy_id}/status",
            "/api/v1/sync",
            "/api/v1/jobs/{job_id}",
            "/api/v1/status",
            "/api/v1/events",
            "/api/v1/health",
            "/api/v1/reload",
        } <= paths

    def test_metrics(self, shared_daemon: RunningDaemon) -> None:
        status, headers, body = shared_daemon.raw("GET", "/api/v1/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        assert b'policy="docs"' in body
