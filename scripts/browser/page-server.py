#!/usr/bin/env python3
"""Serves the player page on its own origin and records what the page reports.

Usage: page-server.py PORT DIR RESULT_FILE
GET  /page.html  -> DIR/page.html (with the query passed through)
POST /result     -> body appended to RESULT_FILE
"""
import http.server
import sys

port, root, result = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with open(result, "ab") as f:
            f.write(body + b"\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
