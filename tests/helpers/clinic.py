"""A clinic's working week."""

import datetime as dt

from plans import models


def weekday_hours(practitioner, start=dt.time(9), end=dt.time(17)):
    """`practitioner` works Monday to Friday from `start` to `end`."""
    for day in range(5):
        models.WorkingHours.objects.create(practitioner=practitioner, weekday=day, start=start, end=end)
