from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from personality.models import Fact, Persona, PersonaVersion, StyleExample, Trait, VersionStatus
from personality.selectors import persona_profile_live
from tests.personality.conftest import IVAN_FILE


def _counts() -> tuple[int, ...]:
    return (
        Persona.objects.count(),
        Trait.objects.count(),
        Fact.objects.count(),
        StyleExample.objects.count(),
        PersonaVersion.objects.count(),
    )


def test_ivan_file_meets_the_richness_bar(ivan_data):
    languages = {example["language"] for example in ivan_data["style_examples"]}
    assert len(ivan_data["traits"]) >= 8
    assert len(ivan_data["facts"]) >= 40
    assert any(fact.get("pinned") for fact in ivan_data["facts"])
    assert len(ivan_data["style_examples"]) >= 20
    assert {"ru", "en"} <= languages
    assert ivan_data["values"] and ivan_data["boundaries"]


@pytest.mark.django_db
def test_load_persona_creates_and_publishes_ivan(capsys):
    call_command("load_persona", str(IVAN_FILE))
    profile = persona_profile_live("ivan")
    assert profile.name == "Ivan Sokolov"
    assert profile.version == 1
    assert len(profile.traits) >= 8
    assert PersonaVersion.objects.get().status == VersionStatus.PUBLISHED
    assert "published" in capsys.readouterr().out


@pytest.mark.django_db
def test_loading_twice_changes_nothing():
    call_command("load_persona", str(IVAN_FILE))
    before = _counts()
    ids = list(Fact.objects.values_list("id", flat=True))
    call_command("load_persona", str(IVAN_FILE))
    assert _counts() == before
    assert list(Fact.objects.values_list("id", flat=True)) == ids


@pytest.mark.django_db
def test_changed_file_is_loaded_as_a_new_published_version(tmp_path: Path, ivan_data):
    call_command("load_persona", str(IVAN_FILE))
    ivan_data["traits"][0]["value"] = 0.5
    changed = tmp_path / "ivan.yaml"
    changed.write_text(yaml.safe_dump(ivan_data, allow_unicode=True), encoding="utf-8")
    call_command("load_persona", str(changed))
    assert persona_profile_live("ivan").version == 2
    assert persona_profile_live("ivan").traits[0].value == 0.5
    assert PersonaVersion.objects.filter(status=VersionStatus.PUBLISHED).count() == 1
    assert "humor 0.60→0.50" in PersonaVersion.objects.get(number=2).summary


@pytest.mark.django_db
def test_trait_outside_bounds_names_field_and_line_and_imports_nothing(tmp_path: Path):
    text = IVAN_FILE.read_text(encoding="utf-8")
    broken = text.replace("    value: 0.75\n    min: 0.5\n", "    value: 0.3\n    min: 0.5\n", 1)
    line = broken.splitlines().index("    value: 0.3") + 1
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        call_command("load_persona", str(path))
    message = str(excinfo.value)
    assert "traits[1].value" in message
    assert f"line {line}" in message
    assert "outside the trait's bounds" in message
    assert _counts() == (0, 0, 0, 0, 0)


@pytest.mark.django_db
def test_missing_required_field_is_named(tmp_path: Path, ivan_data):
    del ivan_data["facts"][5]["text"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(ivan_data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CommandError, match=r"facts\[5\]\.text .*is required"):
        call_command("load_persona", str(path))
    assert Persona.objects.count() == 0


@pytest.mark.django_db
def test_invalid_yaml_reports_the_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("slug: ivan\nname: [unclosed\nshort_bio: x\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"line \d+.*not valid YAML"):
        call_command("load_persona", str(path))


@pytest.mark.django_db
def test_bad_file_after_a_good_one_leaves_the_published_version_alone(tmp_path: Path, ivan_data):
    call_command("load_persona", str(IVAN_FILE))
    before = _counts()
    ivan_data["facts"].append({"text": "a new fact"})
    ivan_data["style_examples"][0]["language"] = "Russian!"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(ivan_data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CommandError, match=r"style_examples\[0\]\.language"):
        call_command("load_persona", str(path))
    assert _counts() == before
    assert not Fact.objects.filter(text="a new fact").exists()


@pytest.mark.django_db
def test_missing_file_is_a_clear_error():
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_persona", "/nonexistent/ivan.yaml")


# --- deploys never undo staff's tuning (issue 11) ----------------------------------------------


def _staff_edit(humor: float = 0.4) -> None:
    from personality.services import persona_update

    persona_update(persona=Persona.objects.get(slug="ivan"), traits=[{"name": "humor", "value": humor}], publish=True)


def _changed_file(tmp_path: Path, ivan_data: dict) -> Path:
    ivan_data["facts"].append({"text": "Ivan moved to Lisbon in 2026."})
    path = tmp_path / "ivan.yaml"
    path.write_text(yaml.safe_dump(ivan_data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.django_db
def test_redeploying_the_same_file_keeps_a_staff_edit(capsys):
    call_command("load_persona", str(IVAN_FILE))
    _staff_edit(0.4)
    versions = PersonaVersion.objects.count()
    call_command("load_persona", str(IVAN_FILE))
    assert persona_profile_live("ivan").trait("humor").value == 0.4
    assert Trait.objects.get(name="humor").value == 0.4
    assert PersonaVersion.objects.count() == versions
    assert "unchanged" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_changed_file_does_not_overwrite_a_staff_edit(tmp_path: Path, ivan_data, capsys):
    call_command("load_persona", str(IVAN_FILE))
    _staff_edit(0.4)
    versions = PersonaVersion.objects.count()
    call_command("load_persona", str(_changed_file(tmp_path, ivan_data)))
    out = capsys.readouterr().out
    assert persona_profile_live("ivan").trait("humor").value == 0.4
    assert not Fact.objects.filter(text="Ivan moved to Lisbon in 2026.").exists()
    assert PersonaVersion.objects.count() == versions
    assert "kept" in out and "edited" in out and "--force" in out


@pytest.mark.django_db
def test_an_applied_learning_proposal_counts_as_an_edit(tmp_path: Path, ivan_data):
    from personality.services import version_record

    call_command("load_persona", str(IVAN_FILE))
    persona = Persona.objects.get(slug="ivan")
    Fact.objects.create(persona=persona, text="learned: Ivan prefers tea", source="learned", position=999)
    version_record(persona=persona, summary="proposal applied")  # a draft, not published
    call_command("load_persona", str(_changed_file(tmp_path, ivan_data)))
    assert Fact.objects.filter(text="learned: Ivan prefers tea").exists()
    assert not Fact.objects.filter(text="Ivan moved to Lisbon in 2026.").exists()


@pytest.mark.django_db
def test_a_changed_file_loads_when_nobody_edited_since(tmp_path: Path, ivan_data, capsys):
    call_command("load_persona", str(IVAN_FILE))
    call_command("load_persona", str(_changed_file(tmp_path, ivan_data)))
    assert "Ivan moved to Lisbon in 2026." in [fact.text for fact in persona_profile_live("ivan").facts]
    assert "published" in capsys.readouterr().out


@pytest.mark.django_db
def test_force_overwrites_and_says_what_it_replaces(tmp_path: Path, ivan_data, capsys):
    call_command("load_persona", str(IVAN_FILE))
    _staff_edit(0.4)
    edited_version = PersonaVersion.objects.get(status=VersionStatus.PUBLISHED).number
    call_command("load_persona", str(_changed_file(tmp_path, ivan_data)), "--force")
    out = capsys.readouterr().out
    assert persona_profile_live("ivan").trait("humor").value == 0.6
    assert "Ivan moved to Lisbon in 2026." in [fact.text for fact in persona_profile_live("ivan").facts]
    assert f"replaces version {edited_version}" in out
    assert "humor 0.40→0.60" in out


@pytest.mark.django_db
def test_a_persona_not_loaded_from_a_file_is_kept(tmp_path: Path, ivan_data, capsys):
    from personality.services import persona_load_snapshot

    ivan_data["traits"][0]["value"] = 0.5
    persona_load_snapshot(raw=ivan_data, summary="imported from a character card")
    call_command("load_persona", str(IVAN_FILE))
    out = capsys.readouterr().out
    assert "kept" in out
    assert persona_profile_live("ivan").traits[0].value == 0.5
