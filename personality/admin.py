"""The persona admin: tune Ivan safely (sliders within bounds, inlines, versions with diff/revert),
try the draft through the real chat pipeline, preview the prompt, see scores per version, import cards.

Every save records a PersonaVersion (draft); publishing is explicit and warns when the draft's
consistency score dropped by more than PERSONA_EVAL_PUBLISH_MARGIN.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from digitalme.errors import DomainError
from personality.charts import score_chart_svg
from personality.errors import PublishRefusedError
from personality.models import EvalRun, Fact, Persona, PersonaVersion, Proposal, StyleExample, Trait, VersionStatus
from personality.prompts import compose_prompt
from personality.selectors import persona_profile_draft, persona_profile_live, version_list
from personality.services import persona_import_card, persona_revert, version_publish_guarded, version_record
from personality.versioning import snapshot_diff

# --- forms ----------------------------------------------------------------------------------


class TraitSlider(forms.NumberInput):
    """<input type=range> with the value shown next to it (static/personality/admin.js)."""

    input_type = "range"
    template_name = "personality/widgets/trait_slider.html"


class TraitInlineForm(forms.ModelForm):
    class Meta:
        model = Trait
        fields = ["name", "value", "min_value", "max_value", "description", "low_behaviour", "high_behaviour"]
        widgets = {
            "value": TraitSlider(attrs={"step": "0.01", "min": "0", "max": "1", "class": "trait-slider"}),
            "min_value": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
            "max_value": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
            "description": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "low_behaviour": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "high_behaviour": forms.Textarea(attrs={"rows": 2, "cols": 30}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # the slider cannot leave the trait's bounds
            self.fields["value"].widget.attrs.update(
                {"min": str(self.instance.min_value), "max": str(self.instance.max_value)}
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        value, low, high = data.get("value"), data.get("min_value"), data.get("max_value")
        if None not in (value, low, high):
            if not 0.0 <= low <= high <= 1.0:  # type: ignore[operator]
                raise ValidationError({"min_value": f"Bounds must satisfy 0 ≤ min ≤ max ≤ 1 (got {low}, {high})."})
            if not low <= value <= high:  # type: ignore[operator]
                raise ValidationError({"value": f"{data.get('name')}: {value} is outside its bounds [{low}, {high}]."})
        return data


class TraitInline(admin.TabularInline):
    model = Trait
    form = TraitInlineForm
    extra = 0
    ordering = ["position", "id"]


class FactInline(admin.TabularInline):
    model = Fact
    extra = 1
    fields = ["text", "tags", "pinned", "source"]

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("widgets", {"text": forms.Textarea(attrs={"rows": 2, "cols": 70})})
        return super().get_formset(request, obj, **kwargs)


class StyleExampleInline(admin.StackedInline):
    model = StyleExample
    extra = 0
    fields = [("language", "source"), "user_message", "answer"]


class CardImportForm(forms.Form):
    card = forms.FileField(help_text="Character Card V2: .json, or .png with a `chara` tEXt chunk (SillyTavern).")
    publish = forms.BooleanField(required=False, help_text="Publish the imported version (new personas always are).")


class TryItForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=4000)
    version = forms.ChoiceField(choices=[("draft", "draft (working copy)"), ("live", "live (published)")])
    memory = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}), help_text="one memory line per row"
    )


class CompareForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)


class EvalForm(forms.Form):
    version = forms.CharField(initial="draft", help_text="a version number, 'live' or 'draft'")
    limit = forms.IntegerField(min_value=1, max_value=1000, initial=10, required=False)


# --- persona --------------------------------------------------------------------------------


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "live_version", "draft_state", "pending_proposals", "tools"]
    inlines = [TraitInline, FactInline, StyleExampleInline]
    fieldsets = [
        (None, {"fields": ["slug", "name", "short_bio", "description", "languages", "speaking_style"]}),
        ("Values and boundaries", {"fields": ["values", "boundaries"]}),
        ("Character card fields", {"classes": ["collapse"], "fields": ["card"]}),
    ]
    readonly_fields = ["source_hash"]
    change_form_template = "personality/admin/persona_change_form.html"
    change_list_template = "personality/admin/persona_change_list.html"

    class Media:
        css = {"all": ["personality/admin.css"]}
        js = ["personality/admin.js"]

    @admin.display(description="live")
    def live_version(self, obj: Persona) -> str:
        live = obj.versions.filter(status=VersionStatus.PUBLISHED).first()
        return f"v{live.number}" if live else "—"

    @admin.display(description="working copy")
    def draft_state(self, obj: Persona) -> str:
        profile = persona_profile_draft(obj.slug)
        live = obj.versions.filter(status=VersionStatus.PUBLISHED).first()
        if live and profile.version == live.number:
            return "= live"
        return f"draft v{profile.version}" if profile.version else "unsaved changes"

    @admin.display(description="proposals")
    def pending_proposals(self, obj: Persona) -> int:
        return obj.proposals.filter(status=Proposal.Status.PENDING).count()

    @admin.display(description="")
    def tools(self, obj: Persona) -> str:
        return format_html(
            '<a href="{}">versions</a> · <a href="{}">try it</a> · <a href="{}">evaluation</a>',
            reverse("admin:personality_persona_versions", args=[obj.pk]),
            reverse("admin:personality_persona_try", args=[obj.pk]),
            reverse("admin:personality_persona_eval", args=[obj.pk]),
        )

    def save_related(self, request: HttpRequest, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        version = version_record(persona=form.instance, author=request.user, summary="admin edit")
        if version is not None:
            messages.info(
                request,
                f"Saved as draft version {version.number} ({version.summary}). Try it, then publish it from Versions.",
            )

    def get_urls(self):
        own = [
            path(
                "import-card/",
                self.admin_site.admin_view(self.import_card_view),
                name="personality_persona_import_card",
            ),
            path(
                "<int:pk>/versions/",
                self.admin_site.admin_view(self.versions_view),
                name="personality_persona_versions",
            ),
            path("<int:pk>/try/", self.admin_site.admin_view(self.try_view), name="personality_persona_try"),
            path("<int:pk>/evaluation/", self.admin_site.admin_view(self.eval_view), name="personality_persona_eval"),
            path("<int:pk>/learn/", self.admin_site.admin_view(self.learn_view), name="personality_persona_learn"),
        ]
        return own + super().get_urls()

    def _context(self, request: HttpRequest, persona: Persona, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "persona": persona,
            "title": title,
            "original": persona,
            "has_view_permission": True,
        }

    def _check(self, request: HttpRequest, persona: Persona, *, change: bool) -> None:
        allowed = self.has_change_permission(request, persona) if change else self.has_view_permission(request, persona)
        if not allowed:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied

    # versions: list with diffs, compare two, revert and publish
    def versions_view(self, request: HttpRequest, pk: int):
        persona = get_object_or_404(Persona, pk=pk)
        self._check(request, persona, change=request.method == "POST")
        from personality.evaluation.regression import publish_check
        from personality.evaluation.runner import eval_score_by_version

        if request.method == "POST":
            number = int(request.POST.get("number", "0") or 0)
            action = request.POST.get("action")
            try:
                target = persona.versions.get(number=number)
                if action == "revert":
                    version = persona_revert(persona=persona, number=number, author=request.user)
                    messages.success(
                        request, f"Reverted: the working copy equals v{number} again (saved as v{version.number})."
                    )
                elif action == "publish":
                    check = publish_check(version=target)
                    if (
                        check.blocks
                        and settings.PERSONA_EVAL_PUBLISH_RULE == "warn"
                        and request.POST.get("confirm") != "yes"
                    ):
                        messages.warning(
                            request, f"{check.message} Publish anyway with the “publish despite the drop” button."
                        )
                        return HttpResponseRedirect(f"{request.path}?confirm={number}")
                    check = version_publish_guarded(version=target, author=request.user)
                    messages.success(request, f"v{number} is live; open /persona/ pages updated. {check.message}")
            except (PersonaVersion.DoesNotExist, DomainError) as exc:
                messages.error(request, getattr(exc, "detail", f"No version {number}."))
            return HttpResponseRedirect(request.path)

        compare = CompareForm(request.GET or None)
        changes = None
        if compare.is_bound and compare.is_valid():
            a = persona.versions.filter(number=compare.cleaned_data["a"]).first()
            b = persona.versions.filter(number=compare.cleaned_data["b"]).first()
            if a and b:
                changes = snapshot_diff(a.snapshot, b.snapshot)
            else:
                compare.add_error(None, "Both versions must exist.")
        scores = {row["version"]: row for row in eval_score_by_version(persona=persona)}
        versions = list(version_list(persona=persona)[:100])
        confirm = request.GET.get("confirm")
        context = {
            **self._context(request, persona, f"Versions of {persona.name}"),
            "versions": [{"version": v, "score": scores.get(v.number)} for v in versions],
            "compare": compare,
            "changes": changes,
            "confirm": int(confirm) if confirm and confirm.isdigit() else None,
            "chart": score_chart_svg(list(scores.values())),
        }
        return TemplateResponse(request, "personality/admin/versions.html", context)

    # try it: the real chat pipeline with the draft, reply and composed prompt side by side
    def try_view(self, request: HttpRequest, pk: int):
        persona = get_object_or_404(Persona, pk=pk)
        self._check(request, persona, change=False)
        form = TryItForm(request.POST or None, initial={"version": "draft"})
        result: dict[str, Any] = {}
        if request.method == "POST" and form.is_valid():
            profile = (
                persona_profile_draft(persona.slug)
                if form.cleaned_data["version"] == "draft"
                else persona_profile_live(persona.slug)
            )
            memory = [line.strip() for line in form.cleaned_data["memory"].splitlines() if line.strip()]
            text = form.cleaned_data["message"]
            prompt = compose_prompt(
                profile=profile,
                user_message=text,
                memory=memory,
                model=settings.LLM_MODEL,
                budget_tokens=settings.PERSONA_PROMPT_BUDGET_TOKENS,
            )
            result["prompt"] = prompt
            if "send" in request.POST:
                try:
                    from chat.services import persona_reply

                    preview = persona_reply(profile=profile, text=text, model=settings.LLM_MODEL)
                    result["reply"] = preview
                    result["sent_messages"] = preview.prompt.messages
                except DomainError as exc:
                    result["error"] = exc.detail
        context = {**self._context(request, persona, f"Try {persona.name}"), "form": form, **result}
        return TemplateResponse(request, "personality/admin/try.html", context)

    # evaluation: scores per version (chart), run a (small) evaluation now
    def eval_view(self, request: HttpRequest, pk: int):
        persona = get_object_or_404(Persona, pk=pk)
        self._check(request, persona, change=request.method == "POST")
        from personality.evaluation.runner import eval_run_start, eval_score_by_version

        form = EvalForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = eval_run_start(
                    slug=persona.slug,
                    version=form.cleaned_data["version"].strip() or "draft",
                    limit=form.cleaned_data.get("limit"),
                    author=request.user,
                )
                messages.success(request, f"Run {run.pk} queued ({run.prompts} prompts); progress shows below.")
            except (DomainError, ValueError) as exc:
                messages.error(request, getattr(exc, "detail", str(exc)))
            return HttpResponseRedirect(request.path)
        rows = eval_score_by_version(persona=persona)
        runs = list(EvalRun.objects.filter(persona=persona).defer("results").order_by("-started")[:20])
        active = any(run.status in (EvalRun.Status.QUEUED, EvalRun.Status.RUNNING) for run in runs)
        context = {
            **self._context(request, persona, f"Consistency of {persona.name}"),
            "form": form,
            "runs": runs,
            "active": active,  # the page refreshes itself while a run is queued or running
            "chart": score_chart_svg(rows),
            "margin": settings.PERSONA_EVAL_PUBLISH_MARGIN,
            "target": settings.PERSONA_EVAL_TARGET,
        }
        return TemplateResponse(request, "personality/admin/evaluation.html", context)

    def learn_view(self, request: HttpRequest, pk: int):
        persona = get_object_or_404(Persona, pk=pk)
        self._check(request, persona, change=True)
        if request.method == "POST":
            from personality.learning import learning_run

            counts = learning_run(slug=persona.slug)
            messages.success(
                request,
                f"Learning run: {counts['feedback']} rated replies, {counts['proposals']} new proposals, "
                f"{counts['applied']} applied.",
            )
        return HttpResponseRedirect(reverse("admin:personality_proposal_changelist"))

    def import_card_view(self, request: HttpRequest):
        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = CardImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["card"]
            try:
                persona, version, check = persona_import_card(
                    content=upload.read(), author=request.user, publish=True if form.cleaned_data["publish"] else None
                )
            except PublishRefusedError as exc:
                messages.error(request, f"Imported as a draft version. {exc.detail}")
                return HttpResponseRedirect(reverse("admin:personality_persona_changelist"))
            except DomainError as exc:
                form.add_error("card", f"{exc.detail}. Nothing was imported.")
            else:
                if version is None:
                    messages.info(request, f"{persona.name}: the card matches the current version; nothing changed.")
                else:
                    messages.success(request, f"{persona.name}: imported as v{version.number} ({version.status}).")
                if check is not None and check.blocks:
                    messages.warning(request, check.message)
                return HttpResponseRedirect(reverse("admin:personality_persona_change", args=[persona.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Import a character card",
        }
        return TemplateResponse(request, "personality/admin/import_card.html", context)


# --- versions, proposals, runs ----------------------------------------------------------------


@admin.register(PersonaVersion)
class PersonaVersionAdmin(admin.ModelAdmin):
    list_display = ["persona", "number", "status", "author", "created", "summary"]
    list_filter = ["persona", "status"]
    readonly_fields = [
        "persona",
        "number",
        "snapshot",
        "author",
        "created",
        "summary",
        "diff",
        "status",
        "published_at",
    ]
    actions = ["revert_to", "publish"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Revert the working copy to the selected version")
    def revert_to(self, request: HttpRequest, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to revert to.", messages.ERROR)
            return
        target = queryset.get()
        version = persona_revert(persona=target.persona, number=target.number, author=request.user)
        self.message_user(request, f"Reverted to v{target.number} (saved as draft v{version.number}).")

    @admin.action(description="Publish the selected version")
    def publish(self, request: HttpRequest, queryset) -> None:
        from personality.evaluation.regression import publish_check

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to publish.", messages.ERROR)
            return
        target = queryset.get()
        check = publish_check(version=target)
        if check.blocks:
            self.message_user(
                request,
                f"Not published: {check.message} Use the Versions page of the persona to publish despite the drop.",
                messages.WARNING,
            )
            return
        check = version_publish_guarded(version=target, author=request.user)
        self.message_user(request, f"v{target.number} is live. {check.message}")


@admin.register(Proposal)
class ProposalAdmin(admin.ModelAdmin):
    list_display = ["id", "persona", "kind", "status", "short_payload", "reason", "created"]
    list_filter = ["status", "kind", "persona"]
    readonly_fields = [
        "persona",
        "kind",
        "payload",
        "provenance",
        "reason",
        "fingerprint",
        "status",
        "created",
        "decided_at",
        "decided_by",
        "applied_version",
    ]
    actions = ["apply", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="proposal")
    def short_payload(self, obj: Proposal) -> str:
        payload = obj.payload
        if obj.kind == Proposal.Kind.TRAIT:
            return f"{payload.get('name')}: {payload.get('from')} → {payload.get('value')}"
        if obj.kind == Proposal.Kind.FACT:
            return str(payload.get("text", ""))[:80]
        return f"{str(payload.get('user', ''))[:40]} → {str(payload.get('answer', ''))[:40]}"

    @admin.action(description="Apply (creates a draft version)")
    def apply(self, request: HttpRequest, queryset) -> None:
        from personality.learning import proposal_apply

        for proposal in queryset:
            try:
                version = proposal_apply(proposal=proposal, author=request.user)
                self.message_user(request, f"Proposal {proposal.pk} applied (v{version.number if version else '—'}).")
            except DomainError as exc:
                self.message_user(request, f"Proposal {proposal.pk}: {exc.detail}", messages.ERROR)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset) -> None:
        from personality.learning import proposal_reject

        for proposal in queryset:
            try:
                proposal_reject(proposal=proposal, author=request.user)
            except DomainError as exc:
                self.message_user(request, f"Proposal {proposal.pk}: {exc.detail}", messages.ERROR)


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "persona",
        "version_number",
        "model",
        "scorer",
        "status",
        "score",
        "share_in_character",
        "prompts",
        "duration_s",
        "started",
    ]
    list_filter = ["persona", "status", "model"]
    readonly_fields = [f.name for f in EvalRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
