"""The server rules for HITs and HIT types: status, extension, expiry, review, deletion,
notification settings. A mixin of `MTurkState` (which supplies the records, `now` and
the error helpers).

Sources: the botocore model's documentation of each operation [model], and where it
says nothing, the least surprising choice, marked "unconfirmed".
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from bridge.panels.mturk.emulator.records import MASTERS_QUALIFICATION_IDS, ApiError, HitRecord

# "HITs that were created before July 22, 2015 cannot be extended." [model]
EXTENSION_CUTOFF = datetime(2015, 7, 22, tzinfo=timezone.utc)
# UpdateExpirationForHIT to a later time: an increment of 60 s to 365 days over the current
# expiration [issue aws/aws-sdk-ruby#2065: "The value -380572 is invalid for
# ExpirationIncrementInSeconds. Valid values range from 60 to 31536000."].
EXPIRATION_INCREMENT = (60, 31_536_000)
ALL_LIVE = ("Assignable", "Unassignable", "Reviewable", "Reviewing")
REVIEW_POLICIES = ("SimplePlurality/2011-09-01", "ScoreMyKnownAnswers/2011-09-01")  # [model, ReviewPolicy]
NOTIFICATION_VERSION = "2006-05-05"  # "Valid value is 2006-05-05." [model, NotificationSpecification]
# Destination by Transport [model]: an email address, an SQS queue URL, an SNS topic ARN. The
# exact checks of the service are unconfirmed; these accept the documented shapes.
DESTINATIONS = {
    "Email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "SQS": re.compile(r"^https://(sqs\.[a-z0-9-]+\.amazonaws\.com(\.cn)?|queue\.amazonaws\.com)/\d{12}/[\w-]{1,80}(\.fifo)?$"),
    "SNS": re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$"),
}
MAX_REQUIREMENTS = 10  # "A HIT can have between zero and ten Qualification requirements." [model]


class HitRules:
    """HIT and HIT-type rules; mixed into `MTurkState`."""

    # --- status ----------------------------------------------------------------------

    def hit_status(self, hit: HitRecord) -> str:
        """HITStatus. Unassignable (all taken, some still being worked on) never shows: the
        emulator has no accepted-but-unsubmitted assignments. A HIT is Reviewable once it
        expired or every assignment was submitted; HITs are not auto-disposed after 120 days
        (a rehearsal of an old batch runs with `--now` instead)."""
        if hit.deleted:
            return "Disposed"
        if hit.reviewing:
            return "Reviewing"
        available, _ = self.hit_counts(hit)
        expired = hit.expiration is not None and self.now() >= hit.expiration
        return "Assignable" if available and not expired else "Reviewable"

    def require_hit_status(self, hit: HitRecord, allowed: tuple[str, ...], *, refuse: bool = False) -> None:
        """The state error unless the HIT's status is one of `allowed` (always with `refuse`)."""
        status = self.hit_status(hit)
        if refuse or status not in allowed:
            # Wording as seen on DeleteHIT [issue boto/boto3#2107] (two spaces included);
            # the TurkErrorCode is unconfirmed.
            raise self.request_error(
                f"This HIT is currently in the state '{status}'.  "
                f"This operation can be called with a status of: {', '.join(allowed)}",
                "AWS.MechanicalTurk.InvalidHITState",
            )

    def visible_hits(self) -> list[HitRecord]:
        """HITs the list operations return: all but the deleted ones [model, ListHITs]."""
        return [h for h in self.hits.values() if not h.deleted]

    # --- changes -----------------------------------------------------------------------

    def delete_hit(self, hit_id: str) -> None:
        """Only a Reviewable (or Reviewing) HIT with every submitted assignment approved or
        rejected [model]; otherwise the state error, as MTurk answers it even for a
        Reviewable HIT that still has Submitted work [issue boto/boto3#2107]."""
        hit = self.hit(hit_id)
        pending = any(self.assignments[i].status == "Submitted" for i in self.assignments_by_hit[hit_id])
        self.require_hit_status(hit, ("Reviewing", "Reviewable"), refuse=pending)
        hit.deleted = True

    def extend_hit(self, hit_id: str, more: int, token: str | None) -> None:
        hit = self.hit(hit_id)
        self.require_hit_status(hit, ALL_LIVE)
        if not 1 <= more <= 1_000_000:  # range unconfirmed for this API version
            bound = "greater than or equal to 1" if more < 1 else "less than or equal to 1000000"
            raise self.validation_error(more, "numberOfAdditionalAssignments", f"Member must have value {bound}")
        self.check_token("CreateAdditionalAssignmentsForHIT", token, "AWS.MechanicalTurk.DuplicateRequest")
        if hit.creation_time < EXTENSION_CUTOFF:
            raise self.request_error("HITs created before July 22, 2015 cannot be extended.",
                                     "AWS.MechanicalTurk.HITTooOldForExtension")
        if hit.max_assignments < 10 <= hit.max_assignments + more:
            raise self.request_error(
                "HITs created with fewer than 10 assignments cannot be extended to have 10 or more assignments.",
                "AWS.MechanicalTurk.InvalidMaximumAssignmentsIncrease",
            )
        hit.max_assignments += more
        hit.reviewing = False
        self.remember_token("CreateAdditionalAssignmentsForHIT", token)

    def update_expiration(self, hit_id: str, expire_at: datetime) -> None:
        """A time in the past expires the HIT now [model]; a later time must extend the
        current expiration by 60 s to 365 days [issue aws/aws-sdk-ruby#2065]."""
        hit = self.hit(hit_id)
        self.require_hit_status(hit, ALL_LIVE)
        now = self.now()
        if expire_at <= now:
            hit.expiration = min(hit.expiration or now, now)
            return
        base = hit.expiration if hit.expiration is not None and hit.expiration > now else now
        increment = int((expire_at - base).total_seconds())
        low, high = EXPIRATION_INCREMENT
        if not low <= increment <= high:
            raise ApiError("ParameterValidationError", self.stamped(
                f"The value {increment} is invalid for ExpirationIncrementInSeconds. "
                f"Valid values range from {low} to {high}."))
        hit.expiration = expire_at
        hit.reviewing = False

    def set_review_status(self, hit_id: str, revert: bool) -> None:
        """Revert=false: Reviewable -> Reviewing; Revert=true: Reviewing -> Reviewable [model]."""
        hit = self.hit(hit_id)
        self.require_hit_status(hit, ("Reviewing",) if revert else ("Reviewable",))
        hit.reviewing = not revert

    def change_hit_type(self, hit_id: str, hit_type_id: str) -> None:
        hit = self.hit(hit_id)
        props = self.hit_type(hit_type_id)
        self.require_hit_status(hit, ALL_LIVE)
        hit.take_type(hit_type_id, props)

    # --- HIT types and their parts ---------------------------------------------------

    def hit_type(self, hit_type_id: str) -> dict:
        props = self.hit_types.get(hit_type_id)
        if props is None or hit_type_id in self.deleted_hit_types:
            raise self.request_error(f"HITType {hit_type_id} does not exist.", "AWS.MechanicalTurk.HITTypeDoesNotExist")
        return props

    def check_requirements(self, requirements: list[dict]) -> None:
        """QualificationRequirements a new HIT or HIT type may use: at most ten [model]; not a
        deleted type nor an Inactive one ("After you delete a Qualification type, you can no
        longer use it to create HITs or HIT types"; an Inactive type's status decides "if HITs
        can be created with requirements based on this type" [model]). Ids the emulator does
        not know (system qualifications such as Worker_Locale) are accepted."""
        if len(requirements) > MAX_REQUIREMENTS:
            raise self.validation_error(requirements, "qualificationRequirements",
                                        f"Member must have length less than or equal to {MAX_REQUIREMENTS}")
        for req in requirements:
            type_id, comparator = req["QualificationTypeId"], req["Comparator"]
            qt = self.qualification_types.get(type_id)
            if qt is not None and qt.deleted_at is not None:
                raise self.request_error(f"QualificationType {type_id} does not exist.",
                                         "AWS.MechanicalTurk.QualificationTypeDoesNotExist")
            if qt is not None and qt.status != "Active":
                raise self.request_error(f"QualificationType {type_id} is not Active: HITs cannot require it.",
                                         "AWS.ParameterOutOfRange")
            values = req.get("IntegerValues") or []
            locales = req.get("LocaleValues") or []
            # [model, QualificationRequirement]: no value with Exists/DoesNotExist; up to 15
            # IntegerValues or 30 LocaleValues with In/NotIn; one LocaleValue with EqualTo/NotEqualTo.
            if comparator in ("Exists", "DoesNotExist") and (values or locales):
                problem = f"takes no IntegerValues or LocaleValues with the comparator {comparator}"
            elif comparator in ("In", "NotIn") and (len(values) > 15 or len(locales) > 30):
                problem = "takes at most 15 IntegerValues or 30 LocaleValues with In or NotIn"
            elif comparator in ("EqualTo", "NotEqualTo") and len(locales) > 1:
                problem = f"takes a single LocaleValue with the comparator {comparator}"
            else:
                continue
            raise self.request_error(f"The QualificationRequirement on {type_id} {problem}.", "AWS.ParameterOutOfRange")

    def check_review_policy(self, policy: dict | None, member: str) -> None:
        if policy is not None and policy["PolicyName"] not in REVIEW_POLICIES:
            raise self.request_error(
                f"{member} names the policy {policy['PolicyName']!r}: use {' or '.join(REVIEW_POLICIES)}.",
                "AWS.ParameterOutOfRange",
            )

    def hits_requiring(self, qualification_type_id: str) -> list[HitRecord]:
        """Live HITs with a requirement on the type (ListHITsForQualificationType). An id
        that is neither one of this requester's live types, a Masters type, nor required by
        any HIT does not exist."""
        found = [h for h in self.visible_hits()
                 if any(q.get("QualificationTypeId") == qualification_type_id for q in h.qualification_requirements)]
        qt = self.qualification_types.get(qualification_type_id)
        known = (qt is not None and qt.deleted_at is None) or qualification_type_id in MASTERS_QUALIFICATION_IDS
        if not found and not known:
            self.qualification_type(qualification_type_id)  # raises QualificationTypeDoesNotExist
        return found

    # --- notifications ---------------------------------------------------------------

    def check_notification(self, spec: dict, *, test: bool) -> None:
        """A NotificationSpecification: Version 2006-05-05, a Destination of the Transport's
        kind, and Ping only in SendTestEventNotification [model]. Messages unconfirmed."""
        if spec["Version"] != NOTIFICATION_VERSION:
            raise self.request_error(f"Notification Version {spec['Version']!r} is not valid; use {NOTIFICATION_VERSION}.",
                                     "AWS.ParameterOutOfRange")
        transport, destination = spec["Transport"], spec["Destination"]
        if not DESTINATIONS[transport].match(destination):
            kind = {"Email": "an email address", "SQS": "an SQS queue URL", "SNS": "an SNS topic ARN"}[transport]
            raise self.request_error(f"The Destination {destination!r} is not {kind}, as Transport {transport} needs.",
                                     "AWS.ParameterOutOfRange")
        if not spec["EventTypes"]:
            raise self.request_error("Notification EventTypes must name at least one event.", "AWS.ParameterOutOfRange")
        if not test and "Ping" in spec["EventTypes"]:
            raise self.request_error("The Ping event is only valid for the SendTestEventNotification operation.",
                                     "AWS.ParameterOutOfRange")

    def update_notification_settings(self, hit_type_id: str, spec: dict | None, active: bool | None) -> None:
        self.hit_type(hit_type_id)
        if spec is None and active is None:
            raise self.request_error("You must specify either the Notification parameter or the Active parameter.",
                                     "AWS.ParameterOutOfRange")
        current = self.notification_settings.get(hit_type_id)
        if spec is None and current is None:
            raise self.request_error(
                f"HIT type {hit_type_id} has no notification specification: provide one to change its Active status.",
                "AWS.ParameterOutOfRange",
            )
        if spec is not None:
            self.check_notification(spec, test=False)
            # A new specification is active unless told otherwise (unconfirmed).
            current = {"Notification": spec, "Active": True if active is None else active}
        else:
            current = {**current, "Active": active}
        self.notification_settings[hit_type_id] = current

