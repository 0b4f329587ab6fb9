"""Times as clients read them, for the public pages: `{{ session.starts_at|client_when }}`.

The same words as the emails ("Tuesday 3 March at 09:00"), from the one formatter in
plans/outbox/timing.py, so a page and the email that linked to it never disagree.
"""

from django import template

from plans.outbox.timing import local_when

register = template.Library()


@register.filter
def client_when(moment) -> str:
    return local_when(moment) if moment else ""
