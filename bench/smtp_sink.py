"""An SMTP server on loopback for the dispatch benchmark (aiosmtpd, in its own process).

Every accepted message is appended to a spool file (envelope and bytes), so the benchmark can
count what arrived, check that no Message-ID arrived twice, and replay the very same messages
with a bare smtplib loop. Both runs pay the same cost per message here.

    python -m bench.smtp_sink --port 2525 --spool var/bench-spool.jsonl
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import signal
import threading

from aiosmtpd.controller import Controller


class Spool:
    def __init__(self, path: str) -> None:
        self.fh = open(path, "a")  # noqa: SIM115 - closed at exit
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": base64.b64encode(envelope.original_content or envelope.content).decode(),
        }
        with self.lock:
            self.fh.write(json.dumps(record) + "\n")
            self.fh.flush()  # the benchmark reads the spool while the server runs
        return "250 Message accepted for delivery"

    def close(self) -> None:
        with self.lock:
            self.fh.close()


def read_spool(path: str) -> list[dict]:
    out = []
    with open(path) as fh:
        for line in fh:
            record = json.loads(line)
            record["data"] = base64.b64decode(record["data"])
            out.append(record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--spool", required=True)
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO
    spool = Spool(args.spool)
    controller = Controller(spool, hostname="127.0.0.1", port=args.port, data_size_limit=0)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    spool.close()


if __name__ == "__main__":
    main()
