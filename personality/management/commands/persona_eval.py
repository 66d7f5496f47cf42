"""`manage.py persona_eval`: run Ivan's consistency evaluation through the real chat pipeline and store it."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from digitalme.errors import DomainError
from personality.evaluation.runner import CATEGORIES, eval_run_create


class Command(BaseCommand):
    help = "Score how consistently the persona stays in character on the shipped evaluation set (ru + en)."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="LLM to answer with (default: LLM_MODEL), e.g. local/smollm2")
        parser.add_argument("--persona", default="ivan", help="persona slug (default: ivan)")
        parser.add_argument(
            "--persona-version", default=None, help="version number, 'live' (default) or 'draft' (the working copy)"
        )
        parser.add_argument("--limit", type=int, help="only N prompts, spread over categories and languages")
        parser.add_argument("--category", action="append", choices=CATEGORIES, help="only this category (repeatable)")
        parser.add_argument("--json", action="store_true", help="print the full result as JSON")

    def handle(self, *args, **options):
        version = options["persona_version"]
        if version not in (None, "live", "draft") and not str(version).isdigit():
            raise CommandError("--persona-version must be a number, 'live' or 'draft'.")
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        bar = tqdm(total=0, unit="prompt", file=sys.stderr, disable=None, dynamic_ncols=True)

        def progress(done: int, total: int, row: dict) -> None:
            bar.total = total
            bar.set_postfix_str(f"{row['id']} {'ok' if row['in_character'] else 'OUT'} {row['score']:.2f}")
            bar.update(1)

        try:
            run = eval_run_create(
                slug=options["persona"],
                version=version,
                model=options["model"],
                limit=options["limit"],
                categories=tuple(options["category"] or ()),
                progress=progress,
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        finally:
            bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(_as_dict(run), ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"{run.persona.slug} v{run.version_number} on {run.model} ({run.scorer}), {run.prompts} prompts "
            f"in {run.duration_s:.1f} s"
        )
        self.stdout.write(f"score {run.score:.3f}   in character {run.share_in_character:.1%}")
        for name, row in run.per_category.items():
            if not name.startswith("_"):
                self.stdout.write(
                    f"  {name:<14} {row['score']:.3f}  in character {row['share_in_character']:.0%}  ({row['prompts']})"
                )
        if run.persona_gym:
            gym = run.persona_gym
            overall = "—" if gym["overall"] is None else f"{gym['overall']:.2f}"
            self.stdout.write(f"PersonaGym (1-5, judge {gym['judge']}): overall {overall} — {gym['detail']}")
            for name, task in gym["tasks"].items():
                self.stdout.write(f"  {name:<22} {task['score']:.2f}  ({task['replies']} replies)")
            published = ", ".join(f"{model} {score:.2f}" for model, score in gym["published"].items())
            self.stdout.write(f"  published PersonaScores: {published}")
        if run.per_trait:
            self.stdout.write("traits: " + ", ".join(f"{k} {v:.2f}" for k, v in run.per_trait.items()))
        for row in run.worst[:5]:
            self.stdout.write(
                f"  worst {row['id']} {row['score']:.2f}: {'; '.join(row['reasons']) or 'low style score'}"
            )
        self.stdout.write(f"stored as run {run.pk}")


def _as_dict(run) -> dict:
    return {
        "run": run.pk,
        "persona": run.persona.slug,
        "version": run.version_number,
        "model": run.model,
        "scorer": run.scorer,
        "prompts": run.prompts,
        "duration_s": run.duration_s,
        "score": run.score,
        "share_in_character": run.share_in_character,
        "per_category": run.per_category,
        "per_trait": run.per_trait,
        "persona_gym": run.persona_gym,
        "worst": run.worst,
        "results": run.results,
    }
