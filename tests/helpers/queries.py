"""The query budget every staff page is held to (tests count queries; make bench times them)."""

# The 12, plus one: Today's worklist reads adverse events to clear or follow up (one
# query for the whole list, whatever its size). Each worklist provider costs one query.
BUDGET = 13
