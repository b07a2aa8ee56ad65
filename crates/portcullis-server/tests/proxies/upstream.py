"""A stand-in upstream: answers every request with the request it received, as JSON.

Usage: python3 upstream.py PORT_FILE. Listens on a free loopback port and writes the port
to PORT_FILE when ready; the proxy tests read what reached it from the answers.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        if length:
            self.rfile.read(length)
        headers = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        body = json.dumps(
            {"upstream": True, "method": self.command, "path": self.path, "headers": headers}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):  # the test prints its own lines
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))


    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
