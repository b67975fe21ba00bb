"""What the benchmark's preparation scripts share: JSON calls to onset over keep-alive
connections (one per thread), and running work on eight threads."""
import http.client
import json
import threading
from urllib.parse import urlparse

THREADS = 8


class Api:
    def __init__(self, base, token):
        self.host = urlparse(base)
        self.token = token
        self.local = threading.local()

    def call(self, method, path, body=None, auth=True):
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            if not hasattr(self.local, "conn"):
                self.local.conn = http.client.HTTPConnection(self.host.hostname, self.host.port, timeout=60)
            try:
                self.local.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
                response = self.local.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed an idle keep-alive connection before reading the request.
                del self.local.conn
                if attempt == 2:
                    raise
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


def in_parallel(work, items):
    """`work` of each item on eight threads; the results in the items' order."""
    items = list(items)
    results = [None] * len(items)

    def run(worker):
        for i in range(worker, len(items), THREADS):
            results[i] = work(items[i])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
