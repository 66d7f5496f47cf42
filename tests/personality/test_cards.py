from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from personality.cards import card_read
from personality.models import Fact, Persona, PersonaVersion, StyleExample
from personality.selectors import persona_profile_live

# A made-up character in the shape SillyTavern's cards take (tests/fixtures/cards/README.md).
CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
MARTA_JSON = CARDS / "marta.card_v2.json"
MARTA_PNG = CARDS / "marta.card_v2.png"


def test_card_export_is_character_card_v2(api_client, ivan):
    response = api_client.get("/api/personas/ivan/card/")
    assert response.status_code == 200
    card = response.json()
    assert card["spec"] == "chara_card_v2"
    assert card["spec_version"] == "2.0"
    data = card["data"]
    assert data["name"] == "Ivan Sokolov"
    assert data["mes_example"].startswith("<START>\n{{user}}: Hi! Who are you?\n{{char}}: Hi! I'm Ivan")
    assert len(data["character_book"]["entries"]) == Fact.objects.count()
    assert data["character_book"]["entries"][0]["constant"] is True
    assert data["extensions"]["digitalme"]["traits"][0]["name"] == "humor"


def test_export_import_export_is_identical(api_client, ivan, tmp_path: Path):
    first = api_client.get("/api/personas/ivan/card/").json()
    path = tmp_path / "ivan.json"
    path.write_text(json.dumps(first, ensure_ascii=False), encoding="utf-8")
    call_command("import_persona_card", str(path), "--publish")
    second = api_client.get("/api/personas/ivan/card/").json()
    assert second == first
    assert persona_profile_live().traits == persona_profile_live().traits  # still loads


def test_png_export_round_trips(api_client, ivan, tmp_path: Path):
    first = api_client.get("/api/personas/ivan/card/").json()
    response = api_client.get("/api/personas/ivan/card.png")
    assert response["Content-Type"] == "image/png"
    path = tmp_path / "ivan.png"
    path.write_bytes(response.content)
    assert Image.open(path).size == (400, 600)
    assert card_read(path.read_bytes()) == first
    call_command("import_persona_card", str(path), "--publish")
    assert api_client.get("/api/personas/ivan/card/").json() == first


def test_png_fixture_carries_the_json_fixture():
    assert card_read(MARTA_PNG.read_bytes()) == json.loads(MARTA_JSON.read_text(encoding="utf-8"))


@pytest.mark.django_db
@pytest.mark.parametrize("path", [MARTA_JSON, MARTA_PNG])
def test_sillytavern_style_card_imports_as_json_and_png(path: Path):
    call_command("import_persona_card", str(path))
    persona = Persona.objects.get(slug="marta-lindqvist")
    profile = persona_profile_live("marta-lindqvist")
    assert profile.name == "Marta Lindqvist"
    assert persona.facts.count() == 4  # the disabled fifth entry is skipped
    assert "skarholm" in persona.facts.first().tags
    examples = list(StyleExample.objects.filter(persona=persona))
    assert [ex.user_message for ex in examples] == ['"What do you do all day?"', '"Are you ever lonely out here?"']
    assert examples[0].answer.startswith("*Marta taps the barometer twice")
    assert "[Genre:" not in examples[1].answer
    assert persona.card["first_mes"].startswith("*You wake wrapped in a scratchy blanket")
    assert persona.card["creator"] == "DigitalMe tests"
    assert persona.card["extensions"]["world"] == "Skarholm"


@pytest.mark.django_db
def test_imported_foreign_card_round_trips(api_client, tmp_path: Path):
    call_command("import_persona_card", str(MARTA_PNG))
    first = api_client.get("/api/personas/marta-lindqvist/card/").json()
    path = tmp_path / "again.json"
    path.write_text(json.dumps(first), encoding="utf-8")
    call_command("import_persona_card", str(path), "--publish")
    assert api_client.get("/api/personas/marta-lindqvist/card/").json() == first
    assert first["data"]["creator"] == "DigitalMe tests"


def _counts():
    return Persona.objects.count(), Fact.objects.count(), StyleExample.objects.count(), PersonaVersion.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.update(spec="chara_card_v1"), "spec"),
        (lambda c: c["data"].update(name=42), "data.name"),
        (lambda c: c["data"]["character_book"]["entries"][2].pop("content"), "data.character_book.entries[2].content"),
        (
            lambda c: c["data"]["character_book"]["entries"][1].update(keys="forest"),
            "data.character_book.entries[1].keys",
        ),
        (lambda c: c["data"].update(mes_example=7), "data.mes_example"),
    ],
)
def test_malformed_card_names_the_field_and_imports_nothing(tmp_path: Path, mutate, field):
    card = json.loads(MARTA_JSON.read_text(encoding="utf-8"))
    mutate(card)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        call_command("import_persona_card", str(path))
    assert field in str(excinfo.value)
    assert _counts() == (0, 0, 0, 0)


@pytest.mark.django_db
def test_card_with_an_out_of_bounds_trait_names_the_card_field(api_client, ivan, tmp_path: Path):
    card = api_client.get("/api/personas/ivan/card/").json()
    card["data"]["extensions"]["digitalme"]["traits"][2]["value"] = 0.99
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    before = _counts()
    with pytest.raises(CommandError, match=r"data\.extensions\.digitalme\.traits\[2\]\.value"):
        call_command("import_persona_card", str(path))
    assert _counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82", "no `chara` tEXt chunk"),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_unreadable_card_files_are_clear_errors(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad.card"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_persona_card", str(path))


def test_png_chunk_is_base64_json_like_sillytavern(api_client, ivan):
    png = api_client.get("/api/personas/ivan/card.png").content
    text = Image.open(__import__("io").BytesIO(png)).text["chara"]
    assert json.loads(base64.b64decode(text))["spec"] == "chara_card_v2"
