"""Persona API (API.md "Persona"): public list/detail/card, staff PATCH, prompt preview, versions."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictSerializer
from personality.cards import card_export, card_png
from personality.prompts import compose_prompt
from personality.selectors import (
    persona_get,
    persona_profile_draft,
    persona_profile_for_version,
    persona_profile_live,
    persona_public_data,
    version_get,
    version_list,
    version_published,
    version_published_list,
)
from personality.services import persona_revert, persona_update, version_publish
from personality.versioning import snapshot_diff

ERROR = inline_serializer(
    "PersonaError",
    fields={"detail": serializers.CharField(), "code": serializers.CharField(), "fields": serializers.DictField()},
)
NOT_FOUND = {404: OpenApiResponse(ERROR, description="Unknown persona slug or version")}
STAFF_ERRORS = {
    400: OpenApiResponse(ERROR, description="Invalid input; `fields` names the trait or field"),
    401: OpenApiResponse(ERROR, description="Not authenticated"),
    403: OpenApiResponse(ERROR, description="Staff only"),
    **NOT_FOUND,
}


class PersonaTraitOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    description = serializers.CharField()


class PersonaDetailOutputSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    short_bio = serializers.CharField()
    description = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField(allow_null=True)
    traits = PersonaTraitOutputSerializer(many=True)


def _live_data(slug: str) -> dict:
    persona_get(slug=slug)  # 404 for an unknown slug
    return persona_public_data(profile=persona_profile_live(slug))


class PersonaListApi(APIView):
    permission_classes = [AllowAny]

    class PersonaListOutputSerializer(serializers.Serializer):
        slug = serializers.CharField()
        name = serializers.CharField()
        short_bio = serializers.CharField()
        version = serializers.IntegerField(allow_null=True)

    @extend_schema(responses={200: PersonaListOutputSerializer(many=True)})
    def get(self, request):
        items = [
            {
                "slug": v.persona.slug,
                "name": v.snapshot["name"],
                "short_bio": v.snapshot["short_bio"],
                "version": v.number,
            }
            for v in version_published_list()
        ]
        return Response(self.PersonaListOutputSerializer(items, many=True).data)


class PersonaDetailApi(APIView):
    """GET: anyone sees the published persona. PATCH (staff): bio and trait values → a new published version."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else [IsAdminUser()]

    class PersonaTraitPatchSerializer(StrictSerializer):
        name = serializers.CharField(max_length=64)
        value = serializers.JSONField()  # checked by the service, so a bad value's error names the trait

    class PersonaPatchInputSerializer(StrictSerializer):
        bio = serializers.CharField(max_length=500, required=False, allow_blank=False)
        traits = serializers.ListField(child=serializers.DictField(), required=False, max_length=50)

    @extend_schema(responses={200: PersonaDetailOutputSerializer, **NOT_FOUND})
    def get(self, request, slug: str):
        return Response(PersonaDetailOutputSerializer(_live_data(slug)).data)

    @extend_schema(request=PersonaPatchInputSerializer, responses={200: PersonaDetailOutputSerializer, **STAFF_ERRORS})
    def patch(self, request, slug: str):
        persona = persona_get(slug=slug)
        data = self.PersonaPatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        traits = []
        for index, raw in enumerate(data.validated_data.get("traits", [])):
            item = self.PersonaTraitPatchSerializer(data=raw)
            if not item.is_valid():
                name = raw.get("name")
                key = f"traits.{name}" if isinstance(name, str) and name else f"traits[{index}]"
                raise serializers.ValidationError({key: item.errors})
            traits.append(item.validated_data)
        persona_update(
            persona=persona,
            author=request.user,
            short_bio=data.validated_data.get("bio"),
            traits=traits,
            summary="API edit",
            publish=True,
        )
        return Response(PersonaDetailOutputSerializer(_live_data(slug)).data)


def _published_card(slug: str) -> dict:
    persona_get(slug=slug)
    version = version_published(slug=slug)
    return card_export(version.snapshot, version=version.number)


class PersonaCardApi(APIView):
    """The published persona as a Character Card V2 JSON."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiResponse(description="Character Card V2 (spec chara_card_v2)"), **NOT_FOUND})
    def get(self, request, slug: str):
        return Response(_published_card(slug))


class PersonaCardPngApi(APIView):
    """The same card as a PNG with the JSON base64-encoded in its `chara` tEXt chunk (SillyTavern's format)."""

    permission_classes = [AllowAny]

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(description="PNG character card"), **NOT_FOUND})
    def get(self, request, slug: str):
        response = HttpResponse(card_png(_published_card(slug)), content_type="image/png")
        response["Content-Disposition"] = f'attachment; filename="{slug}.card_v2.png"'
        return response


def _profile_for(slug: str, version: str):
    if version == "live":
        return persona_profile_live(slug)
    if version == "draft":
        return persona_profile_draft(slug)
    return persona_profile_for_version(slug, version=int(version))


class PersonaPromptPreviewApi(APIView):
    """Staff: the exact prompt composed for a sample message (live, draft or a stored version)."""

    permission_classes = [IsAdminUser]

    class PromptPreviewInputSerializer(StrictSerializer):
        message = serializers.CharField(max_length=4000)
        version = serializers.RegexField(r"^(live|draft|\d{1,6})$", required=False, default="live")
        memory = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, max_length=50)
        model = serializers.CharField(max_length=200, required=False)
        budget_tokens = serializers.IntegerField(min_value=256, max_value=200_000, required=False)

    class PromptPreviewOutputSerializer(serializers.Serializer):
        version = serializers.IntegerField(allow_null=True)
        model = serializers.CharField()
        budget_tokens = serializers.IntegerField()
        token_count = serializers.IntegerField()
        language = serializers.CharField()
        system = serializers.CharField()
        few_shot = serializers.ListField(child=serializers.DictField())
        sections = serializers.DictField(child=serializers.CharField(allow_blank=True))
        dropped = serializers.DictField(child=serializers.IntegerField())

    @extend_schema(request=PromptPreviewInputSerializer, responses={200: PromptPreviewOutputSerializer, **STAFF_ERRORS})
    def post(self, request, slug: str):
        persona_get(slug=slug)
        data = self.PromptPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = _profile_for(slug, data.validated_data["version"])
        model = data.validated_data.get("model") or settings.LLM_MODEL
        prompt = compose_prompt(
            profile=profile,
            user_message=data.validated_data["message"],
            memory=data.validated_data.get("memory", []),
            model=model,
            budget_tokens=data.validated_data.get("budget_tokens") or settings.PERSONA_PROMPT_BUDGET_TOKENS,
        )
        out = {
            "version": profile.version,
            "model": model,
            "budget_tokens": prompt.budget_tokens,
            "token_count": prompt.token_count,
            "language": prompt.language,
            "system": prompt.system,
            "few_shot": prompt.few_shot,
            "sections": prompt.sections,
            "dropped": prompt.dropped,
        }
        return Response(self.PromptPreviewOutputSerializer(out).data)


class PersonaVersionOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()
    author = serializers.EmailField(source="author.email", allow_null=True, default=None)
    created = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.CharField()
    diff = serializers.ListField(child=serializers.DictField())


class PersonaVersionListApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: PersonaVersionOutputSerializer(many=True), **STAFF_ERRORS})
    def get(self, request, slug: str):
        versions = version_list(persona=persona_get(slug=slug))
        return Response(PersonaVersionOutputSerializer(versions, many=True).data)


class PersonaVersionDetailApi(APIView):
    permission_classes = [IsAdminUser]

    class PersonaVersionDetailOutputSerializer(PersonaVersionOutputSerializer):
        snapshot = serializers.DictField()

    @extend_schema(responses={200: PersonaVersionDetailOutputSerializer, **STAFF_ERRORS})
    def get(self, request, slug: str, number: int):
        version = version_get(persona=persona_get(slug=slug), number=number)
        return Response(self.PersonaVersionDetailOutputSerializer(version).data)


class PersonaVersionCompareApi(APIView):
    """Staff: what changed from version `a` to version `b` (`?a=1&b=3`)."""

    permission_classes = [IsAdminUser]

    class VersionCompareQuerySerializer(serializers.Serializer):
        a = serializers.IntegerField(min_value=1)
        b = serializers.IntegerField(min_value=1)

    class VersionCompareOutputSerializer(serializers.Serializer):
        a = serializers.IntegerField()
        b = serializers.IntegerField()
        changes = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[OpenApiParameter("a", int, required=True), OpenApiParameter("b", int, required=True)],
        responses={200: VersionCompareOutputSerializer, **STAFF_ERRORS},
    )
    def get(self, request, slug: str):
        persona = persona_get(slug=slug)
        query = self.VersionCompareQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        a = version_get(persona=persona, number=query.validated_data["a"])
        b = version_get(persona=persona, number=query.validated_data["b"])
        return Response({"a": a.number, "b": b.number, "changes": snapshot_diff(a.snapshot, b.snapshot)})


class PersonaVersionRevertApi(APIView):
    """Staff: restore the working copy to exactly version `number` (a new version); optionally publish it."""

    permission_classes = [IsAdminUser]

    class VersionRevertInputSerializer(StrictSerializer):
        publish = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        request=VersionRevertInputSerializer,
        responses={201: PersonaVersionOutputSerializer, **STAFF_ERRORS},
    )
    def post(self, request, slug: str, number: int):
        data = self.VersionRevertInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = persona_revert(
            persona=persona_get(slug=slug),
            number=number,
            author=request.user,
            publish=data.validated_data["publish"],
        )
        return Response(PersonaVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class PersonaVersionPublishApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: PersonaVersionOutputSerializer, **STAFF_ERRORS})
    def post(self, request, slug: str, number: int):
        version = version_get(persona=persona_get(slug=slug), number=number)
        return Response(PersonaVersionOutputSerializer(version_publish(version=version, author=request.user)).data)


class EvalRunScoresSerializer(serializers.Serializer):
    """The scores of one stored evaluation run, shared by the staff run result and the public history."""

    version = serializers.IntegerField(source="version_number", allow_null=True)
    model = serializers.CharField()
    scorer = serializers.CharField()
    prompts = serializers.IntegerField()
    duration_s = serializers.FloatField()
    score = serializers.FloatField()
    share_in_character = serializers.FloatField()
    per_category = serializers.DictField()
    per_trait = serializers.DictField(child=serializers.FloatField())


class PersonalityTestApi(APIView):
    """Staff: run the consistency evaluation now (synchronously) and return its summary.

    With the bundled local model the full set takes minutes; pass `limit` for a quick check.
    """

    permission_classes = [IsAdminUser]

    class PersonalityTestInputSerializer(StrictSerializer):
        persona = serializers.SlugField(required=False, default="ivan")
        version = serializers.RegexField(r"^(live|draft|\d{1,6})$", required=False, default="live")
        limit = serializers.IntegerField(min_value=1, max_value=1000, required=False)
        categories = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=5)

    class PersonalityTestOutputSerializer(EvalRunScoresSerializer):
        run = serializers.IntegerField(source="pk")
        persona = serializers.CharField(source="persona.slug")
        worst = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        request=PersonalityTestInputSerializer, responses={200: PersonalityTestOutputSerializer, **STAFF_ERRORS}
    )
    def post(self, request):
        from personality.evaluation.runner import eval_run_create

        data = self.PersonalityTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = eval_run_create(
            slug=data.validated_data["persona"],
            version=data.validated_data["version"],
            limit=data.validated_data.get("limit"),
            categories=tuple(data.validated_data.get("categories") or ()),
            author=request.user,
        )
        return Response(self.PersonalityTestOutputSerializer(run).data)


class PersonaEvaluationListApi(APIView):
    """Anyone: the consistency score history (finished runs, newest first) for the /persona/ page."""

    permission_classes = [AllowAny]

    class EvaluationOutputSerializer(EvalRunScoresSerializer):
        id = serializers.IntegerField()
        started_at = serializers.DateTimeField(source="started")
        finished_at = serializers.DateTimeField(source="finished")

    @extend_schema(responses={200: EvaluationOutputSerializer(many=True), **NOT_FOUND})
    def get(self, request, slug: str):
        from personality.evaluation.runner import eval_run_list

        persona_get(slug=slug)
        runs = eval_run_list(slug=slug)[:50]
        return Response(self.EvaluationOutputSerializer(runs, many=True).data)
