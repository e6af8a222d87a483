"""The wave's TOML config (SPEC §3, §7, §8, §12, §14, §15), validated into typed settings.

Every problem is collected and reported at once (`ConfigError`); an unknown key names the
nearest valid one. Paths are resolved relative to the config file's folder. Secrets are
never read from here: the Qualtrics token and AWS credentials come from the environment.
The survey is `[qualtrics]` or `[survey]` (`bridge.sources.settings`); everything reads it
through `Settings.survey`, one view whatever tool made it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError
from bridge.ledger.location import is_url, url_problem
from bridge.money import AmountError, parse_amount
from bridge.panels import get_panel
from bridge.panels.mturk.settings import MTurkSettings
from bridge.panels.prolific.settings import ProlificSettings
from bridge.settings_base import Section
from bridge.sources.settings import QualtricsSettings, SurveySettings
from bridge.sources.survey import SurveySpec

_CURRENCY = re.compile(r"^[0-9]+(\.)?[0-9]{0,2}$")  # whole cents (MTurk's CurrencyAmount pattern)

DEFAULT_LEDGER = "survey-bridge.ledger.sqlite"
Policy = Literal["approve", "review", "reject"]
Platform = Literal["mturk", "prolific"]


def _money(value: Any, *, allow_sub_cent: bool = False) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError("must be an amount such as \"1.50\"")
    try:
        amount = parse_amount(str(value))
    except AmountError:
        raise ValueError(f"{value!r} is not an amount such as \"1.50\"") from None
    if amount < 0:
        raise ValueError("must not be negative")
    if not allow_sub_cent and not _CURRENCY.match(str(amount)):
        raise ValueError(f"{value!r} has more than two decimals; payments are in whole cents (pence)")
    return amount


class WaveSettings(Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    platform: Platform = "mturk"
    reward: Decimal | None = None
    currency: Literal["GBP", "USD"] | None = None

    @field_validator("reward", mode="before")
    @classmethod
    def _reward(cls, v: Any) -> Decimal | None:
        return None if v is None else _money(v)


class AttentionCheck(Section):
    column: str = Field(min_length=1)
    expected: str | list[str]

    def passes(self, answer: str) -> bool:
        wanted = [self.expected] if isinstance(self.expected, str) else self.expected
        return answer.strip().casefold() in {w.strip().casefold() for w in wanted}


DEFAULT_REJECT_FEEDBACK = (
    "The completion code you entered does not match any survey response. "
    "If you believe this is a mistake, please contact us."
)


class RulesSettings(Section):
    unmatched: Literal["review", "reject"] = "review"
    min_duration_seconds: int | None = Field(default=None, ge=0)
    # More than N standard deviations below the mean duration of the wave's finished,
    # matched responses; the quickest N percent (SPEC §8).
    too_fast_sd: float | None = Field(default=None, gt=0, le=10)
    too_fast_percentile: float | None = Field(default=None, gt=0, lt=100)
    too_fast: Policy = "review"
    attention_checks: list[AttentionCheck] = []
    attention_failed: Policy = "review"
    reject_feedback: str = DEFAULT_REJECT_FEEDBACK
    too_fast_feedback: str = "The survey was completed faster than the minimum time needed to read it."
    attention_feedback: str = "The survey's attention check questions were not answered correctly."
    auto_approval_warning_hours: int = Field(default=48, ge=0)

    def feedback_for(self) -> dict[str, tuple[str, str]]:
        """Each policy that can reject: (key of its feedback, the feedback)."""
        out = {}
        if self.unmatched == "reject":
            out["unmatched"] = ("reject_feedback", self.reject_feedback)
        if self.too_fast == "reject":
            out["too_fast"] = ("too_fast_feedback", self.too_fast_feedback)
        if self.attention_failed == "reject":
            out["attention_failed"] = ("attention_feedback", self.attention_feedback)
        return out


class BonusSettings(Section):
    column: str | None = None
    reason: str = Field(default="Bonus for your work in our study. Thank you!", min_length=1, max_length=1024)
    max_per_worker: Decimal | None = None

    @field_validator("max_per_worker", mode="before")
    @classmethod
    def _cap(cls, v: Any) -> Decimal | None:
        return None if v is None else _money(v)


class FairPaySettings(Section):
    # Top every approved submission up to this hourly rate at the wave's median duration.
    hourly: Decimal | None = None

    @field_validator("hourly", mode="before")
    @classmethod
    def _hourly(cls, v: Any) -> Decimal | None:
        return None if v is None else _money(v)


class QualificationSettings(Section):
    # MTurk qualification type ids; Prolific participant group ids (the panel checks the form).
    prev_worker: str | None = None
    eligible_worker: str | None = None
    # Revoke eligible_worker from the wave's participants the rules flagged (SPEC §9).
    revoke_eligible_on_flag: bool = False


class NotifySettings(Section):
    # Invite the participants granted eligible_worker in this wave back (SPEC §9): MTurk's
    # NotifyWorkers (subject and message), Prolific's bulk message (the subject, if any,
    # is the message's first line).
    eligible_subject: str | None = Field(default=None, min_length=1)
    eligible_message: str | None = Field(default=None, min_length=1)


class CompensationSettings(Section):
    # Pay a participant who finished the survey but has no submission in the wave (SPEC §9):
    # on MTurk one "Compensation HIT for WORKERID" for them alone; on Prolific a bonus on
    # the submission they ended (returned, timed out).
    reward: Decimal | None = None
    title: str | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, min_length=1, max_length=2000)

    @field_validator("reward", mode="before")
    @classmethod
    def _reward(cls, v: Any) -> Decimal | None:
        if v is None:
            return None
        amount = _money(v)
        if amount <= 0:
            raise ValueError("must be more than 0")
        return amount


class SafetySettings(Section):
    """Gates on bulk harm (SPEC §12): a plan that would reject many people at once is far
    likelier a wrong file or a broken check than that many people cheating; and the wait for
    work decided elsewhere (SPEC 13)."""

    # Fewer decidable submissions than this share matching a survey response: rejections
    # for `unmatched` go to review (`low_match_share`). 0 turns the gate off.
    min_match_share: float = Field(default=0.5, ge=0, le=1)
    # One rule rejecting more than this share of the decidable submissions: its rejections
    # go to review (`many_rejections`). 1 turns the gate off.
    max_reject_share: float = Field(default=0.25, ge=0, le=1)
    # Minutes a payment may take to show on the panel after work was decided by another run
    # (another person, folder or ledger): its bonus waits that long, then is paid only if
    # the panel shows none (SPEC 13). Prolific shows payments "in the following minutes".
    settle_minutes: float = Field(default=10, ge=0, le=7 * 24 * 60)


class ReportSettings(Section):
    # The survey column holding each response's experimental condition (Qualtrics embedded
    # data set by a randomizer): the Charts sheet counts submissions per condition (SPEC §15).
    condition_column: str | None = Field(default=None, min_length=1)


class OutputSettings(Section):
    workbook: Path | None = None
    # A file path (SQLite), or the lab's shared ledger: postgresql://HOST:PORT/DATABASE (SPEC 13).
    ledger: str | None = Field(default=None, min_length=1)
    analysis: Path | None = None  # the survey responses joined to their outcome (SPEC §11)

    @field_validator("ledger")
    @classmethod
    def _ledger(cls, v: str | None) -> str | None:
        if v is not None and "://" in v:
            problem = url_problem(v)
            if problem:
                raise ValueError(problem)
        return v


class Settings(Section):
    wave: WaveSettings
    # The survey: [qualtrics] (SPEC §3) or [survey] (SPEC §14), one of them. Read both through
    # `Settings.survey`, the neutral view.
    qualtrics: QualtricsSettings | None = None
    survey_section: SurveySettings | None = Field(default=None, alias="survey")
    mturk: MTurkSettings | None = None
    prolific: ProlificSettings | None = None
    rules: RulesSettings = RulesSettings()
    bonus: BonusSettings = BonusSettings()
    fair_pay: FairPaySettings = FairPaySettings()
    qualifications: QualificationSettings = QualificationSettings()
    notify: NotifySettings = NotifySettings()
    compensation: CompensationSettings = CompensationSettings()
    safety: SafetySettings = SafetySettings()
    report: ReportSettings = ReportSettings()
    output: OutputSettings = OutputSettings()

    # Set by `load_config`, not read from the file.
    path: Path = Path("wave.toml")

    @model_validator(mode="after")
    def _platform_section(self) -> "Settings":
        if self.qualtrics is None and self.survey_section is None:
            raise ValueError("[survey] is required: the survey's responses (format = \"qualtrics\", \"csv\" or a "
                             "preset such as \"limesurvey\"); [qualtrics] is its Qualtrics form")
        if self.qualtrics is not None and self.survey_section is not None:
            raise ValueError("[qualtrics] and [survey] both describe the survey: keep one (move the [qualtrics] keys "
                             "into [survey] with format = \"qualtrics\", or remove [survey])")
        platform = self.wave.platform
        if getattr(self, platform) is None:
            raise ValueError(f"[{platform}] is required: [wave] platform is {platform!r}")
        other = [p for p in _PLATFORMS if p != platform and getattr(self, p) is not None]
        if other:
            raise ValueError(f"[{other[0]}] is given but [wave] platform is {platform!r}: "
                             f"remove [{other[0]}] or set platform = \"{other[0]}\"")
        return self

    @property
    def survey(self) -> SurveySpec:
        """The survey, whichever section and tool: what every reader of the config uses."""
        section = self.qualtrics if self.qualtrics is not None else self.survey_section
        return section.spec(self.resolve)

    @property
    def panel(self):
        """The panel this wave ran on (`bridge.panels.Panel`)."""
        return get_panel(self.wave.platform)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, p: Path) -> Path:
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def workbook_path(self) -> Path:
        if self.output.workbook is not None:
            return self.resolve(self.output.workbook)
        return self.resolve(Path("out") / f"{self.wave.name}-reconciliation.xlsx")

    @property
    def ledger_location(self) -> Path | str:
        """`[output] ledger`: the shared ledger's URL, or the SQLite file (`ledger_path`)."""
        if self.output.ledger is not None and is_url(self.output.ledger):
            return self.output.ledger
        return self.ledger_path

    @property
    def ledger_path(self) -> Path | None:
        """The SQLite ledger: `[output] ledger`, else `survey-bridge.ledger.sqlite` beside the
        workbook (one for every wave written there: its keys name the work, not the wave).
        A ledger an older version kept per wave (`<workbook>.ledger.sqlite`) is used where it
        exists. None when `[output] ledger` is a URL."""
        if self.output.ledger is not None:
            return None if is_url(self.output.ledger) else self.resolve(Path(self.output.ledger))
        per_wave = self.workbook_path.with_suffix(".ledger.sqlite")
        return per_wave if per_wave.exists() else self.workbook_path.parent / DEFAULT_LEDGER

    @property
    def analysis_path(self) -> Path:
        """`[output] analysis`, else `<wave>-responses.csv` in the workbook's folder."""
        if self.output.analysis is not None:
            return self.resolve(self.output.analysis)
        return self.workbook_path.parent / f"{self.wave.name}-responses.csv"


_PLATFORMS = ("mturk", "prolific")
_SECTIONS: dict[str, type[BaseModel]] = {
    "wave": WaveSettings,
    "qualtrics": QualtricsSettings,
    "survey": SurveySettings,
    "mturk": MTurkSettings,
    "prolific": ProlificSettings,
    "rules": RulesSettings,
    "bonus": BonusSettings,
    "fair_pay": FairPaySettings,
    "qualifications": QualificationSettings,
    "notify": NotifySettings,
    "compensation": CompensationSettings,
    "safety": SafetySettings,
    "report": ReportSettings,
    "output": OutputSettings,
}
_NESTED: dict[tuple[str, str], type[BaseModel]] = {("rules", "attention_checks"): AttentionCheck}


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    if not loc:
        return Settings
    model = _SECTIONS.get(str(loc[0]))
    if len(loc) >= 3 and (str(loc[0]), str(loc[1])) in _NESTED:
        return _NESTED[(str(loc[0]), str(loc[1]))]
    return model


def _where(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "(top level)"
    section, rest = str(loc[0]), [p for p in loc[1:]]
    if not rest:
        return f"[{section}]"
    key = ""
    for p in rest:
        key += f"[{p + 1}]" if isinstance(p, int) else (f".{p}" if key else str(p))
    return f"[{section}] {key}"


def _fields(model: type[BaseModel]) -> list[str]:
    return [name for name in model.model_fields if name != "path"]


_PATTERN_HINTS = {
    ("wave", "name"): "may hold only letters, digits, '.', '_' and '-' (it names the wave's files)",
    ("qualtrics", "survey_id"): "is not a survey id like SV_0123456789abcde",
    ("qualtrics", "datacenter"): "is not a data center id like iad1 or ca1",
    ("qualtrics", "base_url"): "must start with https:// (or http:// for a local emulator)",
    ("survey", "survey_id"): "is not a survey id like SV_0123456789abcde",
    ("survey", "datacenter"): "is not a data center id like iad1 or ca1",
    ("survey", "base_url"): "must start with https:// (or http:// for a local emulator)",
    ("prolific", "study_id"): "is not a Prolific study id (24 lower-case hex characters)",
    ("prolific", "workspace_id"): "is not a Prolific workspace id (24 lower-case hex characters)",
}


# Keys a section names otherwise than an older one: the hint for the older name.
_RENAMED = {("survey", "worker_id_column"): "participant_column"}


def _problem(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        model = _model_for(loc[:-1])
        where = _where(loc[:-1]) if len(loc) > 1 else "top level"
        valid = [f"[{s}]" for s in _SECTIONS] if model is Settings else _fields(model) if model else []
        target = f"[{name}]" if model is Settings else name
        near = [_RENAMED[(str(loc[0]), name)]] if (str(loc[0]), name) in _RENAMED else \
            difflib.get_close_matches(target, valid, n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]}?" if near else f"; valid keys: {', '.join(valid)}"
        return f"unknown key {target!r} in {where}{hint}"
    if kind == "missing":
        return f"{_where(loc)} is required"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    if kind == "literal_error":
        got = err.get("input")
        msg = f"{msg} (got {got!r})"
    elif kind == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(tuple(str(p) for p in loc), "does not have the expected form")
        msg = f"{err.get('input')!r} {hint}"
    return f"{_where(loc)}: {msg}"


def closing_problems(settings: Settings) -> list[str]:
    """The SPEC §9 keys that need another key (every panel)."""
    problems = []
    q, n = settings.qualifications, settings.notify
    if q.revoke_eligible_on_flag and not q.eligible_worker:
        problems.append("[qualifications] revoke_eligible_on_flag = true needs [qualifications] eligible_worker "
                        "(the qualification to revoke)")
    if (n.eligible_subject or n.eligible_message) and not q.eligible_worker:
        problems.append("[notify] invites the participants granted [qualifications] eligible_worker: set "
                        "eligible_worker, or remove [notify]")
    if n.eligible_subject and not n.eligible_message:
        problems.append("[notify] eligible_subject is given without eligible_message (the text to send)")
    return problems


def load_config(path: str | Path) -> Settings:
    """Read and validate a wave config; raise `ConfigError` listing every problem."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(path, ["file not found; copy templates/wave.toml and edit it"])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, ["not a UTF-8 text file"]) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(e) for e in exc.errors()))
        raise ConfigError(path, problems) from None
    settings.path = path.resolve()
    problems = closing_problems(settings) + settings.panel.config_problems(settings)
    if problems:
        raise ConfigError(path, problems)
    return settings
