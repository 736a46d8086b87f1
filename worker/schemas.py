"""JSON Schema files for the message contract, generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from worker.domain.policy import Policy
from worker.messages import DeadLetter, InputEvent, OutputEvent

SCHEMAS: dict[str, object] = {
    "input-event.schema.json": InputEvent,
    "output-event.schema.json": OutputEvent,
    "dead-letter.schema.json": DeadLetter,
    "policy.schema.json": Policy,
}


def render() -> dict[str, str]:
    """File name -> schema text, exactly as checked in."""
    files = {}
    for name, model in SCHEMAS.items():
        schema = TypeAdapter(model).json_schema(mode="validation")
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}
        files[name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]
