"""The JSON Schema of flow files, generated from the model (`schemas/ivr-flow.schema.json`).

Editors that read JSON Schema (VS Code's YAML extension, IntelliJ) autocomplete and check flows with it:
put `# yaml-language-server: $schema=../../schemas/ivr-flow.schema.json` on a flow's first line.
tests/test_ivr_schema.py keeps the file equal to `flow_schema()`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ivr import model

KEY = {"type": "string", "pattern": "^[0-9*#]$"}
NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
NODE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.-]*$"}
PROMPT_ITEM = {
    "oneOf": [
        {"type": "string", "description": "a prompt file"},
        {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
         "properties": {k: {"type": "string", "description": d} for k, d in (
             ("file", "a prompt file"), ("digits", "read digit by digit"), ("number", "read as a number"),
             ("date", "read as a date (epoch seconds or ISO 8601)"))}},
    ]
}


def _field_schema(f: dataclasses.Field[Any]) -> dict[str, Any]:
    kind, doc = f.metadata["kind"], f.metadata["doc"]
    schema: dict[str, Any]
    if kind in (model.TEXT, model.PROMPT):
        schema = {"type": ["string", "number"]}
    elif kind == model.NAME:
        schema = dict(NAME)
    elif kind == model.TARGET:
        schema = dict(NODE_ID)
    elif kind == model.SECONDS:
        schema = {"type": "number", "exclusiveMinimum": 0}
    elif kind == model.COUNT:
        schema = {"type": "integer", "minimum": 0}
    elif kind == model.CHOICES:
        schema = {"enum": list(f.metadata["choices"])}
    elif kind == model.KEYS:
        schema = {"type": ["string", "integer"], "pattern": "^[0-9*#]+$"}
    elif kind == model.PATTERN:
        schema = {"type": "string", "format": "regex"}
    elif kind == model.PROMPTS:
        schema = {"oneOf": [PROMPT_ITEM, {"type": "array", "minItems": 1, "items": PROMPT_ITEM}]}
    elif kind == model.TARGETS:
        schema = {"type": "object", "minProperties": 1, "propertyNames": KEY, "additionalProperties": NODE_ID}
    elif kind == model.LANGUAGES:
        schema = {"type": "object", "minProperties": 1, "propertyNames": KEY,
                  "additionalProperties": {"type": "string", "pattern": "^[a-z]{2,3}(_[A-Z]{2})?$"}}
    elif kind == model.CASES:
        schema = {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["when", "goto"],
            "properties": {"when": {"type": ["string", "boolean"], "description": "an expression"},
                           "goto": NODE_ID}}}
    elif kind in (model.VARIABLES, model.SAVES):
        schema = {"type": "object", "propertyNames": NAME, "additionalProperties": {"type": ["string", "number"]}}
    elif kind == model.SKILLS:
        schema = {"oneOf": [{"type": "array", "items": {"type": "string"}},
                            {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1,
                                                                        "maximum": 100}}]}
    else:
        raise AssertionError(kind)
    schema["description"] = doc
    if f.default is not dataclasses.MISSING:
        schema["default"] = f.default
    return schema


def _node_schema(cls: type[model.Node]) -> dict[str, Any]:
    fields = model.node_fields(cls)
    return {
        "type": "object",
        "description": cls.DOC,
        "additionalProperties": False,
        "required": ["type", *(f.name for f in fields
                               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)],
        "properties": {"type": {"const": cls.KIND}, **{f.name: _field_schema(f) for f in fields}},
    }


def flow_schema() -> dict[str, Any]:
    kinds = sorted(model.KINDS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/callcenter/callcenter/schemas/ivr-flow.schema.json",
        "title": "IVR flow",
        "description": "A call flow of the call center's IVR (config/ivr/*.yaml). `callcenter ivr check` "
                       "checks what a schema cannot: targets, reachability, expressions, prompts.",
        "type": "object",
        "additionalProperties": False,
        "required": ["start", "nodes"],
        "properties": {
            "name": {"type": "string", "description": "the flow's name (default: the file name)"},
            "description": {"type": "string"},
            "dnis": {"type": "array", "items": {"type": ["string", "integer"]},
                     "description": "service numbers (DNIS) this flow answers"},
            "default": {"type": "boolean", "description": "the flow for numbers no flow names"},
            "language": {"type": "string", "description": "language of the prompts (CHANNEL(language))"},
            "start": {**NODE_ID, "description": "the first node"},
            "variables": {"type": "object", "propertyNames": NAME, "description": "variables and their start values",
                          "additionalProperties": {"type": ["string", "number"]}},
            "calendars": {"type": "object", "description": "business hours and holidays, by name",
                          "additionalProperties": {"$ref": "#/$defs/calendar"}},
            "nodes": {"type": "object", "minProperties": 1, "propertyNames": NODE_ID,
                      "additionalProperties": {"$ref": "#/$defs/node"}},
        },
        "$defs": {
            "calendar": {
                "type": "object", "additionalProperties": False,
                "properties": {
                    "time_zone": {"type": "string", "default": "UTC"},
                    "week": {"type": "object", "description": "{\"mon-fri\": [\"08:00-18:00\"]}",
                             "additionalProperties": {"type": "array", "items": {
                                 "type": "string", "pattern": "^\\d{1,2}:\\d{2}-\\d{1,2}:\\d{2}$"}}},
                    "holidays": {"type": "array", "items": {"type": "string", "format": "date"}},
                },
            },
            "node": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"enum": kinds}},
                "allOf": [{"if": {"properties": {"type": {"const": kind}}},
                           "then": {"$ref": f"#/$defs/{kind}"}} for kind in kinds],
            },
            **{kind: _node_schema(model.KINDS[kind]) for kind in kinds},
        },
    }


def schema_text() -> str:
    return json.dumps(flow_schema(), indent=2, ensure_ascii=False) + "\n"
