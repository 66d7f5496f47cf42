"""`manage.py build_moderation_corpus`: expand the moderation templates into train.tsv (and, only
when asked, rewrite the frozen test set — which changes the numbers every report compares to)."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand

from chat import moderation_corpus


class Command(BaseCommand):
    help = "Write chat/moderation_data/corpus/train.tsv from train_templates.yaml (deterministic)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--rewrite-test-set",
            action="store_true",
            help="also rewrite the FROZEN test.tsv/test_adversarial.tsv (update the pinned checksums and docs)",
        )

    def handle(self, *args, **options):
        train = moderation_corpus.build_train()
        moderation_corpus.write(moderation_corpus.TRAIN_FILE, train)
        self.stdout.write(f"train.tsv: {len(train)} rows {dict(Counter((s.language, s.label) for s in train))}")
        if options["rewrite_test_set"]:
            test = moderation_corpus.build_test()
            moderation_corpus.write(moderation_corpus.TEST_FILE, test)
            moderation_corpus.write(moderation_corpus.ADVERSARIAL_FILE, moderation_corpus.build_adversarial(test))
            self.stdout.write(
                self.style.WARNING(
                    f"test set rewritten: {len(test)} rows; test.tsv {moderation_corpus.sha256(moderation_corpus.TEST_FILE)}"
                )
            )
