"""The daemon's control API: HTTP/1.1 and JSON under `/api/v1`, its OpenAPI document from the code.

`make_app` builds an ASGI application over any `Control`; `fsreplica.daemon.server` serves it on
the Unix socket (and, with a token, on TCP). The request and response bodies are the dataclasses
of `fsreplica.daemon.control`, so the OpenAPI document is what the code validates and returns.

Every error is JSON `{"error": "<one line>", "detail": <anything or null>}`: a `ControlError`
with its own status (404, 409, 422), 400 for a body that is not JSON, 422 for one that does not
fit the schema, 500 (logged with its traceback, never sent) for a bug. Control calls may block
(a long poll waits for events), so they run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Body, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from fsreplica import __version__
from fsreplica.daemon import dashboard
from fsreplica.daemon.api_models import (
    ApiError,
    Health,
    PolicyBody,
    PolicyChanges,
    attribute_docs,
)
from fsreplica.daemon.control import (
    POLICY_ID,
    Control,
    DaemonStatus,
    Event,
    EventPage,
    Failure,
    Job,
    Policy,
    PolicyStatus,
)
from fsreplica.errors import ConfigError, ControlError, FsreplicaError, InvalidPolicy

PREFIX = "/api/v1"
MAX_EVENT_WAIT = 60.0
"""Longest long poll of `GET /events`, in seconds (a client asks again for more)."""
MAX_EVENTS = 1000
CONTROL_THREADS = 8
"""Control calls served at once (each holds a worker thread)."""
EVENT_THREADS = 32
"""Long polls waiting at once; more wait for a free thread (their own limit, so that waiting
clients never starve the other routes)."""

Metrics = Callable[..., tuple[bytes, str]]
"""Renders the Prometheus exposition: (body, content type); called with the request's Accept
header when it takes an argument (to choose OpenMetrics), else with none. An object with such a
`render` method (`DaemonMetrics`) is taken too."""

logger = logging.getLogger(__name__)
T = TypeVar("T")

PolicyId = Annotated[str, Path(pattern=f"^{POLICY_ID.pattern}$", description="The policy's id")]


def _policy(body: Any) -> Policy:
    """The policy a request body describes, read by the config file's rules.

    Raises:
        InvalidPolicy: A field the schema lets through and the daemon refuses (a relative path).
    """
    from fsreplica.daemon.config import policy_from_mapping  # noqa: PLC0415 - the manager's

    return policy_from_mapping(body.model_dump())


def _error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    meaning = {
        400: "The request is malformed (a body that is not JSON) or refused",
        401: "No valid bearer token (TCP listener only)",
        404: "No such policy or job",
        409: "The change conflicts with the daemon's policies",
        422: "The request or the policy does not fit (a bad id, field, type or value)",
        503: "The daemon is stopping",
    }
    return {code: {"model": ApiError, "description": meaning[code]} for code in codes}


def _error(status: int, error: str, detail: Any = None) -> JSONResponse:
    try:
        body = jsonable_encoder({"error": error, "detail": detail})
    except (TypeError, ValueError):
        body = {"error": error, "detail": str(detail)}
    return JSONResponse(body, status_code=status)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """The validation errors without their inputs (which need not be JSON, nor be shown back)."""
    return [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]


def _validation_line(detail: list[dict[str, Any]]) -> str:
    if not detail:
        return "invalid request"
    first = detail[0]
    where = ".".join(part for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(detail) - 1} more)" if len(detail) > 1 else ""
    return f"invalid request: {where}: {first['msg'].lower()}{more}"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ControlError)
    async def control_error(request: Request, exc: ControlError) -> JSONResponse:
        return _error(exc.status, exc.reason, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = _validation_detail(exc)
        if any(err["type"] == "json_invalid" for err in detail):
            return _error(400, "malformed request: the body is not JSON", detail)
        return _error(422, _validation_line(detail), detail)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail).lower())
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


def _failure(status: int, reason: str, detail: object = None) -> ControlError:
    """A ControlError answered with `status` (503 while stopping, 500 for a bug)."""
    error = ControlError(reason, detail=detail)
    error.status = status
    return error


def make_app(control: Control, *, metrics: Metrics | None = None) -> FastAPI:
    """Build the API over `control`.

    Args:
        control: The daemon (its manager), or anything implementing `Control`.
        metrics: Renders `GET /metrics`; without it, that route is absent.

    Returns:
        The ASGI application; its OpenAPI document is at `/api/v1/openapi.json`.
    """
    app = FastAPI(
        title="fsreplica daemon",
        version=__version__,
        summary="Policies, jobs, status and events of a running `fsreplica daemon`.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # the HTML pages load scripts from the network
        redoc_url=None,
    )
    _install_error_handlers(app)
    limiters: dict[str, Any] = {}

    async def call(func: Callable[..., T], *args: Any, long_poll: bool = False) -> T:
        """Run a control call in a worker thread; a failure that is not a ControlError is a bug."""
        import anyio  # noqa: PLC0415 - installed with fastapi

        name = "events" if long_poll else "control"
        if name not in limiters:
            limiters[name] = anyio.CapacityLimiter(EVENT_THREADS if long_poll else CONTROL_THREADS)
        try:
            # abandon_on_cancel: a server that stops does not wait for a long poll to time out.
            return await anyio.to_thread.run_sync(
                func, *args, limiter=limiters[name], abandon_on_cancel=long_poll
            )
        except ControlError:
            raise
        except ConfigError as exc:  # the config file is wrong (a reload) or cannot be written
            raise InvalidPolicy(str(exc), detail={"line": exc.line}) from exc
        except FsreplicaError as exc:
            logger.error("api: %s", exc)
            raise _failure(500, str(exc)) from exc
        except Exception as exc:
            logger.exception("api: internal error in %s", getattr(func, "__name__", func))
            raise _failure(500, "internal error", type(exc).__name__) from exc

    router = APIRouter(responses=_error_responses(400, 401))

    @router.get("/policies", summary="Every policy, in config order", response_model=list[Policy])
    async def list_policies() -> Any:
        return list(await call(control.policies))

    @router.post(
        "/policies",
        summary="Add a policy and start it (if enabled)",
        status_code=201,
        response_model=Policy,
        responses=_error_responses(400, 409, 422),
    )
    async def add_policy(policy: PolicyBody) -> Any:  # type: ignore[valid-type]
        return await call(control.add_policy, _policy(policy))

    @router.get(
        "/policies/{policy_id}",
        summary="One policy",
        response_model=Policy,
        responses=_error_responses(404, 422),
    )
    async def get_policy(policy_id: PolicyId) -> Any:
        return await call(control.policy, policy_id)

    @router.put(
        "/policies/{policy_id}",
        summary="Replace a policy (or add it); restarted if what it runs with changed",
        response_model=Policy,
        responses=_error_responses(400, 409, 422),
    )
    async def put_policy(policy: PolicyBody, policy_id: PolicyId) -> Any:  # type: ignore[valid-type]
        new = _policy(policy)
        if new.id != policy_id:
            raise InvalidPolicy(
                f"policy id {new.id!r} in the body differs from {policy_id!r}", detail="id"
            )
        return await call(control.replace_policy, new)

    @router.patch(
        "/policies/{policy_id}",
        summary='Change some fields of a policy (e.g. {"enabled": false})',
        response_model=Policy,
        responses=_error_responses(400, 404, 409, 422),
    )
    async def patch_policy(
        changes: Annotated[PolicyChanges, Body()],  # type: ignore[valid-type]
        policy_id: PolicyId,
    ) -> Any:
        given: Mapping[str, Any] = changes.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        return await call(control.update_policy, policy_id, given)

    @router.delete(
        "/policies/{policy_id}",
        summary="Stop a policy and remove it (its destination is left as it is)",
        status_code=204,
        response_class=Response,
        responses=_error_responses(404, 409, 422),
    )
    async def delete_policy(policy_id: PolicyId) -> Response:
        await call(control.remove_policy, policy_id)
        return Response(status_code=204)

    @router.post(
        "/policies/{policy_id}/sync",
        summary="Queue a full sync of a policy; GET /jobs/{job_id} tells how it went",
        status_code=202,
        response_model=Job,
        responses=_error_responses(404, 409, 422),
    )
    async def sync_policy(policy_id: PolicyId) -> Any:
        jobs = await call(control.trigger, policy_id)
        return jobs[0]

    @router.post(
        "/sync",
        summary="Queue a full sync of every enabled policy",
        status_code=202,
        response_model=list[Job],
        responses=_error_responses(409),
    )
    async def sync_all() -> Any:
        return list(await call(control.trigger, None))

    @router.get(
        "/jobs/{job_id}",
        summary="A sync job and its result",
        response_model=Job,
        responses=_error_responses(404, 422),
    )
    async def get_job(job_id: Annotated[str, Path(description="The job's id")]) -> Any:
        return await call(control.job, job_id)

    @router.get("/status", summary="The daemon and every policy", response_model=DaemonStatus)
    async def status() -> Any:
        return await call(control.status)

    @router.get(
        "/policies/{policy_id}/status",
        summary="How one policy is doing",
        response_model=PolicyStatus,
        responses=_error_responses(404, 422),
    )
    async def policy_status(policy_id: PolicyId) -> Any:
        return await call(control.policy_status, policy_id)

    @router.get(
        "/events",
        summary="Events after `since`, waiting up to `timeout` seconds for the first (long poll)",
        response_model=EventPage,
        responses=_error_responses(422, 503),
    )
    async def events(
        since: int = Query(
            0, ge=0, description="The `next` of the previous page (0: from the start)"
        ),
        timeout: float = Query(0.0, ge=0, le=MAX_EVENT_WAIT, description="Seconds to wait"),
        limit: int = Query(MAX_EVENTS, ge=1, le=MAX_EVENTS, description="Most events returned"),
    ) -> Any:
        def wait() -> EventPage:
            return control.events(since, timeout=timeout, limit=limit)

        waiting = asyncio.ensure_future(call(wait, long_poll=True))
        stopping = asyncio.ensure_future(_stopping(app).wait())
        await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if waiting.done():
            return waiting.result()
        waiting.cancel()  # the worker thread is abandoned; its wait ends on its own timeout
        raise _failure(503, "the daemon is stopping; ask again when it is back")

    @router.post(
        "/reload",
        summary="Re-read the config file and apply the difference",
        response_model=dict[str, list[str]],
        responses=_error_responses(400, 409, 422),
    )
    async def reload() -> Any:
        changes = await call(control.reload)
        return {key: list(ids) for key, ids in changes.items()}

    if metrics is not None:
        render: Metrics = getattr(metrics, "render", metrics)
        try:
            negotiates = bool(inspect.signature(render).parameters)
        except (TypeError, ValueError):
            negotiates = False

        @router.get(
            "/metrics",
            summary="Prometheus metrics, every series labelled by policy",
            response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        )
        async def get_metrics(request: Request) -> Response:
            args = (request.headers.get("accept"),) if negotiates else ()
            body, content_type = await call(render, *args)
            return Response(body, media_type=content_type)

        app.add_api_route("/metrics", get_metrics, include_in_schema=False)

    health_router = APIRouter()

    @health_router.get(
        "/health", summary="The daemon answers (no token needed)", response_model=Health
    )
    async def health() -> Health:
        return Health(version=__version__)

    app.include_router(router, prefix=PREFIX)
    app.include_router(health_router, prefix=PREFIX)
    _add_security(app)
    dashboard.mount(app)
    return app


def _add_security(app: FastAPI) -> None:
    """Finish the document FastAPI builds: the TCP listener's token, the answers' field docs."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _finish(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_ANSWERS = (Policy, PolicyStatus, DaemonStatus, Job, Failure, Event, EventPage)


def _finish(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {})
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Only on the TCP listener: the token of its token file.",
        }
    }
    for path, operations in schema.get("paths", {}).items():
        if path == f"{PREFIX}/health":
            continue
        for operation in operations.values():
            operation["security"] = [{}, {"bearer": []}]
    schemas = components.get("schemas", {})
    for cls in _ANSWERS:
        if cls.__name__ not in schemas:
            continue
        described = schemas[cls.__name__]
        described["description"] = (cls.__doc__ or "").split("\n\n")[0].strip()
        docs = attribute_docs(cls)
        for name, prop in described.get("properties", {}).items():
            if name in docs:
                prop["description"] = docs[name]
    # FastAPI's own validation error schemas stay behind though every route answers ApiError.
    for name in ("HTTPValidationError", "ValidationError"):
        others = {key: value for key, value in schemas.items() if key != name}
        if f'"#/components/schemas/{name}"' not in json.dumps([schema.get("paths"), others]):
            schemas.pop(name, None)
    return schema


def _stopping(app: FastAPI) -> asyncio.Event:
    """Set when the server stops, so that long polls end at once (created in the server's loop)."""
    event: asyncio.Event | None = getattr(app.state, "stopping", None)
    if event is None:
        event = app.state.stopping = asyncio.Event()
    return event


def end_long_polls(app: FastAPI) -> None:
    """End the long polls in progress (503); from the server's event loop, before it stops."""
    _stopping(app).set()


def openapi_document(*, metrics: bool = True) -> dict[str, Any]:
    """The OpenAPI document, without a daemon (for the generated reference)."""
    app = make_app(
        cast(Control, _NoControl()), metrics=(lambda: (b"", "text/plain")) if metrics else None
    )
    return app.openapi()


class _NoControl:
    """Stands for a daemon where only the routes are needed (never called)."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)
