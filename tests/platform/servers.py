"""Real peers on 127.0.0.1 for the notification tests: a webhook receiver (HTTP) that
records every POST, and a small SMTP server that records every message, each in a thread."""
from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hook:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class WebhookReceiver:
    """Answers like a WeCom/DingTalk robot ({"errcode":0,"errmsg":"ok"}), or with the queued
    failures first: `fail_next(status, body)`."""

    def __init__(self) -> None:
        self.requests: list[Hook] = []
        self.failures: deque[tuple[int, dict[str, Any]]] = deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urllib.parse.urlsplit(self.path)
                hook = Hook(parts.path, dict(urllib.parse.parse_qsl(parts.query)), dict(self.headers.items()),
                            json.loads(raw.decode("utf-8")))
                with receiver.lock:
                    receiver.requests.append(hook)
                    status, answer = receiver.failures.popleft() if receiver.failures else (200, {"errcode": 0, "errmsg": "ok"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail_next(self, status: int = 500, body: dict[str, Any] | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.failures.append((status, body or {"errcode": -1, "errmsg": "system busy"}))

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class Mail:
    mail_from: str
    rcpt_to: list[str]
    message: Any = field(repr=False)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_content()


class SMTPServer:
    """A small SMTP server speaking enough RFC 5321 for smtplib (EHLO/HELO, MAIL, RCPT, DATA,
    RSET, NOOP, QUIT). `reject_next` makes the next DATA answer 451 (a temporary failure)."""

    def __init__(self) -> None:
        self.messages: list[Mail] = []
        self.rejects = 0
        self.lock = threading.Lock()
        smtp = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 sanji-test ESMTP")
                mail_from, rcpts = "", []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        self.reply("250-sanji-test")
                        self.reply("250 8BITMIME")
                    elif verb == "HELO":
                        self.reply("250 sanji-test")
                    elif verb == "MAIL":
                        mail_from, rcpts = line.split(":", 1)[1].strip().split()[0].strip("<>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        chunks = []
                        while True:
                            chunk = self.rfile.readline()
                            if chunk in (b".\r\n", b".\n", b""):
                                break
                            chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        with smtp.lock:
                            if smtp.rejects:
                                smtp.rejects -= 1
                                self.reply("451 try again later")
                                continue
                            msg = email.message_from_bytes(b"".join(chunks), policy=email.policy.default)
                            smtp.messages.append(Mail(mail_from, rcpts, msg))
                        self.reply("250 OK queued")
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reject_next(self, times: int = 1) -> None:
        self.rejects += times

    def __enter__(self) -> "SMTPServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
