"""Unit scoring (考核) rules as data: the shipped presets (``presets/scoring.toml``) and the check of a
``[scoring]`` table, in a workflow file or in the config file.

A table names a preset (``preset = "strict"``, default ``simple``) and may change its ``base``, any
``points`` (per counted thing) and any ``caps`` (the largest size, in points, of one thing's
contribution to a unit's score). Stdlib only, like the rest of this package.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_PRESET", "METRICS", "ScoringRules", "check_scoring", "preset_names", "presets", "rules_from"]

# What a score counts, in the order reports show them (see presets/scoring.toml for their meaning).
METRICS: tuple[str, ...] = ("on_time", "late", "overdue_workday", "returned", "reopened", "extension", "flagged",
                            "receipt_late")
DEFAULT_PRESET = "simple"
_KEYS = ("preset", "base", "points", "caps")
_PRESET_KEYS = ("label", "description", "base", "points", "caps")


@dataclass(frozen=True)
class ScoringRules:
    name: str  # the preset the rules start from
    base: Decimal
    points: Mapping[str, Decimal]  # every metric, 0 when it does not count
    caps: Mapping[str, Decimal]  # only the capped metrics
    changed: tuple[str, ...] = ()  # keys the table changed from the preset ("points.late", "base")
    description: Mapping[str, str] = field(default_factory=dict)  # per language
    label: Mapping[str, str] = field(default_factory=dict)  # the preset's name as people read it, per language

    def contribution(self, metric: str, count: int | Decimal) -> Decimal:
        """Points of ``count`` of ``metric``, limited to its cap."""
        value = self.points.get(metric, Decimal(0)) * Decimal(count)
        cap = self.caps.get(metric)
        if cap is not None and abs(value) > cap:
            value = cap if value > 0 else -cap
        return value

    def as_dict(self) -> dict[str, Any]:
        return {"preset": self.name, "base": str(self.base), "points": {m: str(v) for m, v in self.points.items()},
                "caps": {m: str(v) for m, v in self.caps.items()}, "changed": list(self.changed)}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def check_scoring(raw: Any, key: str = "scoring") -> list[tuple[str, str]]:
    """(key, reason) for every problem of a ``[scoring]`` table; empty when it is sound."""
    if not isinstance(raw, dict):
        return [(key, f"must be a table, not {type(raw).__name__}")]
    problems = [(f"{key}.{k}", f"unknown key; known: {', '.join(_KEYS)}") for k in raw if k not in _KEYS]
    if "preset" in raw and raw["preset"] not in preset_names():
        problems.append((f"{key}.preset", f"unknown preset {raw['preset']!r}; shipped: {', '.join(preset_names())}"))
    if "base" in raw and _number(raw["base"]) is None:
        problems.append((f"{key}.base", f"must be a number, not {raw['base']!r}"))
    for table in ("points", "caps"):
        values = raw.get(table, {})
        if not isinstance(values, dict):
            problems.append((f"{key}.{table}", f"must be a table of thing = number, not {type(values).__name__}"))
            continue
        for metric, value in values.items():
            number = _number(value)
            if metric not in METRICS:
                problems.append((f"{key}.{table}.{metric}", f"unknown thing to count; known: {', '.join(METRICS)}"))
            elif number is None:
                problems.append((f"{key}.{table}.{metric}", f"must be a number, not {value!r}"))
            elif table == "caps" and number < 0:
                problems.append((f"{key}.{table}.{metric}", "a cap is a size in points and must not be negative"))
    return problems


def rules_from(raw: Mapping[str, Any] | None, over: "ScoringRules | None" = None) -> ScoringRules:
    """The rules a checked ``[scoring]`` table gives: its preset (else ``over``'s rules, else the default
    preset) with its changes. ``raw`` None or empty: ``over`` or the default preset as they are."""
    raw = raw or {}
    start = presets()[raw["preset"]] if "preset" in raw else over or presets()[DEFAULT_PRESET]
    points = dict(start.points)
    caps = dict(start.caps)
    changed = list(start.changed) if "preset" not in raw else []
    base = start.base
    if "base" in raw:
        base = _number(raw["base"]) or Decimal(0)
        changed.append("base")
    for metric, value in (raw.get("points") or {}).items():
        points[metric] = _number(value) or Decimal(0)
        changed.append(f"points.{metric}")
    for metric, value in (raw.get("caps") or {}).items():
        caps[metric] = _number(value) or Decimal(0)
        changed.append(f"caps.{metric}")
    return ScoringRules(start.name, base, MappingProxyType(points), MappingProxyType(caps),
                        tuple(dict.fromkeys(changed)), start.description, start.label)


@lru_cache(maxsize=1)
def presets() -> Mapping[str, ScoringRules]:
    """The shipped presets by name (``presets/scoring.toml``)."""
    text = resources.files(__package__).joinpath("presets", "scoring.toml").read_text(encoding="utf-8")
    out: dict[str, ScoringRules] = {}
    for name, table in tomllib.loads(text).items():
        unknown = [k for k in table if k not in _PRESET_KEYS]
        problems = check_scoring({k: v for k, v in table.items() if k in ("base", "points", "caps")}, name)
        if unknown or problems:  # a shipped file: a mistake is the developer's, caught by the tests
            raise ValueError(f"presets/scoring.toml [{name}]: {unknown or problems}")
        points = {m: _number(table.get("points", {}).get(m, 0)) or Decimal(0) for m in METRICS}
        caps = {m: _number(v) or Decimal(0) for m, v in table.get("caps", {}).items()}
        out[name] = ScoringRules(name, _number(table.get("base", 0)) or Decimal(0), MappingProxyType(points),
                                 MappingProxyType(caps), (), MappingProxyType(dict(table.get("description", {}))),
                                 MappingProxyType(dict(table.get("label", {}))))
    return MappingProxyType(out)


def preset_names() -> list[str]:
    return list(presets())
