"""The dashboard: static files shipped in the package, served by the daemon at `/`.

The page holds no data: it reads the public API (`/api/v1/...`) with the bearer token the user
types into its login form (kept in the tab's sessionStorage, never in a URL), so the files
themselves are served without the token. Nothing is fetched from anywhere but the daemon: the
Content-Security-Policy says so to the browser too.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
"""Every file the dashboard has, with its content type: nothing else is served."""

PUBLIC_PATHS = frozenset({"/", "/index.html"} | {f"/static/{name}" for name in FILES})
"""Paths the TCP listener serves without the token (static files, no data)."""

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def read(name: str) -> bytes:
    """Return the content of one of the dashboard's `FILES`."""
    if name not in FILES:
        raise KeyError(name)
    return resources.files("fsreplica.daemon").joinpath("static", name).read_bytes()


def mount(app: FastAPI) -> None:
    """Serve the dashboard at `/` of `app` (left out of the OpenAPI document)."""
    from fastapi import HTTPException  # noqa: PLC0415 - the daemon extra
    from fastapi.responses import Response  # noqa: PLC0415

    def serve(name: str) -> Response:
        try:
            body = read(name)
        except KeyError:
            raise HTTPException(status_code=404, detail=f"no file {name}") from None
        return Response(body, media_type=FILES[name], headers=HEADERS)

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return serve("index.html")

    @app.get("/index.html", include_in_schema=False)
    def index_html() -> Response:
        return serve("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        return serve(name)
