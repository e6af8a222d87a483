"""The operations on workers' work and the workers themselves: the balance, assignments,
uploaded files, bonuses, worker blocks and NotifyWorkers.

Each handler takes the state (lock held, auto-approvals swept) and the request's
parameters, already validated against botocore's model, and returns the response body.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import quote

from bridge.panels.mturk.api import ANSWER_NAMESPACE
from bridge.panels.mturk.emulator.records import ApiError, Notification
from bridge.panels.mturk.emulator.state import MTurkState
from bridge.panels.mturk.emulator.wire import Handler, Params, assignment_json, hit_json, money, paginate, ts

SUBJECT_MAX = 200
MESSAGE_MAX = 4096
NOTIFY_WORKERS_MAX = 100
UPLOAD_URL_SECONDS = 60  # "valid for 60 seconds" [model, GetFileUploadURL]
# Where GetFileUploadURL points: the reserved .invalid domain never resolves, so a rehearsal
# cannot reach anything (the emulator holds no uploaded files).
UPLOAD_HOST = "https://mturk-file-upload.invalid"


# --- account and assignments ----------------------------------------------------------


def get_account_balance(state: MTurkState, params: Params) -> Params:
    return {"AvailableBalance": money(state.balance), "OnHoldBalance": "0.00"}


def list_assignments_for_hit(state: MTurkState, params: Params) -> Params:
    hit = state.hit(params["HITId"])
    statuses = set(params.get("AssignmentStatuses") or ())
    items = [state.assignments[i] for i in state.assignments_by_hit[hit.hit_id]]
    if statuses:
        items = [a for a in items if a.status in statuses]
    query = f"ListAssignmentsForHIT:{hit.hit_id}:{sorted(statuses)}"
    page, out = paginate(state, params, items, query)
    out["Assignments"] = [assignment_json(a) for a in page]
    return out


def get_assignment(state: MTurkState, params: Params) -> Params:
    a = state.assignment(params["AssignmentId"])
    return {"Assignment": assignment_json(a), "HIT": hit_json(state, state.hits[a.hit_id])}


def approve_assignment(state: MTurkState, params: Params) -> Params:
    state.approve(params["AssignmentId"], params.get("RequesterFeedback"), bool(params.get("OverrideRejection")))
    return {}


def reject_assignment(state: MTurkState, params: Params) -> Params:
    state.reject(params["AssignmentId"], params["RequesterFeedback"])
    return {}


def _uploaded_file_key(answer: str, question: str) -> str | None:
    try:
        root = ET.fromstring(answer.encode("utf-8")) if answer else None
    except ET.ParseError:
        return None
    ns = {"q": ANSWER_NAMESPACE}
    for item in root.findall("q:Answer", ns) if root is not None else ():
        if (item.findtext("q:QuestionIdentifier", default="", namespaces=ns) or "").strip() == question:
            key = item.findtext("q:UploadedFileKey", namespaces=ns)
            return key.strip() if key and key.strip() else None
    return None


def get_file_upload_url(state: MTurkState, params: Params) -> Params:
    """A URL for the file a worker uploaded as the answer to `QuestionIdentifier` (an
    `<UploadedFileKey>` in the Answer XML), valid 60 seconds, gone once the HIT is deleted
    [model]. The URL is a placeholder on a domain that never resolves; messages unconfirmed."""
    a = state.assignment(params["AssignmentId"])
    question = params["QuestionIdentifier"]
    key = _uploaded_file_key(a.answer, question)
    if key is None or state.hits[a.hit_id].deleted:
        raise state.request_error(f"Assignment {a.assignment_id} has no uploaded file for the question {question}.",
                                  "AWS.MechanicalTurk.FileUploadAnswerDoesNotExist")
    expires = int(state.now().timestamp()) + UPLOAD_URL_SECONDS
    return {"FileUploadURL": f"{UPLOAD_HOST}/{quote(a.assignment_id)}/{quote(key)}?Expires={expires}"}


# --- bonuses --------------------------------------------------------------------------


def send_bonus(state: MTurkState, params: Params) -> Params:
    state.send_bonus(
        params["WorkerId"], params["AssignmentId"], Decimal(params["BonusAmount"]), params["Reason"],
        params.get("UniqueRequestToken"),
    )
    return {}


def list_bonus_payments(state: MTurkState, params: Params) -> Params:
    hit_id, assignment_id = params.get("HITId"), params.get("AssignmentId")
    if (hit_id is None) == (assignment_id is None):
        raise state.request_error("Specify exactly one of HITId or AssignmentId.", "AWS.ParameterOutOfRange")
    if hit_id is not None:
        state.hit(hit_id)
        items = [b for b in state.bonuses if b.hit_id == hit_id]
        query = f"ListBonusPayments:HIT:{hit_id}"
    else:
        state.assignment(assignment_id)
        items = [b for b in state.bonuses if b.assignment_id == assignment_id]
        query = f"ListBonusPayments:Assignment:{assignment_id}"
    page, out = paginate(state, params, items, query)
    out["BonusPayments"] = [
        {"WorkerId": b.worker_id, "BonusAmount": money(b.amount), "AssignmentId": b.assignment_id,
         "Reason": b.reason, "GrantTime": ts(b.grant_time)}
        for b in page
    ]
    return out


# --- worker blocks --------------------------------------------------------------------


def create_worker_block(state: MTurkState, params: Params) -> Params:
    state.block(params["WorkerId"], params["Reason"])
    return {}


def delete_worker_block(state: MTurkState, params: Params) -> Params:
    state.unblock(params["WorkerId"])
    return {}


def list_worker_blocks(state: MTurkState, params: Params) -> Params:
    page, out = paginate(state, params, list(state.blocks.items()), "ListWorkerBlocks")
    out["WorkerBlocks"] = [{"WorkerId": worker, "Reason": reason} for worker, reason in page]
    return out


def invalid_worker_for_unblock(state: MTurkState, violations: list[str]) -> ApiError | None:
    """DeleteWorkerBlock: "If the Worker ID is missing or invalid, this operation fails and
    returns the message 'WorkerId is invalid.'" [model]. Answered as a RequestError (the
    model's error shape) when the WorkerId is the only problem."""
    if violations and all("'workerId'" in v for v in violations):
        return state.request_error("WorkerId is invalid.", "AWS.ParameterOutOfRange")
    return None


# --- messages -------------------------------------------------------------------------


def notify_workers(state: MTurkState, params: Params) -> Params:
    # Limits from the model's documentation, not its constraints; answered like the model's checks.
    for member, value, limit in (("subject", params["Subject"], SUBJECT_MAX),
                                 ("messageText", params["MessageText"], MESSAGE_MAX),
                                 ("workerIds", params["WorkerIds"], NOTIFY_WORKERS_MAX)):
        if len(value) > limit:
            raise state.validation_error(value, member, f"Member must have length less than or equal to {limit}")
    failures, reached = [], []
    for worker_id in params["WorkerIds"]:
        if state.worker_reachable(worker_id):
            reached.append(worker_id)
        else:
            # "will send a notification email to a Worker only if you have previously approved
            # or rejected work from the Worker" [model]; the message wording is unconfirmed.
            failures.append({
                "NotifyWorkersFailureCode": "HardFailure",
                "NotifyWorkersFailureMessage": f"Cannot send a message to worker {worker_id}: you have not "
                                               "approved or rejected any of their work.",
                "WorkerId": worker_id,
            })
    if reached:
        state.notifications.append(Notification(params["Subject"], params["MessageText"], tuple(reached), state.now()))
    return {"NotifyWorkersFailureStatuses": failures}


OPERATIONS: dict[str, Handler] = {
    "GetAccountBalance": get_account_balance,
    "ListAssignmentsForHIT": list_assignments_for_hit,
    "GetAssignment": get_assignment,
    "ApproveAssignment": approve_assignment,
    "RejectAssignment": reject_assignment,
    "GetFileUploadURL": get_file_upload_url,
    "SendBonus": send_bonus,
    "ListBonusPayments": list_bonus_payments,
    "CreateWorkerBlock": create_worker_block,
    "DeleteWorkerBlock": delete_worker_block,
    "ListWorkerBlocks": list_worker_blocks,
    "NotifyWorkers": notify_workers,
}
