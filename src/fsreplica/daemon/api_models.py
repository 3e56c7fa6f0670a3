"""The request bodies of the control API, and its error and health answers.

Answers are the dataclasses of `fsreplica.daemon.control` as they are. A request body is
checked twice: against the schema here (its constraints are in the OpenAPI document, so a
client or a fuzzer knows them), then by the daemon's own rules (`policy_from_mapping`, the same
as for the config file), which also read durations such as "1h30m".
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from fsreplica.daemon.control import POLICY_ID, Policy

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

PolicyIdText = Annotated[str, Field(pattern=f"^{POLICY_ID.pattern}$", max_length=200)]
Text = Annotated[str, Field(min_length=1)]
# A number of seconds, or a text the config file takes ("90s", "30m", "1h30m").
DurationText = Annotated[
    str, Field(pattern=r"^\s*(\d+(\.\d+)?h)?(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?\s*$")
]
Seconds = Annotated[float, Field(ge=0)] | DurationText
PositiveSeconds = Annotated[float, Field(gt=0)] | DurationText

_TYPES: dict[str, Any] = {
    "id": PolicyIdText,
    "source": Text,
    "destination": Text,
    "enabled": bool,
    "scan_interval": PositiveSeconds,
    "exclude": list[str],
    "debounce": Seconds,
    "transfers": Annotated[int, Field(ge=1)] | None,
    "delete": bool,
    "max_delete": Annotated[int, Field(ge=-1)] | None,
    "links": bool,
    "checksum": bool,
    "state": Text | None,
    "endpoint_url": Text | None,
    "region": Text | None,
    "key_file": Text | None,
}
"""The type of the fields of `Policy` in a request body, where it says more than the dataclass
(constraints, lists for tuples); any other field has its dataclass type."""


def attribute_docs(cls: type) -> dict[str, str]:
    """The `Attributes:` section of a Google-style docstring, by name."""
    docs: dict[str, str] = {}
    name = None
    section = (cls.__doc__ or "").split("Attributes:", 1)[-1]
    for line in section.splitlines():
        match = re.match(r"\s{4,8}(\w+): (.*)", line)
        if match and len(line) - len(line.lstrip()) <= 8:
            name, docs[match.group(1)] = match.group(1), match.group(2)
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def _no_default(schema: dict[str, Any]) -> None:
    """Leave out the `default: null` of a field that is only ever absent, never null."""
    schema.pop("default", None)


def _models() -> tuple[type[BaseModel], type[BaseModel]]:
    fields = {field.name: field for field in dataclasses.fields(Policy)}
    hints = typing.get_type_hints(Policy)
    docs = attribute_docs(Policy)
    full: dict[str, Any] = {}
    some: dict[str, Any] = {}
    for name, field in fields.items():
        kind = _TYPES.get(name, hints[name])
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
            default = list(default) if isinstance(default, tuple) else default
        else:
            default = ...
        full[name] = (kind, Field(default, description=docs.get(name)))
        if name != "id":
            some[name] = (
                kind,
                Field(None, description=docs.get(name), json_schema_extra=_no_default),
            )
    body = create_model(
        "PolicyBody",
        __config__=_STRICT,
        __doc__="A policy as a client writes it: its id, source and destination, and any of "
        "its other fields (those left out take their defaults).",
        **full,
    )
    changes = create_model(
        "PolicyChanges",
        __config__=_STRICT,
        __doc__="Some fields of a policy; those left out keep their value.",
        **some,
    )
    return body, changes


PolicyBody, PolicyChanges = _models()


class ApiError(BaseModel):
    """What every error answers: one line, and anything more a client can act on."""

    error: str = Field(description="What went wrong, in one line")
    detail: Any = Field(None, description="More: the field concerned, the validation errors")


class Health(BaseModel):
    """The daemon answers."""

    status: str = "ok"
    version: str
