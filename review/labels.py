"""SME labels from a spreadsheet: a CSV with the header `example_id,criterion,passed,reviewer`, one mark a line.

`passed` is pass/fail, true/false or 1/0 (any case). Every bad line is reported as `file:line: field: what is
wrong`, all at once, and nothing is read from a file with one.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from config import InputError
from review.decisions import REF, REVIEWER, Label

COLUMNS = ("example_id", "criterion", "passed", "reviewer")
PASSED = {"pass": True, "true": True, "1": True, "fail": False, "false": False, "0": False}
CRITERION = re.compile(r"[a-z][a-z0-9_]*")  # a rubric criterion id


def read_labels(path: Path) -> list[Label]:
    """The labels of a CSV file; InputError naming each bad line (a missing file, a wrong header, a bad value, the
    same reviewer's mark on the same example and criterion twice)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a byte-order mark
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    rows = csv.reader(text.splitlines())
    header = [name.strip() for name in next(rows, [])]
    if sorted(header) != sorted(COLUMNS):
        raise InputError(
            f"{path}:1: header: must be {','.join(COLUMNS)} (in any order), got {','.join(header) or 'nothing'}"
        )
    labels: list[Label] = []
    problems: list[str] = []
    first: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{path}:{line}: row: {len(row)} fields, the header has {len(header)}")
            continue
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        wrong = _problems(cells)
        problems += [f"{path}:{line}: {field}: {what}" for field, what in wrong]
        if wrong:
            continue
        label = Label(
            example_id=cells["example_id"],
            criterion=cells["criterion"],
            passed=PASSED[cells["passed"].lower()],
            reviewer=cells["reviewer"],
        )
        key = (label.example_id, label.criterion, label.reviewer)
        if key in first:
            problems.append(
                f"{path}:{line}: example_id: {label.reviewer} marked {label.criterion} of {label.example_id} already "
                f"on line {first[key]}"
            )
            continue
        first[key] = line
        labels.append(label)
    if problems:
        raise InputError.capped(problems)
    return labels


def _problems(cells: dict[str, str]) -> list[tuple[str, str]]:
    """(field, what is wrong) for each bad cell of one row."""
    wrong = []
    if not REF.fullmatch(cells["example_id"]):
        wrong.append(("example_id", f"{cells['example_id']!r} is not an example id"))
    if not CRITERION.fullmatch(cells["criterion"]):
        wrong.append(("criterion", f"{cells['criterion']!r} is not a criterion id (lowercase letters, digits, '_')"))
    if cells["passed"].lower() not in PASSED:
        wrong.append(("passed", f"{cells['passed']!r} is not one of pass, fail, true, false, 1, 0"))
    if not re.fullmatch(REVIEWER, cells["reviewer"]):
        wrong.append(("reviewer", f"{cells['reviewer']!r} is not a reviewer name (letters, digits, space . _ @ -)"))
    return wrong
