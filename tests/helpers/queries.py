"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
# Today gathers the whole clinic day: one query per worklist provider (plans.worklist.PROVIDERS,
# six) and per kind of outstanding item, each a fixed number whatever the data.
TODAY_BUDGET = BUDGET + 4
