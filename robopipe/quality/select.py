"""Safe episode selection expressions: ``quality.idle_fraction < 0.5 and success`` (core layer).

The text is parsed with :mod:`ast` and walked by hand: only boolean operators, comparisons (also
``in`` / ``not in`` a literal list), ``not`` / unary minus, names (dotted: ``quality.score``,
``timing.late_frames``) and constants are accepted. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from robopipe.errors import ConfigError

MAX_EXPRESSION = 2000
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class Selector:
    """A parsed expression; ``matches(row)`` evaluates it against one episode's values."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_EXPRESSION:
            raise ConfigError(f"--where: expression longer than {MAX_EXPRESSION} characters")
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConfigError(f"--where {text!r}: not an expression ({exc.msg})") from exc
        self.text = text
        self.tree = tree.body
        self.names: set[str] = set()
        self._check(self.tree)

    def _check(self, node: ast.expr) -> None:
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            self._check(node.operand)
        elif isinstance(node, ast.Compare):
            if not all(type(op) in _COMPARE for op in node.ops):
                raise ConfigError(f"--where {self.text!r}: unsupported comparison")
            for v in (node.left, *node.comparators):
                self._check(v)
        elif isinstance(node, ast.Name | ast.Attribute):
            name = _dotted(node)
            if name is None:
                raise ConfigError(f"--where {self.text!r}: only plain dotted names are allowed")
            self.names.add(name)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool | type(None)):
                raise ConfigError(f"--where {self.text!r}: unsupported constant {node.value!r}")
        elif isinstance(node, ast.List | ast.Tuple | ast.Set):
            for v in node.elts:
                if not isinstance(v, ast.Constant):
                    raise ConfigError(f"--where {self.text!r}: lists may only hold constants")
                self._check(v)
        else:
            raise ConfigError(
                f"--where {self.text!r}: {type(node).__name__} is not allowed "
                "(use names, constants, comparisons, and/or/not)"
            )

    def check_names(self, known: set[str]) -> None:
        unknown = sorted(n for n in self.names if n not in known)
        if unknown:
            raise ConfigError(f"--where: unknown name(s) {unknown}; known: {', '.join(sorted(known))}")

    def matches(self, row: Mapping[str, Any]) -> bool:
        return bool(self._eval(self.tree, row))

    def _eval(self, node: ast.expr, row: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._eval(v, row) for v in node.values)
            return any(self._eval(v, row) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, row)
            if isinstance(node.op, ast.Not):
                return not v
            if v is None:
                return None
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, row)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node, row)
                if (left is None or right is None) and type(op) not in (ast.Eq, ast.NotEq):
                    return False  # a missing value never satisfies an ordering
                try:
                    if not _COMPARE[type(op)](left, right):
                        return False
                except TypeError as exc:
                    raise ConfigError(
                        f"--where {self.text!r}: cannot compare {left!r} with {right!r}"
                    ) from exc
                left = right
            return True
        if isinstance(node, ast.Name | ast.Attribute):
            return row.get(_dotted(node) or "")
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return [self._eval(v, row) for v in node.elts]
        raise ConfigError(f"--where {self.text!r}: {type(node).__name__} is not allowed")


def read_selection(path: Path) -> list[int]:
    """Episode indices of a selection file saved by the viewer (``{"episodes": [...]}``) or a plain list."""
    try:
        if Path(path).stat().st_size > 64 << 20:
            raise ConfigError(f"{path}: selection file larger than 64 MiB")
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read selection ({exc})") from exc
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = [t for t in text.replace(",", " ").split() if t]
    if isinstance(data, dict):
        data = data.get("episodes")
    if not isinstance(data, list):
        raise ConfigError(f'{path}: expected {{"episodes": [0, 3, ...]}} or a list of episode indices')
    try:
        out = sorted({int(x) for x in data})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: episode indices must be integers ({exc})") from exc
    if any(i < 0 for i in out):
        raise ConfigError(f"{path}: negative episode index")
    return out
