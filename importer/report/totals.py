"""Counts per report status and per reason; ``rows`` is their sum by construction."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from importer.lifecycle import RowOutcome, Status

_CLAUSE_END = re.compile(r" \(|; ")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
PROBLEM_CHARS = 80

_Key = TypeVar("_Key", bound=Hashable)

WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Every character ``str.strip()`` takes away (``str.isspace``), for Arrow's trim kernels."""


@dataclass(slots=True)
class Totals:
    """Counts per status; ``rows`` is their sum by construction."""

    created: int = 0
    conflicted: int = 0
    failed: int = 0
    duplicate: int = 0
    skipped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Failed rows per problem (``failure_problem``): what the top failure reasons are."""

    @property
    def rows(self) -> int:
        """Return the number of rows counted."""
        return self.created + self.conflicted + self.failed + self.duplicate + self.skipped

    def add(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count each outcome once, under the status its state is reported as."""
        for outcome in outcomes:
            name = outcome.status.value
            setattr(self, name, getattr(self, name) + 1)
            self.by_reason[outcome.reason.value] = self.by_reason.get(outcome.reason.value, 0) + 1
            if outcome.status is Status.FAILED:
                problem = failure_problem(outcome)
                self.failures[problem] = self.failures.get(problem, 0) + 1

    def add_groups(
        self,
        status: pa.Array,
        reason: pa.Array,
        message: pa.Array,
        rows: npt.NDArray[np.int64],
    ) -> None:
        """Count groups of rows at once: ``rows[i]`` rows of ``status[i]`` and ``reason[i]``.

        A failed group's rows are counted under its problem too (``failure_problems`` of its
        ``message``), as ``add`` counts one failed row.
        """
        pairs = list(zip(status.to_pylist(), reason.to_pylist(), strict=True))
        for (shown, code), count in _weighted(pairs, rows):
            name = Status(shown).value
            setattr(self, name, getattr(self, name) + count)
            self.by_reason[code] = self.by_reason.get(code, 0) + count
        failed = pc.equal(status, Status.FAILED.value)
        if pc.any(failed).as_py():
            problems = failure_problems(reason.filter(failed), message.filter(failed))
            weights = rows[failed.to_numpy(zero_copy_only=False)]
            for problem, count in _weighted(problems.to_pylist(), weights):
                self.failures[problem] = self.failures.get(problem, 0) + count

    def top_failures(self, count: int | None = 5) -> list[tuple[str, int]]:
        """Return the ``count`` most frequent problems of failed rows (None: all), with counts."""
        ranked = sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:count]

    def as_dict(self) -> dict[str, int]:
        """Return the totals under the key names that scripts rely on."""
        return {
            "rows": self.rows,
            "created": self.created,
            "conflicted": self.conflicted,
            "failed": self.failed,
            "duplicate": self.duplicate,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, counts: dict[str, int], by_reason: dict[str, int]) -> Totals:
        """Rebuild totals saved with ``as_dict`` and their reasons."""
        totals = cls(by_reason=by_reason)
        for name in ("created", "conflicted", "failed", "duplicate", "skipped"):
            setattr(totals, name, int(counts.get(name, 0)))
        return totals


def _weighted(keys: Sequence[_Key], weights: npt.NDArray[np.int64]) -> list[tuple[_Key, int]]:
    """Return each key with the sum of its weights, in first-seen order, leaving out zeros.

    Most weights are 1 (a row's own outcome), so the keys are counted at C speed and only the
    few other weights (a block of rows, or a group with no row in the chunk) are added by hand.
    """
    counted = Counter(keys)
    for position in np.flatnonzero(weights != 1).tolist():
        counted[keys[position]] += int(weights[position]) - 1
    return [(key, count) for key, count in counted.items() if count]


def failure_problem(outcome: RowOutcome) -> str:
    """Return a failed row's problem, shared by the rows failed the same way.

    The reason code and the message's first clause without the row's own values: the rows
    whose email is broken in different ways are all ``validation: email is not a valid email
    address``.
    """
    text = _CLAUSE_END.split(outcome.message, maxsplit=1)[0]
    text = _QUOTED.sub("…", text).strip().rstrip(":")
    if len(text) > PROBLEM_CHARS:
        text = text[: PROBLEM_CHARS - 1].rstrip() + "…"
    return f"{outcome.reason.value}: {text}" if text else outcome.reason.value


_CLAUSE_END_RE2 = r"(?s)(?: \(|; ).*"
"""``_CLAUSE_END`` and all after it, in RE2 syntax."""


def failure_problems(reasons: pa.Array, messages: pa.Array) -> pa.Array:
    """Return ``failure_problem`` of many failed rows at once, by their reasons and messages."""
    text = pc.replace_substring_regex(messages, _CLAUSE_END_RE2, "", max_replacements=1)
    text = pc.replace_substring_regex(text, _QUOTED.pattern, "\u2026")
    text = pc.utf8_rtrim(pc.utf8_trim(text, WHITESPACE), ":")
    head = pc.utf8_rtrim(pc.utf8_slice_codeunits(text, 0, PROBLEM_CHARS - 1), WHITESPACE)
    cut = pc.binary_join_element_wise(
        head, pa.scalar("\u2026", text.type), pa.scalar("", text.type)
    )
    text = pc.if_else(pc.greater(pc.utf8_length(text), PROBLEM_CHARS), cut, text)
    named = pc.binary_join_element_wise(reasons.cast(text.type), text, pa.scalar(": ", text.type))
    return pc.if_else(pc.equal(text, ""), reasons.cast(text.type), named)
