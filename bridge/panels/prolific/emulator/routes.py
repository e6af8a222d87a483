"""The Prolific API v1 endpoints the emulator serves, between HTTP requests and `ProlificState`.

`ROUTES` maps (method, OpenAPI path template) to a handler and the spec's operationId (the
name `ProlificEmulator.calls` counts). Every handler runs with the state's lock held and its
queued work swept, takes the parsed `Request` and the path parameters, and returns
(HTTP status, JSON body or None for 204). Errors are raised as `ApiError`/`NotFound`.
Request-body checks (`params`) answer DRF's standard texts (Prolific is a Django REST
framework service, FACTS 1.2); the exact texts Prolific sends are unconfirmed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.panels.prolific.emulator import wire
from bridge.panels.prolific.emulator.params import (
    REQUIRED,
    Request,
    body_choice,
    body_object,
    body_string,
    body_strings,
    filtered,
    ordered,
    paginate,
)
from bridge.panels.prolific.emulator.records import (
    BULK_APPROVE_MAX,
    REJECTION_CATEGORIES,
    REJECTION_MESSAGE_MIN,
    STUDY_STATUSES,
    ApiError,
    GroupRecord,
    NotFound,
    bad_request,
    new_id,
    to_minor,
)
from bridge.panels.prolific.emulator.state import TRANSITIONS, ProlificState

APPROVABLE = frozenset({"AWAITING REVIEW", "APPROVED"})  # approved already: the repeat is ignored
PROLIFIC_ID = re.compile(r"^[a-f0-9]{24}$")
BULK_APPROVE_ANSWER = "The request to bulk approve has been made successfully."  # FACTS 1.7 ([S25] example)
PAY_ANSWER = "The request to pay the bonus payments has been made successfully."  # 202 string: text unconfirmed

Answer = tuple[int, Any]


# --- handlers ---------------------------------------------------------------------------


def get_user(state: ProlificState, req: Request) -> Answer:
    return 200, wire.user(state)


def get_workspaces(state: ProlificState, req: Request) -> Answer:
    return 200, {"results": [wire.workspace(state, short=True)], "meta": {"count": 1}}


def _workspace(state: ProlificState, workspace_id: str) -> None:
    if workspace_id != state.workspace_id:
        raise NotFound()


def get_workspace(state: ProlificState, req: Request, workspace_id: str) -> Answer:
    _workspace(state, workspace_id)
    return 200, wire.workspace(state)


def get_workspace_balance(state: ProlificState, req: Request, workspace_id: str) -> Answer:
    _workspace(state, workspace_id)
    return 200, wire.balance(state)


def get_studies(state: ProlificState, req: Request) -> Answer:
    wanted = req.first("state")
    if wanted and wanted not in STUDY_STATUSES:
        raise bad_request("state", f'"{wanted}" is not a valid choice.')
    studies = [s for s in state.studies.values() if not wanted or s.status == wanted]
    return 200, paginate(req, studies, lambda s: wire.study_short(state, s))


def get_study(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002 (the spec's name)
    return 200, wire.study(state, state.study(id), req.base)


def get_study_cost(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    projected = (req.first("is_projected") or "false").strip().lower()
    if projected not in ("true", "false", "1", "0"):
        raise bad_request("is_projected", "Must be a valid boolean.")
    return 200, wire.study_cost(state, state.study(id).id, req.base, projected=projected in ("true", "1"))


def get_study_submissions(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    # Paginated like GET /submissions/ (the spec documents only `ordering`; FACTS 1.4 - unconfirmed).
    subs = ordered(req, state.study_submissions(state.study(id).id))
    return 200, paginate(req, subs, lambda s: wire.submission_short(state, s))


def count_study_submissions(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    return 200, wire.counts(state, state.study(id).id)


def get_submissions(state: ProlificState, req: Request) -> Answer:
    study_id = req.first("study")
    if not study_id:
        # `study` is required (FACTS 1.4): unscoped calls loaded every study (Dallinger #9283).
        raise bad_request("study", REQUIRED)
    # An unknown study filters to nothing, as a DRF filter would (unconfirmed).
    subs = ordered(req, filtered(req, state.study_submissions(study_id)))
    return 200, paginate(req, subs, lambda s: wire.submission_short(state, s))


def get_submission(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    return 200, wire.submission_detail(state.submission(id))


def transition_submission(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    sub = state.submission(id)
    body = body_object(req)
    action = body_choice(body, "action", TRANSITIONS)
    message = category = code = None
    if action == "REJECT":  # FACTS 1.6: message >= 100 characters and a category, both required
        message = body_string(body, "message")
        if len(message) < REJECTION_MESSAGE_MIN:
            raise bad_request("message", f"Ensure this field has at least {REJECTION_MESSAGE_MIN} characters.")
        category = body_choice(body, "rejection_category", REJECTION_CATEGORIES)
    if action == "COMPLETE":
        code = body_string(body, "completion_code")
    return 200, wire.submission(state.transition(sub, action, message=message, rejection_category=category,
                                                 completion_code=code))


def bulk_approve_submissions(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    if "submission_ids" in body:  # recommended variant (FACTS 1.7)
        ids = body_strings(body, "submission_ids")
        if len(ids) > BULK_APPROVE_MAX:
            raise bad_request("submission_ids", f"Ensure this field has no more than {BULK_APPROVE_MAX} elements.")
        unknown = [i for i in ids if i not in state.submissions]
        subs = [state.submissions[i] for i in ids if i in state.submissions]
        label = "submission_ids"
    else:
        study_id = body_string(body, "study_id")
        ids = body_strings(body, "participant_ids")
        if len(ids) > BULK_APPROVE_MAX:
            raise bad_request("participant_ids", f"Ensure this field has no more than {BULK_APPROVE_MAX} elements.")
        state.study(study_id)
        subs = [s for s in state.study_submissions(study_id) if s.participant_id in set(ids)]
        unknown = [i for i in ids if all(s.participant_id != i for s in subs)]
        label = "participant_ids"
    if unknown:
        # Whether Prolific refuses or ignores unknown ids is unconfirmed; refusing names them.
        raise bad_request(label, "Not found: " + ", ".join(dict.fromkeys(unknown)) + ".")
    # One that cannot be approved (rejected, returned, timed out, still active) refuses the whole
    # request, naming it, as a transition refuses it (FACTS 1.2, 1.6; whether Prolific refuses
    # or skips it in bulk is unconfirmed). Already approved: skipped, as a repeat (FACTS 1.6).
    stuck = [s for s in subs if s.status not in APPROVABLE]
    if stuck:
        raise bad_request(label, "Cannot be approved: " + ", ".join(
            dict.fromkeys(f"{s.id} is {s.status}" for s in stuck)) + ".")
    state.bulk_approve(subs)
    return 200, BULK_APPROVE_ANSWER


def _bonus_lines(text: str) -> list[tuple[str, Decimal]]:
    """`<id>,<amount in major units>` per line (FACTS 1.8) -> (id, minor units)."""
    lines, bad = [], []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        some_id, _, amount = (part.strip() for part in line.partition(","))
        try:
            value = Decimal(amount)
            ok = bool(some_id) and value.is_finite() and value > 0 and value == value.quantize(Decimal("0.01"))
        except InvalidOperation:
            ok = False
        if not ok:
            bad.append(f"line {number}: {line.strip()!r} is not <participant or submission id>,<amount such as 1.50>")
        else:
            lines.append((some_id, to_minor(value)))
    if bad:  # texts unconfirmed
        raise bad_request("csv_bonuses", "; ".join(bad))
    if not lines:
        raise bad_request("csv_bonuses", "No bonuses given.")
    return lines


def create_bonus_payments(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    study_id = body_string(body, "study_id")
    lines = _bonus_lines(body_string(body, "csv_bonuses"))
    state.study(study_id)
    return 201, wire.bulk_bonus(state.create_bonus(study_id, lines))


def pay_bonus_payments(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    state.pay_bonus(id)
    return 202, PAY_ANSWER


def get_participant_groups(state: ProlificState, req: Request) -> Answer:
    # The flat `workspace_id=` works on the real API; the spec's `filter` object is an
    # artefact (FACTS 1.10). Neither given: a 400 (unconfirmed).
    workspace_id, project_id = req.first("workspace_id"), req.first("project_id")
    if not workspace_id and not project_id:
        raise bad_request("workspace_id", REQUIRED)
    active = (req.first("active") or "").lower()
    groups = [g for g in state.groups.values() if not g.is_deleted
              and (workspace_id is None or g.workspace_id == workspace_id)
              and (project_id is None or project_id == state.project_id)
              and not (active == "false")]  # every emulated group is active
    return 200, paginate(req, groups, wire.group)


def create_participant_group(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    name = body_string(body, "name")
    workspace_id = body_string(body, "workspace_id", required=False)
    organisation_id = body_string(body, "organisation_id", required=False)
    if not workspace_id and not organisation_id:  # one of them is needed (FACTS 1.10)
        raise bad_request("workspace_id", "Either workspace_id or organisation_id is required.")
    if workspace_id and workspace_id != state.workspace_id:
        raise bad_request("workspace_id", f"Workspace {workspace_id} does not exist.")
    members = body_strings(body, "participant_ids", required=False) or []
    group = GroupRecord(new_id(), name, workspace_id, organisation_id or state.organisation_id,
                        body_string(body, "description", required=False, blank=True) or "")
    state.add_members(group, members)
    state.groups[group.id] = group
    return 201, wire.group(group)


def get_participant_group(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    return 200, wire.group(state.group(id))


def update_participant_group(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    group = state.group(id)
    body = body_object(req)
    name = body_string(body, "name", required=False)
    description = body_string(body, "description", required=False, blank=True)
    members = body_strings(body, "participant_ids", required=False)
    if name is not None:
        group.name = name
    if description is not None:
        group.description = description
    if members is not None:  # PATCH participant_ids overwrites the membership (FACTS 1.10)
        wanted = set(members)
        group.members = {pid: when for pid, when in group.members.items() if pid in wanted}
        state.add_members(group, members)
    return 200, wire.group(group)


def delete_participant_group(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    state.group(id).is_deleted = True
    return 204, None


def get_participant_group_participants(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    return 200, wire.memberships(state.group(id))


def add_to_participant_group(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    group = state.group(id)
    ids = body_strings(body_object(req), "participant_ids")
    # An id that cannot be a participant's (FACTS 1.1: 24 lower-case hex characters) refuses
    # the whole request, naming it (Prolific's answer to one is unconfirmed).
    malformed = [i for i in ids if not PROLIFIC_ID.match(i)]
    if malformed:
        raise bad_request("participant_ids", "Not a participant id: " + ", ".join(dict.fromkeys(malformed)) + ".")
    state.add_members(group, ids)
    return 200, wire.memberships(group)


def remove_from_participant_group(state: ProlificState, req: Request, id: str) -> Answer:  # noqa: A002
    group = state.group(id)
    state.remove_members(group, body_strings(body_object(req), "participant_ids"))
    return 200, wire.memberships(group)


def _took_part(state: ProlificState, study_id: str, participant_ids: list[str], name: str) -> None:
    # Prolific lets a researcher message people who took part in their studies; refusing the
    # others (and naming them) is the emulator's choice (unconfirmed).
    if study_id not in state.studies:
        raise bad_request("study_id", f"Study {study_id} does not exist.")
    strangers = [p for p in participant_ids if state.taken_part(study_id, p) is None]
    if strangers:
        raise bad_request(name, f"Not a participant of study {study_id}: " + ", ".join(dict.fromkeys(strangers)) + ".")


def send_message(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    recipient, text, study_id = body_string(body, "recipient_id"), body_string(body, "body"), body_string(body, "study_id")
    _took_part(state, study_id, [recipient], "recipient_id")
    state.send_message(recipient, text, study_id)
    return 204, None


def bulk_message_participants(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    ids, text, study_id = body_strings(body, "ids"), body_string(body, "body"), body_string(body, "study_id")
    _took_part(state, study_id, ids, "ids")
    for pid in dict.fromkeys(ids):
        state.send_message(pid, text, study_id)
    return 204, None


def send_message_to_participant_group(state: ProlificState, req: Request) -> Answer:
    body = body_object(req)
    group = state.group(body_string(body, "participant_group_id"))
    text, study_id = body_string(body, "body"), body_string(body, "study_id", required=False)
    for pid in group.members:
        state.send_message(pid, text, study_id)
    return 204, None


def get_messages(state: ProlificState, req: Request) -> Answer:
    user_id, after = req.first("user_id"), req.first("created_after")
    if not user_id and not after:  # one of them is needed (FACTS 1.11); the text is unconfirmed
        raise bad_request("user_id", "Either user_id or created_after is required.")
    found = [m for m in state.messages if not user_id or user_id in (m.recipient_id, m.sender_id)]
    if after:
        try:
            since = datetime.fromisoformat(after.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request("created_after", "Enter a valid date/time.") from None
        since = since if since.tzinfo else since.replace(tzinfo=state.now().tzinfo)
        found = [m for m in found if m.sent_at > since]
    return 200, {"results": [wire.message(m) for m in found]}


def get_unread_messages(state: ProlificState, req: Request) -> Answer:
    return 200, {"results": []}  # emulated participants never write back


# --- the route table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # the path as written in prolific-openapi.yml
    name: str  # the spec's operationId
    handler: Callable[..., Answer]
    pattern: re.Pattern


def _route(method: str, template: str, name: str, handler: Callable[..., Answer]) -> Route:
    # Both with and without the trailing slash (FACTS 1.1).
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))
    return Route(method, template, name, handler, re.compile(f"^{regex}/?$"))


V1 = "/api/v1"
ROUTES: tuple[Route, ...] = tuple(_route(*r) for r in (
    ("GET", f"{V1}/users/me/", "get-user", get_user),
    ("GET", f"{V1}/workspaces/", "get-workspaces", get_workspaces),
    ("GET", f"{V1}/workspaces/{{workspace_id}}/", "get-workspace", get_workspace),
    ("GET", f"{V1}/workspaces/{{workspace_id}}/balance/", "get-workspace-balance", get_workspace_balance),
    ("GET", f"{V1}/studies/", "get-studies", get_studies),
    ("GET", f"{V1}/studies/{{id}}/", "get-study", get_study),
    ("GET", f"{V1}/studies/{{id}}/cost/", "get-study-cost", get_study_cost),
    ("GET", f"{V1}/studies/{{id}}/submissions/", "get-study-submissions", get_study_submissions),
    ("GET", f"{V1}/studies/{{id}}/submissions/counts/", "count-study-submissions-by-status",
     count_study_submissions),
    ("GET", f"{V1}/submissions/", "get-submissions", get_submissions),
    ("POST", f"{V1}/submissions/bulk-approve/", "bulk-approve-submissions", bulk_approve_submissions),
    ("POST", f"{V1}/submissions/bonus-payments/", "create-bonus-payments", create_bonus_payments),
    ("GET", f"{V1}/submissions/{{id}}/", "get-submission", get_submission),
    ("POST", f"{V1}/submissions/{{id}}/transition/", "transition-submission", transition_submission),
    ("POST", f"{V1}/bulk-bonus-payments/{{id}}/pay/", "pay-bonus-payments", pay_bonus_payments),
    ("GET", f"{V1}/participant-groups/", "get-participant-groups", get_participant_groups),
    ("POST", f"{V1}/participant-groups/", "create-participant-group", create_participant_group),
    ("GET", f"{V1}/participant-groups/{{id}}/", "get-participant-group", get_participant_group),
    ("PATCH", f"{V1}/participant-groups/{{id}}/", "update-participant-group", update_participant_group),
    ("DELETE", f"{V1}/participant-groups/{{id}}/", "delete-participant-group", delete_participant_group),
    ("GET", f"{V1}/participant-groups/{{id}}/participants/", "get-participant-group-participants",
     get_participant_group_participants),
    ("POST", f"{V1}/participant-groups/{{id}}/participants/", "add-to-participant-group",
     add_to_participant_group),
    ("DELETE", f"{V1}/participant-groups/{{id}}/participants/", "remove-from-participant-group",
     remove_from_participant_group),
    ("GET", f"{V1}/messages/", "get-messages", get_messages),
    ("POST", f"{V1}/messages/", "send-message", send_message),
    ("POST", f"{V1}/messages/bulk/", "bulk-message-participants", bulk_message_participants),
    ("POST", f"{V1}/messages/participant-group/", "send-message-to-participant-group",
     send_message_to_participant_group),
    ("GET", f"{V1}/messages/unread/", "get-unread-messages", get_unread_messages),
))


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request; NotFound for an unknown path, 405 for a known path's wrong method.

    Literal segments win over `{id}` (`submissions/bulk-approve/` is not a submission's id)."""
    matches = [(r, m.groupdict()) for r in ROUTES if (m := r.pattern.match(path))]
    if not matches:
        raise NotFound()
    fewest = min(len(params) for _, params in matches)
    for route, params in matches:
        if len(params) == fewest and route.method == method:
            return route, params
    raise ApiError(405, f'Method "{method}" not allowed.')
