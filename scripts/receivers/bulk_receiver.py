#!/usr/bin/env python3
"""A local stand-in for Logsene: the Elasticsearch-style bulk API (POST /_bulk with NDJSON action and document
pairs). Appends each document, with the index (the Logsene token) it was sent under, as a JSON object to a file.
For local runs, the end-to-end test and the benchmark.

    bulk_receiver.py --port 9200 --out logs.jsonl

It prints one line, "listening ...", once it is ready, and stops on SIGTERM or Ctrl-C.
"""

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="file that receives one JSON object per document")
    args = parser.parse_args()

    out = open(args.out, "a", buffering=1, encoding="utf-8")
    lock = threading.Lock()

    class Bulk(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.path.split("?")[0].endswith("/_bulk"):
                return self.answer(404, {"error": "only /_bulk is served"})
            lines = [line for line in body.decode("utf-8").split("\n") if line.strip()]
            try:
                pairs = [(json.loads(lines[i]), json.loads(lines[i + 1])) for i in range(0, len(lines) - 1, 2)]
            except ValueError:
                return self.answer(400, {"error": "the body is not NDJSON action/document pairs"})
            with lock:
                for action, document in pairs:
                    index = next(iter(action.values()), {}).get("_index")
                    out.write(json.dumps({"received": time.time(), "index": index, "document": document}) + "\n")
            self.answer(200, {"took": 0, "errors": False, "items": [{"index": {"status": 201}} for _ in pairs]})

        def do_GET(self) -> None:  # noqa: N802
            self.answer(200, {"status": "ok"})

        def answer(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass  # the file is the log

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Bulk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening: bulk API http://127.0.0.1:{args.port} -> {args.out}", flush=True)
    stop.wait()
    server.shutdown()
    out.close()


if __name__ == "__main__":
    sys.exit(main())
