"""survey-bridge: close out an MTurk wave recruited into a Qualtrics survey."""

__version__ = "0.1.0"
