#!/usr/bin/env python3
"""A local stand-in for Papertrail: receives syslog lines over UDP, and over TLS when asked, and appends each one, as
a JSON object, to a file. For local runs, the end-to-end test and the benchmark.

    syslog_receiver.py --port 5514 [--tls-port 6514 --ca-out ca.pem] --out logs.jsonl

With --tls-port it makes a throwaway certificate authority, issues itself a certificate for 127.0.0.1 and localhost,
and writes the authority's certificate to --ca-out: a sender trusts it through SSL_CERT_FILE, as the requests service
does (Papertrail's own certificate needs nothing: the system's CA store trusts it). TLS lines are framed by newlines.

It prints one line, "listening ...", once it is ready, and stops on SIGTERM or Ctrl-C.
"""

import argparse
import json
import signal
import socketserver
import ssl
import sys
import threading
import time

import trustme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="UDP port")
    parser.add_argument("--tls-port", type=int, help="also listen for TLS on this TCP port")
    parser.add_argument("--ca-out", help="with --tls-port: where to write the throwaway CA's certificate (PEM)")
    parser.add_argument("--out", required=True, help="file that receives one JSON object per syslog line")
    args = parser.parse_args()
    if args.tls_port and not args.ca_out:
        parser.error("--tls-port needs --ca-out")

    out = open(args.out, "a", buffering=1, encoding="utf-8")
    lock = threading.Lock()

    def record(transport: str, raw: bytes) -> None:
        for message in raw.decode("utf-8", "replace").splitlines():
            if message.strip():
                line = json.dumps({"received": time.time(), "transport": transport, "message": message})
                with lock:
                    out.write(line + "\n")

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            record("udp", self.request[0])

    class Tls(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:  # the handshake happened at accept; a bad one never gets here
                record("tls", line)

    servers: list[socketserver.BaseServer] = [socketserver.ThreadingUDPServer(("127.0.0.1", args.port), Udp)]
    if args.tls_port:
        servers.append(tls_server(args.tls_port, args.ca_out, Tls))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tls = f", tls 127.0.0.1:{args.tls_port} (CA {args.ca_out})" if args.tls_port else ""
    print(f"listening: syslog udp 127.0.0.1:{args.port}{tls} -> {args.out}", flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
    out.close()


def tls_server(port: int, ca_out: str, handler) -> socketserver.ThreadingTCPServer:
    authority = trustme.CA()
    authority.cert_pem.write_to_path(ca_out)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

        def get_request(self):
            sock, address = self.socket.accept()
            sock.settimeout(5)  # the handshake runs here, in the accepting thread: a silent peer must not stall it
            try:
                tls = context.wrap_socket(sock, server_side=True)
                tls.settimeout(None)
                return tls, address
            except (ssl.SSLError, OSError):
                sock.close()  # a sender that does not trust us, or no TLS at all: keep accepting others
                raise

    return Server(("127.0.0.1", port), handler)


if __name__ == "__main__":
    sys.exit(main())
