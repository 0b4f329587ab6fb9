"""The mail folder `make run` writes to: Django's file backend, one uniquely named file per email.

Django's own file backend names a file after the second it was opened and the backend object's
id(). The outbox opens one backend per email on this backend, and a freed object's id is soon
reused, so two emails in the same second landed in one file; a reader of the folder (a person
trying the app, the end-to-end test) then saw one email where two had been sent.

Each email is written to a hidden part-file and renamed into place, so a reader never opens a
file the worker is still writing (the rename is atomic on one filesystem): it sees the whole
email or nothing.
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
            if not message.recipients():
                continue
            data = message.message().as_bytes()
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{uuid.uuid4().hex}.eml"
            part = os.path.join(self.file_path, f".{name}.part")
            try:
                with open(part, "wb") as stream:
                    stream.write(data)
                os.replace(part, os.path.join(self.file_path, name))
            except OSError:
                if os.path.exists(part):
                    os.unlink(part)
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
