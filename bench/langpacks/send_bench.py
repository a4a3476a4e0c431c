"""Microseconds per send() of a ClickstreamEventV0 through the generated bo
langpack (PYTHONPATH points at it), against a local collector that accepts
every batch. Prints figures; never passes or fails."""

import multiprocessing
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import reestr_bo as bo


class Collector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = body.count(b'"event_id":')
        data = b'{"results":[' + b",".join([b'{"status":"accepted"}'] * n) + b"]}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def event():
    return bo.ClickstreamEventV0(
        user=bo.User(id=413, email="user413@example.com"),
        geo=bo.Geo(latitude=20.22, longitude=-10.11),
        user_agent="fluffy_browser",
    )


def serve(sock):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector, bind_and_activate=False)
    server.socket = sock
    server.serve_forever()


def main():
    # The collector runs in its own process, so it does not compete with
    # the measured code for the GIL.
    sock = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = multiprocessing.Process(target=serve, args=(sock,), daemon=True)
    proc.start()
    n = 100_000
    for label, build in (("send", False), ("build and send", True)):
        sender = bo.Sender(url, "example-service", queue_capacity=4 * n,
                           batch_size=1000, batch_age=0.05)
        e = event()
        start = time.perf_counter()
        for _ in range(n):
            sender.send(event() if build else e)
        took = time.perf_counter() - start
        sender.close(60)
        s = sender.stats()
        print(f"python {label}: {took / n * 1e6:.2f} us/call "
              f"(target <= 10 us; {s.delivered} delivered, {s.dropped} dropped)")
    proc.terminate()


if __name__ == "__main__":
    main()
