"""The proxy tests' requests and checks (run.sh starts everything and sets the environment).

Each check prints `ok` or `FAIL` with what was expected and what came; the last line is
`N passed, N failed` and the exit status is 1 on any failure.
"""

import http.client
import json
import os
import ssl
import subprocess
import sys
import time

ENV = os.environ
BIN, STORE = ENV["PORTCULLIS_BIN"], ENV["PORTCULLIS_STORE"]
TLS = ssl.create_default_context(cafile=ENV["TMP"] + "/tls.crt")
TLS.check_hostname = False  # the self-signed certificate names 127.0.0.1 only as its CN
passed = failed = 0


def cli(*args):
    out = subprocess.run([BIN, "--store", STORE, "--json", *args], check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def key(name, scopes, owner):
    made = cli("keys", "create", "--name", name, "--scopes", scopes, "--owner", owner)
    return made["api_key"], made["record"]["id"]


class Answer:
    def __init__(self, response):
        self.status = response.status
        self.headers = response.headers
        raw = response.read(1 << 20)
        try:
            self.json = json.loads(raw)
        except ValueError:
            self.json = None
        self.upstream = isinstance(self.json, dict) and self.json.get("upstream") is True

    def seen(self, name):
        """The values of a header as the upstream received it ([] when absent)."""
        return self.json["headers"].get(name.lower(), []) if self.upstream else []

    def __repr__(self):
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("www-authenticate", "retry-after", "ratelimit",
                                    "ratelimit-policy", "x-portcullis-status")}
        return f"{self.status} {headers} upstream={self.upstream}"


def send(port, method, path, tls=False, headers=None, token=None):
    conn = (http.client.HTTPSConnection("127.0.0.1", port, context=TLS, timeout=10) if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10))
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, headers=headers)
        return Answer(conn.getresponse())
    finally:
        conn.close()


def check(name, ok, got):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}\n      got: {got!r}")


def logged_client(path):
    """The client address serve (STRICT, --log all) logged for a decision about `path`."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with open(ENV["TMP"] + "/STRICT.err", encoding="utf-8") as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "decision" and event.get("path") == path:
                    return event.get("client")
        time.sleep(0.05)
    return None


def main():
    reader, reader_id = key("reader", "claims:read", "acme")
    forged = {"X-Portcullis-Owner": "evil", "X-Portcullis-Key-Id": "forged",
              "X-Portcullis-Scopes": "full_access"}
    proxies = [("nginx", int(ENV["N_TLS"]), int(ENV["N_PLAIN"])),
               ("caddy", int(ENV["C_TLS"]), int(ENV["C_PLAIN"]))]
    for proxy, port, plain in proxies:
        a = send(port, "GET", "/v1/claims/42", tls=True, headers=forged, token=reader)
        check(f"{proxy}: an allowed request reaches the upstream with the key's identity",
              a.status == 200 and a.upstream and a.seen("x-portcullis-key-id") == [reader_id]
              and a.seen("x-portcullis-owner") == ["acme"]
              and a.seen("x-portcullis-scopes") == ["claims:read"], (a, a.json))
        check(f"{proxy}: the upstream never sees a client's forged identity",
              "evil" not in json.dumps(a.json) and "forged" not in json.dumps(a.json), a.json)
        a = send(port, "GET", "/health", tls=True, headers=forged)
        check(f"{proxy}: a public route passes with no identity, forged copies dropped",
              a.status == 200 and a.upstream and all(
                  a.seen(h) in ([], [""]) for h in forged), (a, a.json))
        a = send(port, "GET", "/v1/claims", tls=True)
        www = a.headers.get_all("WWW-Authenticate") or []
        check(f"{proxy}: no key: 401 with one Bearer challenge, upstream not reached",
              a.status == 401 and len(www) == 1 and www[0].startswith("Bearer ")
              and 'realm="claimport"' in www[0] and not a.upstream, (a, www))
        a = send(port, "GET", "/v1/claims", tls=True, token="sk_live_garbage")
        check(f"{proxy}: a malformed key: refused, upstream not reached",
              a.status in (400, 401) and not a.upstream, a)
        a = send(port, "POST", "/v1/claims", tls=True, token=reader)
        www = a.headers.get_all("WWW-Authenticate") or []
        check(f"{proxy}: missing scope: 403 with one insufficient_scope challenge",
              a.status == 403 and len(www) == 1 and 'error="insufficient_scope"' in www[0]
              and 'scope="claims:write"' in www[0] and not a.upstream, (a, www))
        smuggle = {"X-Original-URI": "/health", "X-Original-Method": "GET",
                   "X-Forwarded-Uri": "/health", "X-Forwarded-Method": "GET"}
        a = send(port, "GET", "/v1/claims", tls=True, headers=smuggle)
        check(f"{proxy}: a client's own X-Original-URI / X-Forwarded-Uri is not believed",
              a.status == 401 and not a.upstream, a)
        a = send(port, "GET", "/v1/claims/1%2F..%2F2", tls=True, token=reader)
        check(f"{proxy}: an ambiguous path is refused with 400 before matching",
              a.status == 400 and not a.upstream, a)
        a = send(plain, "GET", "/v1/claims/42", token=reader,
                 headers={"X-Forwarded-Proto": "https"})
        check(f"{proxy}: plain HTTP under the starter policy: 400 (a client's "
              "X-Forwarded-Proto: https is not believed)", a.status == 400 and not a.upstream, a)

    for proxy, port, _ in proxies:
        path = f"/v1/claims/client-{proxy}"
        spoof = {"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "203.0.113.9"}
        a = send(port, "GET", path, tls=True, headers=spoof, token=reader)
        seen = logged_client(path)
        check(f"{proxy}: serve sees the client's real address, not its X-Real-IP / "
              f"X-Forwarded-For ({seen})", a.status == 200 and seen == "127.0.0.1", a)
        a = send(int(ENV[proxy[0].upper() + "_UNTRUSTED"]), "GET", "/v1/claims", tls=True,
                 token=reader)
        check(f"{proxy}: a proxy outside --trusted-proxy is refused (403), never allowed",
              a.status == 403 and not a.upstream, a)

    for proxy, port, _ in proxies:
        token, key_id = key(f"revoked-{proxy}", "claims:read", "acme")
        a = send(port, "GET", "/v1/claims", tls=True, token=token)
        check(f"{proxy}: a key about to be revoked passes", a.status == 200 and a.upstream, a)
        cli("keys", "revoke", key_id)
        start = time.monotonic()
        while True:
            a = send(port, "GET", "/v1/claims", tls=True, token=token)
            if a.status != 200 or time.monotonic() - start > 2:
                break
            time.sleep(0.05)
        check(f"{proxy}: a key revoked with the CLI is refused within 2 s "
              f"({time.monotonic() - start:.2f} s)",
              a.status == 401 and not a.upstream and time.monotonic() - start <= 2, a)

    for proxy, _, _ in proxies:
        limited, _ = key(f"limited-{proxy}", "claims:read", "acme")
        port = int(ENV[proxy[0].upper() + "_OPEN"])
        answers = [send(port, "GET", "/v1/claims", token=limited) for _ in range(4)]
        check(f"{proxy}, open policy: plain HTTP passes when the policy allows it",
              answers[0].status == 200 and answers[0].upstream, answers[0])
        a = answers[3]
        check(f"{proxy}: over the limit: 429 with Retry-After and the RateLimit fields",
              [x.status for x in answers] == [200, 200, 200, 429] and not a.upstream
              and (a.headers.get("Retry-After") or "").isdigit()
              and '"tiny"' in (a.headers.get("RateLimit-Policy") or "")
              and '"tiny"' in (a.headers.get("RateLimit") or ""), answers)
        a = send(int(ENV[proxy[0].upper() + "_DOWN"]), "GET", "/v1/claims", token=reader)
        check(f"{proxy}: the limiter unreachable: 503 with Retry-After, not an allow",
              a.status == 503 and not a.upstream and bool(a.headers.get("Retry-After")), a)

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
