"""The SQLite file's own limit: single-row INSERTs, one transaction each, from 16 threads,
with the durability onset uses (WAL, synchronous=FULL). Prints inserts per second."""
import sqlite3, sys, threading, time, uuid

path, seconds, clients = sys.argv[1], float(sys.argv[2]), 16
setup = sqlite3.connect(path)
setup.execute("PRAGMA journal_mode=WAL")
setup.execute("CREATE TABLE IF NOT EXISTS bench_raw (id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, total INTEGER NOT NULL, created_at TEXT NOT NULL)")
setup.commit()
setup.close()
counts = [0] * clients
deadline = time.monotonic() + seconds

def worker(n):
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    while time.monotonic() < deadline:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bench_raw VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))", (str(uuid.uuid4()), str(uuid.uuid4()), n))
        conn.execute("COMMIT")
        counts[n] += 1

threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
started = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
print(f"{sum(counts) / (time.monotonic() - started):.0f}")
