#!/usr/bin/env python3
"""serve_fd3.py - an HTTP server on an inherited listening socket (systemd socket-activation convention).

Run it under `portco run` (or a systemd .socket unit, or systemd-socket-activate):

    portco run --pool web --service hello -- python3 serve_fd3.py

It never binds a port itself: the socket at fd 3 was bound (and is already
listening) before this program started, so no other process could take the
port in between. On start it prints one JSON line, {"ready": true, "port": N,
"pid": P, "name": NAME}; every GET answers 200 with a small JSON document.
SIGTERM stops it cleanly (exit 0).
"""
import http.server
import json
import os
import signal
import socket
import sys

SD_LISTEN_FDS_START = 3  # the first inherited fd, as in sd_listen_fds(3)


def inherited_socket():
    """The listening socket passed at fd 3, checked the way sd_listen_fds() checks it."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        sys.exit("serve_fd3: LISTEN_PID is not this process; start me with portco run or systemd")
    if int(os.environ.get("LISTEN_FDS", "0")) != 1:
        sys.exit("serve_fd3: expected exactly one socket (LISTEN_FDS=1)")
    name = os.environ.get("LISTEN_FDNAMES", "")
    # The variables describe this process only: children must not read them.
    for var in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(var, None)
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)  # family and type come from the fd
    sock.set_inheritable(False)
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.listen()  # handed over bound but not listening (portco run --no-listen)
    return sock, name


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"name": self.server.fdname, "port": self.server.server_port,
                           "pid": os.getpid(), "path": self.path}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass  # keep stdout for the ready line; a real server would log


def main():
    sock, name = inherited_socket()
    # bind_and_activate=False: the server must not create, bind or listen a socket of its own.
    server = http.server.HTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_address = sock.getsockname()
    server.server_name, server.server_port = str(server.server_address[0]), server.server_address[1]
    server.fdname = name

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True, "port": server.server_port, "pid": os.getpid(),
                      "name": name}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
