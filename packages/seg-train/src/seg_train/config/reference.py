"""Generate ``docs/reference/config.md`` from the config schema (one truth: the schema).

Run ``python -m seg_train.config.reference > docs/reference/config.md``; a test checks the page
is current.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from seg_train.config.schema import COMPONENT_SECTIONS, Config

__all__ = ["render"]

_HEADER = """# Config reference

<!-- Generated from seg_train.config.schema by `python -m seg_train.config.reference`; do not edit. -->

A training config is a TOML file with the sections below. `seg config init` writes a commented
starter; `seg config check FILE` validates one; `--set key.path=value` overrides any value from the
command line (values are read as TOML values, never evaluated). Unknown keys, wrong types and unknown
registry names are reported with their key path, the accepted values and close matches, before
anything runs.
"""


def _type(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    if isinstance(annotation, type):
        text = annotation.__name__
    for name in ("Annotated[int, Gt(gt=0)]", "Annotated[int, Ge(ge=0)]", "Annotated[float, Gt(gt=0)]"):
        text = text.replace(name, {"Annotated[int, Gt(gt=0)]": "int > 0", "Annotated[int, Ge(ge=0)]": "int >= 0",
                                   "Annotated[float, Gt(gt=0)]": "float > 0"}[name])  # fmt: skip
    return text.replace("Literal[", "one of [").replace("|", "or")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(table)"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined:
        return "required"
    return f"`{json.dumps(field.default)}`"


def _section(path: str, model: type[BaseModel], out: list[str]) -> None:
    doc = inspect.cleandoc(model.__doc__ or "")
    out += [f"## `[{path}]`", "", doc, ""]
    nested = []
    out += ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((f"{path}.{name}", annotation))
            out.append(f"| `{name}` | table | | see [`[{path}.{name}]`](#{path}{name}) |")
            continue
        description = (field.description or "").replace("|", "\\|")
        out.append(f"| `{name}` | {_type(annotation)} | {_default(field)} | {description} |")
    out.append("")
    if path in COMPONENT_SECTIONS:
        kind = COMPONENT_SECTIONS[path]
        out += [
            f"Other keys are the arguments of the named component (registry kind `{kind}`), checked "
            "against its signature before the run starts.",
            "",
        ]
    for nested_path, nested_model in nested:
        _section(nested_path, nested_model, out)


def render() -> str:
    """The reference page, as Markdown."""
    out = [_HEADER]
    for name, field in Config.model_fields.items():
        annotation = field.annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        _section(name, annotation, out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
