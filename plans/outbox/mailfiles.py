"""The mail folder `make run` writes to: Django's file backend, one uniquely named file per email.

Django's own file backend names a file after the second it was opened and the backend object's
id(). The outbox opens one backend per email on this backend, and a freed object's id is soon
reused, so two emails in the same second landed in one file; a reader of the folder (a person
trying the app, the end-to-end test) then saw one email where two had been sent.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            self._fname = None  # a new file for every email, even from one backend object
            sent += super().send_messages([message])
        return sent

    def write_message(self, message) -> None:
        # The message alone (no separator line), so each file opens as an email in a mail client.
        self.stream.write(message.message().as_bytes())

    def _get_filename(self) -> str:
        if self._fname is None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            self._fname = os.path.join(self.file_path, f"{stamp}-{uuid.uuid4().hex}.eml")
        return self._fname
