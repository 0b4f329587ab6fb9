"""How plan pages lay out what the engine wrote: display grouping only, no rules."""

from django import template

register = template.Library()


def _topic(entry) -> str:
    # Proposals carry RationaleEntry objects; stored plans carry their as_dict() form.
    return entry["topic"] if isinstance(entry, dict) else entry.topic


@register.filter
def rationale_sections(entries) -> dict:
    """The decision first: the chosen protocol, then what follows from it in the engine's
    order; the protocols that were excluded apart, for a collapsed list."""
    entries = list(entries or [])
    chosen = [e for e in entries if _topic(e) == "protocol"]
    excluded = [e for e in entries if _topic(e) == "excluded"]
    rest = [e for e in entries if _topic(e) not in ("protocol", "excluded")]
    return {"main": chosen + rest, "excluded": excluded}


@register.filter(name="mm")
def mm_filter(value) -> str:
    """A depth as staff write it (1.00 -> "1.0"); "" for none."""
    from plans.models import mm

    return "" if value in (None, "") else mm(value)
