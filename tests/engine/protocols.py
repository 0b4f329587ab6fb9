"""The shipped default protocols (plans/defaults.py) as plain engine data, built without a database.

The engine is tested against exactly what the app ships: a hand-kept copy here drifted from
the defaults before, so there is none.
"""

from plans.defaults import SCREENING_QUESTIONS, default_protocol_params

DEFAULTS = default_protocol_params()
P1, P2, P3, P4, P5 = DEFAULTS
QUESTION_CODES = tuple(code for code, _text, _help, _asks_date in SCREENING_QUESTIONS)
