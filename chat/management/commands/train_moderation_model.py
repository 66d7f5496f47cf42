"""`manage.py train_moderation_model`: train the offline moderation classifier on the training
corpus (+ reviewers' feedback) and write chat/moderation_data/classifier.npz + classifier.json.
Deterministic; takes a few minutes on two cores (five cross-validation fits and the final one)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from chat import moderation_model


class Command(BaseCommand):
    help = "Train the moderation classifier (threshold by grouped cross-validation) and store it."

    def add_arguments(self, parser):
        parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (templates kept together)")

    def handle(self, *args, **options):
        info = moderation_model.train_and_save(folds=options["folds"])
        self.stdout.write(json.dumps(info["cross_validation"], indent=2))
        self.stdout.write(
            self.style.SUCCESS(f"classifier stored: threshold {info['threshold']}, {info['training_rows']} rows")
        )
