"""Persona API (docs/API.md "Persona"): public list/detail/card, staff PATCH, prompt preview, versions."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictSerializer
from digitalme.errors import error_response
from digitalme.throttling import RateThrottle
from personality.cards import card_export, card_png
from personality.drift import drift_series
from personality.prompts import compose_prompt
from personality.selectors import (
    persona_get,
    persona_profile_draft,
    persona_profile_for_version,
    persona_profile_live,
    persona_public_data,
    trait_history,
    version_get,
    version_latest,
    version_list,
    version_published,
    version_published_list,
)
from personality.services import persona_revert, persona_update, version_publish_guarded
from personality.versioning import snapshot_diff

NOT_FOUND = {404: error_response("Unknown persona slug or version")}
STAFF_ERRORS = {
    400: error_response("Invalid input; `fields` names the trait or field"),
    401: error_response("Not authenticated"),
    403: error_response("Staff only"),
    **NOT_FOUND,
}


class PersonaTraitOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField()
    min = serializers.FloatField()
    max = serializers.FloatField()
    description = serializers.CharField()


class PublishCheckOutputSerializer(serializers.Serializer):
    """How the published version compares with the one it replaced (personality/evaluation/regression.py)."""

    status = serializers.CharField()
    message = serializers.CharField()
    version_score = serializers.FloatField(allow_null=True)
    live_score = serializers.FloatField(allow_null=True)
    rule = serializers.CharField()


PUBLISH_REFUSED = error_response(
    "PERSONA_EVAL_PUBLISH_RULE=refuse and the version scores worse or was never evaluated "
    "(code publish_refused); the change is kept as a draft version",
)


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

    class PersonaPatchOutputSerializer(PersonaDetailOutputSerializer):
        publish_check = PublishCheckOutputSerializer(allow_null=True)

    @extend_schema(
        request=PersonaPatchInputSerializer,
        responses={200: PersonaPatchOutputSerializer, 409: PUBLISH_REFUSED, **STAFF_ERRORS},
    )
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
        version = persona_update(
            persona=persona,
            author=request.user,
            short_bio=data.validated_data.get("bio"),
            traits=traits,
            summary="API edit",
        )
        target = version or version_latest(persona=persona)
        check = version_publish_guarded(version=target, author=request.user) if target else None
        out = {**_live_data(slug), "publish_check": check.as_dict() if check else None}
        return Response(self.PersonaPatchOutputSerializer(out).data)


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


class CardPngThrottle(RateThrottle):
    """Drawing the PNG costs CPU and the endpoint is public: per client IP."""

    scope = "card_png"


class PersonaCardPngApi(APIView):
    """The same card as a PNG with the JSON base64-encoded in its `chara` tEXt chunk (SillyTavern's format)."""

    permission_classes = [AllowAny]
    throttle_classes = [CardPngThrottle]

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


class PersonaVersionPublishOutputSerializer(PersonaVersionOutputSerializer):
    """The version (same fields as in the list) and how it compared with the version it replaced."""

    publish_check = PublishCheckOutputSerializer(allow_null=True)


def _version_published_data(version, check) -> dict:
    version.refresh_from_db()
    return {**PersonaVersionOutputSerializer(version).data, "publish_check": check.as_dict() if check else None}


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
        responses={201: PersonaVersionPublishOutputSerializer, 409: PUBLISH_REFUSED, **STAFF_ERRORS},
    )
    def post(self, request, slug: str, number: int):
        data = self.VersionRevertInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = persona_revert(persona=persona_get(slug=slug), number=number, author=request.user)
        check = (
            version_publish_guarded(version=version, author=request.user) if data.validated_data["publish"] else None
        )
        return Response(_version_published_data(version, check), status=status.HTTP_201_CREATED)


class PersonaVersionPublishApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=None, responses={200: PersonaVersionPublishOutputSerializer, 409: PUBLISH_REFUSED, **STAFF_ERRORS}
    )
    def post(self, request, slug: str, number: int):
        version = version_get(persona=persona_get(slug=slug), number=number)
        check = version_publish_guarded(version=version, author=request.user)
        return Response(_version_published_data(version, check))


class EvalRunScoresSerializer(serializers.Serializer):
    """The scores of one stored evaluation run, shared by the staff run result and the public history."""

    version = serializers.IntegerField(source="version_number", allow_null=True)
    model = serializers.CharField()
    scorer = serializers.CharField()
    prompts = serializers.IntegerField()
    duration_s = serializers.FloatField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    share_in_character = serializers.FloatField(allow_null=True)
    per_category = serializers.DictField()
    per_trait = serializers.DictField(child=serializers.FloatField())
    persona_gym = serializers.DictField(
        help_text="LLM-judge runs: PersonaGym tasks 1–5 per task and overall, status complete/partial/failed"
    )


class PersonalityTestRunOutputSerializer(EvalRunScoresSerializer):
    """A personality-test job: progress while it runs; scores (null until done), verdict and worst replies."""

    run = serializers.IntegerField(source="pk")
    persona = serializers.CharField(source="persona.slug")
    status = serializers.CharField()
    done = serializers.IntegerField()
    progress = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    verdict = serializers.DictField()
    worst = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField()

    def get_progress(self, run) -> float:
        return round(run.done / run.prompts, 4) if run.prompts else 1.0

    def get_url(self, run) -> str:
        return reverse("api-personality-test-detail", args=[run.pk])


class PersonalityTestApi(APIView):
    """Staff: start the consistency evaluation as a job (202 with its id); poll GET …/personality-test/<run>."""

    permission_classes = [IsAdminUser]

    class PersonalityTestInputSerializer(StrictSerializer):
        persona = serializers.SlugField(required=False, default="ivan")
        version = serializers.RegexField(r"^(live|draft|\d{1,6})$", required=False, default="live")
        limit = serializers.IntegerField(min_value=1, max_value=1000, required=False)
        categories = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=5)

    @extend_schema(
        request=PersonalityTestInputSerializer,
        responses={
            202: PersonalityTestRunOutputSerializer,
            503: error_response("The job queue is unavailable (code queue_unavailable)"),
            **STAFF_ERRORS,
        },
    )
    def post(self, request):
        from personality.evaluation.runner import eval_run_start

        data = self.PersonalityTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = eval_run_start(
            slug=data.validated_data["persona"],
            version=data.validated_data["version"],
            limit=data.validated_data.get("limit"),
            categories=tuple(data.validated_data.get("categories") or ()),
            author=request.user,
        )
        run.refresh_from_db()  # an eager worker (tests, embedded setups) may already have finished it
        return Response(PersonalityTestRunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class PersonalityTestDetailApi(APIView):
    """Staff: one personality-test job — status and progress, then scores and the verdict."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: PersonalityTestRunOutputSerializer, **STAFF_ERRORS})
    def get(self, request, run_id: int):
        from personality.evaluation.runner import eval_run_get

        return Response(PersonalityTestRunOutputSerializer(eval_run_get(run_id=run_id)).data)


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


class PersonaTraitHistoryApi(APIView):
    """Anyone: each trait's value in every version that has been published (oldest first), for the persona page."""

    permission_classes = [AllowAny]

    class TraitHistoryOutputSerializer(serializers.Serializer):
        version = serializers.IntegerField()
        published_at = serializers.DateTimeField()
        traits = serializers.DictField(child=serializers.FloatField())

    @extend_schema(responses={200: TraitHistoryOutputSerializer(many=True), **NOT_FOUND})
    def get(self, request, slug: str):
        rows = trait_history(persona=persona_get(slug=slug))
        return Response(self.TraitHistoryOutputSerializer(rows, many=True).data)


class PersonaDriftApi(APIView):
    """Staff: live replies scored per platform and day (in-character share, labels, style markers)."""

    permission_classes = [IsAdminUser]

    class DriftQuerySerializer(serializers.Serializer):
        days = serializers.IntegerField(min_value=1, max_value=90, required=False, default=14)

    @extend_schema(
        parameters=[OpenApiParameter("days", int, required=False, description="1..90, default 14")],
        responses={
            200: OpenApiResponse(
                description="{days, since, platforms: {platform: [{day, samples, in_character, labels, markers, versions}]}, published: [{version, day}], live_version, baseline}"
            ),
            **STAFF_ERRORS,
        },
    )
    def get(self, request, slug: str):
        persona_get(slug=slug)
        query = self.DriftQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(drift_series(slug=slug, days=query.validated_data["days"]))
