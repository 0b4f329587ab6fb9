"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
# Today gathers the whole clinic day: one query per worklist provider (plans.worklist.PROVIDERS)
# and per kind of outstanding item, each a fixed number whatever the data. Every page now pays
# one query for permissions (plans/auth.py) and Today one for the delivery line
# (plans/outbox/health.py); providers sharing their session scan is the next step down.
TODAY_BUDGET = BUDGET + 4
