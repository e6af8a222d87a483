"""One task, named the same everywhere (SPEC §12): pure checks, no I/O.

A wave's task (a Prolific study, the HITs of an MTurk batch) is named by several sources:
the export's file name, the config, the panel's API, and the survey's own column holding
the panel's task id (Prolific's `STUDY_ID` URL parameter). Each panel gathers its own
sources into an `Identity` (`bridge.panels.<panel>.PANEL.identity`); a disagreement among
them is an input error naming each source, before anything is matched or written.
`split_survey` checks the survey's column against the task and keeps only the task's
responses for matching: a survey shared by several studies lists the others' responses as
unmatched (`other_study`), never joins them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

from bridge.errors import SourceError
from bridge.match import IGNORED_STATUSES
from bridge.models import Response, SurveyTable

NOTHING_DONE = "Nothing was written or sent."


@dataclass(slots=True)
class Identity:
    """The wave's task as the panel's own sources name it."""

    tasks: set[str]  # the task ids the sources agree on (empty: none names it)
    named_by: str  # for messages: "[prolific] study_id and the export's file name"
    task_word: str = "study"  # "study", "HIT"
    how_to_name: str = ""  # for messages: how a person names the task ("set [prolific] study_id")
    problems: list[str] = field(default_factory=list)  # disagreements: an input error
    warnings: list[str] = field(default_factory=list)


def shown(counts: Counter[str], most: int = 5) -> str:
    """`a (12 responses), b (3 responses)` and how many more."""
    text = ", ".join(f"{v} ({n} response{'s' if n != 1 else ''})" for v, n in counts.most_common(most))
    return text + (f" and {len(counts) - most} more" if len(counts) > most else "")


def disagreement(sources: list[tuple[str, str]], task_word: str, advice: str) -> str | None:
    """The problem when (source, id) pairs that must name one task name several, else None."""
    ids = list(dict.fromkeys(i for _, i in sources))
    if len(ids) <= 1:
        return None
    said = "; ".join(f"{source} says {i}" for source, i in sources)
    return f"The wave's {task_word} is named differently: {said}. {advice} {NOTHING_DONE}"


def plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def other_reason(task_word: str) -> str:
    return f"other_{task_word.lower().replace(' ', '_')}"


def split_survey(survey: SurveyTable, column: str | None, identity: Identity
                 ) -> tuple[SurveyTable, list[tuple[Response, list[str]]]]:
    """The survey's responses of this wave's task (and those naming none), and the others
    with why (`other_study`). SourceError when the survey's `column` names only other tasks,
    or several while nothing else names this one."""
    if not column or not survey.has_column(column):
        return survey, []
    counts = Counter(v for r in survey.responses if r.status not in IGNORED_STATUSES
                     and (v := r.fields.get(column, "").strip()))
    if not counts:
        return survey, []
    word = identity.task_word
    known = {t for t in identity.tasks if t}
    if not known:
        if len(counts) == 1:
            return survey, []
        raise SourceError(
            f"The survey {survey.source} holds responses of {len(counts)} {plural(word)} in its column {column!r} "
            f"({shown(counts)}), and nothing names this wave's {word}: {identity.how_to_name}, so that only its "
            f"responses are matched. {NOTHING_DONE}")
    if not known & counts.keys():
        raise SourceError(
            f"The wave's {word} is named differently: it is {', '.join(sorted(known))} by {identity.named_by}; the "
            f"survey's column {column!r} ({survey.source}) names {shown(counts)}. The survey export is likely "
            f"another {word}'s (or the export of the panel is): check both files. {NOTHING_DONE}")
    if counts.keys() <= known:
        return survey, []
    why = [other_reason(word)]
    kept: list[Response] = []
    others: list[tuple[Response, list[str]]] = []
    for r in survey.responses:
        value = r.fields.get(column, "").strip()
        if value and value not in known and r.status not in IGNORED_STATUSES:
            others.append((r, why))
        else:
            kept.append(r)
    return dataclasses.replace(survey, responses=kept), others


def other_tasks_warning(others: list[tuple[Response, list[str]]], column: str, identity: Identity) -> str:
    """The warning naming how many responses of other tasks were set aside."""
    counts = Counter(r.fields.get(column, "").strip() for r, _ in others)
    return (f"The survey also holds {len(others)} response(s) of other {plural(identity.task_word)} in its column "
            f"{column!r} ({shown(counts)}): they are listed as unmatched ({other_reason(identity.task_word)}) and "
            "never joined to this wave's submissions.")
