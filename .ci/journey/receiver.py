"""A webhook receiver for CI: verifies every message with the independent
`standardwebhooks` package (PyPI) and records the verified ones, one JSON line each.

    python receiver.py PORT SECRET_FILE LOG_FILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

port, secret_file, log_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            with open(secret_file) as f:
                secret = f.read().strip()
            Webhook(secret).verify(body, headers)
        except Exception as error:  # any failure: refuse, so that onset retries and CI sees it
            with open(log_file, "a") as log:
                log.write(json.dumps({"verified": False, "error": str(error)}) + "\n")
            self.send_response(400)
            self.end_headers()
            return
        message = json.loads(body)
        with open(log_file, "a") as log:
            log.write(json.dumps({"verified": True, "id": headers["webhook-id"], "type": message["type"], "data": message["data"]}) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
