"""YAML (or JSON) files whose mistakes are told by line: `FILE:LINE: field.path: what`.

`load(path)` reads a file as YAML (JSON is YAML too) and keeps, for every mapping entry and
list item, the line it starts on. `Located.validate(model)` validates the data (or a part of
it) with a pydantic model and turns the first error into one `LocatedError` naming the file,
the line of the field (or of the nearest enclosing entry, for a missing field) and the
contract's one-line reason (iiot.contract.describe). Registry files (iiot/registry_file.py)
and device mapping files use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]
from pydantic import BaseModel, ValidationError

from iiot.contract import describe

M = TypeVar("M", bound=BaseModel)
# libyaml's parser where PyYAML was built with it (its nodes carry the same marks): a large
# registry file loads several times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Loc = tuple[int | str, ...]


class LocatedError(ValueError):
    """One line: `FILE:LINE: what is wrong` (`FILE: …` where no line applies)."""

    def __init__(self, name: str, line: int | None, message: str) -> None:
        self.name, self.line = name, line
        self.message = " ".join(message.split())  # no newlines, ever
        where = name if line is None else f"{name}:{line}"
        super().__init__(f"{where}: {self.message}")


@dataclass(frozen=True)
class Located:
    """A loaded file: its data, and the line (from 1) of each entry by its path of keys and
    list indices, as pydantic writes an error's `loc`."""

    name: str
    data: Any
    lines: dict[Loc, int] = field(repr=False)

    def line_of(self, loc: Sequence[int | str]) -> int:
        """The line of `loc`, or of the nearest entry that holds it (a missing field: the
        mapping that lacks it)."""
        loc = tuple(loc)
        if loc not in self.lines:  # a key YAML read as a number, validated as text (`1:`)
            loc = tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in loc)
        while loc not in self.lines:
            loc = loc[:-1]
        return self.lines[loc]

    def error(self, loc: Sequence[int | str], message: str) -> LocatedError:
        """`FILE:LINE: loc.path: message`, the line that of `loc`."""
        where = ".".join(str(part) for part in loc)
        return LocatedError(
            self.name, self.line_of(loc), f"{where}: {message}" if where else message
        )

    def invalid(self, exc: ValidationError, at: Sequence[int | str] = ()) -> LocatedError:
        """The first error of `exc` (raised validating the data at `at`), located; how many
        more there are, if any."""
        errors = exc.errors(include_url=False)
        chosen, hint = _typo(errors) or (errors[0], "")
        loc: Loc = (*at, *chosen["loc"])
        first = {**chosen, "loc": loc}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return LocatedError(self.name, self.line_of(loc), describe(first) + hint + more)

    def at(self, loc: Sequence[int | str]) -> Any:
        """The data at `loc`."""
        data = self.data
        for part in loc:
            data = data[part]
        return data

    def validate(self, model: type[M], at: Sequence[int | str] = (), data: Any = None) -> M:
        """The data at `at` (or `data` standing for it) as `model`, or the `LocatedError` of
        its first mistake."""
        try:
            return model.model_validate(self.at(at) if data is None else data)
        except ValidationError as exc:
            raise self.invalid(exc, at) from None


def _typo(errors: Sequence[Any]) -> tuple[Any, str] | None:
    """A key that is not allowed beside a required one that is missing and spelt like it
    (`count_totl` for `count_total`): that key is the mistake to name, not the missing one
    it leaves behind."""
    missing: dict[Loc, list[str]] = {}
    for error in errors:
        if error["type"] == "missing" and error["loc"] and isinstance(error["loc"][-1], str):
            missing.setdefault(tuple(error["loc"][:-1]), []).append(error["loc"][-1])
    for error in errors:
        loc = error["loc"]
        if error["type"] != "extra_forbidden" or not loc or not isinstance(loc[-1], str):
            continue
        close = get_close_matches(loc[-1], missing.get(tuple(loc[:-1]), []), n=1)
        if close:
            return error, f" (a typo of {close[0]!r}?)"
    return None


def load(path: str | Path) -> Located:
    """Read `path` as YAML (or JSON), keeping each entry's line. A file that cannot be read,
    or is no YAML, raises `LocatedError` (with the line of the YAML mistake)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LocatedError(name, None, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LocatedError(name, None, f"not UTF-8 text: {exc.reason}") from None
    return loads(text, name)


def loads(text: str, name: str = "<text>") -> Located:
    """`load()` of a text, its errors naming it `name`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
        lines: dict[Loc, int] = {}
        if node is not None:
            _walk(loader, node, (), lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        raise LocatedError(name, line, f"not YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise LocatedError(name, None, f"not YAML: {exc}") from None
    finally:
        loader.dispose()
    lines.setdefault((), 1)
    return Located(name, data, lines)


def _walk(loader: Any, node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    """Each entry's line: a mapping entry's is its key's, a list item's its own."""
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:  # merges (<<) already flattened in
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, int | str):
                lines[(*loc, key)] = key_node.start_mark.line + 1
                _walk(loader, value_node, (*loc, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*loc, index), lines)
