"""`parse_answers`: the QuestionFormAnswers XML of one assignment, read directly."""

from __future__ import annotations

import pytest
from mturk_api_support import NS, answer, form, free_text

from bridge.panels.mturk.api import UnreadableAnswer, parse_answers
from bridge.panels.mturk.emulator.state import answers_xml


def test_free_text_fields_in_order_and_kept_exactly():
    xml = free_text(surveycode=" 8439572 ", comments="fine & <dandy>", empty="")
    assert parse_answers(xml) == {"surveycode": " 8439572 ", "comments": "fine & <dandy>", "empty": ""}
    assert list(parse_answers(xml)) == ["surveycode", "comments", "empty"]


def test_the_emulators_own_documents_read_back():
    fields = {"surveycode": "4820193", "q2": "naïve — “quoted”", "q3": "a\nb"}
    assert parse_answers(answers_xml(fields)) == fields


def test_one_selection():
    assert parse_answers(form(answer("colour", ("SelectionIdentifier", "blue")))) == {"colour": "blue"}


def test_several_selections_are_joined_with_a_bar():
    xml = form(answer("langs", ("SelectionIdentifier", "en"), ("SelectionIdentifier", "de"),
                      ("SelectionIdentifier", "fr")))
    assert parse_answers(xml) == {"langs": "en|de|fr"}


def test_other_selection_text_alone_and_after_selections():
    xml = form(
        answer("source", ("OtherSelectionText", "a friend told me")),
        answer("pets", ("SelectionIdentifier", "cat"), ("OtherSelectionText", "axolotl")),
    )
    assert parse_answers(xml) == {"source": "a friend told me", "pets": "cat|axolotl"}


def test_uploaded_file_key():
    xml = form(answer("upload", ("UploadedFileSizeInBytes", "2048"), ("UploadedFileKey", "uploads/abc123.png")))
    assert parse_answers(xml) == {"upload": "uploads/abc123.png"}


def test_answer_without_a_value_is_empty_and_a_repeated_field_keeps_both():
    xml = form(answer("blank"), answer("code", ("FreeText", "1")), answer("code", ("FreeText", "2")))
    assert parse_answers(xml) == {"blank": "", "code": "1|2"}


def test_ascii_declaration_with_non_ascii_text():
    # boto3 hands over an already decoded str: the declared encoding cannot matter.
    xml = form(answer("name", ("FreeText", "Zoë")), encoding="ASCII")
    assert xml.startswith('<?xml version="1.0" encoding="ASCII"')
    assert parse_answers(xml) == {"name": "Zoë"}


def test_ascii_declaration_as_bytes():
    xml = form(answer("code", ("FreeText", "123")), encoding="ASCII").encode("ascii")
    assert parse_answers(xml) == {"code": "123"}


def test_no_declaration_and_a_prefixed_namespace():
    xml = (f'<q:QuestionFormAnswers xmlns:q="{NS}"><q:Answer><q:QuestionIdentifier>code</q:QuestionIdentifier>'
           "<q:FreeText>77</q:FreeText></q:Answer></q:QuestionFormAnswers>")
    assert parse_answers(xml) == {"code": "77"}
    assert parse_answers(form(answer("code", ("FreeText", "5")), declaration=False)) == {"code": "5"}


def test_an_empty_form_has_no_answers():
    assert parse_answers(form()) == {}


def test_elements_of_another_namespace_are_ignored():
    xml = form(answer("code", ("FreeText", "1")), '<x:Extra xmlns:x="urn:other">2</x:Extra>')
    assert parse_answers(xml) == {"code": "1"}


@pytest.mark.parametrize(
    "xml",
    [
        None,
        "",
        "   \n",
        b"",
        "not xml at all",
        "<QuestionFormAnswers",  # truncated
        form(answer("code", ("FreeText", "1"))).replace("</QuestionFormAnswers>", ""),
        form(answer("code", ("FreeText", "a & b")).replace("&amp;", "&")),  # a bare ampersand
        form(answer("code", ("FreeText", "x"))).replace("x", "\x01"),  # a control character
        '<?xml version="1.0"?><Other xmlns="urn:x"><Answer/></Other>',  # not QuestionFormAnswers
        form("<Answer><FreeText>no identifier</FreeText></Answer>"),
        form(answer("code", ("FreeText", "é")), encoding="ASCII").encode("utf-8"),  # bytes lying about it
    ],
    ids=["none", "empty", "blank", "empty-bytes", "text", "truncated", "unclosed", "ampersand", "control",
         "other-root", "no-identifier", "wrong-encoding-bytes"],
)
def test_unreadable_documents_raise(xml):
    with pytest.raises(UnreadableAnswer):
        parse_answers(xml)


def test_a_doctype_is_refused_even_without_entities():
    xml = f'<?xml version="1.0"?><!DOCTYPE QuestionFormAnswers><QuestionFormAnswers xmlns="{NS}"/>'
    with pytest.raises(UnreadableAnswer, match="DOCTYPE"):
        parse_answers(xml)


def test_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + f']><QuestionFormAnswers xmlns="{NS}"><Answer><QuestionIdentifier>code</QuestionIdentifier>'
        "<FreeText>&i;</FreeText></Answer></QuestionFormAnswers>"
    )
    with pytest.raises(UnreadableAnswer, match="DOCTYPE"):
        parse_answers(bomb)


def test_external_entity_is_refused():
    xxe = (f'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           f'<QuestionFormAnswers xmlns="{NS}"><Answer><QuestionIdentifier>c</QuestionIdentifier>'
           "<FreeText>&x;</FreeText></Answer></QuestionFormAnswers>")
    with pytest.raises(UnreadableAnswer, match="DOCTYPE"):
        parse_answers(xxe)
