"""Read a Prolific study's submissions through API v1: the same `SubmissionTable` the export
reader (`bridge.panels.prolific.reader`) gives for the same study.

    GET /api/v1/studies/{id}/                                  the study (FACTS 1.9)
    GET /api/v1/submissions/?study={id}&page_size=200          every submission, page by page,
                                                                following _links.next (FACTS 1.4)

`study` is always given (an unscoped call lists every study's submissions, FACTS 1.4
Dallinger #9283), and paging follows the `next` links to the end (Dallinger read only the
first 20, FACTS §5.1), guarded against repeated links and overlapping pages (FACTS 1.4,
[AUT]).

Field by field, as the export reader has them: `Submission id` = `id`, `Participant id` =
`participant_id`, `Status` = `status`, `Started at` = `started_at`, `Completed at` =
`completed_at`, `Time taken` = `time_taken`, `Completion code` = `study_code` (`NOCODE` kept,
FACTS 1.5). Two things the export has and the API list has not: the demographic columns
(the export's `answers`; the API gives `{}`), and `Reviewed at` (the export's
`approved_at` / `rejected_at`; the list items carry no review time, FACTS 1.5, so the API
leaves them empty). The API adds what the export lacks: the study's title, reward, places,
time limit, currency and completion codes.

The token comes only from PROLIFIC_API_TOKEN; every failure is one `SourceError` naming the
study, where it was looked for and what to do, never the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from bridge.errors import InputError, SourceError
from bridge.models import Submission, SubmissionTable, Task
from bridge.panels.prolific.http import Answer, ProlificHttp, Unreachable, problem, token_from
from bridge.panels.prolific.words import auto_approval, parse_time, state_of, status_word

# completion_codes[].code_type -> what the code means to the close-out (SPEC §7; FACTS 1.9).
CODE_OUTCOMES = {"COMPLETED": "completed", "FAILED_ATTENTION_CHECK": "failed_check"}
DEFAULT_CURRENCY = "GBP"  # FACTS 1.9 ([CLI] GetCurrencyCode)
_CENTS = Decimal("0.01")


def where(environment: str) -> str:
    from bridge.panels.prolific import PANEL

    return PANEL.describe_environment(environment)


def minor_to_major(value: Any) -> Decimal:
    """Prolific's minor units (pence, cents; an int, or a float in BulkBonus) -> Decimal major units."""
    return (Decimal(str(value)) / 100).quantize(_CENTS)


def submission_from(item: Mapping[str, Any], study_id: str) -> Submission:
    """One list item (`SubmissionShort` plus its real extra fields, FACTS 1.5) as the export
    reader would give its row."""
    status = status_word(str(item.get("status") or ""))
    state = state_of(status)
    completed = _time(item.get("completed_at"))
    taken = item.get("time_taken")
    return Submission(
        submission_id=str(item["id"]),
        participant_id=str(item.get("participant_id") or ""),
        task_id=study_id,
        state=state,
        status=status,
        started_at=_time(item.get("started_at")),
        submitted_at=completed,
        auto_approval_time=auto_approval(state, completed),
        time_taken_seconds=int(taken) if isinstance(taken, (int, float)) and not isinstance(taken, bool) else None,
        entered_code=str(item.get("study_code") or "").strip(),
    )


def _time(value: Any):
    return parse_time(value) if isinstance(value, str) else None


def task_from(study: Mapping[str, Any], study_id: str) -> Task:
    """The study as a Task: reward in major units, the time limit in seconds (FACTS 1.9)."""
    reward, limit, places = study.get("reward"), study.get("maximum_allowed_time"), study.get("total_available_places")
    return Task(
        task_id=study_id,
        title=str(study.get("name") or ""),
        description=str(study.get("description") or ""),
        reward=minor_to_major(reward) if isinstance(reward, (int, float)) and not isinstance(reward, bool) else None,
        places=places if isinstance(places, int) and not isinstance(places, bool) else None,
        duration_limit_seconds=int(limit * 60) if isinstance(limit, (int, float)) and not isinstance(limit, bool)
        else None,
        created_at=_time(study.get("date_created")),
    )


def currency_of(study: Mapping[str, Any]) -> str:
    """presentment_currency_code, then currency_code, else GBP (FACTS 1.9)."""
    for key in ("presentment_currency_code", "currency_code"):
        value = study.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return DEFAULT_CURRENCY


def code_outcomes(study: Mapping[str, Any]) -> dict[str, str]:
    """The study's completion codes that name an outcome the close-out knows; others left out."""
    out: dict[str, str] = {}
    for entry in study.get("completion_codes") or []:
        if not isinstance(entry, Mapping):
            continue
        code, kind = entry.get("code"), entry.get("code_type")
        if isinstance(code, str) and code.strip() and kind in CODE_OUTCOMES:
            out[code.strip()] = CODE_OUTCOMES[kind]
    return out


def read_study(http: ProlificHttp, study_id: str, *, place: str, doing: str,
               error: Callable[[str], Exception] = SourceError) -> dict:
    """GET /studies/{id}/ as a dict; `error` (a SourceError unless told) when it fails."""
    answer = _call(lambda: http.get(f"/api/v1/studies/{study_id}/"), place=place, doing=doing, error=error)
    if not answer.ok:
        raise _failed(answer, study_id, place=place, doing=doing, error=error)
    if not isinstance(answer.body, dict):
        raise error(f"Prolific's answer for study {study_id} is not a study ({place}); run again.")
    return answer.body


def fetch_study(study_id: str, *, environment: str, env: Mapping[str, str],
                session: ProlificHttp | None = None) -> SubmissionTable:
    """The study and every one of its submissions. `session` is an open `ProlificHttp` to
    use (tests tune its back-off); otherwise one is made for `environment` with the token
    from `env["PROLIFIC_API_TOKEN"]` (SourceError before any request when it is unset)."""
    if not study_id:
        raise SourceError("set [prolific] study_id to read the study through Prolific's API.")
    own = session is None
    if own:
        try:
            token = token_from(env)
        except InputError as exc:
            raise SourceError(f"Cannot read study {study_id} from Prolific: {exc}") from None
        session = ProlificHttp(environment, token)
    place = where(environment)
    doing = f"reading study {study_id}"
    try:
        study = read_study(session, study_id, place=place, doing=doing)
        answered = study.get("id")
        if isinstance(answered, str) and answered and answered != study_id:  # SPEC §12: one study everywhere
            raise SourceError(f"The wave's study is named differently: [prolific] study_id says {study_id}; "
                              f"{place} answered study {answered}. Check [prolific] environment. Nothing was "
                              "written or sent.")
        params = {"study": study_id}
        answer, listing = _call(lambda: session.listing("/api/v1/submissions/", params), place=place, doing=doing)
        if not answer.ok:
            raise _failed(answer, study_id, place=place, doing=f"listing the submissions of study {study_id}")
        if not listing.complete:
            raise SourceError(
                f"Prolific listed {len(listing.items)} of the {listing.count} submissions of study {study_id} "
                f"({place}; {listing.stopped or 'pages overlapped'}). Nothing was decided; run the command again.")
        submissions = []
        for item in listing.items:
            try:
                submissions.append(submission_from(item, study_id))
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError(f"Prolific listed a submission of study {study_id} that cannot be read "
                                  f"({type(exc).__name__}: {exc}); run again, or use the study's export.") from None
    finally:
        if own:
            session.close()
    return SubmissionTable(
        source=f"Prolific API: study {study_id} ({place})",
        tasks={study_id: task_from(study, study_id)},
        submissions=submissions,
        currency=currency_of(study),
        code_outcomes=code_outcomes(study),
    )


def _call(send, *, place: str, doing: str, error: Callable[[str], Exception] = SourceError):
    try:
        return send()
    except Unreachable as exc:
        raise error(f"Cannot reach {place} while {doing}: {exc}. Check the network connection (for the "
                    "emulator: that it is running at that address), then run again.") from None


def _failed(answer: Answer, study_id: str, *, place: str, doing: str,
            error: Callable[[str], Exception] = SourceError) -> Exception:
    not_found = (f"{place[0].upper()}{place[1:]} has no study {study_id}: check [prolific] study_id (24 characters "
                 "from the study's page) and that PROLIFIC_API_TOKEN is a token of the workspace that owns it")
    return error(problem(answer, doing=f"{doing} at {place}" if answer.status != 404 else doing,
                         not_found=not_found))
