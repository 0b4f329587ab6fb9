"""Outbox rows as staff read them: `{{ message|kind_label }}` ("Reminder, 7 days before").

The words live in the outbox's table of kinds (plans/outbox/kinds.py); the model does not name
them, since the outbox imports the models and the models must not import the outbox back.
"""

from django import template

from plans.outbox.kinds import label

register = template.Library()


@register.filter
def kind_label(message) -> str:
    return label(message)
