"""Loads a site YAML file and reports every problem with its field path and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from gudang.errors import ConfigError, ConfigProblem
from gudang.site.model import Loc, Site

__all__ = ["load_site", "parse_site"]


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(doc: Any, loc: Loc) -> int | None:
    """The 1-based line of the deepest node on `loc` that exists in the document."""
    node, line = doc, None
    for part in loc:
        try:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    if line is None and isinstance(doc, CommentedMap | CommentedSeq):
        line = doc.lc.line + 1
    return line


def parse_site(text: str, source: str = "<site>") -> Site:
    """Validate site YAML text; raise ConfigError naming every problem."""
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark, context = exc.problem_mark, exc.context_mark
        # At end of file the mark sits past the last line: clamp it.
        line = min(mark.line + 1, text.count("\n") or 1) if mark is not None else None
        message = f"YAML syntax: {exc.problem}"
        if exc.context and context is not None:
            message += f" ({exc.context} on line {context.line + 1})"
        raise ConfigError(source, [ConfigProblem("", message, line)]) from exc
    if not isinstance(doc, CommentedMap):
        raise ConfigError(source, [ConfigProblem("", "the file must be a YAML mapping", 1)])
    try:
        site = Site.model_validate(doc)
    except ValidationError as exc:
        problems = [
            ConfigProblem(_dotted(err["loc"]), err["msg"], _line_of(doc, err["loc"]))
            for err in exc.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from exc
    cross = [ConfigProblem(_dotted(loc), msg, _line_of(doc, loc)) for loc, msg in site.problems()]
    if cross:
        raise ConfigError(source, cross)
    doubts = site.counting_warnings()
    warnings = [ConfigProblem(_dotted(loc), msg, _line_of(doc, loc)) for loc, msg in doubts]
    object.__setattr__(site, "_warnings", warnings)
    return site


def load_site(path: str | Path) -> Site:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), [ConfigProblem("", "the file is not UTF-8")]) from exc
    return parse_site(text, str(path))
