"""A queryset compiled to SQL once per process, then run with other values.

Django compiles a queryset to SQL every time it runs: for a row locked and read with its
related rows (`select_related`, subqueries in `annotate`), building the statement costs
several times what PostgreSQL spends running it. The hot paths that run one such statement
per request (a payment's invoice lock) describe it once as a queryset and run it through
`CompiledQuery`: the first call compiles it (with stand-in values for what varies), every
call fills the values in, runs the SQL and builds the instances exactly as Django's own
`ModelIterable` does (the same `from_db`, related populators, converters and annotations).
The statement's text never changes, so PostgreSQL prepares it once per connection.

    _LOCK = CompiledQuery(lambda invoice_id: Invoice.objects.select_for_update().filter(pk=invoice_id), invoice_id=int)
    invoice = _LOCK.get(invoice_id=42)  # or .first(...), None when there is no row

Only plain values may vary (ints, strings and dates, each compared as it is in the queryset: `=`,
`<`, a range; one no column can hold, an int past 64 bits or a string with NUL, finds no row
instead of an error): a value
that changes the statement's shape (None, a list, a lookup that transforms it) must be a
different `CompiledQuery`. The build is checked at compile time: each stand-in must reach the
parameters unchanged (a date as the database backend adapts it).

A queryset of plain values (`values_list`, or `values(…).annotate(…)` for sums) runs through
`rows`, which gives its tuples with the values converted as Django's own run gives them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# Stand-ins for the values that vary, chosen so that no other parameter equals one.
_STAND_INS = {
    int: lambda i: -7_340_000_001 - i,
    str: lambda i: f"\x1fsettle-compiled-{i}\x1f",
    dt.date: lambda i: dt.date(1003, 1, 1) + dt.timedelta(days=i),
}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # each varying value's positions in params
    adapted: frozenset[str]  # the dates the backend passes adapted (SQLite: as text)
    col_count: int
    model: type | None  # None: a queryset of values, run by `rows`
    init_list: list[str]
    start: int
    end: int
    populators: list
    annotations: dict[str, int]
    converters: list[tuple[int, list, object]]  # (column, converters, expression)


class CompiledQuery:
    """`build(**values)` returns the queryset; `kinds` names each value and its type (int, str or date)."""

    def __init__(self, build: Callable[..., QuerySet], **kinds: type):
        unknown = {name: kind for name, kind in kinds.items() if kind not in _STAND_INS}
        if unknown:
            raise TypeError(f"Only int, str and date values may vary, not {unknown}.")
        self._build = build
        self._kinds = kinds
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, alias: str) -> _Compiled:
        stand_ins = {name: _STAND_INS[kind](i) for i, (name, kind) in enumerate(self._kinds.items())}
        queryset = self._build(**stand_ins).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        connection = connections[alias]
        slots, adapted = {}, set()
        for name, v in stand_ins.items():
            slots[name] = tuple(i for i, p in enumerate(params) if type(p) is type(v) and p == v)
            if not slots[name] and type(v) is dt.date:
                as_passed = connection.ops.adapt_datefield_value(v)
                slots[name] = tuple(i for i, p in enumerate(params) if type(p) is type(as_passed) and p == as_passed)
                adapted.add(name)
        missing = [name for name, positions in slots.items() if not positions]
        if missing:
            raise ValueError(f"The compiled query does not take {', '.join(missing)} as a parameter.")
        select, klass_info = compiler.select, compiler.klass_info
        converters = []
        for position, (expression, _, _) in enumerate(select[: compiler.col_count]):
            found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
            if found:
                converters.append((position, found, expression))
        compiled = _Compiled(
            sql=sql, params=tuple(params), slots=slots, adapted=frozenset(adapted), col_count=compiler.col_count,
            model=None, init_list=[], start=0, end=0, populators=[], annotations={}, converters=converters,
        )
        if not issubclass(queryset._iterable_class, ModelIterable):  # values: `rows`
            return compiled
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        return dataclasses.replace(
            compiled,
            model=klass_info["model"],
            init_list=[s[0].target.attname for s in select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, select, alias),
            annotations=dict(compiler.annotation_col_map or {}),
        )

    def get(self, *, using: str = "default", **values):
        """The instance the query returns with these values; the model's DoesNotExist if none."""
        obj = self.first(using=using, **values)
        if obj is None:
            model = self._compiled[(using, connections[using].vendor)].model
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        return obj

    def first(self, *, using: str = "default", **values):
        """The first instance the query returns with these values, or None."""
        found = self._run(using, values, many=False)
        return found[0] if found else None

    def all(self, *, using: str = "default", **values) -> list:
        """Every instance the query returns with these values, in its order."""
        return self._run(using, values, many=True)

    def rows(self, *, using: str = "default", **values) -> list[tuple]:
        """Every row of a queryset of values with these values, in its order, converted as Django converts them."""
        return self._run(using, values, many=True, plain=True)

    def _run(self, using: str, values: dict, *, many: bool, plain: bool = False) -> list:
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        if (compiled.model is None) is not plain:
            raise TypeError("A queryset of values runs by rows(); one of instances by first(), get() or all().")
        if values.keys() != self._kinds.keys():
            raise TypeError(f"Give exactly {', '.join(self._kinds)}, not {', '.join(values) or 'nothing'}.")
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            value = values[name]
            if type(value) is not self._kinds[name]:
                raise TypeError(f"{name} must be {self._kinds[name].__name__}, not {type(value).__name__}.")
            if not storable(value):
                return []  # equal to no stored value; the database would refuse it (an error, not "no row")
            if name in compiled.adapted:
                value = connection.ops.adapt_datefield_value(value)
            for position in positions:
                params[position] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            if many:
                rows = cursor.fetchall()
            else:
                row = cursor.fetchone()
                rows = [] if row is None else [row]
        if plain:
            return [tuple(self._converted(compiled, row, connection)[: compiled.col_count]) for row in rows]
        return [self._instance(compiled, row, using, connection) for row in rows]

    @staticmethod
    def _converted(compiled: _Compiled, row, connection):
        if compiled.converters:
            row = list(row)
            for position, converters, expression in compiled.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
        return row

    @classmethod
    def _instance(cls, compiled: _Compiled, row, using: str, connection):
        row = cls._converted(compiled, row, connection)
        obj = compiled.model.from_db(using, compiled.init_list, row[compiled.start:compiled.end])
        for populator in compiled.populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations.items():
            setattr(obj, name, row[position])
        return obj


def storable(value) -> bool:
    """Whether a column can hold `value`: a 64-bit integer, a string without NUL (which PostgreSQL's text
    refuses). A value from a URL or a form may be neither (`/invoices/99999999999999999999/`)."""
    if type(value) is int:
        return -(2**63) <= value < 2**63
    if type(value) is str:
        return "\x00" not in value
    return True
