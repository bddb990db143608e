"""A fault-injecting HTTP proxy in front of the real kube-apiserver: real API traffic, with 429s, 503s, dropped
connections and expired watches where a test asks for them.

Clients speak plain HTTP to the proxy (a kubeconfig from `FaultProxy.kubeconfig`); the proxy forwards every
request, headers and body as sent (the client's bearer token included), to the apiserver over HTTPS and
streams the answer back, chunk by chunk, so watches and followed logs work through it. A Fault matches a
method and a substring of the path (query included) and fires `times` times:

- "429": answers 429 Too Many Requests with `Retry-After: 1` and a metav1.Status body, as the apiserver's
  max-in-flight filter does; the request never reaches the apiserver.
- "503": answers 503 Service Unavailable with a Status body.
- "drop": closes the connection without answering; the request never reaches the apiserver.
- "drop-after": forwards the request (it takes effect), then closes the connection without the answer: the
  client cannot know whether its create happened.
- "gone": answers a watch with one `ERROR` event carrying a 410 Expired Status, as the apiserver does when
  the resourceVersion was compacted away.

`FaultProxy.outage(seconds)` plays an apiserver restart: the streams open at that moment are cut, and every
request for `seconds` is dropped unanswered.

kwok runs no kubelet, so the apiserver cannot fetch a container's log (500 "no preferred addresses found").
`FaultProxy.script_logs` plays that kubelet's part: the pods whose logs are asked for get the scripted logs
in the order they are first asked for (as if written one line a minute up to that moment; `append_log` adds
lines written now), and GET .../pods/<pod>/log answers them as the kubelet does (`timestamps=true` prefixes an
RFC 3339 time with 9 fraction digits, `tailLines=N` keeps the last N, `sinceSeconds=S` the lines written in
the last S seconds) and ends the stream, as a followed log ends when the container exits. `served` records
the lines each log request got.
"""

import http.client
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

LINE_SPACING = 60.0  # seconds between the lines of a scripted log (older lines are older by this much)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate", "host", "content-length"}


@dataclass
class Fault:
    """Fire `kind` on the next `times` requests whose method is `method` and whose path contains `path`."""

    method: str
    path: str
    kind: str
    times: int = 1
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.fired < self.times and method == self.method and self.path in path


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


class FaultProxy:
    """The proxy on 127.0.0.1 (a free port), forwarding to `upstream` (https://host:port), trusting `ca`."""

    def __init__(self, upstream: str, ca: Path):
        host, port = upstream.removeprefix("https://").split(":")
        self.upstream = (host, int(port))
        self.ssl = ssl.create_default_context(cafile=str(ca))
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request seen, in order
        self.logs: dict[str, list[tuple[float, str]]] = {}  # pod name -> (time written, line) of its log
        self.scripted: list[list[str]] = []  # logs for the next pods asked about
        self.served: list[tuple[str, str, list[str]]] = []  # (pod, query, lines answered) of every log request
        self.down_until = 0.0  # monotonic time an outage ends
        self.streams: set[socket.socket] = set()  # client connections with an answer being relayed
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, method: str, path: str, kind: str, times: int = 1) -> Fault:
        """Arm a fault (see the module docstring); returns it, so a test can check `fired`."""
        fault = Fault(method, path, kind, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> str | None:
        """The kind of the first armed fault matching the request (counting it as fired), else None."""
        with self.lock:
            self.requests.append((method, path))
            if time.monotonic() < self.down_until:
                return "drop"
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault.kind
        return None

    def outage(self, seconds: float) -> None:
        """The apiserver goes away for `seconds`: the answers being streamed now (watches, followed logs) are
        cut, and every request until then is dropped unanswered (see `take`)."""
        with self.lock:
            self.down_until = time.monotonic() + seconds
            streams = list(self.streams)
        for sock in streams:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def kubeconfig(self, path: Path, token: str, namespace: str) -> Path:
        """A kubeconfig that reaches the apiserver through the proxy as the user of `token`."""
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "proxy",
               "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
               "users": [{"name": "u", "user": {"token": token}}],
               "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "u", "namespace": namespace}}]}
        path.write_text(yaml.safe_dump(doc))
        return path

    def script_logs(self, *logs: list[str]) -> None:
        """Logs for the pods whose logs are asked for next, one list of lines per pod, in that order."""
        with self.lock:
            self.scripted.extend(logs)

    def append_log(self, pod: str, *lines: str) -> None:
        """Lines the pod's container writes now (after its scripted log was first asked for)."""
        now = time.time()
        with self.lock:
            self.logs[pod].extend((now + i * 1e-6, line) for i, line in enumerate(lines))

    def log_body(self, path: str) -> bytes | None:
        """The kubelet's answer to a log request for a pod with a (scripted) log, else None."""
        url = urlsplit(path)
        found = re.search(r"/pods/([^/]+)/log$", url.path)
        now = time.time()
        with self.lock:
            if found and found.group(1) not in self.logs and self.scripted:
                lines = self.scripted.pop(0)
                self.logs[found.group(1)] = [(now - (len(lines) - 1 - i) * LINE_SPACING, line)
                                             for i, line in enumerate(lines)]
            if not found or found.group(1) not in self.logs:
                return None
            lines = list(self.logs[found.group(1)])
            query = parse_qs(url.query)
            if "sinceSeconds" in query:
                lines = [(t, line) for t, line in lines if t >= now - int(query["sinceSeconds"][0])]
            if "tailLines" in query:
                lines = lines[-int(query["tailLines"][0]):]
            self.served.append((found.group(1), url.query, [line for _, line in lines]))
        if query.get("timestamps") == ["true"]:
            return "".join(f"{_stamp(t)} {line}\n" for t, line in lines).encode()
        return "".join(f"{line}\n" for _, line in lines).encode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _stamp(unix: float) -> str:
    """An RFC 3339 UTC time with nanoseconds, as the kubelet prefixes log lines."""
    whole = datetime.fromtimestamp(int(unix), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{round((unix % 1) * 1e9):09d}Z"


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests: a fault when one is armed for it, else the apiserver's answer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = self.server.proxy.take(self.command, self.path)
        if kind is None and (log := self.server.proxy.log_body(self.path)) is not None:
            return self._answer(200, log, {"Content-Type": "text/plain"})
        if kind == "429":
            throttled = status_body(429, "TooManyRequests", "the server has received too many requests and has "
                                    "asked us to try again later")
            return self._answer(429, throttled, {"Retry-After": "1"})
        if kind == "503":
            unavailable = status_body(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            return self._answer(503, unavailable)
        if kind == "drop":
            return self._drop()
        if kind == "gone":
            gone = json.loads(status_body(410, "Expired", "too old resource version"))
            return self._answer(200, json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n", close=True)
        self._forward(body, drop=kind == "drop-after")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def _forward(self, body: bytes, drop: bool) -> None:
        upstream = http.client.HTTPSConnection(*self.server.proxy.upstream, context=self.server.proxy.ssl,
                                               timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        response = upstream.getresponse()
        try:
            if drop:
                response.read()
                return self._drop()
            self._relay(response)
        finally:
            upstream.close()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Stream the apiserver's answer back chunk by chunk (watches and followed logs never end by size)."""
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        proxy = self.server.proxy
        with proxy.lock:
            proxy.streams.add(self.connection)
        try:
            while chunk := response.read1(65536):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, http.client.IncompleteRead):
            self.close_connection = True  # the client or the apiserver hung up mid-stream (or an outage cut it)
        finally:
            with proxy.lock:
                proxy.streams.discard(self.connection)

    def _answer(self, code: int, body: bytes, headers: dict | None = None, close: bool = False) -> None:
        self.send_response(code)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                           **(headers or {})}.items():
            self.send_header(key, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.close()
