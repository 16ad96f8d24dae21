"""YAML loading that remembers where every key and list item stands.

PyYAML's composed node tree carries line marks; we keep them in a map from key path
(a tuple of mapping keys and list indexes) to 1-based line, so that a validation
error found later can point at ``file:line``.  Duplicate keys, which PyYAML would
silently collapse, are reported instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from followup.exceptions import ConfigIssue

KeyPath = tuple[str | int, ...]


@dataclass
class YamlDocument:
    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, loc: KeyPath) -> int | None:
        """Line of the deepest part of ``loc`` that exists in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def locate(self, loc: KeyPath) -> tuple[KeyPath, int | None]:
        """Map a validator's ``loc`` onto this file: the key path as written, and its line.

        Elements of ``loc`` that are not in the file (validator-internal names such as a
        union branch) are dropped, except the last, which may name a missing key.
        """
        kept: list[str | int] = []
        for i, part in enumerate(loc):
            candidate = (*kept, part)
            if candidate in self.lines or i == len(loc) - 1:
                kept.append(part)
        path = tuple(kept)
        return path, self.line_of(path)


def format_key_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _walk(node: yaml.Node, path: KeyPath, doc: YamlDocument) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        kept = []
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                doc.issues.append(
                    ConfigIssue(
                        doc.path,
                        line,
                        format_key_path((*path, key)),
                        f"duplicate key (first defined on line {seen[key]})",
                    )
                )
                continue
            kept.append((key_node, value_node))
            seen[key] = line
            doc.lines[(*path, key)] = line
            _walk(value_node, (*path, key), doc)
        # The first definition wins (PyYAML would keep the last); later ones were reported.
        node.value = kept
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), doc)


def load_yaml(path: Path, display: Path | str | None = None) -> YamlDocument:
    """Parse ``path``; syntax errors become issues with the parser's line."""
    shown = display if display is not None else path
    doc = YamlDocument(path=Path(shown), data=None)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        doc.issues.append(ConfigIssue(shown, None, "", f"not UTF-8 text ({exc.reason})"))
        return doc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.lines[()] = node.start_mark.line + 1
            _walk(node, (), doc)
            doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        doc.issues.append(ConfigIssue(shown, line, "", f"YAML syntax error: {problem}"))
    finally:
        loader.dispose()
    return doc
