"""Check an MTurk request against botocore's own service model, the way the server does.

botocore checks only required members and minimum lengths before sending; the real
service also checks maximum lengths, patterns, enums, list sizes and integer ranges and
answers a `ValidationException` listing every violation. The model is loaded at runtime
from the installed botocore (never copied into the repository) so both sides agree.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

SERVICE_NAME = "mturk"


@functools.lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """botocore's MTurk model; loading it takes tens of milliseconds, so it is cached."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


@functools.lru_cache(maxsize=None)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def lower_camel(name: str) -> str:
    """AWS names members in validation messages with only the first letter lowered:
    `HITId` -> `hITId`, `BonusAmount` -> `bonusAmount`."""
    return name[:1].lower() + name[1:]


def _render(value: Any) -> str:
    """A value as AWS prints it inside `Value '...'`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def violation(value: Any, path: str, constraint: str) -> str:
    """One violation in AWS wording: `Value 'x' at 'path' failed to satisfy constraint: ...`."""
    return f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def validation_message(violations: list[str]) -> str:
    n = len(violations)
    noun = "validation error" if n == 1 else "validation errors"
    return f"{n} {noun} detected: " + "; ".join(violations)


class RequestValidator:
    """Validates the JSON input of an operation; returns the list of violations."""

    def __init__(self, model: ServiceModel | None = None):
        self.model = model or service_model()
        self._operations: dict[str, OperationModel] = {}

    def operation(self, name: str) -> OperationModel:
        op = self._operations.get(name)
        if op is None:
            op = self._operations[name] = self.model.operation_model(name)
        return op

    def validate(self, operation_name: str, params: dict[str, Any]) -> list[str]:
        shape = self.operation(operation_name).input_shape
        violations: list[str] = []
        if shape is None:
            # Operations without input accept only an empty object.
            for name, value in params.items():
                violations.append(violation(value, lower_camel(name), "Member is not a known member"))
            return violations
        self._structure(shape, params, "", violations)
        return violations

    def _check(self, shape: Shape, value: Any, path: str, out: list[str]) -> None:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                out.append(violation(value, path, "Member must be a structure"))
            else:
                self._structure(shape, value, path + ".", out)
        elif kind == "list":
            self._list(shape, value, path, out)
        elif kind == "map":
            self._map(shape, value, path, out)
        elif kind == "string":
            self._string(shape, value, path, out)
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                out.append(violation(value, path, f"Member must be of type {kind}"))
            else:
                self._range(shape, value, path, out)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                out.append(violation(value, path, f"Member must be of type {kind}"))
            else:
                self._range(shape, value, path, out)
        elif kind == "boolean":
            if not isinstance(value, bool):
                out.append(violation(value, path, "Member must be of type boolean"))
        elif kind == "timestamp":
            # JSON 1.1 sends epoch seconds; ISO strings are accepted too.
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                out.append(violation(value, path, "Member must be of type timestamp"))
        elif kind == "blob":
            if not isinstance(value, str):
                out.append(violation(value, path, "Member must be of type blob"))

    def _structure(self, shape: Shape, value: dict[str, Any], prefix: str, out: list[str]) -> None:
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(f"Value null at '{prefix}{lower_camel(name)}' failed to satisfy constraint: "
                           "Member must not be null")
        for name, member_value in value.items():
            path = prefix + lower_camel(name)
            member = members.get(name)
            if member is None:
                out.append(violation(member_value, path, f"Member must be a known member of {shape.name}"))
            elif member_value is not None:
                self._check(member, member_value, path, out)

    def _list(self, shape: Shape, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, list):
            out.append(violation(value, path, "Member must be of type list"))
            return
        self._length(shape, value, path, out)
        for i, item in enumerate(value, start=1):
            if item is None:
                out.append(f"Value null at '{path}.{i}.member' failed to satisfy constraint: "
                           "Member must not be null")
            else:
                self._check(shape.member, item, f"{path}.{i}.member", out)

    def _map(self, shape: Shape, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, dict):
            out.append(violation(value, path, "Member must be of type map"))
            return
        self._length(shape, value, path, out)
        for key, item in value.items():
            self._check(shape.key, key, f"{path}.{key}.key", out)
            if item is not None:
                self._check(shape.value, item, f"{path}.{key}.value", out)

    def _string(self, shape: Shape, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, str):
            out.append(violation(value, path, "Member must be of type string"))
            return
        self._length(shape, value, path, out)
        enum = shape.enum
        if enum and value not in enum:
            out.append(violation(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        pattern = shape.metadata.get("pattern")
        # Java's String.matches semantics: the whole string must match.
        if pattern and _pattern(pattern).fullmatch(value) is None:
            out.append(violation(value, path, f"Member must satisfy regular expression pattern: {pattern}"))

    @staticmethod
    def _length(shape: Shape, value: Any, path: str, out: list[str]) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            out.append(violation(value, path, f"Member must have length greater than or equal to {low}"))
        if high is not None and len(value) > high:
            out.append(violation(value, path, f"Member must have length less than or equal to {high}"))

    @staticmethod
    def _range(shape: Shape, value: Any, path: str, out: list[str]) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            out.append(violation(value, path, f"Member must have value greater than or equal to {low}"))
        if high is not None and value > high:
            out.append(violation(value, path, f"Member must have value less than or equal to {high}"))
