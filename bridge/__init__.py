"""survey-bridge: close out a wave of crowd work (Prolific, MTurk) recruited into a survey."""

__version__ = "0.2.0"
