"""The query budget every staff page is held to (tests count queries; make bench times them)."""

BUDGET = 12
