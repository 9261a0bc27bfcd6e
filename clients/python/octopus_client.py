#!/usr/bin/env python3
"""A small reference client of the Octopus merchant API, standard library only (Python 3.8+).

Why it exists: merchants integrate in many languages; this file shows, in one place that runs,
how to sign requests exactly as docs/api.md says, how to read the gateway's error answers as
typed exceptions, and how to verify and acknowledge callbacks as docs/callbacks.md says.
Copy it into a project, or read it as the worked example.

    python3 octopus_client.py vectors  [--vectors PATH]        # signing vectors only
    python3 octopus_client.py selftest [--vectors PATH]        # vectors + a real gateway
    python3 octopus_client.py receive --port 8000              # a callback receiver

The gateway and key come from the environment: OCTOPUS_URL, OCTOPUS_API_KEY,
OCTOPUS_API_SECRET, OCTOPUS_MERCHANT_UID (use a test key, `ock_test_...`, for the self-test).
"""

import argparse
import decimal
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = [
    "sign",
    "canonical_string",
    "verify_callback",
    "OctopusClient",
    "OctopusError",
    "AuthenticationError",
    "ForbiddenError",
    "ValidationError",
    "NotFoundError",
    "ConflictError",
    "RefusedError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "CallbackReceiver",
]


# ---------------------------------------------------------------------------------------------
# Signing (docs/api.md "Authentication and signing")
# ---------------------------------------------------------------------------------------------


def _fields_of(body):
    """The top-level fields of a JSON body text, each value as the text that is signed.

    Strings are taken as decoded from JSON (`\\/` is `/`); numbers keep their literal text
    (`100.50` stays `100.50`). Any other value (true, null, an object) is refused by the
    gateway, so it cannot be signed here either.
    """
    fields = json.loads(body, parse_float=str, parse_int=str, parse_constant=_no_constant)
    if not isinstance(fields, dict):
        raise ValueError("the body must be a JSON object")
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ValueError(f"the {key!r} field must be a string or a number")
    return fields


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON value the gateway accepts")


def canonical_string(body):
    """The canonical string of body, the exact JSON text sent: every top-level field sorted
    by key (code point order, which is UTF-8 byte order), `key=value` joined with `&`."""
    fields = _fields_of(body)
    return "&".join(f"{k}={fields[k]}" for k in sorted(fields))


def sign(body, api_secret):
    """The OC-Signature of body (lowercase hex HMAC-SHA256 of its canonical string)."""
    return hmac.new(
        api_secret.encode("utf-8"), canonical_string(body).encode("utf-8"), hashlib.sha256
    ).hexdigest()


def verify_callback(raw_body, signature_header, api_secret):
    """Whether raw_body (a callback's body, bytes as received) carries a valid Oc-Signature.

    Never raises: a body that is not a JSON object of strings and numbers, or a missing or
    malformed header, is simply not valid. Compared in constant time.
    """
    if not isinstance(signature_header, str):
        return False
    try:
        if isinstance(raw_body, bytes):
            raw_body = raw_body.decode("utf-8")
        expected = sign(raw_body, api_secret)
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
    given = signature_header.strip().lower()
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# Errors (docs/api.md "Errors"): {"result":"error","data":"<message>"} or
# {"result":"error","data":{"error":"Invalid parameters","details":"<message>"}}
# ---------------------------------------------------------------------------------------------


class OctopusError(Exception):
    """Any refusal or failure. `status` is the HTTP status (0 when there was no answer),
    `message` the gateway's words, `data` the answer's `data` as sent."""

    def __init__(self, message, status=0, data=None):
        super().__init__(f"HTTP {status}: {message}" if status else message)
        self.message = message
        self.status = status
        self.data = data


class AuthenticationError(OctopusError):
    """401: unknown, revoked or expired key, wrong signature, or a merchant_uid not the key's."""


class ForbiddenError(OctopusError):
    """403: correctly signed, but from an address the key's IP allowlist leaves out."""


class ValidationError(OctopusError):
    """400 (also 413): a missing or malformed field; `message` is the details naming it."""


class NotFoundError(OctopusError):
    """404: no such order for this merchant (or no such path)."""


class ConflictError(OctopusError):
    """409: merchant_order_id reused with other parameters, or a change the order cannot make."""


class RefusedError(OctopusError):
    """422: a valid request refused for a business reason (balance, blocklist, no channel)."""


class RateLimitedError(OctopusError):
    """429: over a rate limit; `retry_after` is the seconds to wait (the Retry-After header)."""

    def __init__(self, message, status=429, data=None, retry_after=1):
        super().__init__(message, status, data)
        self.retry_after = retry_after


class ServerError(OctopusError):
    """5xx, or an answer that is not the documented shape."""


class TransportError(OctopusError):
    """No answer: the connection failed or timed out. The request may or may not have been
    received; retrying order/new with the same merchant_order_id is safe (idempotent)."""


_BY_STATUS = {
    400: ValidationError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    422: RefusedError,
    429: RateLimitedError,
}


def _error_from_answer(status, text, headers):
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("result") != "error":
        return ServerError(f"unexpected answer: {text[:200]!r}", status, answer)
    data = answer.get("data")
    if isinstance(data, dict):
        message = str(data.get("details") or data.get("error") or data)
    else:
        message = str(data)
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else OctopusError)
    if cls is RateLimitedError:
        try:
            retry_after = int(headers.get("Retry-After", "1"))
        except ValueError:
            retry_after = 1
        return RateLimitedError(message, status, data, retry_after)
    return cls(message, status, data)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


def _amount_text(amount):
    """An amount as the string sent: str and Decimal as written, int as digits. A float is
    refused: 0.1 + 0.2 is not 0.3, and money must be exact."""
    if isinstance(amount, bool) or isinstance(amount, float):
        raise TypeError("amounts must be str, int or decimal.Decimal, never float")
    if isinstance(amount, decimal.Decimal):
        return format(amount, "f")
    return str(amount)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class OctopusClient:
    """The merchant API of one gateway, with one API key.

    Every method returns the answer's `data` (a dict) or raises an OctopusError subclass.
    """

    def __init__(self, base_url, api_key, api_secret, merchant_uid, timeout=15):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_secret = api_secret
        self.merchant_uid = merchant_uid
        self.timeout = timeout
        # Redirects are not followed: a deposit without response_type=json answers 302.
        self._opener = urllib.request.build_opener(_NoRedirect)

    def post(self, path, fields):
        """Signs and sends fields (a dict of str) to path; returns `data`."""
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        # Sign the text that is sent, not the dict: what is signed is what the gateway reads.
        signature = sign(body, self.api_secret)
        request = urllib.request.Request(
            self.base_url + path,
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "OC-Key": self.api_key,
                "OC-Signature": signature,
                "User-Agent": "octopus-client-python/1",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                status, text, headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as refused:
            status, text, headers = refused.code, refused.read(), refused.headers
        except (urllib.error.URLError, OSError) as e:
            raise TransportError(f"no answer from {self.base_url}: {e}") from e
        text = text.decode("utf-8", "replace")
        if status == 200:
            try:
                answer = json.loads(text)
            except ValueError:
                raise ServerError(f"unexpected answer: {text[:200]!r}", status)
            if isinstance(answer, dict) and answer.get("result") == "success":
                return answer.get("data")
        raise _error_from_answer(status, text, headers)

    # order/new -------------------------------------------------------------------------------

    def new_order(self, fields):
        """order/new with the given fields (merchant_uid and response_type=json filled in;
        fields given as None are left out)."""
        fields = {
            k: (_amount_text(v) if k == "amount" else str(v)) for k, v in fields.items() if v is not None
        }
        fields.setdefault("merchant_uid", self.merchant_uid)
        fields.setdefault("response_type", "json")
        return self.post("/octopus/api/order/new", fields)

    def create_deposit(self, merchant_order_id, amount, currency, payment, country, **extra):
        """A deposit (income). extra: notify_url, redirect_url, merchant_id, ttl, from, ...
        (`from` is a Python keyword: pass it as **{"from": "..."}). Returns
        {"payment": {...}, "payment_url": "..."}."""
        fields = {
            "transaction_type": "income",
            "merchant_order_id": merchant_order_id,
            "amount": amount,
            "currency": currency,
            "payment": payment,
            "country": country,
        }
        fields.update(extra)
        return self.new_order(fields)

    def create_payout(
        self, merchant_order_id, amount, currency, payment, country, to, to_name, to_bank_name,
        **extra
    ):
        """A payout (expense). Returns {"payment": {...}}."""
        fields = {
            "transaction_type": "expense",
            "merchant_order_id": merchant_order_id,
            "amount": amount,
            "currency": currency,
            "payment": payment,
            "country": country,
            "to": to,
            "to_name": to_name,
            "to_bank_name": to_bank_name,
        }
        fields.update(extra)
        return self.new_order(fields)

    # order/get -------------------------------------------------------------------------------

    def get_order(self, merchant_order_id=None, payment_uid=None):
        """order/get by merchant_order_id (or payment_uid); the order's fields."""
        if (merchant_order_id is None) == (payment_uid is None):
            raise TypeError("give merchant_order_id or payment_uid")
        fields = {"merchant_uid": self.merchant_uid}
        if merchant_order_id is not None:
            fields["merchant_order_id"] = merchant_order_id
        else:
            fields["payment_uid"] = payment_uid
        return self.post("/octopus/api/order/get", fields)

    # ledger ----------------------------------------------------------------------------------

    def get_merchant_balance(self):
        """{"merchant_name":..., "balances": {"mmk": {"available","held","total"}, ...}}
        (`"test":"1"` with a test key: the test book)."""
        return self.post("/octopus/api/ledger/get_merchant_balance", {"merchant_uid": self.merchant_uid})

    def get_merchant_ledger(self):
        """The available balance in every supported currency, six decimals."""
        return self.post("/octopus/api/ledger/get_merchant_ledger", {"merchant_uid": self.merchant_uid})


# ---------------------------------------------------------------------------------------------
# Callback receiver (docs/callbacks.md)
# ---------------------------------------------------------------------------------------------


class CallbackReceiver:
    """A tiny HTTP server that takes the gateway's callbacks.

    secrets: {api_key: api_secret} (a callback is signed with the secret of the key named in
    its `signature_key`). on_callback(fields) is called for each verified callback; it must
    store what it needs and return — an exception makes the answer 500, so the gateway
    retries. Verified callbacks are answered HTTP 200 `success` (what the gateway takes as
    acknowledgement); others 401 or 400, which the gateway counts as failed attempts.
    Callbacks are at least once: credit once per order_uid and payment_status.
    """

    MAX_BODY = 64 * 1024

    def __init__(self, secrets, on_callback=None, host="127.0.0.1", port=0, path="/octopus/callback"):
        self.secrets = dict(secrets)
        self.on_callback = on_callback or (lambda fields: None)
        self.path = path
        self.received = []  # verified callbacks, in arrival order
        self.refused = []  # (reason, raw body) of refused posts
        self._lock = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                if urllib.parse.urlsplit(self.path).path != receiver.path:
                    return self._answer(404, "not found")
                if length > receiver.MAX_BODY:
                    return self._answer(413, "too large")
                raw = self.rfile.read(length)
                status, text = receiver._handle(raw, self.headers.get("Oc-Signature"))
                self._answer(status, text)

            def _answer(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._thread = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def _handle(self, raw, signature):
        try:
            fields = _fields_of(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self._refuse(400, "not a JSON object of strings", raw)
        secret = self.secrets.get(fields.get("signature_key", ""))
        if secret is None or not verify_callback(raw, signature, secret):
            return self._refuse(401, "invalid signature", raw)
        try:
            self.on_callback(fields)
        except Exception as e:  # not stored: not acknowledged, so the gateway retries
            return self._refuse(500, f"not stored: {e}", raw)
        with self._lock:
            self.received.append(fields)
            self._lock.notify_all()
        return 200, "success"

    def _refuse(self, status, reason, raw):
        with self._lock:
            self.refused.append((reason, raw))
            self._lock.notify_all()
        return status, reason

    def wait_for(self, predicate, timeout):
        """The first verified callback for which predicate(fields) holds, waiting up to timeout
        seconds for it; None when none came in time."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for fields in self.received:
                    if predicate(fields):
                        return fields
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self._server.serve_forever()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------------
# Self-test and command line
# ---------------------------------------------------------------------------------------------


def _default_vectors():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "vectors", "signing.json")


# The worked example of docs/callbacks.md.
CALLBACK_EXAMPLE_BODY = (
    '{"accounting_type":"receive","amount":"100.00","currency":"mmk","fee":"2.50",'
    '"final_amount":"100.00","floating_amount":"0.00","merchant_id":"","merchant_order_id":"123qq",'
    '"merchant_uid":"Merchant_UID","notify_url":"https://example.com/notify",'
    '"order_uid":"5f0c1e9a7b3d4c2e8a6f1b0d9c8e7a65","payment":"myanmar","payment_fail_reason":"",'
    '"payment_status":"completed","signature_key":"ock_2p6Hd2v7XQVhgZrvcLYrKEYh","tenant":"octopus",'
    '"transaction_type":"income"}'
)
CALLBACK_EXAMPLE_SIGNATURE = "353c9873ba881cf7e136c75e09b97d5ab6d7635e06257e37d32d647e071b3f6d"


class _Checks:
    def __init__(self):
        self.failures = 0

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures += 1
        return ok

    def raises(self, cls, status, what, call):
        try:
            call()
        except OctopusError as e:
            return self.check(
                type(e) is cls and e.status == status,
                f"{what}: {type(e).__name__} {e.status} {e.message!r}",
            )
        return self.check(False, f"{what}: no error")


def check_vectors(path, checks):
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    for v in vectors:
        checks.check(
            canonical_string(v["body"]) == v["canonical"] and sign(v["body"], v["secret"]) == v["signature"],
            f"vector {v['name']}",
        )
    checks.check(len(vectors) > 0, f"{len(vectors)} vectors read from {path}")
    body, sig = CALLBACK_EXAMPLE_BODY, CALLBACK_EXAMPLE_SIGNATURE
    checks.check(verify_callback(body.encode(), sig, "API_SECRET"), "callback example verifies")
    checks.check(verify_callback(body.encode(), sig.upper(), "API_SECRET"), "callback example verifies in upper case")
    checks.check(
        not verify_callback(body.replace("100.00", "900.00").encode(), sig, "API_SECRET"),
        "a changed callback does not verify",
    )
    checks.check(not verify_callback(body.encode(), "zz", "API_SECRET"), "a malformed signature does not verify")
    checks.check(not verify_callback(b"[1]", sig, "API_SECRET"), "a body that is not an object does not verify")


def _http(method, url, form=None, timeout=15):
    """A plain request without redirects (for the cashier page): (status, headers, text)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.headers, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def pay_in_sandbox(payment_url, outcome="completed"):
    """Presses the sandbox cashier page's Pay (or Fail) as a browser would: reads the page's
    token, then posts outcome and token to <payment_url>/simulate. Returns the HTTP status
    (303 when the order changed)."""
    status, _, page = _http("GET", payment_url)
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)"', page)
    if status != 200 or not match:
        raise ServerError(f"the cashier page has no token (HTTP {status})", status)
    status, _, _ = _http("POST", payment_url + "/simulate", {"outcome": outcome, "token": match.group(1)})
    return status


def _poll(timeout, get):
    """get() until it returns something true, or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.1)


def check_server(client, checks):
    run = secrets.token_hex(4)
    moid = f"py-{run}-1"

    created = client.create_deposit(moid, "100.00", "mmk", "myanmar", "myanmar")
    payment = created["payment"]
    checks.check(
        payment["payment_status"] == "pending" and payment.get("test") == "1" and created["payment_url"],
        f"test deposit created: {payment['payment_uid']} pending, test=1",
    )
    again = client.create_deposit(moid, "100.0", "mmk", "myanmar", "myanmar")
    checks.check(
        again["payment"]["payment_uid"] == payment["payment_uid"],
        "the same order sent again is the same order (100.0 = 100.00)",
    )
    got = client.get_order(merchant_order_id=moid)
    checks.check(
        got["payment_uid"] == payment["payment_uid"] and got["amount"] == "100.00",
        "order/get by merchant_order_id finds it",
    )
    balance = client.get_merchant_balance()
    checks.check(
        isinstance(balance.get("balances"), dict) and balance.get("test") == "1",
        f"get_merchant_balance answers the test book: {balance['balances']}",
    )
    ledger = client.get_merchant_ledger()
    checks.check(
        all(ledger.get(c) for c in ("cny", "usd", "thb", "vnd", "php", "sgd", "idr", "bdt", "mmk")),
        "get_merchant_ledger lists every currency",
    )

    wrong = OctopusClient(client.base_url, client.api_key, client.api_secret + "x", client.merchant_uid)
    checks.raises(AuthenticationError, 401, "a bad signature", lambda: wrong.get_order(merchant_order_id=moid))
    checks.raises(
        ValidationError, 400, "a bad amount",
        lambda: client.create_deposit(f"py-{run}-bad", "12.345", "mmk", "myanmar", "myanmar"),
    )
    checks.raises(NotFoundError, 404, "an unknown order", lambda: client.get_order(merchant_order_id=f"py-{run}-none"))
    checks.raises(
        ConflictError, 409, "the same merchant_order_id with another amount",
        lambda: client.create_deposit(moid, "101.00", "mmk", "myanmar", "myanmar"),
    )
    try:
        client.create_deposit(f"py-{run}-f", 1.5, "mmk", "myanmar", "myanmar")
        checks.check(False, "a float amount is refused before sending")
    except TypeError:
        checks.check(True, "a float amount is refused before sending")


def check_callbacks(client, checks, timeout=20):
    run = secrets.token_hex(4)
    moid = f"py-{run}-cb"
    receiver = CallbackReceiver({client.api_key: client.api_secret}).start()
    try:
        # A forged callback is refused by the receiver (and not taken as received).
        forged = CALLBACK_EXAMPLE_BODY.replace("ock_2p6Hd2v7XQVhgZrvcLYrKEYh", client.api_key)
        status, _, text = _http_json(receiver.url, forged, CALLBACK_EXAMPLE_SIGNATURE)
        checks.check(status == 401 and not receiver.received, f"the receiver refuses a forged callback ({status} {text})")

        before = client.get_merchant_balance()["balances"].get("mmk", {}).get("available", "0")
        created = client.create_deposit(moid, "250.00", "mmk", "myanmar", "myanmar", notify_url=receiver.url)
        uid = created["payment"]["payment_uid"]
        status = pay_in_sandbox(created["payment_url"])
        checks.check(status == 303, f"sandbox Pay on the cashier page answered {status}")
        fields = receiver.wait_for(
            lambda f: f.get("merchant_order_id") == moid and f.get("payment_status") == "completed", timeout
        )
        checks.check(
            fields is not None and fields["order_uid"] == uid and fields["final_amount"] == "250.00"
            and fields.get("test") == "1",
            f"a correctly signed 'completed' callback arrived for {moid} (test=1, final_amount 250.00)",
        )
        acknowledged = _poll(timeout, lambda: client.get_order(payment_uid=uid)["notify_status"] == "completed")
        checks.check(acknowledged, "the gateway took the receiver's 'success' as acknowledgement (notify_status completed)")
        after = _poll(
            timeout,
            lambda: (lambda a: a if decimal.Decimal(a) > decimal.Decimal(before) else None)(
                client.get_merchant_balance()["balances"].get("mmk", {}).get("available", "0")
            ),
        )
        checks.check(after is not None, f"the test balance grew: {before} -> {after} mmk")
    finally:
        receiver.stop()


def _http_json(url, body, signature):
    request = urllib.request.Request(
        url, data=body.encode(), method="POST",
        headers={"Content-Type": "application/json", "Oc-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def client_from_env():
    missing = [v for v in ("OCTOPUS_URL", "OCTOPUS_API_KEY", "OCTOPUS_API_SECRET", "OCTOPUS_MERCHANT_UID") if not os.environ.get(v)]
    if missing:
        sys.exit(f"set {', '.join(missing)}")
    return OctopusClient(
        os.environ["OCTOPUS_URL"], os.environ["OCTOPUS_API_KEY"],
        os.environ["OCTOPUS_API_SECRET"], os.environ["OCTOPUS_MERCHANT_UID"],
    )


def main(argv):
    parser = argparse.ArgumentParser(description="Octopus merchant API reference client (Python)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("vectors", "selftest"):
        p = sub.add_parser(name)
        p.add_argument("--vectors", default=os.environ.get("OCTOPUS_VECTORS") or _default_vectors())
    p = sub.add_parser("receive", help="run a callback receiver (key and secret from the environment)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--fail-first", type=int, default=0, metavar="N",
                   help="answer the first N verified callbacks HTTP 500, to watch the gateway retry")
    args = parser.parse_args(argv)

    if args.command == "receive":
        key, secret = os.environ.get("OCTOPUS_API_KEY"), os.environ.get("OCTOPUS_API_SECRET")
        if not key or not secret:
            sys.exit("set OCTOPUS_API_KEY and OCTOPUS_API_SECRET")

        failing = {"left": args.fail_first}

        def show(fields):
            if failing["left"] > 0:
                failing["left"] -= 1
                print(f"answering 500 (--fail-first): {fields['merchant_order_id']} {fields['payment_status']}", flush=True)
                raise RuntimeError("--fail-first")
            print(json.dumps(fields, ensure_ascii=False), flush=True)

        receiver = CallbackReceiver({key: secret}, show, args.host, args.port)
        print(f"receiving callbacks at {receiver.url}", flush=True)
        try:
            receiver.serve_forever()
        except KeyboardInterrupt:
            pass
        return 0

    checks = _Checks()
    check_vectors(args.vectors, checks)
    if args.command == "selftest":
        client = client_from_env()
        try:
            check_server(client, checks)
            check_callbacks(client, checks)
        except OctopusError as e:
            checks.check(False, f"unexpected {type(e).__name__}: {e}")
    print(f"python: {checks.failures} failure(s)")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
