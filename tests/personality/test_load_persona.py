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
