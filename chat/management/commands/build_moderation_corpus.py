"""`manage.py build_moderation_corpus`: expand the moderation templates (and the frozen persona rows,
persona_rows.tsv) into train.tsv. Only when asked does it re-read Ivan's live persona files into that
snapshot, or rewrite the frozen test set — each changes what the model or every report is measured on."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand

from chat import moderation_corpus


class Command(BaseCommand):
    help = "Write chat/moderation_data/corpus/train.tsv from its templates and persona_rows.tsv (deterministic)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh-persona-snapshot",
            action="store_true",
            help="first re-read Ivan's persona files into persona_rows.tsv (train.tsv changes: retrain the model)",
        )
        parser.add_argument(
            "--rewrite-test-set",
            action="store_true",
            help="also rewrite the FROZEN test.tsv/test_adversarial.tsv (update the pinned checksums and docs)",
        )

    def handle(self, *args, **options):
        if options["refresh_persona_snapshot"]:
            persona = moderation_corpus.persona_snapshot_refresh()
            self.stdout.write(
                self.style.WARNING(
                    f"persona_rows.tsv refreshed from the persona files: {len(persona)} rows "
                    "(run `manage.py train_moderation_model` if train.tsv changed)"
                )
            )
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
