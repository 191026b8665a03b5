"""A small GAQL parser: enough of Google Ads Query Language for Usher's reads.

Supports `SELECT f1, f2 FROM resource [WHERE cond AND cond ...] [ORDER BY f [ASC|DESC], ...]
[LIMIT n]`, with conditions `=, !=, >, >=, <, <=, IN, NOT IN, LIKE, DURING, BETWEEN`.
Errors raise GaqlError carrying the QueryError code Google would send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>!=|>=|<=|=|>|<|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
KEYWORDS = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "IN",
        "NOT",
        "LIKE",
        "DURING",
        "BETWEEN",
        "PARAMETERS",
        "IS",
        "NULL",
    }
)


class GaqlError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Condition:
    field: str
    operator: str
    value: Any


@dataclass
class Query:
    fields: list[str]
    resource: str
    conditions: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = TOKEN.match(text, position)
        if not found or found.end() == position:
            raise GaqlError(
                "BAD_SYMBOL",
                f"Unexpected input at position {position}: {text[position : position + 20]!r}",
            )
        kind = found.lastgroup or ""
        value = found.group(kind)
        if kind == "word" and value.upper() in KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append((kind, value))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise GaqlError("UNEXPECTED_END_OF_QUERY", "The query ended unexpectedly.")
        self.index += 1
        return token

    def keyword(self, word: str, code: str) -> None:
        token = self.take()
        if token != ("keyword", word):
            raise GaqlError(code, f"Expected {word}, found {token[1]!r}.")

    def at(self, word: str) -> bool:
        return self.peek() == ("keyword", word)

    def field_name(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise GaqlError("BAD_FIELD_NAME", f"Expected a field name, found {value!r}.")
        return value

    def value(self) -> Any:
        kind, value = self.take()
        if kind == "string":
            return value[1:-1]
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind in ("word", "keyword"):
            return value  # enum constants and date-range literals
        if value == "(":
            items = [self.value()]
            while self.peek() == ("op", ","):
                self.take()
                items.append(self.value())
            if self.take() != ("op", ")"):
                raise GaqlError("EXPECTED_LIST", "A list must end with ')'.")
            return items
        raise GaqlError("BAD_VALUE", f"Unexpected value {value!r}.")

    def condition(self) -> Condition:
        name = self.field_name()
        kind, op = self.take()
        if kind == "op" and op in ("=", "!=", ">", ">=", "<", "<="):
            return Condition(name, op, self.value())
        if (kind, op) == ("keyword", "NOT"):
            self.keyword("IN", "BAD_OPERATOR")
            return Condition(name, "NOT IN", self.value())
        if kind == "keyword" and op in ("IN", "LIKE", "DURING"):
            return Condition(name, op, self.value())
        if (kind, op) == ("keyword", "BETWEEN"):
            low = self.value()
            self.keyword("AND", "EXPECTED_AND")
            return Condition(name, "BETWEEN", (low, self.value()))
        raise GaqlError("BAD_OPERATOR", f"Unsupported operator {op!r}.")

    def parse(self) -> Query:
        self.keyword("SELECT", "EXPECTED_SELECT")
        fields = [self.field_name()]
        while self.peek() == ("op", ","):
            self.take()
            fields.append(self.field_name())
        self.keyword("FROM", "EXPECTED_FROM")
        query = Query(fields, self.field_name())
        if self.at("WHERE"):
            self.take()
            query.conditions.append(self.condition())
            while self.at("AND"):
                self.take()
                query.conditions.append(self.condition())
        if self.at("ORDER"):
            self.take()
            self.keyword("BY", "EXPECTED_BY")
            while True:
                name = self.field_name()
                descending = False
                if self.at("ASC") or self.at("DESC"):
                    descending = self.take()[1] == "DESC"
                query.order_by.append((name, descending))
                if self.peek() != ("op", ","):
                    break
                self.take()
        if self.at("LIMIT"):
            self.take()
            kind, value = self.take()
            if kind != "number" or int(float(value)) <= 0:
                raise GaqlError("BAD_LIMIT_VALUE", "LIMIT must be a positive integer.")
            query.limit = int(value)
        if self.at("PARAMETERS"):
            self.index = len(self.tokens)  # e.g. include_drafts=true: accepted, ignored
        if self.peek() is not None:
            raise GaqlError("UNEXPECTED_INPUT", f"Unexpected {self.peek()[1]!r} after the query.")  # type: ignore[index]
        return query


def parse(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise GaqlError("EXPECTED_SELECT", "The query is empty.")
    return _Parser(text).parse()
