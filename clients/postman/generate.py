#!/usr/bin/env python3
"""Writes the Postman collection of the Octopus APIs from the gateway's OpenAPI document.

Why it exists: merchants and operators try an API in Postman before they write code, and a
hand-kept collection drifts from the routes. This turns the document the gateway serves at
/octopus/openapi.json (generated from its route tables) into a Postman Collection v2.1: a
folder per tag, a request per operation, query parameters disabled with their descriptions,
an example JSON body built from each request schema, the merchant API signed by the
pre-request script in prerequest.js and the admin API authorized with {{admin_token}}.
clients/run.sh regenerates it from a running gateway and fails when the committed
octopus.postman_collection.json differs, so the file in the repository is this output.

    python3 clients/postman/generate.py http://127.0.0.1:8080/octopus/openapi.json \\
        -o clients/postman/octopus.postman_collection.json
    python3 clients/postman/generate.py openapi.json            # a saved document; stdout

Standard library only (Python 3.8+).
"""

import argparse
import json
import os
import sys
import urllib.request
import uuid

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
HERE = os.path.dirname(os.path.abspath(__file__))
PREREQUEST = os.path.join(HERE, "prerequest.js")

# Where `octopus serve --dev` listens (README.md); the variable is there to be changed. Not the
# document's `servers`: that is the public URL of whichever gateway served it.
DEFAULT_BASE_URL = "http://127.0.0.1:8080"

VARIABLES = [
    ("base_url", DEFAULT_BASE_URL, "The gateway, without a trailing slash."),
    ("api_key", "", "OC-Key: your API key (ock_test_... for test mode)."),
    ("api_secret", "", "The API key's secret; the pre-request script signs with it. Keep it in the current value only."),
    ("merchant_uid", "", "Your merchant_uid (M...)."),
    ("admin_token", "", "An admin token (oat_...) from `octopus operator token-create`, sent as a bearer token."),
    ("csrf_token", "", "Set by the session sign-in request; sent as X-CSRF-Token by session-only changes."),
]

# Bodies the schemas alone cannot make realistic, used when the document has no example of its
# own: order/new is the Myanmar deposit of docs/api.md's worked example, with a
# merchant_order_id new at each send. Every field must be in the operation's schema.
EXAMPLES = {
    ("post", "/octopus/api/order/new"): {
        "transaction_type": "income",
        "amount": "100.00",
        "currency": "mmk",
        "payment": "myanmar",
        "to_bank_name": "kbz",
        "merchant_order_id": "postman-{{$timestamp}}",
        "merchant_uid": "{{merchant_uid}}",
        "redirect_url": "https://example.com/redirect",
        "notify_url": "https://example.com/notify",
        "response_type": "json",
        "country": "myanmar",
        "channel": "myanmar",
        "accounting_type": "receive",
    },
}

# Body fields filled from a collection variable rather than a placeholder.
FROM_VARIABLES = {"merchant_uid": "{{merchant_uid}}"}

# Operations whose answer carries the session's CSRF token (docs/admin-api.md "Sessions"):
# their test script keeps it in {{csrf_token}}.
CSRF_SOURCES = {("post", "/octopus/admin/v1/session"), ("get", "/octopus/admin/v1/session")}

CAPTURE_CSRF = [
    "// Keeps the session's CSRF token for the requests that change something (X-CSRF-Token).",
    "if (pm.response.code === 200) {",
    "  const data = pm.response.json().data;",
    "  if (data && data.csrf_token) pm.collectionVariables.set(\"csrf_token\", data.csrf_token);",
    "}",
]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load(source):
    """The OpenAPI document at source: an http(s) URL or a file."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as answer:
            return json.load(answer)
    with open(source, encoding="utf-8") as f:
        return json.load(f)


def resolve(document, schema):
    """schema with a local $ref followed (#/components/...)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise SystemExit(f"generate.py: only local $ref are supported, not {ref}")
        node = document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
        seen += 1
        if seen > 32:
            raise SystemExit(f"generate.py: $ref loop at {ref}")
    return schema


def types_of(schema):
    t = schema.get("type")
    if t is None:
        return []
    return t if isinstance(t, list) else [t]


def placeholder(document, schema, depth=0):
    """An example value of schema: its example, default, const or first enum value, else by type."""
    schema = resolve(document, schema or {})
    for key in ("example", "default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return placeholder(document, schema[key][0], depth + 1)
    types = [t for t in types_of(schema) if t != "null"] or (["object"] if "properties" in schema else ["string"])
    t = types[0]
    if t == "object":
        return example_object(document, schema, depth + 1, every_field=depth > 0) if depth < 8 else {}
    if t == "array":
        return [placeholder(document, schema.get("items"), depth + 1)] if depth < 8 else []
    if t == "integer":
        return 0
    if t == "number":
        return 0
    if t == "boolean":
        return False
    return "..."


def example_object(document, schema, depth=0, every_field=False):
    """An example object of schema: the fields a request needs, and those filled from variables.

    The fields it needs are its required ones where the schema lists them; where it does not,
    those that may not be null (a field typed ["string", "null"] is one of the request types'
    optional fields). every_field keeps them all (nested objects).
    """
    schema = resolve(document, schema)
    listed = "required" in schema
    required = set(schema.get("required", []))
    out = {}
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(document, prop)
        nullable = "null" in types_of(prop)
        if name in FROM_VARIABLES:
            out[name] = FROM_VARIABLES[name]
        elif every_field or name in required or (not listed and not nullable):
            out[name] = placeholder(document, prop, depth)
    return out


def body_example(document, method, path, operation):
    """The example body text of operation, or None when it takes no JSON body."""
    body = operation.get("requestBody")
    if not body:
        return None
    media = resolve(document, body).get("content", {}).get("application/json")
    if media is None:
        return None
    schema = resolve(document, media.get("schema", {}))
    if "example" in media:
        value = media["example"]
    elif media.get("examples"):
        value = resolve(document, next(iter(media["examples"].values()))).get("value")
    elif (method, path) in EXAMPLES:
        value = EXAMPLES[(method, path)]
        unknown = sorted(set(value) - set(schema.get("properties", {})))
        if unknown:
            raise SystemExit(f"generate.py: the example of {method.upper()} {path} has fields its schema lacks: {unknown}")
    else:
        value = placeholder(document, schema)
    return json.dumps(value, indent=2, ensure_ascii=False)


def schemes_of(document, operation):
    """The names of the security schemes the operation accepts (any of them)."""
    security = operation.get("security", document.get("security", []))
    return {name for requirement in security for name in requirement}


def is_signed(document, operation):
    return "OC-Signature" in schemes_of(document, operation)


def parameters_of(document, path_item, operation):
    """The operation's parameters, path-level ones first, an operation's overriding them."""
    merged = {}
    for p in list(path_item.get("parameters", [])) + list(operation.get("parameters", [])):
        p = resolve(document, p)
        merged[(p["name"], p["in"])] = p
    return list(merged.values())


def describe_parameter(document, p):
    schema = resolve(document, p.get("schema", {}))
    words = [p.get("description", "").strip()]
    types = [t for t in types_of(schema) if t != "null"]
    if types and types[0] != "string":
        words.append(f"({types[0]})")
    if p.get("required"):
        words.append("Required.")
    return " ".join(w for w in words if w)


def url_of(document, path, parameters):
    segments = [s for s in path.split("/") if s]
    postman_path = [":" + s[1:-1] if s.startswith("{") and s.endswith("}") else s for s in segments]
    url = {
        "raw": "{{base_url}}/" + "/".join(postman_path),
        "host": ["{{base_url}}"],
        "path": postman_path,
    }
    query = []
    for p in parameters:
        if p["in"] != "query":
            continue
        value = FROM_VARIABLES.get(p["name"], "...") if p.get("required") else ""
        entry = {"key": p["name"], "value": value}
        description = describe_parameter(document, p)
        if description:
            entry["description"] = description
        if not p.get("required"):
            entry["disabled"] = True
        query.append(entry)
    if query:
        url["query"] = query
        enabled = [q for q in query if not q.get("disabled")]
        if enabled:
            url["raw"] += "?" + "&".join(f"{q['key']}={q['value']}" for q in enabled)
    variables = []
    for p in parameters:
        if p["in"] == "path":
            entry = {"key": p["name"], "value": FROM_VARIABLES.get(p["name"], "")}
            description = describe_parameter(document, p)
            if description:
                entry["description"] = description
            variables.append(entry)
    if variables:
        url["variable"] = variables
    return url


def request_item(document, path, path_item, method, operation):
    parameters = parameters_of(document, path_item, operation)
    schemes = schemes_of(document, operation)
    signed = is_signed(document, operation)
    session_only = "session" in schemes and "admin_token" not in schemes
    changes = method not in ("get", "head")

    lines = [f"`{method.upper()} {path}`"]
    if operation.get("description"):
        lines += ["", operation["description"].strip()]
    if signed:
        lines += ["", "Signed by the collection's pre-request script with {{api_key}} and {{api_secret}} (docs/api.md)."]
    elif session_only:
        lines += ["", "A session only (no admin token): sign in first with the session folder's sign-in request; "
                  "Postman keeps the cookie, and changes send {{csrf_token}}."]
    elif "admin_token" in schemes:
        lines += ["", "Authorized with {{admin_token}} (the collection's bearer auth), or a session."]
    elif not schemes:
        lines += ["", "No authentication."]
    if operation.get("x-permission"):
        lines += ["", f"Permission: `{operation['x-permission']}`."]

    headers = []
    body = body_example(document, method, path, operation)
    if body is not None:
        headers.append({"key": "Content-Type", "value": "application/json"})
    if signed:
        headers.append({"key": "OC-Key", "value": "{{api_key}}"})
        headers.append({"key": "OC-Signature", "value": "", "description": "Set by the collection's pre-request script."})
    if "session" in schemes and changes:
        header = {"key": "X-CSRF-Token", "value": "{{csrf_token}}",
                  "description": "Needed with a session (docs/admin-api.md); an admin token needs none."}
        if not session_only:
            header["disabled"] = True
        headers.append(header)

    request = {"method": method.upper(), "header": headers, "url": url_of(document, path, parameters)}
    if body is not None:
        request["body"] = {"mode": "raw", "raw": body, "options": {"raw": {"language": "json"}}}
    if signed or session_only or not schemes:
        # Not the collection's bearer token: signed, or a session cookie, or nothing at all.
        request["auth"] = {"type": "noauth"}
    request["description"] = "\n".join(lines)

    item = {"name": operation.get("summary") or f"{method.upper()} {path}", "request": request, "response": []}
    if (method, path) in CSRF_SOURCES:
        item["event"] = [{"listen": "test", "script": {"type": "text/javascript", "exec": CAPTURE_CSRF}}]
    return item


def collection_of(document, base_url=DEFAULT_BASE_URL):
    info = document.get("info", {})
    title = info.get("title", "API")
    tag_descriptions = {t["name"]: t.get("description", "") for t in document.get("tags", [])}
    tag_order = [t["name"] for t in document.get("tags", [])]

    folders = {}
    signed_tags = set()
    for path, path_item in document.get("paths", {}).items():
        for method in METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            if tag not in folders:
                folders[tag] = []
                if tag not in tag_order:
                    tag_order.append(tag)
            if is_signed(document, operation):
                signed_tags.add(tag)
            folders[tag].append(request_item(document, path, path_item, method, operation))
    # The merchant API first: it is what most people open the collection for.
    order = [t for t in tag_order if t in signed_tags] + [t for t in tag_order if t not in signed_tags]

    items = []
    for tag in order:
        if tag not in folders:
            continue
        folder = {"name": tag, "item": folders[tag]}
        description = tag_descriptions.get(tag, "")
        if tag in signed_tags:
            description = (description + "\n\n" if description else "") + (
                "Signed requests: the collection's pre-request script computes OC-Signature over the body "
                "with {{api_secret}} and sets OC-Key to {{api_key}}.")
        if description:
            folder["description"] = description
        items.append(folder)

    with open(PREREQUEST, encoding="utf-8") as f:
        script = f.read().rstrip("\n").split("\n")

    description = "\n\n".join(x for x in [
        info.get("description", "").strip(),
        f"Generated by clients/postman/generate.py from the OpenAPI document (version {info.get('version', '?')}) "
        "that the gateway serves at /octopus/openapi.json. Set the collection variables base_url, api_key, "
        "api_secret and merchant_uid (the merchant API), admin_token (the admin API); clients/README.md says more.",
    ] if x)
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "octopus/postman/" + title)),
            "name": title,
            "description": description,
            "schema": SCHEMA,
        },
        "item": items,
        "event": [{"listen": "prerequest", "script": {"type": "text/javascript", "exec": script}}],
        "auth": {"type": "bearer", "bearer": [{"key": "token", "value": "{{admin_token}}", "type": "string"}]},
        "variable": [
            {"key": k, "value": base_url if k == "base_url" else v, "type": "string", "description": d}
            for k, v, d in VARIABLES
        ],
    }


def main(argv):
    parser = argparse.ArgumentParser(description="Write a Postman Collection v2.1 from an Octopus OpenAPI document.")
    parser.add_argument("source", help="the OpenAPI document: a file, or a URL such as http://127.0.0.1:8080/octopus/openapi.json")
    parser.add_argument("-o", "--output", default="-", help="the collection file to write (default: standard output)")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"the initial value of {{{{base_url}}}} (default {DEFAULT_BASE_URL})")
    args = parser.parse_args(argv)
    text = json.dumps(collection_of(load(args.source), args.base_url), indent=2, ensure_ascii=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
