"""A real SMTP server for frontdesk's tests (aiosmtpd), on 127.0.0.1.

usage: smtp_server.py PORT DIR

Each accepted message is written to DIR/<n>.eml and announced on stdout as
"accepted <Message-ID>". DIR/max_connections holds the most connections
ever open at once. DIR/mode (written by the test) says how to answer DATA:
  ok        accept (the default)
  stall     hold the DATA command until the mode changes, then answer 451
  reject    550 (a permanent refusal)
  tempfail  451 (try again later)
  slow      accept, each message after 0.15 s (deliveries stay in flight)
"""

import asyncio
import email
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

PORT = int(sys.argv[1])
DIR = sys.argv[2]
os.makedirs(DIR, exist_ok=True)

lock = threading.Lock()
state = {"open": 0, "max": 0, "count": 0}


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return f.read().strip() or "ok"
    except FileNotFoundError:
        return "ok"


def record_connections():
    tmp = os.path.join(DIR, "max_connections.tmp")
    with open(tmp, "w") as f:
        f.write(str(state["max"]))
    os.replace(tmp, os.path.join(DIR, "max_connections"))


class CountingSMTP(SMTP):
    def connection_made(self, transport):
        with lock:
            state["open"] += 1
            state["max"] = max(state["max"], state["open"])
            record_connections()
        super().connection_made(transport)

    def connection_lost(self, exc):
        with lock:
            state["open"] -= 1
        super().connection_lost(exc)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        current = mode()
        if current == "stall":
            while mode() == "stall":
                await asyncio.sleep(0.05)
            return "451 4.3.0 stalled, try again"
        if current == "reject":
            return "550 5.1.1 mailbox unavailable"
        if current == "tempfail":
            return "451 4.3.0 try again later"
        if current == "slow":
            await asyncio.sleep(0.15)
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        message_id = email.message_from_bytes(content).get("Message-ID", "")
        with lock:
            state["count"] += 1
            n = state["count"]
        path = os.path.join(DIR, f"{n:06d}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(content)
        os.replace(path + ".tmp", path)
        print(f"accepted {message_id}", flush=True)
        return "250 2.0.0 OK"


class CountingController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


controller = CountingController(Handler(), hostname="127.0.0.1", port=PORT)
controller.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
controller.stop()
