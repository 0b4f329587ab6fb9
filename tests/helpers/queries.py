"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
# Today is held to the same budget: the day's sessions carry what their outstanding badges need
# as annotations (plans/worklist.py _day_sessions), the delivery line is one statement
# (plans/outbox/health.py), and the worklist's providers of sessions are chosen in one UNION ALL
# and loaded in one query (plans/worklist.py _chosen_sessions); the other providers, one each.
TODAY_BUDGET = BUDGET
