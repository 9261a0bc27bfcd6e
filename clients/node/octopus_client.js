#!/usr/bin/env node
// A small reference client of the Octopus merchant API, Node.js standard library only (Node 18+).
//
// Why it exists: merchants integrate in many languages; this file shows, in one place that
// runs, how to sign requests exactly as docs/api.md says, how to read the gateway's error
// answers as typed errors, and how to verify and acknowledge callbacks as docs/callbacks.md
// says. Copy it into a project (`const octopus = require("./octopus_client.js")`), or read it
// as the worked example.
//
//   node octopus_client.js vectors  [--vectors PATH]    # signing vectors only
//   node octopus_client.js selftest [--vectors PATH]    # vectors + a real gateway
//   node octopus_client.js receive --port 8000          # a callback receiver
//
// The gateway and key come from the environment: OCTOPUS_URL, OCTOPUS_API_KEY,
// OCTOPUS_API_SECRET, OCTOPUS_MERCHANT_UID (a test key, `ock_test_...`, for the self-test).
//
// Requests go through node:http / node:https rather than fetch: fetch adds browser headers
// (Sec-Fetch-Mode, ...) and follows redirects, and a reference client should send exactly
// what it signed and nothing else.

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const path = require("node:path");

// ---------------------------------------------------------------------------------------------
// Signing (docs/api.md "Authentication and signing")
// ---------------------------------------------------------------------------------------------

const STRING_TOKEN = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITE_SPACE = /[ \t\n\r]*/y;

/**
 * The top-level fields of a JSON body text as [key, value text] pairs. Strings are taken as
 * decoded from JSON (`\/` is `/`); numbers keep their literal text (`100.50` stays `100.50`:
 * JSON.parse would make it 100.5). Any other value (true, null, an object) is refused by the
 * gateway, so it cannot be signed here either. Throws on anything that is not such an object.
 */
function fieldsOf(body) {
  let at = 0;
  const skip = () => {
    WHITE_SPACE.lastIndex = at;
    WHITE_SPACE.exec(body);
    at = WHITE_SPACE.lastIndex;
  };
  const token = (pattern) => {
    pattern.lastIndex = at;
    const m = pattern.exec(body);
    if (!m) return null;
    at = pattern.lastIndex;
    return m[0];
  };
  const expect = (ch) => {
    skip();
    if (body[at] !== ch) throw new SyntaxError(`expected '${ch}' at ${at}`);
    at += 1;
  };
  const fields = new Map();
  expect("{");
  skip();
  if (body[at] === "}") {
    at += 1;
  } else {
    for (;;) {
      skip();
      const keyToken = token(STRING_TOKEN);
      if (keyToken === null) throw new SyntaxError(`expected a key at ${at}`);
      const key = JSON.parse(keyToken);
      expect(":");
      skip();
      let value = token(STRING_TOKEN);
      if (value !== null) {
        value = JSON.parse(value);
      } else {
        value = token(NUMBER_TOKEN);
        if (value === null) throw new TypeError(`the '${key}' field must be a string or a number`);
      }
      if (fields.has(key)) throw new SyntaxError(`the '${key}' field appears more than once`);
      fields.set(key, value);
      skip();
      if (body[at] === ",") {
        at += 1;
        continue;
      }
      expect("}");
      break;
    }
  }
  skip();
  if (at !== body.length) throw new SyntaxError(`unexpected text at ${at}`);
  return fields;
}

/** Sorts keys by their UTF-8 bytes (JavaScript's own sort compares UTF-16 units). */
function byUtf8(a, b) {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The canonical string of body, the exact JSON text sent. */
function canonicalString(body) {
  const fields = fieldsOf(body);
  return [...fields.keys()]
    .sort(byUtf8)
    .map((k) => `${k}=${fields.get(k)}`)
    .join("&");
}

/** The OC-Signature of body (lowercase hex HMAC-SHA256 of its canonical string). */
function sign(body, apiSecret) {
  return crypto
    .createHmac("sha256", Buffer.from(apiSecret, "utf8"))
    .update(canonicalString(body), "utf8")
    .digest("hex");
}

/**
 * Whether rawBody (a callback's body, a Buffer or string as received) carries a valid
 * Oc-Signature. Never throws; compares in constant time.
 */
function verifyCallback(rawBody, signatureHeader, apiSecret) {
  if (typeof signatureHeader !== "string") return false;
  let expected;
  try {
    const text = Buffer.isBuffer(rawBody)
      ? new TextDecoder("utf-8", { fatal: true }).decode(rawBody)
      : rawBody;
    expected = Buffer.from(sign(text, apiSecret), "utf8");
  } catch (_) {
    return false;
  }
  const given = Buffer.from(signatureHeader.trim().toLowerCase(), "utf8");
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// ---------------------------------------------------------------------------------------------
// Errors (docs/api.md "Errors")
// ---------------------------------------------------------------------------------------------

/** Any refusal or failure: `status` is the HTTP status (0: no answer), `data` the answer's data. */
class OctopusError extends Error {
  constructor(message, status = 0, data = undefined) {
    super(status ? `HTTP ${status}: ${message}` : message);
    this.name = this.constructor.name;
    this.detail = message;
    this.status = status;
    this.data = data;
  }
}
/** 401: unknown, revoked or expired key, wrong signature, or a merchant_uid not the key's. */
class AuthenticationError extends OctopusError {}
/** 403: correctly signed, from an address the key's IP allowlist leaves out. */
class ForbiddenError extends OctopusError {}
/** 400 (also 413): a missing or malformed field; `detail` names it. */
class ValidationError extends OctopusError {}
/** 404: no such order for this merchant. */
class NotFoundError extends OctopusError {}
/** 409: merchant_order_id reused with other parameters, or a change the order cannot make. */
class ConflictError extends OctopusError {}
/** 422: a valid request refused for a business reason (balance, blocklist, no channel). */
class RefusedError extends OctopusError {}
/** 429: over a rate limit; `retryAfter` seconds (the Retry-After header). */
class RateLimitedError extends OctopusError {
  constructor(message, status, data, retryAfter) {
    super(message, status, data);
    this.retryAfter = retryAfter;
  }
}
/** 5xx, or an answer that is not the documented shape. */
class ServerError extends OctopusError {}
/** No answer: the request may or may not have arrived (order/new retries are idempotent). */
class TransportError extends OctopusError {}

const BY_STATUS = {
  400: ValidationError,
  401: AuthenticationError,
  403: ForbiddenError,
  404: NotFoundError,
  409: ConflictError,
  413: ValidationError,
  422: RefusedError,
  429: RateLimitedError,
};

function errorFromAnswer(status, text, headers) {
  let answer;
  try {
    answer = JSON.parse(text);
  } catch (_) {
    answer = undefined;
  }
  if (!answer || typeof answer !== "object" || answer.result !== "error") {
    return new ServerError(`unexpected answer: ${JSON.stringify(text.slice(0, 200))}`, status, answer);
  }
  const data = answer.data;
  const message =
    data && typeof data === "object" ? String(data.details || data.error || JSON.stringify(data)) : String(data);
  const Cls = BY_STATUS[status] || (status >= 500 ? ServerError : OctopusError);
  if (Cls === RateLimitedError) {
    return new RateLimitedError(message, status, data, parseInt(headers["retry-after"] || "1", 10) || 1);
  }
  return new Cls(message, status, data);
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/** One request, no redirects followed: resolves {status, headers, text}. */
function request(method, url, { headers = {}, body = null, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const transport = target.protocol === "https:" ? https : http;
    const data = body === null ? null : Buffer.from(body, "utf8");
    const req = transport.request(
      target,
      { method, headers: data ? { ...headers, "Content-Length": data.length } : headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") })
        );
        res.on("error", reject);
      }
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** An amount as the string sent. A JS number is refused: 0.1 + 0.2 is not 0.3. */
function amountText(amount) {
  if (typeof amount === "string") return amount;
  if (typeof amount === "bigint") return amount.toString();
  throw new TypeError("amounts must be strings (or BigInt), never JavaScript numbers");
}

/** The merchant API of one gateway with one API key. Methods resolve the answer's `data`. */
class OctopusClient {
  constructor(baseUrl, apiKey, apiSecret, merchantUid, { timeoutMs = 15000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey;
    this.apiSecret = apiSecret;
    this.merchantUid = merchantUid;
    this.timeoutMs = timeoutMs;
  }

  /** Signs and sends fields (an object of strings) to path; resolves `data`. */
  async post(apiPath, fields) {
    const body = JSON.stringify(fields);
    // Sign the text that is sent: what is signed is what the gateway reads.
    const headers = {
      "Content-Type": "application/json",
      "OC-Key": this.apiKey,
      "OC-Signature": sign(body, this.apiSecret),
      "User-Agent": "octopus-client-node/1",
    };
    let answer;
    try {
      answer = await request("POST", this.baseUrl + apiPath, { headers, body, timeoutMs: this.timeoutMs });
    } catch (e) {
      throw new TransportError(`no answer from ${this.baseUrl}: ${e.message}`);
    }
    if (answer.status === 200) {
      let parsed;
      try {
        parsed = JSON.parse(answer.text);
      } catch (_) {
        throw new ServerError(`unexpected answer: ${answer.text.slice(0, 200)}`, 200);
      }
      if (parsed && parsed.result === "success") return parsed.data;
    }
    throw errorFromAnswer(answer.status, answer.text, answer.headers);
  }

  /** order/new with the given fields (merchant_uid and response_type=json filled in; fields
   * that are undefined or null are left out). */
  newOrder(fields) {
    const sent = { merchant_uid: this.merchantUid, response_type: "json" };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || v === null) continue;
      sent[k] = k === "amount" ? amountText(v) : String(v);
    }
    return this.newOrderRaw(sent);
  }

  newOrderRaw(fields) {
    return this.post("/octopus/api/order/new", fields);
  }

  /** A deposit: resolves {payment: {...}, payment_url}. extra: notify_url, redirect_url, ... */
  createDeposit({ merchantOrderId, amount, currency, payment, country, ...extra }) {
    return this.newOrder({
      transaction_type: "income",
      merchant_order_id: merchantOrderId,
      amount,
      currency,
      payment,
      country,
      ...extra,
    });
  }

  /** A payout: resolves {payment: {...}}. */
  createPayout({ merchantOrderId, amount, currency, payment, country, to, toName, toBankName, ...extra }) {
    return this.newOrder({
      transaction_type: "expense",
      merchant_order_id: merchantOrderId,
      amount,
      currency,
      payment,
      country,
      to,
      to_name: toName,
      to_bank_name: toBankName,
      ...extra,
    });
  }

  /** order/get by merchantOrderId (or paymentUid). */
  getOrder({ merchantOrderId, paymentUid } = {}) {
    if ((merchantOrderId === undefined) === (paymentUid === undefined)) {
      throw new TypeError("give merchantOrderId or paymentUid");
    }
    const fields = { merchant_uid: this.merchantUid };
    if (merchantOrderId !== undefined) fields.merchant_order_id = merchantOrderId;
    else fields.payment_uid = paymentUid;
    return this.post("/octopus/api/order/get", fields);
  }

  /** {merchant_name, balances: {mmk: {available, held, total}}} ("test":"1" for a test key). */
  getMerchantBalance() {
    return this.post("/octopus/api/ledger/get_merchant_balance", { merchant_uid: this.merchantUid });
  }

  /** The available balance in every supported currency, six decimals. */
  getMerchantLedger() {
    return this.post("/octopus/api/ledger/get_merchant_ledger", { merchant_uid: this.merchantUid });
  }
}

// ---------------------------------------------------------------------------------------------
// Callback receiver (docs/callbacks.md)
// ---------------------------------------------------------------------------------------------

/**
 * A tiny HTTP server that takes the gateway's callbacks. secrets: {apiKey: apiSecret} (a
 * callback is signed with the secret of the key in its `signature_key`). onCallback(fields)
 * is awaited for each verified callback; it must store what it needs — a rejection makes the
 * answer 500, so the gateway retries. Verified callbacks are answered 200 `success` (the
 * acknowledgement the gateway expects); others 400/401, which it counts as failed attempts.
 * Callbacks are at least once: credit once per order_uid and payment_status.
 */
class CallbackReceiver {
  constructor(secrets, onCallback = async () => {}, { host = "127.0.0.1", port = 0, path = "/octopus/callback" } = {}) {
    this.secrets = new Map(Object.entries(secrets));
    this.onCallback = onCallback;
    this.host = host;
    this.port = port;
    this.path = path;
    this.received = [];
    this.refused = [];
    this.waiters = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  get url() {
    return `http://${this.host}:${this.server.address().port}${this.path}`;
  }

  start() {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, this.host, () => resolve(this));
    });
  }

  stop() {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }

  handle(req, res) {
    const answer = (status, text) => {
      res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
      res.end(text);
    };
    if (req.method !== "POST" || new URL(req.url, "http://x").pathname !== this.path) {
      req.resume();
      return answer(404, "not found");
    }
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      let fields;
      try {
        fields = Object.fromEntries(fieldsOf(new TextDecoder("utf-8", { fatal: true }).decode(raw)));
      } catch (_) {
        return this.refuse(answer, 400, "not a JSON object of strings", raw);
      }
      const secret = this.secrets.get(fields.signature_key);
      if (secret === undefined || !verifyCallback(raw, req.headers["oc-signature"], secret)) {
        return this.refuse(answer, 401, "invalid signature", raw);
      }
      try {
        await this.onCallback(fields);
      } catch (e) {
        return this.refuse(answer, 500, `not stored: ${e.message}`, raw);
      }
      this.received.push(fields);
      this.wake();
      answer(200, "success");
    });
  }

  refuse(answer, status, reason, raw) {
    this.refused.push({ reason, raw });
    this.wake();
    answer(status, reason);
  }

  wake() {
    for (const w of this.waiters) w();
  }

  /** The first verified callback matching predicate, waiting up to timeoutMs; null if none. */
  waitFor(predicate, timeoutMs) {
    return new Promise((resolve) => {
      const look = () => {
        const found = this.received.find(predicate);
        if (found) {
          done(found);
        }
      };
      const done = (value) => {
        clearTimeout(timer);
        this.waiters.delete(look);
        resolve(value);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      this.waiters.add(look);
      look();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Sandbox helper, self-test and command line
// ---------------------------------------------------------------------------------------------

/**
 * Presses the sandbox cashier page's Pay (or Fail) as a browser would: reads the page's
 * token, posts outcome and token to <paymentUrl>/simulate. Resolves the HTTP status (303 when
 * the order changed).
 */
async function payInSandbox(paymentUrl, outcome = "completed") {
  const page = await request("GET", paymentUrl);
  const m = /<meta name="csrf-token" content="([0-9a-f]+)"/.exec(page.text);
  if (page.status !== 200 || !m) throw new ServerError(`the cashier page has no token (HTTP ${page.status})`, page.status);
  const form = new URLSearchParams({ outcome, token: m[1] }).toString();
  const posted = await request("POST", paymentUrl + "/simulate", {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  return posted.status;
}

const CALLBACK_EXAMPLE_BODY =
  '{"accounting_type":"receive","amount":"100.00","currency":"mmk","fee":"2.50",' +
  '"final_amount":"100.00","floating_amount":"0.00","merchant_id":"","merchant_order_id":"123qq",' +
  '"merchant_uid":"Merchant_UID","notify_url":"https://example.com/notify",' +
  '"order_uid":"5f0c1e9a7b3d4c2e8a6f1b0d9c8e7a65","payment":"myanmar","payment_fail_reason":"",' +
  '"payment_status":"completed","signature_key":"ock_2p6Hd2v7XQVhgZrvcLYrKEYh","tenant":"octopus",' +
  '"transaction_type":"income"}';
const CALLBACK_EXAMPLE_SIGNATURE = "353c9873ba881cf7e136c75e09b97d5ab6d7635e06257e37d32d647e071b3f6d";

class Checks {
  constructor() {
    this.failures = 0;
  }
  check(ok, what) {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) this.failures += 1;
    return ok;
  }
  async rejects(Cls, status, what, call) {
    try {
      await call();
    } catch (e) {
      if (!(e instanceof OctopusError)) throw e;
      return this.check(e.constructor === Cls && e.status === status, `${what}: ${e.name} ${e.status} ${JSON.stringify(e.detail)}`);
    }
    return this.check(false, `${what}: no error`);
  }
}

function checkVectors(file, checks) {
  const vectors = JSON.parse(fs.readFileSync(file, "utf8")).vectors;
  for (const v of vectors) {
    checks.check(canonicalString(v.body) === v.canonical && sign(v.body, v.secret) === v.signature, `vector ${v.name}`);
  }
  checks.check(vectors.length > 0, `${vectors.length} vectors read from ${file}`);
  const body = CALLBACK_EXAMPLE_BODY;
  const sig = CALLBACK_EXAMPLE_SIGNATURE;
  checks.check(verifyCallback(Buffer.from(body), sig, "API_SECRET"), "callback example verifies");
  checks.check(verifyCallback(body, sig.toUpperCase(), "API_SECRET"), "callback example verifies in upper case");
  checks.check(!verifyCallback(body.replace("100.00", "900.00"), sig, "API_SECRET"), "a changed callback does not verify");
  checks.check(!verifyCallback(body, "zz", "API_SECRET"), "a malformed signature does not verify");
  checks.check(!verifyCallback("[1]", sig, "API_SECRET"), "a body that is not an object does not verify");
  checks.check(canonicalString('{"a":100.50}') === "a=100.50", "a number keeps its literal text");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** get() until it resolves something truthy, or null after timeoutMs. */
async function poll(timeoutMs, get) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value) return value;
    if (Date.now() >= deadline) return null;
    await sleep(100);
  }
}

const runId = () => crypto.randomBytes(4).toString("hex");

async function checkServer(client, checks) {
  const run = runId();
  const moid = `node-${run}-1`;
  const deposit = { merchantOrderId: moid, amount: "100.00", currency: "mmk", payment: "myanmar", country: "myanmar" };
  const created = await client.createDeposit(deposit);
  const p = created.payment;
  checks.check(p.payment_status === "pending" && p.test === "1" && !!created.payment_url, `test deposit created: ${p.payment_uid} pending, test=1`);
  const again = await client.createDeposit({ ...deposit, amount: "100.0" });
  checks.check(again.payment.payment_uid === p.payment_uid, "the same order sent again is the same order (100.0 = 100.00)");
  const got = await client.getOrder({ merchantOrderId: moid });
  checks.check(got.payment_uid === p.payment_uid && got.amount === "100.00", "order/get by merchant_order_id finds it");
  const balance = await client.getMerchantBalance();
  checks.check(typeof balance.balances === "object" && balance.test === "1", `get_merchant_balance answers the test book: ${JSON.stringify(balance.balances)}`);
  const ledger = await client.getMerchantLedger();
  checks.check(["cny", "usd", "thb", "vnd", "php", "sgd", "idr", "bdt", "mmk"].every((c) => ledger[c]), "get_merchant_ledger lists every currency");

  const wrong = new OctopusClient(client.baseUrl, client.apiKey, client.apiSecret + "x", client.merchantUid);
  await checks.rejects(AuthenticationError, 401, "a bad signature", () => wrong.getOrder({ merchantOrderId: moid }));
  await checks.rejects(ValidationError, 400, "a bad amount", () => client.createDeposit({ ...deposit, merchantOrderId: `node-${run}-bad`, amount: "12.345" }));
  await checks.rejects(NotFoundError, 404, "an unknown order", () => client.getOrder({ merchantOrderId: `node-${run}-none` }));
  await checks.rejects(ConflictError, 409, "the same merchant_order_id with another amount", () => client.createDeposit({ ...deposit, amount: "101.00" }));
  try {
    await client.createDeposit({ ...deposit, merchantOrderId: `node-${run}-f`, amount: 1.5 });
    checks.check(false, "a number amount is refused before sending");
  } catch (e) {
    checks.check(e instanceof TypeError, "a number amount is refused before sending");
  }
}

async function checkCallbacks(client, checks, timeoutMs = 20000) {
  const run = runId();
  const moid = `node-${run}-cb`;
  const receiver = await new CallbackReceiver({ [client.apiKey]: client.apiSecret }).start();
  try {
    const forged = CALLBACK_EXAMPLE_BODY.replace("ock_2p6Hd2v7XQVhgZrvcLYrKEYh", client.apiKey);
    const f = await request("POST", receiver.url, {
      headers: { "Content-Type": "application/json", "Oc-Signature": CALLBACK_EXAMPLE_SIGNATURE },
      body: forged,
    });
    checks.check(f.status === 401 && receiver.received.length === 0, `the receiver refuses a forged callback (${f.status} ${f.text})`);

    const mmk = (b) => (b.balances.mmk ? b.balances.mmk.available : "0");
    const before = mmk(await client.getMerchantBalance());
    const created = await client.createDeposit({
      merchantOrderId: moid, amount: "250.00", currency: "mmk", payment: "myanmar", country: "myanmar", notify_url: receiver.url,
    });
    const uid = created.payment.payment_uid;
    const status = await payInSandbox(created.payment_url);
    checks.check(status === 303, `sandbox Pay on the cashier page answered ${status}`);
    const fields = await receiver.waitFor((x) => x.merchant_order_id === moid && x.payment_status === "completed", timeoutMs);
    checks.check(
      fields !== null && fields.order_uid === uid && fields.final_amount === "250.00" && fields.test === "1",
      `a correctly signed 'completed' callback arrived for ${moid} (test=1, final_amount 250.00)`
    );
    const acked = await poll(timeoutMs, async () => (await client.getOrder({ paymentUid: uid })).notify_status === "completed");
    checks.check(!!acked, "the gateway took the receiver's 'success' as acknowledgement (notify_status completed)");
    // Compared without floats: ledger amounts have six decimals, so their digits are integers.
    const units = (s) => BigInt(s.replace(".", ""));
    const after = await poll(timeoutMs, async () => {
      const a = mmk(await client.getMerchantBalance());
      return units(a) > units(before) ? a : null;
    });
    checks.check(after !== null, `the test balance grew: ${before} -> ${after} mmk`);
  } finally {
    await receiver.stop();
  }
}

function clientFromEnv() {
  const names = ["OCTOPUS_URL", "OCTOPUS_API_KEY", "OCTOPUS_API_SECRET", "OCTOPUS_MERCHANT_UID"];
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length) {
    console.error(`set ${missing.join(", ")}`);
    process.exit(2);
  }
  const e = process.env;
  return new OctopusClient(e.OCTOPUS_URL, e.OCTOPUS_API_KEY, e.OCTOPUS_API_SECRET, e.OCTOPUS_MERCHANT_UID);
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

async function main(args) {
  const command = args[0];
  const vectors = option(args, "--vectors", process.env.OCTOPUS_VECTORS || path.join(__dirname, "..", "..", "vectors", "signing.json"));
  if (command === "receive") {
    const key = process.env.OCTOPUS_API_KEY;
    const secret = process.env.OCTOPUS_API_SECRET;
    if (!key || !secret) {
      console.error("set OCTOPUS_API_KEY and OCTOPUS_API_SECRET");
      return 2;
    }
    // --fail-first N: answer the first N verified callbacks 500, to watch the gateway retry.
    let failing = parseInt(option(args, "--fail-first", "0"), 10);
    const show = async (fields) => {
      if (failing > 0) {
        failing -= 1;
        console.log(`answering 500 (--fail-first): ${fields.merchant_order_id} ${fields.payment_status}`);
        throw new Error("--fail-first");
      }
      console.log(JSON.stringify(fields));
    };
    const receiver = new CallbackReceiver({ [key]: secret }, show, {
      host: option(args, "--host", "127.0.0.1"),
      port: parseInt(option(args, "--port", "8000"), 10),
    });
    await receiver.start();
    console.log(`receiving callbacks at ${receiver.url}`);
    return new Promise(() => {});
  }
  if (command !== "vectors" && command !== "selftest") {
    console.error("usage: node octopus_client.js vectors|selftest [--vectors PATH] | receive [--host H] [--port P] [--fail-first N]");
    return 2;
  }
  const checks = new Checks();
  checkVectors(vectors, checks);
  if (command === "selftest") {
    const client = clientFromEnv();
    try {
      await checkServer(client, checks);
      await checkCallbacks(client, checks);
    } catch (e) {
      if (!(e instanceof OctopusError)) throw e;
      checks.check(false, `unexpected ${e.name}: ${e.message}`);
    }
  }
  console.log(`node: ${checks.failures} failure(s)`);
  return checks.failures ? 1 : 0;
}

module.exports = {
  sign,
  canonicalString,
  verifyCallback,
  payInSandbox,
  OctopusClient,
  CallbackReceiver,
  OctopusError,
  AuthenticationError,
  ForbiddenError,
  ValidationError,
  NotFoundError,
  ConflictError,
  RefusedError,
  RateLimitedError,
  ServerError,
  TransportError,
};

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    }
  );
}
