"""Request shapes declared once: they validate input and write the OpenAPI document.

Unknown fields and wrong types are refused with the path of the offending value, so the
API answers 422 with a readable message and never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conversation.errors import InvalidInput


class ValidationError(InvalidInput):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class Schema:
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def parse_text(self, text: str, path: str) -> Any:
        """From a query-string value."""
        return self.parse(text, path)


@dataclass
class Str(Schema):
    max_length: int = 10_000
    min_length: int = 0
    choices: Sequence[str] = ()
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.choices:
            schema["enum"] = list(self.choices)
        if self.description:
            schema["description"] = self.description
        return schema

    def parse(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise ValidationError(path, f"expected a string, got {_kind(value)}")
        if len(value) > self.max_length:
            raise ValidationError(path, f"longer than {self.max_length} characters")
        if len(value.strip()) < self.min_length:
            raise ValidationError(path, "must not be empty" if self.min_length == 1 else "too short")
        if self.choices and value not in self.choices:
            shown = ", ".join(choice or '""' for choice in self.choices)  # "" (none) shown, not a stray comma
            raise ValidationError(path, f"must be one of {shown}")
        return value


@dataclass
class Int(Schema):
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def parse(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(path, f"expected an integer, got {_kind(value)}")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(path, f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(path, f"must be at most {self.maximum}")
        return value

    def parse_text(self, text: str, path: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValidationError(path, "expected an integer") from None
        # outside the try: a ValidationError is a ValueError, and "per_page=500" was told
        # "expected an integer" instead of "must be at most 100" (a trial)
        return self.parse(number, path)


@dataclass
class Bool(Schema):
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def parse(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise ValidationError(path, f"expected true or false, got {_kind(value)}")
        return value


@dataclass
class Arr(Schema):
    items: Schema
    max_items: int = 100
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.items.json_schema(), "maxItems": self.max_items}

    def parse(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise ValidationError(path, f"expected a list, got {_kind(value)}")
        if len(value) > self.max_items:
            raise ValidationError(path, f"more than {self.max_items} items")
        return [self.items.parse(item, f"{path}[{i}]") for i, item in enumerate(value)]


@dataclass
class Obj(Schema):
    fields: Mapping[str, Schema]
    required: Sequence[str] = ()
    description: str = ""
    at_least_one: bool = False  # a PATCH body must change something

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: s.json_schema() for name, s in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            schema["required"] = list(self.required)
        if self.at_least_one:
            schema["minProperties"] = 1
        return schema

    def parse(self, value: Any, path: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError(path, f"expected an object, got {_kind(value)}")
        for key in value:
            if key not in self.fields:
                raise ValidationError(_join(path, key), "unknown field")
        for key in self.required:
            if key not in value:
                raise ValidationError(_join(path, key), "is required")
        if self.at_least_one and not value:
            raise ValidationError(path, "nothing to change")
        return {key: self.fields[key].parse(item, _join(path, key)) for key, item in value.items()}


@dataclass
class Map(Schema):
    """An object of caller-chosen keys (custom field keys, holiday dates) to values of one schema."""

    values: Schema
    max_items: int = 100
    key_max_length: int = 64
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema = {"type": "object", "additionalProperties": self.values.json_schema(), "maxProperties": self.max_items}
        return {**schema, "description": self.description} if self.description else schema

    def parse(self, value: Any, path: str = "") -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError(path, f"expected an object, got {_kind(value)}")
        if len(value) > self.max_items:
            raise ValidationError(path, f"more than {self.max_items} keys")
        for key in value:
            if not key or len(key) > self.key_max_length:
                raise ValidationError(path, f"keys are 1 to {self.key_max_length} characters")
        return {key: self.values.parse(item, _join(path, key)) for key, item in value.items()}


@dataclass
class Scalar(Schema):
    """Text, a whole number, null, or a small object of texts (a value the domain checks further)."""

    max_length: int = 1000
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        text = {"type": "string", "maxLength": self.max_length}
        shapes = [text, {"type": "integer"}, {"type": "object", "additionalProperties": text, "maxProperties": 5}]
        schema: dict[str, Any] = {"oneOf": shapes, "nullable": True}
        return {**schema, "description": self.description} if self.description else schema

    def parse(self, value: Any, path: str) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18):
            return value
        if isinstance(value, str):
            return Str(max_length=self.max_length).parse(value, path)
        if isinstance(value, dict) and len(value) <= 5:
            return {k: Str(max_length=self.max_length).parse(v, _join(path, k)) for k, v in value.items()}
        raise ValidationError(path, f"expected text, a whole number, an object of texts or null, got {_kind(value)}")


@dataclass
class Nullable(Schema):
    inner: Schema
    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        return {**self.inner.json_schema(), "nullable": True}

    def parse(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.parse(value, path)


@dataclass
class Ref(Schema):
    """A named response shape in components/schemas (documentation only)."""

    name: str
    shape: dict[str, Any] = field(default_factory=dict)

    def json_schema(self) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{self.name}"}

    def parse(self, value: Any, path: str) -> Any:  # responses are not parsed
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


@dataclass
class AnyObject(Schema):
    """A JSON object whose shape another schema checks (a plugin record's JSON Schema)."""

    description: str = ""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "additionalProperties": True}
        if self.description:
            schema["description"] = self.description
        return schema

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ValidationError(path, f"expected an object, got {_kind(value)}")
        return value
