"""Workflow definitions shipped as TOML data, and their loader, validator and renderers.

Stdlib only: this package must not import ``engine``, ``storage`` or ``cli``.
"""

from typing import TYPE_CHECKING, Any

__all__ = [
    "EXTENSION_TABLES",
    "FIELD_TYPES",
    "KNOWN_ACTIONS",
    "KNOWN_INPUTS",
    "KNOWN_PRECONDITIONS",
    "KNOWN_ROLES",
    "LANGUAGES",
    "USABLE",
    "Choice",
    "DeadlinePolicy",
    "EventDef",
    "FieldDef",
    "Label",
    "StateDef",
    "StepDef",
    "Workflow",
    "WorkflowError",
    "WorkflowProblem",
    "builtin_workflow_names",
    "load_builtin",
    "load_workflow_file",
    "parse_workflow",
    "to_mermaid",
    "workflow_from_dict",
]

if TYPE_CHECKING:
    from .schema import (
        EXTENSION_TABLES,
        FIELD_TYPES,
        KNOWN_ACTIONS,
        KNOWN_INPUTS,
        KNOWN_PRECONDITIONS,
        KNOWN_ROLES,
        LANGUAGES,
        USABLE,
        Choice,
        DeadlinePolicy,
        EventDef,
        FieldDef,
        Label,
        StateDef,
        StepDef,
        Workflow,
        WorkflowError,
        WorkflowProblem,
        builtin_workflow_names,
        load_builtin,
        load_workflow_file,
        parse_workflow,
        to_mermaid,
        workflow_from_dict,
    )


def __getattr__(name: str) -> Any:
    # The schema (and the TOML it parses) loads on first use: every command's error messages import
    # workflows.access (the role labels), and `duban --version` must not pay for the schema.
    if name in __all__:
        from . import schema

        return getattr(schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
