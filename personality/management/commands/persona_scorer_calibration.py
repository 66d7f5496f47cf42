"""`manage.py persona_scorer_calibration`: how far the offline verdict agrees with the hand-labelled replies."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from personality.evaluation.calibration import calibration_report, matrix_markdown


class Command(BaseCommand):
    help = "Score the hand-labelled replies with the offline verdict; print agreement and the confusion matrix."

    def add_arguments(self, parser):
        parser.add_argument("--cheap", action="store_true", help="the gate's cheap mode (no dictionaries)")
        parser.add_argument("--json", action="store_true", help="print the full report as JSON")

    def handle(self, *args, **options):
        report = calibration_report(cheap=options["cheap"])
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"agreement {report['agreement']:.1%} on {report['replies']} replies")
        for batch, part in report["per_batch"].items():
            languages = ", ".join(
                f"{language} {round(one['agreement'] * one['replies'])}/{one['replies']}"
                for language, one in part["per_language"].items()
                if one["replies"]
            )
            self.stdout.write(f"  batch {batch}: {part['agreement']:.1%} of {part['replies']} ({languages})")
        for language, part in report["per_language"].items():
            self.stdout.write(f"  {language}: {part['agreement']:.1%} of {part['replies']}")
        self.stdout.write(matrix_markdown(report))
        for row in report["disagreements"]:
            self.stdout.write(f"line {row['line']}: {row['label']} -> {row['verdict']}: {row['reply'][:80]!r}")
