"""Port-forward and proxy fixtures: the HTTP server pods run, and the Python client's checks.

    python3 -c "$(cat portforward.py)" serve PORT
        In a pod (sandbox.kdeck.dev/run-command): an HTTP/1.1 server on 127.0.0.1:PORT.
        Any method: answers JSON {method, path, headers, bodyLength, bodySha256} of what it got
        (chunked request bodies too), with `Access-Control-Allow-Origin: *` and `X-Echo: yes`.
        GET /bytes/N: N bytes, byte i = i % 251.  GET /redirect: 302 to /echo?from=redirect.
        A request with `Upgrade: echo` gets 101, then its bytes back upper-cased.

    python-k8s portforward.py client KUBECONFIG CONTEXT NAMESPACE POD PORT CLOSED_PORT
        The official client's kubernetes.stream.portforward (WebSocket v4 channels), both ports
        at once: a 1 MiB upload and a 3 MiB download on PORT, checked byte for byte, and the
        kubelet's error on CLOSED_PORT, where nothing listens. Prints "ok" or why not.

    python-k8s portforward.py upgrade KUBECONFIG CONTEXT PATH
        An `Upgrade: echo` request to PATH (a proxy path) on the API server with the context's
        credentials, then a round trip on the upgraded connection. Prints "ok" or why not.
"""
import hashlib
import json
import sys


def pattern(n):
    return bytes(i % 251 for i in range(n))


def serve(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def reply(self, code, body, headers=()):
            self.send_response(code)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def any(self):
            if self.headers.get("Upgrade", "").lower() == "echo":
                # An upgraded connection: whatever comes is sent back upper-cased.
                self.send_response(101)
                self.send_header("Upgrade", "echo")
                self.send_header("Connection", "Upgrade")
                self.end_headers()
                self.wfile.flush()
                while True:
                    data = self.connection.recv(65536)
                    if not data:
                        break
                    self.connection.sendall(data.upper())
                self.close_connection = True
                return
            if self.path.startswith("/bytes/"):
                n = int(self.path.split("/")[2])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                block = pattern(251 * 1024)
                sent = 0
                while sent < n:
                    chunk = block[: min(len(block), n - sent)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                return
            if self.path == "/redirect":
                return self.reply(302, b"", [("Location", "/echo?from=redirect")])
            body = self.body()
            answer = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "bodyLength": len(body),
                "bodySha256": hashlib.sha256(body).hexdigest(),
            }
            headers = [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*"), ("X-Echo", "yes")]
            self.reply(200, json.dumps(answer).encode(), headers)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = any

    ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()


def exchange(sock, request):
    """Sends a whole HTTP request on a forwarded socket; returns (status line, headers, body)."""
    sock.setblocking(True)
    sock.sendall(request)
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


def client(kubeconfig, context, namespace, pod, port, closed):
    from kubernetes import client as k8s
    from kubernetes import config
    from kubernetes.stream import portforward

    config.load_kube_config(config_file=kubeconfig, context=context)
    api = k8s.CoreV1Api()

    upload = pattern(1 << 20)
    pf = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=f"{port},{closed}")
    request = b"POST /upload?via=python HTTP/1.1\r\nHost: pf\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(upload)
    status, _, body = exchange(pf.socket(port), request + upload)
    echo = json.loads(body)
    want = (echo["method"], echo["path"], echo["bodyLength"], echo["bodySha256"])
    got = ("POST", "/upload?via=python", len(upload), hashlib.sha256(upload).hexdigest())
    if not status.endswith("200 OK") or want != got:
        return f"upload: {status} {want} != {got}"
    # Nothing listens on the other port: no bytes, and the kubelet's words on its error channel.
    closed_socket = pf.socket(closed)
    closed_socket.setblocking(True)
    if closed_socket.recv(10) != b"":
        return "the closed port sent data"
    error = pf.error(closed) or ""
    if f"error forwarding port {closed} to pod" not in error or "connection refused" not in error:
        return f"error of the closed port: {error!r}"
    if pf.error(port):
        return f"unexpected error on port {port}: {pf.error(port)!r}"

    size = 3 << 20
    pf = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    status, headers, body = exchange(pf.socket(port), b"GET /bytes/%d HTTP/1.1\r\nHost: pf\r\nConnection: close\r\n\r\n" % size)
    if headers.get("Content-Length") != str(size) or body != pattern(size):
        return f"download: {status}, {len(body)} bytes, {'equal' if body == pattern(len(body)) else 'different'}"
    return "ok"


def upgrade(kubeconfig, context, path):
    """An `Upgrade: echo` request to PATH on the API server, then a round trip on the upgraded connection."""
    import socket
    import ssl
    import urllib.parse

    from kubernetes import client as k8s
    from kubernetes import config

    config.load_kube_config(config_file=kubeconfig, context=context)
    c = k8s.Configuration.get_default_copy()
    url = urllib.parse.urlparse(c.host)
    tls = ssl.create_default_context(cafile=c.ssl_ca_cert)
    sock = tls.wrap_socket(socket.create_connection((url.hostname, url.port)), server_hostname=url.hostname)
    token = c.api_key.get("BearerToken") or c.api_key.get("authorization", "")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: {token}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            return f"closed before an answer: {head!r}"
        head += chunk
    status = head.split(b"\r\n")[0].decode()
    if " 101 " not in status:
        return f"not upgraded: {status}"
    sock.sendall(b"hello through the proxy")
    echoed = sock.recv(4096)
    return "ok" if echoed == b"HELLO THROUGH THE PROXY" else f"echoed {echoed!r}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
    elif sys.argv[1:2] == ["upgrade"]:
        print(upgrade(*sys.argv[2:5]))
    else:
        print(client(*sys.argv[2:6], int(sys.argv[6]), int(sys.argv[7])))
