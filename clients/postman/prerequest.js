// Signs Octopus merchant API requests in Postman, as docs/api.md "Authentication and signing"
// says. generate.py puts this file, as it is, in the collection's pre-request script; it runs
// before every request and signs only those that carry an OC-Signature header (the merchant
// API's). The canonical string is every top-level field of the body, sorted by key in byte
// order, key=value joined with &, values as decoded from JSON and numbers as their literal
// text; OC-Signature is its lowercase hex HMAC-SHA256 keyed with {{api_secret}}.
(function () {
  if (!pm.request.headers.has("OC-Signature")) return;
  // Postman's crypto-js (CryptoJS.HmacSHA256 over the UTF-8 of both strings).
  const CryptoJS = require("crypto-js");

  function variable(name) {
    const value = pm.variables.replaceIn("{{" + name + "}}");
    if (value === undefined || value === null || value === "" || value === "{{" + name + "}}") {
      throw new Error("Octopus signing: set the collection variable '" + name + "'");
    }
    return String(value);
  }

  // The top-level fields of a JSON body text as a Map of key to value text. Strings are taken
  // as decoded from JSON (\/ is /); numbers keep their literal text: JSON.parse would make
  // 100.50 the number 100.5, and the gateway signs "100.50". The same parser as
  // clients/node/octopus_client.js. Throws on anything but an object of strings and numbers.
  const STRING_TOKEN = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER_TOKEN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const WHITE_SPACE = /[ \t\n\r]*/y;
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
      if (body[at] !== ch) throw new SyntaxError("expected '" + ch + "' at " + at);
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
        if (keyToken === null) throw new SyntaxError("expected a key at " + at);
        const key = JSON.parse(keyToken);
        expect(":");
        skip();
        let value = token(STRING_TOKEN);
        if (value !== null) {
          value = JSON.parse(value);
        } else {
          value = token(NUMBER_TOKEN);
          if (value === null) throw new TypeError("the '" + key + "' field must be a string or a number");
        }
        if (fields.has(key)) throw new SyntaxError("the '" + key + "' field appears more than once");
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
    if (at !== body.length) throw new SyntaxError("unexpected text at " + at);
    return fields;
  }

  // Byte order of UTF-8 is the order of code points; JavaScript's own sort compares UTF-16
  // units, which differs for characters beyond U+FFFF.
  function byCodePoint(a, b) {
    const x = Array.from(a, (c) => c.codePointAt(0));
    const y = Array.from(b, (c) => c.codePointAt(0));
    for (let i = 0; i < x.length && i < y.length; i++) {
      if (x[i] !== y[i]) return x[i] - y[i];
    }
    return x.length - y.length;
  }

  // Sign what is sent: variables (and dynamic ones such as {{$timestamp}}, which would take
  // another value if Postman resolved them again) are resolved here, once, into the body.
  const body = pm.variables.replaceIn(pm.request.body && pm.request.body.raw ? pm.request.body.raw : "");
  if (pm.request.body) pm.request.body.raw = body;
  const key = variable("api_key");
  const secret = variable("api_secret");
  pm.request.headers.upsert({ key: "Content-Type", value: "application/json" });
  pm.request.headers.upsert({ key: "OC-Key", value: key });

  let fields;
  try {
    fields = fieldsOf(body);
  } catch (e) {
    // The gateway checks the body before the signature and answers 400 saying what is wrong.
    console.warn("Octopus signing: not signed, the body is not an object of strings and numbers: " + e.message);
    pm.request.headers.upsert({ key: "OC-Signature", value: "unsigned" });
    return;
  }
  const canonical = Array.from(fields.keys())
    .sort(byCodePoint)
    .map((k) => k + "=" + fields.get(k))
    .join("&");
  const signature = CryptoJS.HmacSHA256(canonical, secret).toString(CryptoJS.enc.Hex);
  pm.request.headers.upsert({ key: "OC-Signature", value: signature });
  console.log("Octopus canonical string: " + canonical);
})();
