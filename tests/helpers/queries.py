"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
# Today gathers the whole clinic day: one query per worklist provider (plans.worklist.PROVIDERS,
# eight with adverse events and the waitlist) and per kind of outstanding item (consent added one), each a fixed
# number whatever the data. Bringing it back towards BUDGET (one read for the delivery line,
# providers sharing their session scan) is performance work, not a licence to grow with the data.
TODAY_BUDGET = BUDGET + 6
