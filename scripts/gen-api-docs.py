#!/usr/bin/env python3
"""Write docs/api.md, the control API's reference, from the OpenAPI document the daemon serves.

`python3 scripts/gen-api-docs.py` rewrites docs/api.md; with `--check` it exits 1 instead when
docs/api.md is not up to date (a test runs that).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "api.md"
sys.path.insert(0, str(ROOT / "src"))

HEAD = """\
# Control API reference

<!-- Generated from the OpenAPI document by scripts/gen-api-docs.py: do not edit by hand. -->

A running `fsreplica daemon` answers HTTP/1.1 and JSON on its Unix socket (mode 0600 in a 0700
directory; default `$XDG_RUNTIME_DIR/fsreplica/fsreplica.sock`, or `socket` in the `[daemon]`
table of its config file), every route under `/api/v1`. The socket needs no token: its mode is
its access control. An optional TCP listener (`api = "127.0.0.1:8765"` with `token_file`, a
file of mode 0600 holding one line) requires `Authorization: Bearer <token>` on every route
but `/api/v1/health`, and answers 401 without it.

```sh
sock=$XDG_RUNTIME_DIR/fsreplica/fsreplica.sock
curl --unix-socket $sock http://localhost/api/v1/status
curl --unix-socket $sock -X PATCH -H 'Content-Type: application/json' \\
     -d '{"enabled": false}' http://localhost/api/v1/policies/docs
curl --unix-socket $sock 'http://localhost/api/v1/events?since=0&timeout=30'
```

Every error is JSON, `{"error": "<one line>", "detail": <anything or null>}`, with the status
that fits: 400 for a body that is not JSON, 404 for an unknown policy or job, 409 for a
conflict, 422 for a request or policy that does not fit (the validation errors in `detail`), 503
when a long poll ends because the daemon stops. Changes are written to the config file
(atomically, mode 0600, its comments kept) before they are answered. The OpenAPI document
itself is at `GET /api/v1/openapi.json`; the command line clients are `fsreplica policy`,
`fsreplica trigger` and `fsreplica status` (see [cli.md](cli.md)).
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:  # noqa: PLR0911 - one return per kind
    """A JSON schema in a few words: `string`, `integer >= 1`, `array of Job`, `Policy`."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    if "enum" in schema:
        return ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        if isinstance(extra, dict):
            return f"object of {_type(extra)}"
    if kind is None:
        return "any"
    limits = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            limits.append(f"{sign} {schema[key]:g}")
    if "minLength" in schema:
        limits.append(f"length >= {schema['minLength']}")
    if "pattern" in schema:
        limits.append(f"matching `{schema['pattern']}`")
    return " ".join([str(kind), ", ".join(limits)]).strip()


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _operation(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", "", operation.get("summary", ""), ""]
    params = operation.get("parameters", [])
    if params:
        lines += [
            "| parameter | in | type | default | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for param in params:
            schema = param.get("schema", {})
            default = json.dumps(schema["default"]) if "default" in schema else "required"
            lines.append(
                f"| `{param['name']}` | {param['in']} | {_cell(_type(schema))} | {default} | "
                f"{_cell(param.get('description', ''))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        lines += [f"Body (JSON): {_type(schema)}", ""]
    lines += ["| status | meaning | body |", "| --- | --- | --- |"]
    for status, response in sorted(operation.get("responses", {}).items()):
        content = response.get("content", {})
        if "application/json" in content:
            shape = _type(content["application/json"].get("schema", {}))
        elif content:
            shape = ", ".join(f"`{kind}`" for kind in content)
        else:
            shape = "none"
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | {shape} |")
    security = operation.get("security")
    if security is not None:
        lines += ["", "On the TCP listener: `Authorization: Bearer <token>`."]
    return [*lines, ""]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    description = schema.get("description", "").split("\n\n")[0].replace("\n", " ")
    if description:
        lines += [description, ""]
    if "enum" in schema:
        return [*lines, "One of " + _type(schema) + ".", ""]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        lines += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
        for field, prop in properties.items():
            if field in required:
                default = "required"
            elif "default" in prop:
                default = f"`{json.dumps(prop['default'])}`"
            else:
                default = "absent: unchanged" if name == "PolicyChanges" else ""
            lines.append(
                f"| `{field}` | {_cell(_type(prop))} | {default} | "
                f"{_cell(prop.get('description', ''))} |"
            )
    if schema.get("additionalProperties") is False:
        lines += ["", "Other fields are refused (422)."]
    return [*lines, ""]


def render(document: dict[str, Any]) -> str:
    """docs/api.md for the OpenAPI `document`."""
    lines = [HEAD, "## Routes", "", "| method | path | what |", "| --- | --- | --- |"]
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    for path, method, operation in operations:
        anchor = f"{method}-{path}".lower().replace("/", "").replace("{", "").replace("}", "")
        lines.append(
            f"| {method.upper()} | [`{path}`](#{anchor}) | {_cell(operation.get('summary', ''))} |"
        )
    lines += ["", "## Operations", ""]
    for path, method, operation in operations:
        lines += _operation(path, method, operation)
    lines += ["## Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    """Write docs/api.md, or check it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale")
    args = parser.parse_args()
    from fsreplica.daemon.api import openapi_document  # noqa: PLC0415 - after sys.path

    text = render(openapi_document())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python3 scripts/gen-api-docs.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
