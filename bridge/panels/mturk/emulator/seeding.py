"""Building the emulator's state without requests: HITs, assignments, qualification
requests, and whole batches from a requester-website batch-results CSV. A mixin of
`MTurkEmulator` (which supplies `self.state`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from bridge.panels.mturk.emulator.records import (
    DEFAULT_AUTO_APPROVAL_SECONDS,
    ZERO,
    AssignmentRecord,
    HitRecord,
    answers_xml,
    new_id,
)
from bridge.panels.mturk.words import ASSIGNMENT_STATUSES

DEFAULT_ASSIGNMENT_DURATION = 3600
HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"


def batch_question(title: str, description: str, fields: Sequence[str]) -> str:
    """The Question of a HIT seeded from a batch-results file.

    A batch file comes from a project made on the requester website, and such HITs are
    HTML layouts, which the API shows as an HTMLQuestion document. So an HTMLQuestion is the
    least surprising choice (an ExternalQuestion would name a URL the batch never had): a
    form posting to MTurk's externalSubmit with one text input per `Answer.<field>` of the
    file, which gives back exactly the Answer XML the seeded assignments carry. The real
    layout's HTML is not in the file, so this is a stand-in, not the original page.
    """
    inputs = "".join(
        f"<p><label>{escape(name)} <input type='text' name='{escape(name, quote=True)}'/></label></p>" for name in fields
    )
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'/><title>{t}</title></head><body>"
        "<form name='mturk_form' method='post' id='mturk_form' action='https://www.mturk.com/mturk/externalSubmit'>"
        "<input type='hidden' value='' name='assignmentId' id='assignmentId'/>"
        "<h1>{t}</h1><p>{d}</p>{inputs}<p><input type='submit' id='submitButton' value='Submit'/></p>"
        "</form></body></html>"
    ).format(t=escape(title), d=escape(description), inputs=inputs)
    # escape() leaves no "]]>" in the HTML, so CDATA holds it as it is. FrameHeight 0: the whole window.
    return (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent><![CDATA[{html}]]></HTMLContent>'
            "<FrameHeight>0</FrameHeight></HTMLQuestion>")


class Seeding:
    """`add_hit`, `add_assignment`, `add_qualification_request`, `seed_table`, `seed_batch`."""

    def add_hit(
        self,
        *,
        hit_id: str | None = None,
        reward: Decimal | str = "1.00",
        max_assignments: int = 1,
        auto_approval_delay_seconds: int = DEFAULT_AUTO_APPROVAL_SECONDS,
        assignment_duration_seconds: int = DEFAULT_ASSIGNMENT_DURATION,
        title: str = "Survey",
        description: str = "Take our survey",
        keywords: str = "",
        hit_type_id: str | None = None,
        creation_time: datetime | None = None,
        expiration: datetime | None = None,
        question: str | None = None,
        requester_annotation: str | None = None,
        qualification_requirements: list[dict] | None = None,
    ) -> str:
        """Add a HIT without a request; returns its id."""
        with self.state.lock:
            now = self.state.now()
            creation = creation_time or now
            hit = self.state.add_hit(HitRecord(
                hit_id=hit_id or new_id(),
                hit_type_id=hit_type_id or new_id(),
                title=title,
                description=description,
                keywords=keywords,
                reward=Decimal(str(reward)),
                max_assignments=max_assignments,
                auto_approval_delay_seconds=auto_approval_delay_seconds,
                assignment_duration_seconds=assignment_duration_seconds,
                creation_time=creation,
                expiration=expiration or creation + timedelta(days=7),
                question=question,
                requester_annotation=requester_annotation,
                qualification_requirements=list(qualification_requirements or []),
            ))
            return hit.hit_id

    def add_assignment(
        self,
        hit_id: str,
        worker_id: str,
        *,
        assignment_id: str | None = None,
        status: str = "Submitted",
        answers: Mapping[str, str] | str | None = None,
        accept_time: datetime | None = None,
        submit_time: datetime | None = None,
        auto_approval_time: datetime | None = None,
        approval_time: datetime | None = None,
        rejection_time: datetime | None = None,
        requester_feedback: str | None = None,
    ) -> str:
        """Add a worker's assignment as if already submitted (and maybe decided); returns its id.

        `answers` is a dict of form fields (turned into QuestionFormAnswers XML) or the XML
        itself. Nothing is charged: work decided here was paid for before the emulator
        started. A Submitted assignment auto-approves at `auto_approval_time` (default:
        submission plus the HIT's delay).
        """
        if status not in ASSIGNMENT_STATUSES:
            raise ValueError(f"status must be one of {ASSIGNMENT_STATUSES}, not {status!r}")
        with self.state.lock:
            if hit_id not in self.state.hits:
                raise ValueError(f"HIT {hit_id} does not exist; add it first")
            hit = self.state.hits[hit_id]
            now = self.state.now()
            submit = submit_time or now
            accept = accept_time or submit
            if status == "Submitted" and auto_approval_time is None:
                auto_approval_time = submit + timedelta(seconds=hit.auto_approval_delay_seconds)
            if status == "Approved" and approval_time is None:
                approval_time = now
            if status == "Rejected" and rejection_time is None:
                rejection_time = now
            answer = answers if isinstance(answers, str) else answers_xml(answers or {})
            a = self.state.add_assignment(AssignmentRecord(
                assignment_id=assignment_id or new_id(),
                worker_id=worker_id,
                hit_id=hit_id,
                status=status,
                accept_time=accept,
                submit_time=submit,
                auto_approval_time=auto_approval_time if status == "Submitted" else None,
                approval_time=approval_time if status == "Approved" else None,
                rejection_time=rejection_time if status == "Rejected" else None,
                deadline=accept + timedelta(seconds=hit.assignment_duration_seconds),
                answer=answer,
                requester_feedback=requester_feedback or None,
            ))
            return a.assignment_id

    def add_qualification_request(self, qualification_type_id: str, worker_id: str, *, answer: str | None = None,
                                  submit_time: datetime | None = None) -> str:
        """A worker's request for a qualification type (ListQualificationRequests shows it
        until accepted or rejected); returns its QualificationRequestId. ValueError if the
        type does not exist."""
        with self.state.lock:
            if qualification_type_id not in {qt.qualification_type_id for qt in self.state.live_qualification_types()}:
                raise ValueError(f"qualification type {qualification_type_id} does not exist; create it first")
            return self.state.add_qualification_request(qualification_type_id, worker_id, answer=answer,
                                                        submit_time=submit_time).request_id

    def seed_table(self, table: Any) -> int:
        """Load the HITs and assignments of a `bridge.models.SubmissionTable` read from an
        MTurk batch file; returns the number of assignments added.

        Statuses and times are kept as the file has them, as the real service has them: a
        Submitted assignment whose AutoApprovalTime has passed on the emulator's clock is
        auto-approved (and charged) at the first call. To rehearse an old batch as on its
        day, run the emulator on a clock that starts then (`clock=starting_at(...)`,
        `survey-bridge emulator --now`). Each HIT gets the file's RequesterAnnotation and a
        stand-in HTMLQuestion (`batch_question`).
        """
        with self.state.lock:
            now = self.state.now()
            per_hit = Counter(a.task_id for a in table.submissions)
            fields = list(getattr(table, "answer_fields", None) or [])
            for hit in table.tasks.values():
                if hit.task_id in self.state.hits:
                    continue
                self.add_hit(
                    hit_id=hit.task_id,
                    hit_type_id=hit.type_id or None,
                    title=hit.title,
                    description=hit.description,
                    keywords=hit.keywords,
                    reward=hit.reward if hit.reward is not None else ZERO,
                    max_assignments=hit.places or max(1, per_hit[hit.task_id]),
                    auto_approval_delay_seconds=(
                        hit.auto_approval_delay_seconds
                        if hit.auto_approval_delay_seconds is not None else DEFAULT_AUTO_APPROVAL_SECONDS
                    ),
                    assignment_duration_seconds=hit.duration_limit_seconds or DEFAULT_ASSIGNMENT_DURATION,
                    creation_time=hit.created_at,
                    expiration=hit.expires_at,
                    question=batch_question(hit.title, hit.description, fields),
                    requester_annotation=getattr(hit, "annotation", "") or None,
                )
            for a in table.submissions:
                if a.task_id not in self.state.hits:  # a row whose HIT the reader did not list
                    self.add_hit(hit_id=a.task_id, max_assignments=max(1, per_hit[a.task_id]),
                                 question=batch_question("Survey", "Take our survey", fields))
                hit = self.state.hits[a.task_id]
                auto = a.auto_approval_time
                if a.status == "Submitted" and auto is None:
                    auto = (a.submitted_at or now) + timedelta(seconds=hit.auto_approval_delay_seconds)
                self.add_assignment(
                    a.task_id,
                    a.participant_id,
                    assignment_id=a.submission_id,
                    status=a.status,
                    answers=dict(a.answers),
                    accept_time=a.started_at,
                    submit_time=a.submitted_at,
                    auto_approval_time=auto,
                    approval_time=a.approved_at,
                    rejection_time=a.rejected_at,
                    requester_feedback=a.feedback or None,
                )
            return len(table.submissions)

    def seed_batch(self, path: str | os.PathLike[str]) -> int:
        """Load a requester-website batch-results CSV (see `seed_table`)."""
        from bridge.panels.mturk.reader import read_batch_results  # the project's reader

        return self.seed_table(read_batch_results(path))
