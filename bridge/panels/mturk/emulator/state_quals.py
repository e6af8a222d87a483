"""The server rules for qualification types, grants and qualification requests. A mixin
of `MTurkState` (which supplies the records, `now` and the error helpers).

Sources: the botocore model's documentation [model]; unconfirmed choices are marked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bridge.panels.mturk.emulator.records import (
    GrantRecord,
    QualificationRequestRecord,
    QualificationTypeRecord,
    new_id,
)

# "It may take up to 48 hours before DeleteQualificationType completes and the unique name
# of the Qualification type is available for reuse" [model]: the emulator holds the name
# for the full 48 hours of its clock.
NAME_HELD_AFTER_DELETE = timedelta(hours=48)


class QualificationRules:
    """Qualification rules; mixed into `MTurkState`."""

    # --- types -----------------------------------------------------------------------

    def qualification_type(self, qualification_type_id: str) -> QualificationTypeRecord:
        qt = self.qualification_types.get(qualification_type_id)
        if qt is None or qt.deleted_at is not None:
            raise self.request_error(
                f"QualificationType {qualification_type_id} does not exist.",
                "AWS.MechanicalTurk.QualificationTypeDoesNotExist",
            )
        return qt

    def live_qualification_types(self) -> list[QualificationTypeRecord]:
        return [qt for qt in self.qualification_types.values() if qt.deleted_at is None]

    def _name_taken(self, name: str) -> bool:
        now = self.now()
        return any(qt.name == name and (qt.deleted_at is None or now - qt.deleted_at < NAME_HELD_AFTER_DELETE)
                   for qt in self.qualification_types.values())

    def create_qualification_type(self, name: str, description: str, status: str, **extra) -> QualificationTypeRecord:
        if self._name_taken(name):
            raise self.request_error(
                "You have already created a QualificationType with this name. A QualificationType's name must "
                "be unique among all of the QualificationTypes created by the same user.",
                "AWS.MechanicalTurk.QualificationTypeAlreadyExists",
            )
        self.check_test_fields(extra.get("test"), extra.get("test_duration_seconds"), extra.get("answer_key"),
                               bool(extra.get("auto_granted")))
        qt = QualificationTypeRecord(new_id(), name, description, status, self.now(), **extra)
        self.qualification_types[qt.qualification_type_id] = qt
        return qt

    def check_test_fields(self, test: str | None, duration: int | None, answer_key: str | None,
                          auto_granted: bool) -> None:
        """[model, CreateQualificationType/UpdateQualificationType]: a Test needs
        TestDurationInSeconds; an AnswerKey needs a Test; a type with a Test cannot be
        AutoGranted."""
        if test is not None and duration is None:
            problem = "If Test is specified, TestDurationInSeconds must also be specified."
        elif answer_key is not None and test is None:
            problem = "An AnswerKey can be given only with the Test it answers."
        elif test is not None and auto_granted:
            problem = "A QualificationType with a Test cannot be AutoGranted."
        else:
            return
        raise self.request_error(problem, "AWS.ParameterOutOfRange")

    def update_qualification_type(self, qualification_type_id: str, params: dict) -> QualificationTypeRecord:
        """Name and Keywords cannot change [model]. A new Test replaces the test, its
        duration and answer key together (no AnswerKey: the new test has none); a type that
        has a test cannot become AutoGranted."""
        qt = self.qualification_type(qualification_type_id)
        test = params.get("Test")
        auto_granted = params.get("AutoGranted", qt.auto_granted)
        has_test = test is not None or qt.test is not None
        self.check_test_fields(test, params.get("TestDurationInSeconds") if test is not None else None,
                               params.get("AnswerKey"), False)
        if auto_granted and has_test:
            raise self.request_error("A QualificationType with a Test cannot be AutoGranted.", "AWS.ParameterOutOfRange")
        if test is not None:
            qt.test, qt.test_duration_seconds, qt.answer_key = test, params["TestDurationInSeconds"], params.get("AnswerKey")
        for member, attribute in (("Description", "description"), ("QualificationTypeStatus", "status"),
                                  ("RetryDelayInSeconds", "retry_delay_seconds"),
                                  ("AutoGrantedValue", "auto_granted_value")):
            if member in params:
                setattr(qt, attribute, params[member])
        qt.auto_granted = bool(auto_granted)
        return qt

    def delete_qualification_type(self, qualification_type_id: str) -> None:
        """Gone from the API at once; grants stay (not revoked); pending requests are
        rejected; HIT types requiring it are deleted; the name stays taken 48 hours [model]."""
        qt = self.qualification_type(qualification_type_id)
        qt.deleted_at = self.now()
        for request in self.qualification_requests.values():
            if request.qualification_type_id == qualification_type_id and request.status == "Pending":
                request.status, request.reason = "Rejected", "The Qualification type was deleted."
        for type_id, props in self.hit_types.items():
            if any(q.get("QualificationTypeId") == qualification_type_id for q in props["QualificationRequirements"]):
                self.deleted_hit_types.add(type_id)

    # --- grants ----------------------------------------------------------------------

    def grant(self, qualification_type_id: str, worker_id: str, value: int) -> None:
        # Any well-formed worker id is accepted (unconfirmed: real MTurk may refuse a worker
        # it has never seen). Re-granting a revoked qualification grants it again.
        self.qualification_type(qualification_type_id)
        key = (qualification_type_id, worker_id)
        self.grants[key] = GrantRecord(qualification_type_id, worker_id, value, self.now(), "Granted")

    def revoke(self, qualification_type_id: str, worker_id: str) -> None:
        self.qualification_type(qualification_type_id)
        g = self.grants.get((qualification_type_id, worker_id))
        if g is None or g.status != "Granted":
            raise self.request_error(
                "You requested a Qualification that does not exist.", "AWS.MechanicalTurk.QualificationDoesNotExist"
            )
        g.status = "Revoked"

    def score(self, qualification_type_id: str, worker_id: str) -> GrantRecord:
        self.qualification_type(qualification_type_id)
        g = self.grants.get((qualification_type_id, worker_id))
        if g is None:
            raise self.request_error(
                "You requested a Qualification that does not exist.", "AWS.MechanicalTurk.QualificationDoesNotExist"
            )
        if g.status != "Granted":
            # MTurk's answer for a revoked qualification; the TurkErrorCode is unconfirmed.
            raise self.request_error("This operation can be called with a status of: Granted",
                                     "AWS.MechanicalTurk.InvalidQualificationState")
        return g

    # --- qualification requests ------------------------------------------------------

    def add_qualification_request(self, qualification_type_id: str, worker_id: str, *, answer: str | None = None,
                                  submit_time: datetime | None = None) -> QualificationRequestRecord:
        """A worker asks for a qualification (the worker's side has no API here). For an
        AutoGranted type the request is granted at once with AutoGrantedValue (default 1)
        and never pending [model, QualificationType]."""
        qt = self.qualification_type(qualification_type_id)
        request = QualificationRequestRecord(new_id(), qualification_type_id, worker_id, submit_time or self.now(),
                                             test=qt.test, answer=answer if qt.test is not None else None)
        self.qualification_requests[request.request_id] = request
        if qt.auto_granted:
            self.grant(qualification_type_id, worker_id, 1 if qt.auto_granted_value is None else qt.auto_granted_value)
            request.status = "Approved"
        return request

    def pending_request(self, request_id: str) -> QualificationRequestRecord:
        request = self.qualification_requests.get(request_id)
        qt = self.qualification_types.get(request.qualification_type_id) if request else None
        if request is None or request.status != "Pending" or qt is None or qt.deleted_at is not None:
            # Answered or unknown alike (unconfirmed wording and code).
            raise self.request_error(f"QualificationRequest {request_id} does not exist.",
                                     "AWS.MechanicalTurk.QualificationRequestDoesNotExist")
        return request

    def accept_request(self, request_id: str, value: int | None) -> None:
        """Grants the qualification (GrantTime now, per the Qualification shape's docs);
        without IntegerValue the value is 1 (unconfirmed)."""
        request = self.pending_request(request_id)
        self.grant(request.qualification_type_id, request.worker_id, 1 if value is None else value)
        request.status = "Approved"

    def reject_request(self, request_id: str, reason: str | None) -> None:
        request = self.pending_request(request_id)
        request.status, request.reason = "Rejected", reason
