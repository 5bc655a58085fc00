"""The data plane's model store: serves a directory over HTTPS (a certificate of the data plane's
own CA) on the bridge address, so that a pod's fetch-model init container downloads models with
curl as it would from a web server of the organisation. Started and stopped by hack/dataplane/.

Usage: model-store.py ADDRESS PORT DIR CERT KEY
"""
import functools
import http.server
import ssl
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    # HTTP/1.1 with keep-alive, as a real web server; logs on stderr (the store's log file).
    protocol_version = "HTTP/1.1"


def main() -> None:
    address, port, directory, cert, key = sys.argv[1:6]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(
        (address, int(port)), functools.partial(Handler, directory=directory)
    )
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"serving {directory} on https://{address}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
