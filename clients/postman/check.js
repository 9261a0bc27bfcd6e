#!/usr/bin/env node
// Checks the Postman collection (octopus.postman_collection.json) without Postman.
//
// Why it exists: the collection's pre-request script signs merchant API requests, and a
// signing script nobody ran is a 401 waiting for the first merchant who imports it. This runs
// the script taken from the collection in a `vm` sandbox with a stand-in for Postman's `pm`
// and, as require("crypto-js"), a CryptoJS built on node:crypto (HmacSHA256 and enc.Hex, what
// the script uses), against
// every vector of vectors/signing.json; then, given a gateway, sends the collection's own
// order/new and order/get requests, signed by the script, and one admin request with its
// bearer token, over real HTTP. Node 20, standard library only.
//
//   node clients/postman/check.js [--collection PATH] [--vectors PATH]
//
// With OCTOPUS_URL, OCTOPUS_API_KEY (a test key), OCTOPUS_API_SECRET, OCTOPUS_MERCHANT_UID and
// OCTOPUS_ADMIN_TOKEN (a viewer or better) set it also checks against that gateway;
// clients/run.sh does this against a fresh one.

"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const reference = require(path.join(__dirname, "..", "node", "octopus_client.js"));

// ---------------------------------------------------------------------------------------------
// Postman's side, as far as the script uses it
// ---------------------------------------------------------------------------------------------

/** CryptoJS as the script calls it: HmacSHA256(message, key) over UTF-8, .toString(enc.Hex). */
const CryptoJS = {
  enc: { Hex: { stringify: (hex) => hex } },
  HmacSHA256(message, key) {
    if (typeof message !== "string" || typeof key !== "string") {
      throw new TypeError("this CryptoJS stand-in takes a string message and key");
    }
    const hex = crypto.createHmac("sha256", Buffer.from(key, "utf8")).update(message, "utf8").digest("hex");
    return {
      toString(encoder) {
        // Like a CryptoJS WordArray: hex by default. Nothing else is provided here.
        if (encoder !== undefined && encoder !== CryptoJS.enc.Hex) throw new Error("only CryptoJS.enc.Hex is provided");
        return hex;
      },
    };
  },
};

/** Postman's variable replacement: {{name}} from variables, a few {{$dynamic}} ones; others kept. */
function replaceIn(text, variables) {
  return String(text).replace(/\{\{([^{}]+)\}\}/g, (whole, name) => {
    if (name === "$timestamp") return String(Math.floor(Date.now() / 1000));
    if (name === "$guid" || name === "$randomUUID") return crypto.randomUUID();
    return Object.prototype.hasOwnProperty.call(variables, name) ? String(variables[name]) : whole;
  });
}

/** A header list with PropertyList's case-insensitive has/get/upsert. */
class Headers {
  constructor(list) {
    this.list = (list || []).map((h) => ({ ...h }));
  }
  find(key) {
    return this.list.find((h) => h.key.toLowerCase() === String(key).toLowerCase());
  }
  has(key) {
    return this.find(key) !== undefined;
  }
  get(key) {
    const h = this.find(key);
    return h ? h.value : undefined;
  }
  upsert(header) {
    const h = this.find(header.key);
    if (h) Object.assign(h, header);
    else this.list.push({ ...header });
  }
}

/**
 * Runs script as Postman runs a pre-request script for item's request with variables, and
 * returns what the request then is (headers, body text), what the script logged, and what it
 * threw.
 */
function runPrerequest(script, request, variables) {
  const headers = new Headers(request.header);
  const body = request.body ? { ...request.body } : undefined;
  const logged = [];
  const pm = {
    request: { method: request.method, headers, body },
    variables: { replaceIn: (t) => replaceIn(t, variables), get: (n) => variables[n] },
    collectionVariables: { get: (n) => variables[n], set: (n, v) => (variables[n] = v) },
  };
  const say = (...a) => logged.push(a.join(" "));
  const console_ = { log: say, info: say, warn: say, error: say };
  let error = null;
  try {
    const require_ = (name) => {
      if (name !== "crypto-js") throw new Error(`the sandbox here has no module '${name}'`);
      return CryptoJS;
    };
    vm.runInNewContext(script, { pm, require: require_, console: console_ }, { filename: "prerequest.js", timeout: 1000 });
  } catch (e) {
    error = e;
  }
  return { headers, body: body ? body.raw : undefined, logged, error };
}

/** The headers Postman would send: enabled ones, variables resolved, plus the item's auth. */
function sentHeaders(headers, auth, variables) {
  const out = {};
  for (const h of headers.list) {
    if (!h.disabled) out[h.key] = replaceIn(h.value, variables);
  }
  if (auth && auth.type === "bearer") {
    const token = auth.bearer.find((a) => a.key === "token");
    out.Authorization = "Bearer " + replaceIn(token.value, variables);
  }
  return out;
}

/** The auth a request goes out with: its own, else its folder's, else the collection's. */
function authOf(collection, folder, item) {
  return item.request.auth || folder.auth || collection.auth || null;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

class Checks {
  constructor() {
    this.passed = 0;
    this.failed = 0;
  }
  check(ok, what) {
    console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
    if (ok) this.passed += 1;
    else this.failed += 1;
    return ok;
  }
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

function requests(collection) {
  const out = [];
  for (const folder of collection.item) {
    for (const item of folder.item || []) out.push({ folder, item });
  }
  return out;
}

function find(collection, method, apiPath) {
  const wanted = apiPath.split("/").filter(Boolean).map((s) => (s.startsWith("{") ? ":" + s.slice(1, -1) : s));
  return requests(collection).find(
    ({ item }) => item.request.method === method.toUpperCase() && item.request.url.path.join("/") === wanted.join("/")
  );
}

function prerequestScript(collection) {
  const events = (collection.event || []).filter((e) => e.listen === "prerequest");
  if (events.length !== 1) throw new Error(`the collection has ${events.length} pre-request scripts, not one`);
  const exec = events[0].script.exec;
  return Array.isArray(exec) ? exec.join("\n") : exec;
}

function checkShape(collection, checks) {
  checks.check(
    collection.info && collection.info.schema === "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    "the collection is a Postman Collection v2.1"
  );
  const names = (collection.variable || []).map((v) => v.key);
  const wanted = ["base_url", "api_key", "api_secret", "merchant_uid", "admin_token"];
  checks.check(wanted.every((n) => names.includes(n)), `collection variables ${wanted.join(", ")}`);
  const auth = collection.auth;
  checks.check(
    auth && auth.type === "bearer" && auth.bearer.some((a) => a.key === "token" && a.value === "{{admin_token}}"),
    "the collection's auth is the bearer token {{admin_token}}"
  );
  const all = requests(collection);
  const merchant = all.filter(({ item }) => item.request.url.path.slice(0, 2).join("/") === "octopus/api");
  checks.check(
    merchant.length > 0 &&
      merchant.every(({ item }) => {
        const h = new Headers(item.request.header);
        return h.has("OC-Signature") && h.has("OC-Key") && item.request.auth && item.request.auth.type === "noauth" && item.request.body;
      }),
    `all ${merchant.length} merchant API requests carry OC-Key/OC-Signature and a body, without the bearer token`
  );
  const unsigned = all.filter(({ item }) => !new Headers(item.request.header).has("OC-Signature"));
  checks.check(
    unsigned.length > 0 && unsigned.every(({ item }) => item.request.url.path.slice(0, 2).join("/") !== "octopus/api"),
    `the ${unsigned.length} other requests are not signed`
  );
}

function checkVectors(script, collection, vectorsFile, checks) {
  const vectors = JSON.parse(fs.readFileSync(vectorsFile, "utf8")).vectors;
  checks.check(vectors.length > 0, `${vectors.length} vectors read from ${vectorsFile}`);
  // Each vector's body in the collection's own order/new request, as a merchant would paste it.
  const template = find(collection, "post", "/octopus/api/order/new").item.request;
  for (const v of vectors) {
    const request = { ...template, body: { ...template.body, raw: v.body } };
    const r = runPrerequest(script, request, { api_key: "ock_vector", api_secret: v.secret });
    const logged = r.logged.find((l) => l.startsWith("Octopus canonical string: "));
    checks.check(
      r.error === null &&
        r.headers.get("OC-Signature") === v.signature &&
        logged === "Octopus canonical string: " + v.canonical &&
        r.headers.get("OC-Key") === "ock_vector" &&
        r.headers.get("Content-Type") === "application/json" &&
        r.body === v.body,
      `vector ${v.name}: OC-Signature ${r.headers.get("OC-Signature")}${r.error ? ` (threw ${r.error.message})` : ""}`
    );
  }

  const vars = { api_key: "ock_x", api_secret: "API_SECRET", merchant_uid: "M1" };
  // Variables, and dynamic ones, are resolved once and what is signed is the body sent.
  const r = runPrerequest(script, template, vars);
  checks.check(
    r.error === null &&
      !/\{\{/.test(r.body) &&
      r.body.includes('"merchant_uid": "M1"') &&
      r.headers.get("OC-Signature") === reference.sign(r.body, "API_SECRET"),
    "order/new: variables resolved into the body, signed as the Node client signs that body"
  );
  // Keys in byte order of UTF-8: U+FFFD (EF BF BD) before U+1F600 (F0 9F 98 80), which a
  // plain JavaScript sort (UTF-16 units: FFFD after D83D) would put the other way round.
  const astral = '{"\u{1F600}":"a","\uFFFD":"b","amount":100.50}';
  const a = runPrerequest(script, { ...template, body: { ...template.body, raw: astral } }, vars);
  checks.check(
    a.headers.get("OC-Signature") === reference.sign(astral, "API_SECRET") &&
      a.logged.includes("Octopus canonical string: amount=100.50&\uFFFD=b&\u{1F600}=a"),
    "keys sorted in UTF-8 byte order, a number as its literal text"
  );
  const bad = runPrerequest(script, { ...template, body: { ...template.body, raw: '{"amount":true}' } }, vars);
  checks.check(
    bad.error === null && bad.headers.get("OC-Signature") === "unsigned",
    "a body the gateway refuses (a boolean value) goes unsigned, for the gateway's 400 to explain"
  );
  const missing = runPrerequest(script, template, { api_key: "ock_x", merchant_uid: "M1" });
  checks.check(
    missing.error !== null && /api_secret/.test(missing.error.message),
    `no api_secret: the script says so (${missing.error && missing.error.message})`
  );
  const admin = find(collection, "get", "/octopus/admin/v1/orders").item.request;
  const untouched = runPrerequest(script, admin, vars);
  checks.check(
    untouched.error === null && !untouched.headers.has("OC-Signature") && !untouched.headers.has("OC-Key"),
    "an admin request is left unsigned"
  );
}

async function send(url, method, headers, body) {
  const answer = await fetch(url, { method, headers, body, redirect: "manual" });
  const text = await answer.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (_) {
    // not JSON: reported below as the text
  }
  return { status: answer.status, text, json };
}

/** Signs item's request with the collection's script and sends it; returns the answer. */
async function sendSigned(script, item, variables, body) {
  const request = body === undefined ? item.request : { ...item.request, body: { ...item.request.body, raw: body } };
  const r = runPrerequest(script, request, variables);
  if (r.error) throw r.error;
  const url = replaceIn(item.request.url.raw, variables);
  const answer = await send(url, item.request.method, sentHeaders(r.headers, item.request.auth, variables), r.body);
  return { ...answer, body: r.body };
}

function checkDocument(collection, document, checks) {
  let operations = 0;
  const missing = [];
  for (const [apiPath, pathItem] of Object.entries(document.paths)) {
    for (const method of ["get", "put", "post", "delete", "patch"]) {
      if (!pathItem[method]) continue;
      operations += 1;
      if (!find(collection, method, apiPath)) missing.push(`${method.toUpperCase()} ${apiPath}`);
    }
  }
  checks.check(
    missing.length === 0 && requests(collection).length === operations,
    `one request per operation of /octopus/openapi.json (${operations})${missing.length ? `; missing ${missing.join(", ")}` : ""}`
  );
}

async function checkServer(script, collection, checks) {
  const e = process.env;
  const names = ["OCTOPUS_URL", "OCTOPUS_API_KEY", "OCTOPUS_API_SECRET", "OCTOPUS_MERCHANT_UID", "OCTOPUS_ADMIN_TOKEN"];
  const unset = names.filter((n) => !e[n]);
  if (unset.length) {
    checks.check(false, `set ${unset.join(", ")} to check against a gateway`);
    return;
  }
  const variables = {
    base_url: e.OCTOPUS_URL.replace(/\/+$/, ""),
    api_key: e.OCTOPUS_API_KEY,
    api_secret: e.OCTOPUS_API_SECRET,
    merchant_uid: e.OCTOPUS_MERCHANT_UID,
    admin_token: e.OCTOPUS_ADMIN_TOKEN,
  };

  const doc = await send(variables.base_url + "/octopus/openapi.json", "GET", {});
  if (checks.check(doc.status === 200 && doc.json, `GET /octopus/openapi.json: ${doc.status}`)) {
    checkDocument(collection, doc.json, checks);
  }

  // The collection's order/new, as it is: the Myanmar deposit of docs/api.md, on the sandbox.
  const orderNew = find(collection, "post", "/octopus/api/order/new").item;
  const created = await sendSigned(script, orderNew, variables);
  const moid = JSON.parse(created.body).merchant_order_id;
  checks.check(
    created.status !== 401 && created.status === 200 && created.json && created.json.result === "success",
    `order/new signed by the script: HTTP ${created.status} ${created.text.slice(0, 160)}`
  );
  const payment = created.json && created.json.data && created.json.data.payment;

  const orderGet = find(collection, "post", "/octopus/api/order/get").item;
  const query = JSON.parse(replaceIn(orderGet.request.body.raw, {}));
  query.merchant_order_id = moid;
  const got = await sendSigned(script, orderGet, variables, JSON.stringify(query, null, 2));
  checks.check(
    got.status === 200 && got.json && got.json.data && payment && got.json.data.payment_uid === payment.payment_uid,
    `order/get signed by the script finds ${moid}: HTTP ${got.status}`
  );
  // The same request with another secret: so the answers above are the signature's doing.
  const forged = await sendSigned(script, orderGet, { ...variables, api_secret: variables.api_secret + "x" }, JSON.stringify(query));
  checks.check(forged.status === 401, `order/get signed with a wrong secret is refused: HTTP ${forged.status}`);

  // An admin request with the collection's bearer token, and without it.
  const { folder, item } = find(collection, "get", "/octopus/admin/v1/orders");
  const auth = authOf(collection, folder, item);
  checks.check(auth && auth.type === "bearer", `the admin request's auth is ${auth && auth.type}`);
  const url = replaceIn(item.request.url.raw, variables);
  const admin = await send(url, "GET", sentHeaders(new Headers(item.request.header), auth, variables));
  checks.check(
    admin.status === 200 && admin.json && admin.json.result === "success",
    `GET /octopus/admin/v1/orders with {{admin_token}}: HTTP ${admin.status}`
  );
  const anonymous = await send(url, "GET", sentHeaders(new Headers(item.request.header), null, variables));
  checks.check(anonymous.status === 401, `the same without the token: HTTP ${anonymous.status}`);
}

async function main(args) {
  const collectionFile = option(args, "--collection", path.join(__dirname, "octopus.postman_collection.json"));
  const vectorsFile = option(args, "--vectors", path.join(__dirname, "..", "..", "vectors", "signing.json"));
  const collection = JSON.parse(fs.readFileSync(collectionFile, "utf8"));
  const script = prerequestScript(collection);
  const checks = new Checks();
  checkShape(collection, checks);
  checkVectors(script, collection, vectorsFile, checks);
  if (process.env.OCTOPUS_URL) await checkServer(script, collection, checks);
  console.log(`postman: ${checks.passed} checks passed, ${checks.failed} failure(s)`);
  return checks.failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  }
);
