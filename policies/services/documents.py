"""Policies as code: every policy as YAML, and back.

Import checks the whole file before it changes anything: the shape of each entry here, each
value by the same form the pages use. A bad file changes nothing and names every problem with
its line. Entries are matched to policies by name: a new name creates, a known one changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from django.db import transaction

from lifecycle.services.audit import Actor
from policies.forms import PolicyForm
from policies.models import Policy
from policies.services.policies import save_policy

#: YAML key of each form field: (section or "", key).
SECTIONS: dict[str, dict[str, str]] = {
    "": {
        "name": "name",
        "description": "description",
        "enabled": "enabled",
        "notice_days": "notice_days",
        "owner_tag": "owner_tag",
    },
    "scope": {
        "accounts": "scope_accounts",
        "regions": "scope_regions",
        "families": "scope_families",
        "names": "scope_names",
        "tags": "scope_tags",
    },
    "keep": {
        "newest_per_family": "keep_newest_per_family",
        "younger_than_days": "keep_younger_than_days",
        "launched_within_days": "keep_launched_within_days",
        "tags": "keep_tags",
        "public": "keep_public",
        "shared": "keep_shared",
        "newest_per_lineage": "keep_newest_per_lineage",
    },
    "stages": {
        "deprecate": "deprecate",
        "disable_after_days": "disable_after_days",
        "deregister_after_days": "deregister_after_days",
        "delete_snapshots": "delete_snapshots",
    },
    "limits": {
        "max_images_per_run": "max_images_per_run",
        "max_share_of_family": "max_share_of_family",
    },
}
#: Where each form field's problems point: its YAML path.
FIELD_PATHS = {
    field: f"{section}.{key}" if section else key
    for section, keys in SECTIONS.items()
    for key, field in keys.items()
} | {"deprecate_at": "stages.deprecate"}
BOOLEAN_FIELDS = {
    "enabled",
    "keep_public",
    "keep_shared",
    "keep_newest_per_lineage",
    "delete_snapshots",
}


class DocumentError(ValueError):
    """A policies file that cannot be imported; ``problems`` are "line N: ..." messages."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Entry:
    """One policy of a file: its form data and the line of each key."""

    index: int
    line: int
    data: dict[str, Any]
    lines: dict[str, int]


def export_policies() -> str:
    """Every policy as one YAML document."""
    documents = [policy.document() for policy in Policy.objects.order_by("name")]
    return yaml.safe_dump(
        {"policies": documents}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _root(text: str) -> yaml.Node:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(error, "problem", None) or error
        raise DocumentError([f"line {line}: not valid YAML: {problem}"]) from None
    top = _mapping(node).get("policies") if isinstance(node, yaml.MappingNode) else None
    if top is None:
        raise DocumentError(["line 1: the file must be a mapping with a 'policies' list"])
    if not isinstance(top[1], yaml.SequenceNode):
        raise DocumentError([f"line {_line(top[1])}: 'policies' must be a list"])
    return top[1]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(key.value): (key, value) for key, value in node.value}


def _value(node: yaml.Node) -> Any:
    return yaml.SafeLoader(b"").construct_object(node, deep=True)


def _entry(index: int, node: yaml.Node, problems: list[str]) -> Entry | None:
    if not isinstance(node, yaml.MappingNode):
        problems.append(f"line {_line(node)}: policy {index + 1} must be a mapping")
        return None
    entry = Entry(index, _line(node), {}, {})
    for section, keys in SECTIONS.items():
        nodes = _mapping(node)
        if section:
            if section not in nodes:
                continue
            key_node, section_node = nodes[section]
            if not isinstance(section_node, yaml.MappingNode):
                problems.append(f"line {_line(key_node)}: '{section}' must be a mapping")
                continue
            nodes = _mapping(section_node)
        for key, (key_node, value_node) in nodes.items():
            if not section and key in SECTIONS:
                continue
            if key not in keys:
                where = f"in '{section}' " if section else ""
                expected = ", ".join(keys if section else [*keys, *list(SECTIONS)[1:]])
                problems.append(
                    f"line {_line(key_node)}: unknown key '{key}' {where}(expected {expected})"
                )
                continue
            entry.lines[keys[key]] = _line(key_node)
            entry.data[keys[key]] = _value(value_node)
    return entry


def _form_data(entry: Entry, problems: list[str]) -> dict[str, Any]:
    """The entry as form data; booleans must be YAML booleans."""
    data = dict(entry.data)
    for field in BOOLEAN_FIELDS:
        if field in data and not isinstance(data[field], bool):
            problems.append(f"line {entry.lines[field]}: '{FIELD_PATHS[field]}' must be true/false")
    deprecate = data.get("deprecate")
    if deprecate not in (None, True, False):
        data["deprecate"], data["deprecate_at"] = True, deprecate
        entry.lines["deprecate_at"] = entry.lines["deprecate"]
    for field in BOOLEAN_FIELDS | {"deprecate"}:
        data[field] = data.get(field) is True
    return data


def parse_policies(text: str) -> list[tuple[Entry, PolicyForm]]:
    """Every entry of the file with its bound, validated form; DocumentError naming each
    problem by line when any entry is wrong."""
    problems: list[str] = []
    entries = [_entry(i, node, problems) for i, node in enumerate(_root(text).value)]
    forms, seen = [], {}
    for entry in filter(None, entries):
        data = _form_data(entry, problems)
        name = data.get("name")
        instance = Policy.objects.filter(name=name).first() if isinstance(name, str) else None
        form = PolicyForm(data, instance=instance)
        label = f"policy {name!r}" if name else f"policy {entry.index + 1}"
        for field, message in form.problems() if not form.is_valid() else []:
            line = entry.lines.get(field, entry.line)
            path = FIELD_PATHS.get(field, "")
            problems.append(f"line {line}: {label}: {path + ': ' if path else ''}{message}")
        if isinstance(name, str) and name in seen:
            problems.append(
                f"line {entry.line}: {label} appears twice (first at line {seen[name]})"
            )
        seen.setdefault(name, entry.line)
        forms.append((entry, form))
    if problems:
        raise DocumentError(sorted(problems, key=_line_number))
    return forms


def _line_number(problem: str) -> int:
    return int(problem.split(":", 1)[0].removeprefix("line "))


def import_policies(actor: Actor, text: str, source: str) -> list[Policy]:
    """Create or change every policy of the file, all or nothing."""
    forms = parse_policies(text)
    with transaction.atomic():
        return [save_policy(actor, form, source) for _entry, form in forms]
