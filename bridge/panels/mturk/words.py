"""MTurk's own words: assignment statuses and what each means to the close-out."""

from __future__ import annotations

from bridge.models import State

ASSIGNMENT_STATUSES = ("Submitted", "Approved", "Rejected")
STATES = {"Submitted": State.PENDING, "Approved": State.APPROVED, "Rejected": State.REJECTED}

# The Masters qualification type ids: production, sandbox. AWS documents them in the API
# reference's QualificationRequirement page, section "Master Qualification"
# (https://docs.aws.amazon.com/AWSMechTurk/latest/AWSMturkAPI/ApiReference_QualificationRequirementDataStructureArticle.html);
# MTurkR's system-qualification table lists the same two ("Masters (Production)",
# "Masters (Sandbox)", https://rdrr.io/cran/MTurkR/src/R/ListQualificationTypes.R).
MASTERS_PRODUCTION = "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH"
MASTERS_SANDBOX = "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6"
MASTERS_QUALIFICATION_IDS = frozenset({MASTERS_PRODUCTION, MASTERS_SANDBOX})


def requires_masters(requirements: object) -> bool:
    """A HIT's QualificationRequirements name a Masters qualification (a fee surcharge)."""
    return isinstance(requirements, list) and any(
        isinstance(q, dict) and q.get("QualificationTypeId") in MASTERS_QUALIFICATION_IDS for q in requirements)
