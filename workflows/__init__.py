"""Workflow definitions shipped as TOML data, and their loader, validator and renderers.

Stdlib only: this package must not import ``engine``, ``storage`` or ``cli``.
"""

from .schema import (
    EXTENSION_TABLES,
    KNOWN_ACTIONS,
    KNOWN_INPUTS,
    KNOWN_PRECONDITIONS,
    KNOWN_ROLES,
    LANGUAGES,
    EventDef,
    Label,
    StateDef,
    Workflow,
    WorkflowError,
    WorkflowProblem,
    builtin_workflow_names,
    load_builtin,
    load_workflow_file,
    parse_workflow,
    to_mermaid,
    to_text,
    workflow_from_dict,
)

__all__ = [
    "EXTENSION_TABLES",
    "KNOWN_ACTIONS",
    "KNOWN_INPUTS",
    "KNOWN_PRECONDITIONS",
    "KNOWN_ROLES",
    "LANGUAGES",
    "EventDef",
    "Label",
    "StateDef",
    "Workflow",
    "WorkflowError",
    "WorkflowProblem",
    "builtin_workflow_names",
    "load_builtin",
    "load_workflow_file",
    "parse_workflow",
    "to_mermaid",
    "to_text",
    "workflow_from_dict",
]
