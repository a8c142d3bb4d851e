"""Loads a site YAML file and reports every problem with its field path and line."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from gudang.errors import ConfigError, ConfigProblem
from gudang.site.model import Bin, Device, Entries, Loc, Site, Sku, Tag, cross_problems

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


_SECTIONS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("devices", Device), ("skus", Sku), ("bins", Bin), ("tags", Tag),
)  # fmt: skip
_SCALAR = (str, int, float, bool)


def _message(err: ErrorDetails) -> str:
    """Pydantic's message, with the value it refused when that is short."""
    value, msg = err.get("input"), err["msg"].removeprefix("Value error, ")
    if err["type"] in ("missing", "extra_forbidden") or not isinstance(value, _SCALAR):
        return msg
    shown = repr(value)
    return f"{msg} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"


def _entries(doc: CommentedMap, section: str, model: type[Any]) -> Entries[Any]:
    """A section as written, and its entries that validate on their own."""
    items = doc.get(section)
    raw = [i if isinstance(i, dict) else {} for i in (items if isinstance(items, list) else [])]
    valid: list[tuple[int, Any]] = []
    for i, item in enumerate(raw):
        with suppress(ValidationError):  # its own problems are in the report already
            valid.append((i, model.model_validate(item)))
    return Entries(raw, valid)


def _sorted(doc: Any, found: list[tuple[Loc, str]]) -> list[ConfigProblem]:
    problems = [ConfigProblem(_dotted(loc), msg, _line_of(doc, loc)) for loc, msg in found]
    return sorted(problems, key=lambda p: (p.line or 0, p.path))


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
        # Every problem in one report: the entries' own, and the checks across
        # the entries that did validate.
        found = [(err["loc"], _message(err)) for err in exc.errors(include_url=False)]
        found += cross_problems(*(_entries(doc, section, model) for section, model in _SECTIONS))
        raise ConfigError(source, _sorted(doc, found)) from exc
    cross = site.problems()
    if cross:
        raise ConfigError(source, _sorted(doc, cross))
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
