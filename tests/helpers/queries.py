"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
# Today gathers the whole clinic day: one query per worklist provider (plans.worklist.PROVIDERS,
# ten with the waitlist and the new-client forms to review), each a fixed number whatever the
# data; the day's sessions carry what their outstanding badges need as annotations
# (plans/worklist.py _day_sessions), and the
# delivery line is one statement (plans/outbox/health.py). Providers sharing their session scan
# is the next step down.
TODAY_BUDGET = BUDGET + 4
