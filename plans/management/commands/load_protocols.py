from django.core.management.base import BaseCommand

from plans.defaults import load_default_protocols
from plans.services.outcomes import load_default_outcome_items


class Command(BaseCommand):
    help = (
        "Create the shipped screening questions and default protocols that are missing (matched by code). "
        "Never changes an existing row, so an admin's edits survive."
    )

    def handle(self, *args, **options):
        result = load_default_protocols()
        for code in result.questions_created:
            self.stdout.write(f"Created screening question {code}")
        for code in result.protocols_created:
            self.stdout.write(f"Created protocol {code}")
        for code in result.protocols_skipped:
            self.stderr.write(self.style.WARNING(f"Skipped protocol {code}: another protocol already uses its name."))
        outcome_items = load_default_outcome_items()
        for grade in outcome_items.anchors_created:
            self.stdout.write(f"Created pore-grade anchor {grade}")
        for code in outcome_items.questions_created:
            self.stdout.write(f"Created outcome question {code}")
        if not result.created_anything and not (outcome_items.anchors_created or outcome_items.questions_created):
            self.stdout.write("Default protocols already present; nothing changed.")
