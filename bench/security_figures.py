"""Figures for the third security review, against a live onset (BENCH_BIN, default
target/release/onset) on a fresh SQLite file:

- /metrics size and the server's resident memory before and after N requests with junk
  methods (default 20,000, the review's flood);
- how long clinic B's `alert.raised` takes to reach its receiver while clinic A's
  receiver accepts connections and never answers, with A's backlog of deliveries queued
  first (delivery rounds every 200 ms, a 10 s receiver timeout).

    cargo build --release && python3 bench/security_figures.py [junk requests]
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

BIN = os.environ.get("BENCH_BIN", "target/release/onset")
PORT = int(os.environ.get("BENCH_PORT", "18971"))
JUNK = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
PASSWORD = "figures password 1234"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def call(method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def admin(clinic, env):
    email = f"admin@{clinic.lower()}.example.org"
    subprocess.run([BIN, "create-admin", "--clinic", clinic, "--email", email], env={**env, "ONSET_ADMIN_PASSWORD": PASSWORD}, check=True, capture_output=True)
    return email


def login(email):
    status, data = call("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, data
    return json.loads(data)["access_token"]


def main():
    work = tempfile.mkdtemp()
    env = {**os.environ, "DATABASE_URL": f"{work}/figures.db", "ONSET_BIND": f"127.0.0.1:{PORT}", "ONSET_JWT_SECRET": "figures secret of at least thirty-two bytes",
           "ONSET_WEBHOOK_ALLOW_PRIVATE": "true", "ONSET_WEBHOOK_TICK_MS": "200", "ONSET_LOGIN_PER_ADDRESS_PER_MINUTE": "100000", "RUST_LOG": "error"}
    north, south = admin("North", env), admin("South", env)
    server = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        # /metrics and memory before and after the flood.
        before = (len(call("GET", "/metrics")[1]), rss_kib(server.pid))
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        for i in range(JUNK):
            conn.request(f"JUNK{i}", "/healthz")
            conn.getresponse().read()
        conn.close()
        after = (len(call("GET", "/metrics")[1]), rss_kib(server.pid))
        print(f"/metrics: {before[0]:,} bytes before, {after[0]:,} after {JUNK:,} junk-method requests; RSS {before[1] / 1024:.1f} MiB before, {after[1] / 1024:.1f} MiB after")

        # A stalled receiver for North, a prompt one for South.
        stalled = socket.socket()
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(64)
        held = []
        threading.Thread(target=lambda: [held.append(stalled.accept()) for _ in iter(int, 1)], daemon=True).start()
        arrived = threading.Event()

        class Prompt(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        prompt = HTTPServer(("127.0.0.1", 0), Prompt)
        threading.Thread(target=prompt.serve_forever, daemon=True).start()
        north_token, south_token = login(north), login(south)
        call("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{stalled.getsockname()[1]}/h", "events": ["assessment.created"]}, north_token)
        call("POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{prompt.server_address[1]}/h", "events": ["alert.raised"]}, south_token)
        patient_body = {"display_name": "A", "birth_date": "1990-01-01", "sex": "female", "diagnosis": "F42.2", "research_consent": False}
        north_patient = json.loads(call("POST", "/api/v1/patients", patient_body, north_token)[1])["id"]
        south_patient = json.loads(call("POST", "/api/v1/patients", patient_body, south_token)[1])["id"]
        items = {str(i): 2 for i in range(1, 11)}
        for day in range(1, 29):
            call("POST", f"/api/v1/patients/{north_patient}/assessments", {"instrument": "ybocs", "rated_at": f"2026-02-{day:02d}T09:00:00Z", "recall": "P7D", "items": items, "rater": "clinician", "collected_via": "interview"}, north_token)
        time.sleep(1)  # North's deliveries are in flight, stalled
        phq9 = {"instrument": "phq9", "rated_at": "2026-03-01T09:00:00Z", "recall": "P14D", "items": {str(i): (3 if i == 9 else 0) for i in range(1, 10)}, "rater": "clinician", "collected_via": "interview"}
        started = time.monotonic()
        call("POST", f"/api/v1/patients/{south_patient}/assessments", phq9, south_token)
        reached = arrived.wait(120)
        delay = time.monotonic() - started
        print(f"South's alert.raised {'arrived' if reached else 'did NOT arrive'} after {delay * 1000:.0f} ms, with North's receiver stalled ({len(held)} of North's 28 deliveries in flight)")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
