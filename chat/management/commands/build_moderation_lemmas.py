"""`manage.py build_moderation_lemmas`: write chat/moderation_data/classifier_lemmas.tsv — every
dictionary word whose lemma is one of the committed classifier's lemma features — without
retraining (`train_moderation_model` writes it too). Needed after a pymorphy3 dictionary update;
≈ 1 minute (it reads the dictionary's 5.1M entries)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chat import moderation_model


class Command(BaseCommand):
    help = "Rebuild the classifier's word → lemma table from the committed model's vocabulary."

    def handle(self, *args, **options):
        terms = moderation_model.read_npz(moderation_model.MODEL_FILE)["words_terms"][0].split("\n")
        words = moderation_model.save_lemma_table(terms)
        self.stdout.write(self.style.SUCCESS(f"{moderation_model.LEMMA_FILE.name}: {words} words"))
