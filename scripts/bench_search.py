#!/usr/bin/env python3
"""The console search benchmark's two halves (scripts/bench-search.sh runs them): `fill` writes
a million realistic orders straight into a fresh gateway database, and `measure` times the
admin API's order search and CSV export against a running gateway. Standard library only.

    bench_search.py fill    --sqlite DATA_DIR/octopus.db | --postgres URL  --merchants FILE [--orders N]
    bench_search.py measure --sqlite DB | --postgres URL  --url URL --token oat_... --pid PID
                            --part search|export [--requests N] [--concurrency N] [--only WORDS]

The orders come from one seeded generator, so a run can be repeated and both backends hold the
same orders (but for the merchants' uids and keys, which the CLI makes). They are written with
the indexes of `orders` dropped and built again afterwards (a bulk load, not a million
order/new calls). PostgreSQL is then analyzed, as autovacuum would do soon after such a load;
SQLite is left without statistics, as the gateway leaves it (it never runs ANALYZE).
"""

import argparse
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

SEED = 20261203
DAY_MS = 86_400_000

# The columns written, in this order (every NOT NULL column of `orders` after migration 11;
# `id` is given so that upstream references can name their order).
COLUMNS = (
    "id payment_uid merchant_id merchant_uid merchant_name signature_key merchant_order_id "
    "transaction_type accounting_type amount floating_amount final_amount currency country "
    "country_code payment channel from_account from_name from_bank_name to_account to_name "
    "to_bank_name member_id redirect_url notify_url response_type ip user_agent ttl "
    "float_precision additional extra distribute_rules payment_status payment_fail_reason "
    "notify_status notify_fail_reason accounting_status accounting_fail_reason fingerprint "
    "amount_locked created_at updated_at expires_at next_check_at fee fee_rule account_id "
    "bank_reference test"
).split()

# Live channels: code, share of live orders, connector kind, payment method, currency, country,
# country code, amount range (whole units), bank names for payouts.
CHANNELS = [
    ("wavepay-pk", 30, "paykassma", "wavepay", "mmk", "myanmar", "MM", (5_000, 500_000), "wavepay"),
    ("kbzpay-pk", 10, "paykassma", "kbzpay", "mmk", "myanmar", "MM", (5_000, 300_000), "kbzpay"),
    ("th-bank", 25, "accounts", "thailand", "thb", "thailand", "TH", (100, 20_000), "KBANK"),
    ("in-upi", 20, "accounts", "india", "inr", "india", "IN", (100, 50_000), "upi"),
    ("ph-gcash", 8, "accounts", "gcash", "php", "philippines", "PH", (100, 10_000), "gcash"),
    ("bd-bkash", 7, "accounts", "bkash", "bdt", "bangladesh", "BD", (200, 25_000), "bkash"),
]
# Statuses by type, with their weights (per mille). Deposits mostly complete; some expire
# (overdue) or fail; rejects (blocklists, velocity) and refunds are rare. Payouts held for
# review wait in `preparing`.
INCOME_STATUSES = [("completed", 820), ("overdue", 80), ("failed", 50), ("pending", 30),
                   ("reject", 15), ("refund", 5)]
EXPENSE_STATUSES = [("completed", 880), ("failed", 60), ("processing", 30), ("preparing", 20),
                    ("reject", 10)]
FAIL_REASONS = {
    "failed": ["The upstream declined the payment", "Insufficient funds at the payer's wallet",
               "The payee account does not exist"],
    "reject": ["Rejected: member id is blocked", "Rejected: payer account is blocked",
               "Rejected: too many orders for this member id"],
    "overdue": ["The order expired before it was paid"],
}
USER_AGENTS = ["Mozilla/5.0 (Linux; Android 13; SM-A145F) AppleWebKit/537.36 Chrome/119.0 Mobile",
               "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15",
               "okhttp/4.12.0", "Java/17.0.9", "python-requests/2.31.0"]
# The twenty merchants' shares of the orders, in per mille: one has half of them, the
# smallest one in a thousand.
MERCHANT_SHARES = [500, 100, 70, 50, 40, 35, 30, 25, 22, 20, 18, 16, 14, 12, 10, 9, 8, 7, 6, 1]
ACCOUNTS_PER_CHANNEL = 12


def weighted(rng, table):
    """One item of [(item, weight), ...]."""
    total = sum(w for _, w in table)
    x = rng.randrange(total)
    for item, w in table:
        if x < w:
            return item
        x -= w
    raise AssertionError


def uuid7(rng, at_ms):
    """A payment_uid as the gateway makes them: a UUIDv7 of the creation time, 32 hex."""
    rand = rng.getrandbits(74)
    value = (at_ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return f"{value:032x}"


def money(value_cents):
    return f"{value_cents // 100}.{value_cents % 100:02d}"


def orders(merchants, n, end_ms):
    """Yields the orders as tuples in COLUMNS order, oldest first (ids grow with time, as the
    gateway's do). `merchants`: the output of `octopus merchant create` with the ids of the
    merchant and of its test book."""
    rng = random.Random(SEED)
    start_ms = end_ms - 90 * DAY_MS
    step = (end_ms - start_ms) / n
    shares = list(zip(range(len(merchants)), MERCHANT_SHARES))
    channel_shares = [(c, c[1]) for c in CHANNELS]
    accounts = {c[0]: [f"acc_{c[0][:2]}{k:02d}{rng.getrandbits(40):010x}"[:16] for k in range(ACCOUNTS_PER_CHANNEL)]
                for c in CHANNELS if c[2] == "accounts"}
    sequence = [0] * len(merchants)
    for i in range(n):
        created = int(start_ms + i * step + rng.random() * step)
        m = weighted(rng, shares)
        merchant = merchants[m]
        sequence[m] += 1
        seq = sequence[m]
        day = datetime.fromtimestamp(created / 1000, timezone.utc).strftime("%Y%m%d")
        # Merchants number their orders their own way; those with plain numbers overlap.
        style = m % 4
        if style == 0:
            moid = str(100_000 + seq)
        elif style == 1:
            moid = f"ORD-{seq:08d}"
        elif style == 2:
            moid = f"{day}-{merchant['merchant_uid'][-4:]}-{seq:06d}"
        else:
            moid = f"{rng.getrandbits(64):016x}-{seq}"
        test = rng.random() < 0.03
        income = rng.random() < 0.8
        if test:
            code, kind, payment, cur, country, cc, (lo, hi), bank = (
                "sandbox", "sandbox", "wavepay", "mmk", "myanmar", "MM", (1_000, 100_000), "wavepay")
        else:
            code, _, kind, payment, cur, country, cc, (lo, hi), bank = weighted(rng, channel_shares)
        if income:
            ttype = "income"
            atype = "receive" if rng.random() < 0.95 else "recharge"
            status = weighted(rng, INCOME_STATUSES)
        else:
            ttype = "expense"
            atype = "pay" if rng.random() < 0.85 else "settle"
            status = weighted(rng, EXPENSE_STATUSES)
        # Round amounts are common; payers of the rest type any number.
        whole = rng.randint(lo, hi)
        if rng.random() < 0.6:
            whole = max(lo, whole // 100 * 100)
        cents = whole * 100 if rng.random() < 0.8 else whole * 100 + rng.randrange(100)
        floating = 0
        account = ""
        reference = ""
        float_precision = 0
        if kind == "accounts" and income:
            account = rng.choice(accounts[code])
            float_precision = 2
            floating = rng.randint(1, 99)
            if status in ("completed", "refund"):
                reference = f"{cc}{day[2:]}{i:09d}"
        elif kind == "accounts":
            account = rng.choice(accounts[code])
            if status == "completed":
                reference = f"{cc}{day[2:]}{i:09d}"
        amount = money(cents)
        final = money(cents + floating)
        settled = status in ("completed", "refund")
        fee_cents = (cents * 15 + 500) // 1000 if settled else 0  # 1.5% of what moved
        fee = f"{fee_cents // 100}.{fee_cents % 100:02d}0000"
        member = f"u{rng.randrange(200_000)}"
        to_account = to_name = to_bank = ""
        from_account = from_name = from_bank = ""
        if not income:
            to_account = f"09{rng.randrange(10**9):09d}" if cur in ("mmk", "php") else f"{rng.randrange(10**12):012d}"
            to_name = f"Payee {rng.randrange(100_000)}"
            to_bank = bank
        elif cc == "TH" and rng.random() < 0.3:
            from_account = f"xxx-x-x{rng.randrange(10_000):04d}-x"
            from_name = f"Payer {rng.randrange(100_000)}"
            from_bank = "KBANK"
        notify_url = f"https://api.merchant{m:02d}.example/octopus/notify" if rng.random() < 0.9 else ""
        if notify_url and status not in ("pending", "preparing", "processing"):
            notify = "completed" if rng.random() < 0.97 else "failed"
        else:
            notify = "none"
        notify_reason = "HTTP 502 after 8 attempts" if notify == "failed" else ""
        accounting = "accounted" if settled or (not income and status in ("preparing", "processing")) else "none"
        rules = {"rule": "channels", "requested_channel": "", "candidates": [code], "chosen": code,
                 "failovers": [], "skipped": {}}
        if account:
            rules["account"] = {"candidates": [account], "chosen": account, "skipped": {}}
        updated = created + (rng.randrange(5_000, 600_000) if status != "pending" else 0)
        yield (
            i + 1,
            uuid7(rng, created),
            merchant["test_id"] if test else merchant["id"],
            merchant["merchant_uid"],
            merchant["merchant_name"],
            merchant["test_api_key"] if test else merchant["api_key"],
            moid,
            ttype,
            atype,
            amount,
            money(floating),
            final,
            cur,
            country,
            cc,
            payment,
            code,
            from_account,
            from_name,
            from_bank,
            to_account,
            to_name,
            to_bank,
            member,
            f"https://shop{m:02d}.example/return" if income else "",
            notify_url,
            "json" if rng.random() < 0.7 else "",
            f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            rng.choice(USER_AGENTS),
            1800 if income else None,
            float_precision,
            "",
            "{}",
            json.dumps(rules, separators=(",", ":")),
            status,
            rng.choice(FAIL_REASONS[status]) if status in FAIL_REASONS else "",
            notify,
            notify_reason,
            accounting,
            "",
            f"{rng.getrandbits(256):064x}",
            False,
            created,
            updated,
            None,  # nothing for the expiry worker: these orders are history
            None,  # nor for upstream polling
            fee,
            "1.5|0|0|" if settled else "0|0|0|",
            account,
            reference,
            test,
        )


def upstream_reference(order):
    """Payers of most completed Paykassma deposits gave their transfer's transaction ID."""
    oid, code, status, ttype = order[0], order[16], order[34], order[7]
    if code.endswith("-pk") and ttype == "income" and status == "completed" and oid % 3 != 0:
        return (code, f"{7_000_000_000 + oid * 7919 % 3_000_000_000}", oid)
    return None


def postgres_url_parts(url):
    u = urllib.parse.urlparse(url)
    return ["-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
            "-d", u.path.lstrip("/")]


def psql(url, sql, *, stdin=None):
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", *postgres_url_parts(url), "-c", sql],
                         input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr}")
    return out.stdout


def copy_text(value):
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def fill(args):
    merchants = json.load(open(args.merchants))
    end_ms = int(time.time() * 1000) - 60_000
    t0 = time.time()
    refs = []
    if args.sqlite:
        db = sqlite3.connect(args.sqlite, isolation_level=None)
        db.execute("PRAGMA synchronous = OFF")
        indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' "
                             "AND sql IS NOT NULL").fetchall()
        db.execute("BEGIN")
        for name, _ in indexes:
            db.execute(f"DROP INDEX {name}")
        sql = f"INSERT INTO orders ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

        locked = COLUMNS.index("amount_locked")

        def rows():
            for o in orders(merchants, args.orders, end_ms):
                r = upstream_reference(o)
                if r:
                    refs.append(r)
                # The SQLite backend stores an unlocked amount as NULL (its partial unique
                # index is `WHERE amount_locked = 1`).
                yield o[:locked] + (None,) + o[locked + 1:]

        db.executemany(sql, rows())
        db.executemany("INSERT INTO upstream_references (channel, reference, order_id) VALUES (?, ?, ?)", refs)
        t1 = time.time()
        for _, create in indexes:
            db.execute(create)
        db.execute("COMMIT")
        t2 = time.time()
        # No ANALYZE: the gateway never runs it, so its SQLite plans are made without
        # statistics, and so are this benchmark's.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    else:
        indexes = psql(args.postgres, "SELECT indexname || E'\\t' || indexdef FROM pg_indexes WHERE tablename = 'orders' "
                       "AND indexname NOT IN (SELECT conname FROM pg_constraint)").splitlines()
        indexes = [line.split("\t", 1) for line in indexes if line]
        psql(args.postgres, "; ".join(f"DROP INDEX {name}" for name, _ in indexes))
        proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *postgres_url_parts(args.postgres), "-c",
                                 f"COPY orders ({', '.join(COLUMNS)}) FROM STDIN"],
                                stdin=subprocess.PIPE, text=True)
        batch = []
        for o in orders(merchants, args.orders, end_ms):
            r = upstream_reference(o)
            if r:
                refs.append(r)
            batch.append("\t".join(map(copy_text, o)))
            if len(batch) == 10_000:
                proc.stdin.write("\n".join(batch) + "\n")
                batch = []
        proc.stdin.write("\n".join(batch) + ("\n" if batch else ""))
        proc.stdin.close()
        if proc.wait() != 0:
            sys.exit("COPY failed")
        psql(args.postgres, "COPY upstream_references (channel, reference, order_id) FROM STDIN",
             stdin="".join("\t".join(map(str, r)) + "\n" for r in refs))
        t1 = time.time()
        for _, create in indexes:
            psql(args.postgres, create)
        # The identity goes on after the ids given here.
        psql(args.postgres, "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))")
        t2 = time.time()
        psql(args.postgres, "VACUUM (ANALYZE) orders")
        psql(args.postgres, "VACUUM (ANALYZE) upstream_references")
    t3 = time.time()
    print(json.dumps({"orders": args.orders, "upstream_references": len(refs), "insert_s": round(t1 - t0, 1),
                      "indexes_s": round(t2 - t1, 1),
                      ("checkpoint_s" if args.sqlite else "analyze_s"): round(t3 - t2, 1)}))


# ---------------------------------------------------------------------------------------------
# Measuring


class Client:
    """One kept-alive connection to the gateway's admin API."""

    def __init__(self, url, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.conn = None

    def get(self, path):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {resp.status} {body[:300]!r}")
        return body


def rfc3339(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def samples_from(args):
    """Values to search for, read from the database: ids of random orders, the merchants by
    size, the time span."""
    if args.sqlite:
        db = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True)
        q = lambda sql: db.execute(sql).fetchall()
    else:
        q = lambda sql: [tuple(line.split("\t")) for line in psql(args.postgres, sql.replace("\n", " ")).splitlines()]
    n = int(q("SELECT max(id) FROM orders")[0][0])
    # Orders spread evenly over the ids (and so over the 90 days), the same on both backends.
    picked = q(f"SELECT payment_uid, merchant_order_id FROM orders WHERE id % {n // 600} = 7")
    refs = [r[0] for r in q(f"SELECT bank_reference FROM orders WHERE bank_reference <> '' AND id % {n // 1200} = 11")]
    upstream = [r[0] for r in q(f"SELECT reference FROM upstream_references WHERE order_id % {n // 3000} = 13")]
    merchants = q("SELECT merchant_uid, count(*) AS c FROM orders GROUP BY merchant_uid ORDER BY c DESC")
    lo, hi = q("SELECT min(created_at), max(created_at) FROM orders")[0]
    if not args.sqlite:
        merchants = [(m, int(c)) for m, c in merchants]
    return {
        "payment_uid": [p for p, _ in picked],
        "merchant_order_id": [m for _, m in picked],
        "bank_reference": refs,
        "upstream_reference": upstream,
        "merchants": merchants,
        "span": (int(lo), int(hi)),
        "orders": n,
    }


def percentile(sorted_ms, p):
    k = min(len(sorted_ms) - 1, max(0, int(round(p / 100 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[k]


def run_kind(args, name, paths, check=None):
    """Sends every path (a few at once) and reports the latencies."""
    local = threading.local()
    rows = []

    def one(path):
        if not hasattr(local, "client"):
            local.client = Client(args.url, args.token)
        t = time.perf_counter()
        body = local.client.get(path)
        ms = (time.perf_counter() - t) * 1000
        data = json.loads(body)["data"]
        return ms, len(data["orders"]), data.get("searched_back_to") is not None

    # One warm-up pass over a few requests, not counted.
    for p in paths[: args.concurrency]:
        one(p)
    with ThreadPoolExecutor(args.concurrency) as ex:
        for ms, found, short in ex.map(one, paths):
            rows.append((ms, found, short))
    lat = sorted(ms for ms, _, _ in rows)
    found = [f for _, f, _ in rows]
    result = {
        "kind": name, "requests": len(lat), "p50": round(percentile(lat, 50), 1), "p95": round(percentile(lat, 95), 1),
        "p99": round(percentile(lat, 99), 1), "max": round(lat[-1], 1), "rows_mean": round(statistics.mean(found), 1),
        # Pages short because they read the server's window of orders (--search-window), not
        # because the orders ran out.
        "short_pages": sum(1 for _, _, short in rows if short),
    }
    if check:
        check(found)
    print(json.dumps(result), flush=True)
    return result


def deep_pages(args, filters, walks, pages):
    """Follows `next` for `pages` pages, `walks` times, and reports the latency of every page
    and of the last one."""
    client = Client(args.url, args.token)
    every, last = [], []
    for w in range(walks):
        base = filters[w % len(filters)]
        after = None
        for page in range(pages):
            path = "/octopus/admin/v1/orders?limit=50" + base + (f"&after={after}" if after else "")
            t = time.perf_counter()
            data = json.loads(client.get(path))["data"]
            ms = (time.perf_counter() - t) * 1000
            every.append(ms)
            after = data["next"]
            if after is None:
                raise RuntimeError(f"walk {base!r} ended after {page + 1} pages")
        last.append(ms)
    every.sort()
    last.sort()
    result = {"kind": f"deep page (following next {pages} pages, {walks} walks)", "requests": len(every),
              "p50": round(percentile(every, 50), 1), "p95": round(percentile(every, 95), 1),
              "p99": round(percentile(every, 99), 1), "max": round(every[-1], 1),
              "last_page_median": round(statistics.median(last), 1)}
    print(json.dumps(result), flush=True)
    return result


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                fields[key] = int(value.split()[0])  # kB
    return fields


def export(args, name, query, expect=None):
    """Streams orders.csv, sampling the server's resident memory while it runs."""
    # Reset the peak (VmHWM) to the current RSS, so the peak read afterwards is this export's.
    with open(f"/proc/{args.pid}/clear_refs", "w") as f:
        f.write("5")
    before = memory(args.pid)
    peak = [before["VmRSS"]]
    peak_anon = [before["RssAnon"]]
    done = threading.Event()

    def sample():
        while not done.is_set():
            m = memory(args.pid)
            peak.append(m["VmRSS"])
            peak_anon.append(m["RssAnon"])
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    u = urllib.parse.urlparse(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t = time.perf_counter()
    conn.request("GET", "/octopus/admin/v1/orders.csv?" + query, headers={"Authorization": f"Bearer {args.token}"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"export: HTTP {resp.status} {resp.read()[:300]!r}")
    lines = size = 0
    first_byte = None
    while True:
        chunk = resp.read1(1 << 16)
        if not chunk:
            break
        if first_byte is None:
            first_byte = time.perf_counter() - t
        size += len(chunk)
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - t
    done.set()
    sampler.join()
    after = memory(args.pid)
    rows = lines - 1
    if expect is not None and rows != expect:
        raise RuntimeError(f"export {name}: {rows} rows, expected {expect}")
    result = {"kind": f"export {name}", "rows": rows, "mb": round(size / 1e6, 1), "seconds": round(seconds, 1),
              "rows_per_s": int(rows / seconds), "first_byte_ms": round(first_byte * 1000, 1),
              "rss_before_mb": round(before["VmRSS"] / 1024, 1), "rss_peak_sampled_mb": round(max(peak) / 1024, 1),
              "hwm_mb": round(after["VmHWM"] / 1024, 1), "rss_after_mb": round(after["VmRSS"] / 1024, 1),
              "anon_before_mb": round(before["RssAnon"] / 1024, 1), "anon_peak_sampled_mb": round(max(peak_anon) / 1024, 1),
              "samples": len(peak)}
    print(json.dumps(result), flush=True)
    return result


def count(args, where):
    if args.sqlite:
        db = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True)
        return db.execute(f"SELECT count(*) FROM orders WHERE {where}").fetchone()[0]
    return int(psql(args.postgres, f"SELECT count(*) FROM orders WHERE {where}").strip())


def measure(args):
    s = samples_from(args)
    rng = random.Random(SEED + 2)
    n = args.requests
    enc = urllib.parse.quote
    page = "/octopus/admin/v1/orders?limit=50"
    big, big_count = s["merchants"][0]
    small, small_count = s["merchants"][-1]
    lo, hi = s["span"]

    def cycle(values):
        return [values[k % len(values)] for k in range(n)]

    def one_found(found):
        if min(found) < 1:
            raise RuntimeError("an id search found nothing")

    print(json.dumps({"orders": s["orders"], "big_merchant_orders": big_count, "small_merchant_orders": small_count,
                      "concurrency": args.concurrency}), flush=True)
    results = []
    kinds = [
        ("id: merchant_order_id", [f"{page}&q={enc(v)}" for v in cycle(s["merchant_order_id"])], one_found),
        ("id: payment_uid", [f"{page}&q={v}" for v in cycle(s["payment_uid"])], one_found),
        ("id: bank reference", [f"{page}&q={v}" for v in cycle(s["bank_reference"])], one_found),
        ("id: upstream reference", [f"{page}&q={v}" for v in cycle(s["upstream_reference"])], one_found),
        ("id: unknown", [f"{page}&q=nope-{k}" for k in range(n)], None),
        ("first page, no filter", [page] * n, None),
        ("merchant, big (half the orders)", [f"{page}&merchant_uid={big}"] * n, None),
        ("merchant, small (0.1%)", [f"{page}&merchant_uid={small}"] * n, None),
        ("status, common (completed)", [f"{page}&status=completed"] * n, None),
        ("status, rare (refund)", [f"{page}&status=refund"] * n, None),
        ("channel + status (failed)", [f"{page}&channel={c[0]}&status=failed" for c in cycle(CHANNELS)], None),
        ("channel + rare status (refund)", [f"{page}&channel={c[0]}&status=refund" for c in cycle(CHANNELS)], None),
        ("merchant small + status failed", [f"{page}&merchant_uid={small}&status=failed"] * n, None),
        ("merchant small + status completed", [f"{page}&merchant_uid={small}&status=completed"] * n, None),
        ("merchant big + rare status (preparing)", [f"{page}&merchant_uid={big}&status=preparing"] * n, None),
        ("id + merchant big (a merchant's own search)",
         [f"{page}&merchant_uid={big}&q={enc(v)}" for v in cycle(s["merchant_order_id"])], None),
        ("id + status completed", [f"{page}&status=completed&q={enc(v)}" for v in cycle(s["merchant_order_id"])], None),
        ("type expense + currency thb", [f"{page}&type=expense&currency=thb"] * n, None),
        ("amount range, wide (1000-5000 thb)", [f"{page}&currency=thb&amount_min=1000&amount_max=5000"] * n, None),
        # An exact amount, as an operator types it from a payer's screenshot: a few orders
        # in a million have it (the amounts of random orders).
        ("amount, exact (one order's)", [f"{page}&currency={c}&amount_min={a}&amount_max={a}"
                                         for a, c in cycle(amounts_of(args, s["payment_uid"][:100]))], one_found),
        ("date range, one day", [f"{page}&since={enc(rfc3339(d))}&until={enc(rfc3339(d + DAY_MS))}"
                                 for d in (rng.randint(lo, hi - DAY_MS) for _ in range(n))], None),
        ("date range + merchant big", [f"{page}&merchant_uid={big}&since={enc(rfc3339(d))}&until={enc(rfc3339(d + DAY_MS))}"
                                       for d in (rng.randint(lo, hi - DAY_MS) for _ in range(n))], None),
        ("test orders only", [f"{page}&test=true"] * n, None),
        # The merchant console's test book of the big merchant.
        ("test orders + merchant big", [f"{page}&merchant_uid={big}&test=true"] * n, None),
        # A filter no index serves that matches nothing: every order is read.
        ("currency nobody uses (vnd)", [f"{page}&currency=vnd"] * (n // 10), None),
        ("currency nobody uses + one day", [f"{page}&currency=vnd&since={enc(rfc3339(d))}&until={enc(rfc3339(d + DAY_MS))}"
                                            for d in (rng.randint(lo, hi - DAY_MS) for _ in range(n))], None),
    ]
    wanted = lambda name: not args.only or any(o in name for o in args.only.split(","))
    if args.part == "search":
        for name, paths, check in kinds:
            if wanted(name):
                results.append(run_kind(args, name, paths, check))
        if wanted("deep"):
            results.append(deep_pages(args, ["", f"&merchant_uid={big}", "&status=completed", "&channel=th-bank"],
                                      walks=max(1, n // 100), pages=100))
    else:
        # About a tenth of the orders, then all of them twice: the peak must not grow with the
        # rows, nor from one export to the next.
        since = hi - 9 * DAY_MS
        print(json.dumps({"kind": "server started", **{k: round(v / 1024, 1) for k, v in memory(args.pid).items()}}))
        results.append(export(args, "last 9 days", f"since={enc(rfc3339(since))}", count(args, f"created_at >= {since}")))
        results.append(export(args, "everything", "", s["orders"]))
        results.append(export(args, "everything, again", "", s["orders"]))


def amounts_of(args, uids):
    quoted = ",".join(f"'{u}'" for u in uids)
    sql = f"SELECT amount, currency FROM orders WHERE payment_uid IN ({quoted})"
    if args.sqlite:
        db = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True)
        return [(a, c) for a, c in db.execute(sql).fetchall()]
    return [tuple(line.split("\t")) for line in psql(args.postgres, sql).splitlines()]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fill")
    m = sub.add_parser("measure")
    for q in (f, m):
        g = q.add_mutually_exclusive_group(required=True)
        g.add_argument("--sqlite", help="the SQLite database file")
        g.add_argument("--postgres", help="the PostgreSQL URL")
    f.add_argument("--merchants", required=True, help="JSON list of the merchants (bench-search.sh writes it)")
    f.add_argument("--orders", type=int, default=1_000_000)
    m.add_argument("--url", required=True)
    m.add_argument("--token", required=True)
    m.add_argument("--pid", type=int, required=True, help="the gateway's process (its memory is sampled)")
    m.add_argument("--requests", type=int, default=500, help="requests per query kind")
    m.add_argument("--concurrency", type=int, default=4)
    m.add_argument("--part", choices=["search", "export"], required=True)
    m.add_argument("--only", help="comma-separated parts of query kind names to run")
    args = p.parse_args()
    fill(args) if args.command == "fill" else measure(args)


if __name__ == "__main__":
    main()
