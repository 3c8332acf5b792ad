#!/usr/bin/env python3
"""A local stand-in for Papertrail: receives syslog lines over UDP (and TCP when asked) and appends each one, as a
JSON object, to a file. For local runs, the end-to-end test and the benchmark.

    syslog_receiver.py --port 5514 [--tcp-port 5515] --out logs.jsonl

It prints one line, "listening ...", once it is ready, and stops on SIGTERM or Ctrl-C.
"""

import argparse
import json
import signal
import socketserver
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="UDP port")
    parser.add_argument("--tcp-port", type=int, help="also listen on this TCP port")
    parser.add_argument("--out", required=True, help="file that receives one JSON object per syslog line")
    args = parser.parse_args()

    out = open(args.out, "a", buffering=1, encoding="utf-8")
    lock = threading.Lock()

    def record(transport: str, raw: bytes) -> None:
        # Python's SysLogHandler ends TCP messages with NUL; other senders use newlines.
        for message in raw.replace(b"\x00", b"\n").decode("utf-8", "replace").splitlines():
            if message.strip():
                line = json.dumps({"received": time.time(), "transport": transport, "message": message})
                with lock:
                    out.write(line + "\n")

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            record("udp", self.request[0])

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while chunk := self.request.recv(65536):
                record("tcp", chunk)

    servers: list[socketserver.BaseServer] = [socketserver.ThreadingUDPServer(("127.0.0.1", args.port), Udp)]
    if args.tcp_port:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        servers.append(socketserver.ThreadingTCPServer(("127.0.0.1", args.tcp_port), Tcp))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tcp = f", tcp 127.0.0.1:{args.tcp_port}" if args.tcp_port else ""
    print(f"listening: syslog udp 127.0.0.1:{args.port}{tcp} -> {args.out}", flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
    out.close()


if __name__ == "__main__":
    sys.exit(main())
