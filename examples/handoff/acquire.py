#!/usr/bin/env python3
"""acquire.py - claim a port from the local portco agent in pure Python and serve HTTP on the socket it hands over.

    PORTCO_SOCKET=/run/portco/agent.sock python3 acquire.py --pool web --service hello

Speaks the agent protocol (docs/protocol.md) directly: one JSON line out, one
JSON line back, the bound and listening socket arriving as SCM_RIGHTS data
with the answer. The claim's lifetime is this connection: it ends when the
program exits, however it exits. Prints one JSON line, {"ready": true,
"port": N, "claim": ...}, then serves until SIGTERM (exit 0). A refused claim
prints the agent's error code and message and exits 1.
"""
import argparse
import http.server
import json
import os
import signal
import socket
import sys


def acquire(agent, pool, service):
    """Send an acquire request; return (answer, socket or None)."""
    req = {"v": 1, "id": 1, "op": "acquire", "pool": pool, "service": service,
           "lifetime": "connection", "socket": True, "listen": True}
    agent.sendall(json.dumps(req).encode() + b"\n")
    data, fds = b"", []
    while not data.endswith(b"\n"):
        # The fd rides on the message that carries the answer's first byte.
        chunk, more_fds, _flags, _addr = socket.recv_fds(agent, 65536, 1)
        if not chunk:
            sys.exit("acquire.py: the agent closed the connection")
        data += chunk
        fds += more_fds
    answer = json.loads(data)
    sock = socket.socket(fileno=fds[0]) if fds else None
    return answer, sock


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"port": self.server.server_port, "claim": self.server.claim}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pool", required=True)
    ap.add_argument("--service", required=True)
    args = ap.parse_args()

    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    agent.connect(os.environ.get("PORTCO_SOCKET", "/run/portco/agent.sock"))
    answer, sock = acquire(agent, args.pool, args.service)
    if not answer.get("ok"):
        err = answer.get("error", {})
        print(f"acquire.py: {err.get('code')}: {err.get('message')}", file=sys.stderr)
        return 1
    claim = answer["claim"]

    server = http.server.HTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_port = sock.getsockname()[1]
    server.claim = claim["claim"]

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True, "port": claim["port"], "claim": claim["claim"]}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    agent.close()  # ends the claim; exiting would too
    return 0


if __name__ == "__main__":
    sys.exit(main())
