from __future__ import annotations

import pytest

from personality.errors import PersonaNotPublishedError
from personality.models import PersonaVersion, VersionStatus
from personality.selectors import persona_profile_draft, persona_profile_for_version, persona_profile_live
from personality.services import persona_update


@pytest.mark.django_db
def test_live_profile_without_any_persona_is_a_clear_error():
    with pytest.raises(PersonaNotPublishedError, match="load_persona"):
        persona_profile_live("ivan")


def test_live_profile_without_a_published_version_is_a_clear_error(ivan):
    PersonaVersion.objects.update(status=VersionStatus.SUPERSEDED)
    with pytest.raises(PersonaNotPublishedError, match="no published version"):
        persona_profile_live("ivan")


def test_draft_profile_shows_unpublished_edits_while_live_stays(ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}])
    assert persona_profile_live("ivan").trait("humor").value == 0.6
    assert persona_profile_draft("ivan").trait("humor").value == 0.8
    assert persona_profile_draft("ivan").version == 2


def test_profile_for_an_old_version(ivan):
    persona_update(persona=ivan, traits=[{"name": "humor", "value": 0.8}], publish=True)
    assert persona_profile_live("ivan").trait("humor").value == 0.8
    assert persona_profile_for_version("ivan", version=1).trait("humor").value == 0.6
