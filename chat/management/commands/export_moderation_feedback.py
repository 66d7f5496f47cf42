"""`manage.py export_moderation_feedback`: write staff reviews of moderated messages to the
corpus's feedback.tsv (training data only; the frozen test set never changes), then
`manage.py train_moderation_model` learns from them. The file holds users' message text: commit it
only where your privacy policy allows, otherwise train where the database is."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from chat import moderation_corpus
from chat.moderation_review import moderation_feedback_samples


class Command(BaseCommand):
    help = "Write reviewed moderation verdicts (false positives, missed harms) to feedback.tsv."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(moderation_corpus.FEEDBACK_FILE), help="where to write")

    def handle(self, *args, **options):
        samples = list(moderation_feedback_samples())
        moderation_corpus.write(Path(options["output"]), samples)
        self.stdout.write(self.style.SUCCESS(f"{len(samples)} reviewed messages written to {options['output']}"))
