"""The page of a compensation HIT (SPEC §9): an HTMLQuestion with one button that submits it."""

from __future__ import annotations

from html import escape

HTML_QUESTION_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"
_SUBMIT = {"sandbox": "https://workersandbox.mturk.com/mturk/externalSubmit"}
_SUBMIT_DEFAULT = "https://www.mturk.com/mturk/externalSubmit"


def compensation_question(title: str, description: str, environment: str) -> str:
    """The compensation HIT's page: an HTMLQuestion with one button that submits it. The
    form posts to MTurk's externalSubmit (the sandbox's for the sandbox), or to the
    `turkSubmitTo` MTurk passes in the page's URL."""
    action = _SUBMIT.get(environment, _SUBMIT_DEFAULT)
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'/><title>{t}</title></head><body>"
        "<form name='mturk_form' method='post' id='mturk_form' action='{a}'>"
        "<input type='hidden' value='' name='assignmentId' id='assignmentId'/>"
        "<input type='hidden' value='received' name='compensation'/>"
        "<h1>{t}</h1><p>{d}</p>"
        "<p><input type='submit' id='submitButton' value='Submit to be paid'/></p></form>"
        "<script>var q=new URLSearchParams(window.location.search);"
        "document.getElementById('assignmentId').value=q.get('assignmentId')||'';"
        "if(q.get('turkSubmitTo')){{document.getElementById('mturk_form').action=q.get('turkSubmitTo')+"
        "'/mturk/externalSubmit';}}</script></body></html>"
    ).format(t=escape(title), d=escape(description), a=action)
    return (f'<HTMLQuestion xmlns="{HTML_QUESTION_NS}"><HTMLContent><![CDATA[{html}]]></HTMLContent>'
            "<FrameHeight>0</FrameHeight></HTMLQuestion>")
