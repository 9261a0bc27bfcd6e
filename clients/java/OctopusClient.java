// A small reference client of the Octopus merchant API, Java standard library only (Java 17).
//
// Why it exists: merchants integrate in many languages; this file shows, in one place that
// runs, how to sign requests exactly as docs/api.md says, how to read the gateway's error
// answers as typed exceptions, and how to verify and acknowledge callbacks as
// docs/callbacks.md says. Copy it into a project (it is one class with nested types), or read
// it as the worked example. It needs no JSON library: a small parser is included, because
// signing must see a JSON number's literal text (100.50, not 100.5).
//
//   javac -d out OctopusClient.java
//   java -cp out OctopusClient vectors  [--vectors PATH]   # signing vectors only
//   java -cp out OctopusClient selftest [--vectors PATH]   # vectors + a real gateway
//   java -cp out OctopusClient receive --port 8000         # a callback receiver
//
// The gateway and key come from the environment: OCTOPUS_URL, OCTOPUS_API_KEY,
// OCTOPUS_API_SECRET, OCTOPUS_MERCHANT_UID (a test key, ock_test_..., for the self-test).

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

@SuppressWarnings("serial") // the exceptions are never serialized
public final class OctopusClient {

    // -----------------------------------------------------------------------------------------
    // Signing (docs/api.md "Authentication and signing")
    // -----------------------------------------------------------------------------------------

    /**
     * The top-level fields of a JSON body text, each value as the text that is signed: strings
     * as decoded from JSON ({@code \/} is {@code /}), numbers as their literal text. Any other
     * value (true, null, an object) is refused by the gateway, so it cannot be signed here.
     */
    public static Map<String, String> fieldsOf(String body) {
        Object parsed = Json.parse(body);
        if (!(parsed instanceof Map<?, ?> object)) {
            throw new IllegalArgumentException("the body must be a JSON object");
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : object.entrySet()) {
            Object value = e.getValue();
            if (value instanceof String s) {
                fields.put((String) e.getKey(), s);
            } else if (value instanceof JsonNumber n) {
                fields.put((String) e.getKey(), n.text());
            } else {
                throw new IllegalArgumentException("the '" + e.getKey() + "' field must be a string or a number");
            }
        }
        return fields;
    }

    /** Compares keys by their UTF-8 bytes (String.compareTo compares UTF-16 units). */
    private static int byUtf8(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    /** The canonical string of body, the exact JSON text sent. */
    public static String canonicalString(String body) {
        Map<String, String> fields = fieldsOf(body);
        List<String> keys = new ArrayList<>(fields.keySet());
        keys.sort(OctopusClient::byUtf8);
        StringBuilder canonical = new StringBuilder();
        for (String key : keys) {
            if (canonical.length() > 0) canonical.append('&');
            canonical.append(key).append('=').append(fields.get(key));
        }
        return canonical.toString();
    }

    private static byte[] hmac(String canonical, String secret) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(canonical.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** The OC-Signature of body (lowercase hex HMAC-SHA256 of its canonical string). */
    public static String sign(String body, String apiSecret) {
        return HexFormat.of().formatHex(hmac(canonicalString(body), apiSecret));
    }

    /**
     * Whether rawBody (a callback's body as received) carries a valid Oc-Signature. Never
     * throws; compares in constant time.
     */
    public static boolean verifyCallback(byte[] rawBody, String signatureHeader, String apiSecret) {
        if (signatureHeader == null) return false;
        byte[] expected;
        byte[] given;
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(rawBody))
                    .toString();
            expected = hmac(canonicalString(text), apiSecret);
            given = HexFormat.of().parseHex(signatureHeader.trim());
        } catch (IllegalArgumentException | CharacterCodingException notValid) {
            return false;
        }
        return MessageDigest.isEqual(expected, given); // constant time
    }

    // -----------------------------------------------------------------------------------------
    // Errors (docs/api.md "Errors")
    // -----------------------------------------------------------------------------------------

    /** Any refusal or failure: status is the HTTP status (0: no answer), data the answer's data. */
    public static class OctopusException extends Exception {
        public final int status;
        public final String detail;
        public final Object data;

        public OctopusException(String detail, int status, Object data) {
            super(status != 0 ? "HTTP " + status + ": " + detail : detail);
            this.detail = detail;
            this.status = status;
            this.data = data;
        }
    }

    /** 401: unknown, revoked or expired key, wrong signature, or a merchant_uid not the key's. */
    public static class AuthenticationException extends OctopusException {
        public AuthenticationException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 403: correctly signed, from an address the key's IP allowlist leaves out. */
    public static class ForbiddenException extends OctopusException {
        public ForbiddenException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 400 (also 413): a missing or malformed field; detail names it. */
    public static class ValidationException extends OctopusException {
        public ValidationException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 404: no such order for this merchant. */
    public static class NotFoundException extends OctopusException {
        public NotFoundException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 409: merchant_order_id reused with other parameters, or a change the order cannot make. */
    public static class ConflictException extends OctopusException {
        public ConflictException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 422: a valid request refused for a business reason (balance, blocklist, no channel). */
    public static class RefusedException extends OctopusException {
        public RefusedException(String d, int s, Object data) { super(d, s, data); }
    }

    /** 429: over a rate limit; retryAfterSeconds from the Retry-After header. */
    public static class RateLimitedException extends OctopusException {
        public final int retryAfterSeconds;

        public RateLimitedException(String d, int s, Object data, int retryAfterSeconds) {
            super(d, s, data);
            this.retryAfterSeconds = retryAfterSeconds;
        }
    }

    /** 5xx, or an answer that is not the documented shape. */
    public static class ServerException extends OctopusException {
        public ServerException(String d, int s, Object data) { super(d, s, data); }
    }

    /** No answer: the request may or may not have arrived (order/new retries are idempotent). */
    public static class TransportException extends OctopusException {
        public TransportException(String d, Throwable cause) {
            super(d, 0, null);
            initCause(cause);
        }
    }

    static OctopusException errorFromAnswer(int status, String text, HttpResponse<?> response) {
        Object answer;
        try {
            answer = Json.parse(text);
        } catch (IllegalArgumentException e) {
            answer = null;
        }
        if (!(answer instanceof Map<?, ?> object) || !"error".equals(object.get("result"))) {
            String start = text.length() > 200 ? text.substring(0, 200) : text;
            return new ServerException("unexpected answer: " + start, status, answer);
        }
        Object data = object.get("data");
        String message;
        if (data instanceof Map<?, ?> d) {
            Object details = d.get("details") != null ? d.get("details") : d.get("error");
            message = String.valueOf(details);
        } else {
            message = String.valueOf(data);
        }
        switch (status) {
            case 400, 413: return new ValidationException(message, status, data);
            case 401: return new AuthenticationException(message, status, data);
            case 403: return new ForbiddenException(message, status, data);
            case 404: return new NotFoundException(message, status, data);
            case 409: return new ConflictException(message, status, data);
            case 422: return new RefusedException(message, status, data);
            case 429: {
                int after = 1;
                try {
                    after = Integer.parseInt(response.headers().firstValue("Retry-After").orElse("1"));
                } catch (NumberFormatException ignored) {
                    // keep 1
                }
                return new RateLimitedException(message, status, data, after);
            }
            default:
                return status >= 500
                        ? new ServerException(message, status, data)
                        : new OctopusException(message, status, data);
        }
    }

    // -----------------------------------------------------------------------------------------
    // The client
    // -----------------------------------------------------------------------------------------

    public final String baseUrl;
    public final String apiKey;
    private final String apiSecret;
    public final String merchantUid;
    private final HttpClient http;
    private final Duration timeout;

    public OctopusClient(String baseUrl, String apiKey, String apiSecret, String merchantUid) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.apiKey = apiKey;
        this.apiSecret = apiSecret;
        this.merchantUid = merchantUid;
        this.timeout = Duration.ofSeconds(15);
        // HTTP/1.1: the default would offer an h2c upgrade on every plain-http request.
        // Redirects are not followed (a deposit without response_type=json answers 302).
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** Signs and sends fields to path; returns the answer's data. */
    public Object post(String path, Map<String, String> fields) throws OctopusException {
        String body = Json.write(fields);
        // Sign the text that is sent: what is signed is what the gateway reads.
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .header("OC-Key", apiKey)
                .header("OC-Signature", sign(body, apiSecret))
                .header("User-Agent", "octopus-client-java/1")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
                .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new TransportException("no answer from " + baseUrl + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted", e);
        }
        if (response.statusCode() == 200) {
            Object answer;
            try {
                answer = Json.parse(response.body());
            } catch (IllegalArgumentException e) {
                throw new ServerException("unexpected answer: " + response.body(), 200, null);
            }
            if (answer instanceof Map<?, ?> a && "success".equals(a.get("result"))) {
                return a.get("data");
            }
        }
        throw errorFromAnswer(response.statusCode(), response.body(), response);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object data) throws OctopusException {
        if (data instanceof Map<?, ?>) return (Map<String, Object>) data;
        throw new ServerException("the answer's data is not an object", 200, data);
    }

    /** order/new with the given fields (merchant_uid and response_type=json filled in). */
    public Map<String, Object> newOrder(Map<String, String> fields) throws OctopusException {
        Map<String, String> sent = new LinkedHashMap<>();
        sent.put("merchant_uid", merchantUid);
        sent.put("response_type", "json");
        sent.putAll(fields);
        return object(post("/octopus/api/order/new", sent));
    }

    /**
     * A deposit; returns {payment: {...}, payment_url}. amount is a String ("100.00") or a
     * BigDecimal, never a double. extra: notify_url, redirect_url, merchant_id, ttl, from, ...
     */
    public Map<String, Object> createDeposit(String merchantOrderId, Object amount, String currency,
            String payment, String country, Map<String, String> extra) throws OctopusException {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("transaction_type", "income");
        fields.put("merchant_order_id", merchantOrderId);
        fields.put("amount", amountText(amount));
        fields.put("currency", currency);
        fields.put("payment", payment);
        fields.put("country", country);
        fields.putAll(extra);
        return newOrder(fields);
    }

    /** A payout; returns {payment: {...}}. */
    public Map<String, Object> createPayout(String merchantOrderId, Object amount, String currency,
            String payment, String country, String to, String toName, String toBankName,
            Map<String, String> extra) throws OctopusException {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("transaction_type", "expense");
        fields.put("merchant_order_id", merchantOrderId);
        fields.put("amount", amountText(amount));
        fields.put("currency", currency);
        fields.put("payment", payment);
        fields.put("country", country);
        fields.put("to", to);
        fields.put("to_name", toName);
        fields.put("to_bank_name", toBankName);
        fields.putAll(extra);
        return newOrder(fields);
    }

    /** An amount as the string sent: a String as written, a BigDecimal without exponent. */
    static String amountText(Object amount) {
        if (amount instanceof String s) return s;
        if (amount instanceof BigDecimal d) return d.toPlainString();
        if (amount instanceof Integer || amount instanceof Long) return amount.toString();
        throw new IllegalArgumentException("amounts must be String or BigDecimal, never double or float");
    }

    /** order/get by merchant_order_id. */
    public Map<String, Object> getOrder(String merchantOrderId) throws OctopusException {
        return object(post("/octopus/api/order/get",
                Map.of("merchant_uid", merchantUid, "merchant_order_id", merchantOrderId)));
    }

    /** order/get by payment_uid. */
    public Map<String, Object> getOrderByPaymentUid(String paymentUid) throws OctopusException {
        return object(post("/octopus/api/order/get", Map.of("merchant_uid", merchantUid, "payment_uid", paymentUid)));
    }

    /** {merchant_name, balances: {mmk: {available, held, total}}} ("test":"1" for a test key). */
    public Map<String, Object> getMerchantBalance() throws OctopusException {
        return object(post("/octopus/api/ledger/get_merchant_balance", Map.of("merchant_uid", merchantUid)));
    }

    /** The available balance in every supported currency, six decimals. */
    public Map<String, Object> getMerchantLedger() throws OctopusException {
        return object(post("/octopus/api/ledger/get_merchant_ledger", Map.of("merchant_uid", merchantUid)));
    }

    // -----------------------------------------------------------------------------------------
    // Callback receiver (docs/callbacks.md)
    // -----------------------------------------------------------------------------------------

    /**
     * A tiny HTTP server that takes the gateway's callbacks. secrets: api key to api secret (a
     * callback is signed with the secret of the key in its signature_key). onCallback is called
     * for each verified callback; it must store what it needs — an exception makes the answer
     * 500, so the gateway retries. Verified callbacks are answered 200 "success" (the
     * acknowledgement the gateway expects); others 400/401, counted as failed attempts.
     * Callbacks are at least once: credit once per order_uid and payment_status.
     */
    public static final class CallbackReceiver implements AutoCloseable {
        private final Map<String, String> secrets;
        private final Consumer<Map<String, String>> onCallback;
        private final HttpServer server;
        private final String path;
        private final List<Map<String, String>> received = new ArrayList<>();
        private final List<String> refused = new ArrayList<>();

        public CallbackReceiver(Map<String, String> secrets, Consumer<Map<String, String>> onCallback,
                String host, int port, String path) throws IOException {
            this.secrets = Map.copyOf(secrets);
            this.onCallback = onCallback;
            this.path = path;
            this.server = HttpServer.create(new InetSocketAddress(host, port), 0);
            this.server.createContext("/", this::handle);
            this.server.setExecutor(Executors.newFixedThreadPool(4));
        }

        public CallbackReceiver start() {
            server.start();
            return this;
        }

        public String url() {
            InetSocketAddress a = server.getAddress();
            return "http://" + a.getHostString() + ":" + a.getPort() + path;
        }

        public synchronized List<Map<String, String>> received() {
            return List.copyOf(received);
        }

        private void handle(HttpExchange exchange) throws IOException {
            try (exchange) {
                if (!"POST".equals(exchange.getRequestMethod()) || !path.equals(exchange.getRequestURI().getPath())) {
                    answer(exchange, 404, "not found");
                    return;
                }
                byte[] raw;
                try (InputStream in = exchange.getRequestBody()) {
                    raw = in.readNBytes(64 * 1024 + 1);
                }
                if (raw.length > 64 * 1024) {
                    answer(exchange, 413, "too large");
                    return;
                }
                Map<String, String> fields;
                try {
                    fields = fieldsOf(new String(raw, StandardCharsets.UTF_8));
                } catch (IllegalArgumentException e) {
                    refuse(exchange, 400, "not a JSON object of strings");
                    return;
                }
                String secret = secrets.get(fields.getOrDefault("signature_key", ""));
                String signature = exchange.getRequestHeaders().getFirst("Oc-Signature");
                if (secret == null || !verifyCallback(raw, signature, secret)) {
                    refuse(exchange, 401, "invalid signature");
                    return;
                }
                try {
                    onCallback.accept(fields);
                } catch (RuntimeException e) {
                    refuse(exchange, 500, "not stored: " + e.getMessage());
                    return;
                }
                synchronized (this) {
                    received.add(fields);
                    notifyAll();
                }
                answer(exchange, 200, "success");
            }
        }

        private void refuse(HttpExchange exchange, int status, String reason) throws IOException {
            synchronized (this) {
                refused.add(reason);
                notifyAll();
            }
            answer(exchange, status, reason);
        }

        private static void answer(HttpExchange exchange, int status, String text) throws IOException {
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }

        /** The first verified callback matching predicate, waiting up to timeout; empty if none. */
        public synchronized Optional<Map<String, String>> waitFor(Predicate<Map<String, String>> predicate,
                Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                for (Map<String, String> fields : received) {
                    if (predicate.test(fields)) return Optional.of(fields);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) return Optional.empty();
                wait(Math.max(1, left / 1_000_000));
            }
        }

        @Override
        public void close() {
            server.stop(0);
            ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
        }
    }

    // -----------------------------------------------------------------------------------------
    // JSON: just enough to sign bodies and read answers, numbers kept as their literal text
    // -----------------------------------------------------------------------------------------

    /** A JSON number as written (100.50 stays "100.50"). */
    public record JsonNumber(String text) {
        @Override
        public String toString() {
            return text;
        }
    }

    static final class Json {
        private final String s;
        private int at;

        private Json(String s) {
            this.s = s;
        }

        /** Map (insertion order), List, String, JsonNumber, Boolean or null; throws on bad JSON. */
        static Object parse(String text) {
            Json p = new Json(text);
            p.space();
            Object value = p.value();
            p.space();
            if (p.at != text.length()) throw p.error("unexpected text");
            return value;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("not JSON: " + what + " at " + at);
        }

        private void space() {
            while (at < s.length() && " \t\n\r".indexOf(s.charAt(at)) >= 0) at++;
        }

        private Object value() {
            if (at >= s.length()) throw error("unexpected end");
            char c = s.charAt(at);
            switch (c) {
                case '{': return object();
                case '[': return array();
                case '"': return string();
                case 't': return word("true", Boolean.TRUE);
                case 'f': return word("false", Boolean.FALSE);
                case 'n': return word("null", null);
                default: return number();
            }
        }

        private Object word(String w, Object v) {
            if (!s.startsWith(w, at)) throw error("unknown word");
            at += w.length();
            return v;
        }

        private Map<String, Object> object() {
            Map<String, Object> map = new LinkedHashMap<>();
            at++;
            space();
            if (at < s.length() && s.charAt(at) == '}') {
                at++;
                return map;
            }
            while (true) {
                space();
                if (at >= s.length() || s.charAt(at) != '"') throw error("expected a key");
                String key = string();
                space();
                if (at >= s.length() || s.charAt(at) != ':') throw error("expected ':'");
                at++;
                space();
                if (map.containsKey(key)) throw error("the '" + key + "' field appears more than once");
                map.put(key, value());
                space();
                if (at < s.length() && s.charAt(at) == ',') {
                    at++;
                    continue;
                }
                if (at < s.length() && s.charAt(at) == '}') {
                    at++;
                    return map;
                }
                throw error("expected ',' or '}'");
            }
        }

        private List<Object> array() {
            List<Object> list = new ArrayList<>();
            at++;
            space();
            if (at < s.length() && s.charAt(at) == ']') {
                at++;
                return list;
            }
            while (true) {
                space();
                list.add(value());
                space();
                if (at < s.length() && s.charAt(at) == ',') {
                    at++;
                    continue;
                }
                if (at < s.length() && s.charAt(at) == ']') {
                    at++;
                    return list;
                }
                throw error("expected ',' or ']'");
            }
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            at++;
            while (true) {
                if (at >= s.length()) throw error("unterminated string");
                char c = s.charAt(at++);
                if (c == '"') return out.toString();
                if (c < 0x20) throw error("control character in a string");
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                if (at >= s.length()) throw error("unterminated escape");
                char e = s.charAt(at++);
                switch (e) {
                    case '"': out.append('"'); break;
                    case '\\': out.append('\\'); break;
                    case '/': out.append('/'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'n': out.append('\n'); break;
                    case 'r': out.append('\r'); break;
                    case 't': out.append('\t'); break;
                    case 'u':
                        if (at + 4 > s.length()) throw error("short \\u escape");
                        try {
                            out.append((char) Integer.parseInt(s.substring(at, at + 4), 16));
                        } catch (NumberFormatException bad) {
                            throw error("bad \\u escape");
                        }
                        at += 4;
                        break;
                    default: throw error("bad escape");
                }
            }
        }

        private static final Pattern NUMBER = Pattern.compile("-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?");

        private JsonNumber number() {
            Matcher m = NUMBER.matcher(s).region(at, s.length());
            if (!m.lookingAt()) throw error("unexpected character");
            at = m.end();
            return new JsonNumber(m.group());
        }

        /** A compact JSON object of strings (non-ASCII written as is, in UTF-8). */
        static String write(Map<String, String> fields) {
            StringBuilder out = new StringBuilder("{");
            for (Map.Entry<String, String> e : fields.entrySet()) {
                if (out.length() > 1) out.append(',');
                quote(out, e.getKey());
                out.append(':');
                quote(out, e.getValue());
            }
            return out.append('}').toString();
        }

        private static void quote(StringBuilder out, String text) {
            out.append('"');
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                switch (c) {
                    case '"': out.append("\\\""); break;
                    case '\\': out.append("\\\\"); break;
                    case '\n': out.append("\\n"); break;
                    case '\r': out.append("\\r"); break;
                    case '\t': out.append("\\t"); break;
                    default:
                        if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                        else out.append(c);
                }
            }
            out.append('"');
        }
    }

    // -----------------------------------------------------------------------------------------
    // Sandbox helper, self-test and command line
    // -----------------------------------------------------------------------------------------

    /**
     * Presses the sandbox cashier page's Pay (or Fail) as a browser would: reads the page's
     * token, posts outcome and token to paymentUrl/simulate. Returns the HTTP status (303 when
     * the order changed).
     */
    public int payInSandbox(String paymentUrl, String outcome) throws IOException, InterruptedException, OctopusException {
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(paymentUrl)).timeout(timeout).GET().build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        Matcher m = Pattern.compile("<meta name=\"csrf-token\" content=\"([0-9a-f]+)\"").matcher(page.body());
        if (page.statusCode() != 200 || !m.find()) {
            throw new ServerException("the cashier page has no token", page.statusCode(), null);
        }
        String form = "outcome=" + URLEncoder.encode(outcome, StandardCharsets.UTF_8)
                + "&token=" + URLEncoder.encode(m.group(1), StandardCharsets.UTF_8);
        HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(paymentUrl + "/simulate"))
                .timeout(timeout)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form))
                .build(), HttpResponse.BodyHandlers.ofString());
        return posted.statusCode();
    }

    static final String CALLBACK_EXAMPLE_BODY =
            "{\"accounting_type\":\"receive\",\"amount\":\"100.00\",\"currency\":\"mmk\",\"fee\":\"2.50\","
            + "\"final_amount\":\"100.00\",\"floating_amount\":\"0.00\",\"merchant_id\":\"\",\"merchant_order_id\":\"123qq\","
            + "\"merchant_uid\":\"Merchant_UID\",\"notify_url\":\"https://example.com/notify\","
            + "\"order_uid\":\"5f0c1e9a7b3d4c2e8a6f1b0d9c8e7a65\",\"payment\":\"myanmar\",\"payment_fail_reason\":\"\","
            + "\"payment_status\":\"completed\",\"signature_key\":\"ock_2p6Hd2v7XQVhgZrvcLYrKEYh\",\"tenant\":\"octopus\","
            + "\"transaction_type\":\"income\"}";
    static final String CALLBACK_EXAMPLE_SIGNATURE = "353c9873ba881cf7e136c75e09b97d5ab6d7635e06257e37d32d647e071b3f6d";

    interface Call {
        void run() throws Exception;
    }

    interface Probe {
        Object get() throws Exception;
    }

    static final class Checks {
        int failures;

        boolean check(boolean ok, String what) {
            System.out.println((ok ? "ok   " : "FAIL ") + what);
            if (!ok) failures++;
            return ok;
        }

        void raises(Class<? extends OctopusException> cls, int status, String what, Call call) throws Exception {
            try {
                call.run();
            } catch (OctopusException e) {
                check(e.getClass() == cls && e.status == status,
                        what + ": " + e.getClass().getSimpleName() + " " + e.status + " \"" + e.detail + "\"");
                return;
            }
            check(false, what + ": no error");
        }
    }

    static void checkVectors(Path file, Checks checks) throws IOException {
        Object root = Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        List<?> vectors = (List<?>) ((Map<?, ?>) root).get("vectors");
        for (Object item : vectors) {
            Map<?, ?> v = (Map<?, ?>) item;
            String body = (String) v.get("body");
            checks.check(canonicalString(body).equals(v.get("canonical"))
                    && sign(body, (String) v.get("secret")).equals(v.get("signature")), "vector " + v.get("name"));
        }
        checks.check(!vectors.isEmpty(), vectors.size() + " vectors read from " + file);
        byte[] body = CALLBACK_EXAMPLE_BODY.getBytes(StandardCharsets.UTF_8);
        String sig = CALLBACK_EXAMPLE_SIGNATURE;
        checks.check(verifyCallback(body, sig, "API_SECRET"), "callback example verifies");
        checks.check(verifyCallback(body, sig.toUpperCase(), "API_SECRET"), "callback example verifies in upper case");
        checks.check(!verifyCallback(CALLBACK_EXAMPLE_BODY.replace("100.00", "900.00").getBytes(StandardCharsets.UTF_8),
                sig, "API_SECRET"), "a changed callback does not verify");
        checks.check(!verifyCallback(body, "zz", "API_SECRET"), "a malformed signature does not verify");
        checks.check(!verifyCallback("[1]".getBytes(StandardCharsets.UTF_8), sig, "API_SECRET"),
                "a body that is not an object does not verify");
        checks.check(canonicalString("{\"a\":100.50}").equals("a=100.50"), "a number keeps its literal text");
    }

    /** probe until it returns something other than null or FALSE, or null after timeout. */
    static Object poll(Duration timeout, Probe probe) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Object value = probe.get();
            if (value != null && !Boolean.FALSE.equals(value)) return value;
            if (System.nanoTime() >= deadline) return null;
            Thread.sleep(100);
        }
    }

    static String runId() {
        byte[] b = new byte[4];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    @SuppressWarnings("unchecked")
    static String mmkAvailable(Map<String, Object> balance) {
        Map<String, Object> balances = (Map<String, Object>) balance.get("balances");
        Map<String, Object> mmk = (Map<String, Object>) balances.get("mmk");
        return mmk == null ? "0" : (String) mmk.get("available");
    }

    @SuppressWarnings("unchecked")
    static void checkServer(OctopusClient client, Checks checks) throws Exception {
        String run = runId();
        String moid = "java-" + run + "-1";
        Map<String, Object> created = client.createDeposit(moid, "100.00", "mmk", "myanmar", "myanmar", Map.of());
        Map<String, Object> p = (Map<String, Object>) created.get("payment");
        checks.check("pending".equals(p.get("payment_status")) && "1".equals(p.get("test")) && created.get("payment_url") != null,
                "test deposit created: " + p.get("payment_uid") + " pending, test=1");
        Map<String, Object> again = client.createDeposit(moid, new BigDecimal("100.0"), "mmk", "myanmar", "myanmar", Map.of());
        checks.check(p.get("payment_uid").equals(((Map<String, Object>) again.get("payment")).get("payment_uid")),
                "the same order sent again is the same order (100.0 = 100.00)");
        Map<String, Object> got = client.getOrder(moid);
        checks.check(p.get("payment_uid").equals(got.get("payment_uid")) && "100.00".equals(got.get("amount")),
                "order/get by merchant_order_id finds it");
        Map<String, Object> balance = client.getMerchantBalance();
        checks.check(balance.get("balances") instanceof Map && "1".equals(balance.get("test")),
                "get_merchant_balance answers the test book: " + balance.get("balances"));
        Map<String, Object> ledger = client.getMerchantLedger();
        checks.check(List.of("cny", "usd", "thb", "vnd", "php", "sgd", "idr", "bdt", "mmk").stream().allMatch(c -> ledger.get(c) != null),
                "get_merchant_ledger lists every currency");

        OctopusClient wrong = new OctopusClient(client.baseUrl, client.apiKey, client.apiSecret + "x", client.merchantUid);
        checks.raises(AuthenticationException.class, 401, "a bad signature", () -> wrong.getOrder(moid));
        checks.raises(ValidationException.class, 400, "a bad amount",
                () -> client.createDeposit("java-" + run + "-bad", "12.345", "mmk", "myanmar", "myanmar", Map.of()));
        checks.raises(NotFoundException.class, 404, "an unknown order", () -> client.getOrder("java-" + run + "-none"));
        checks.raises(ConflictException.class, 409, "the same merchant_order_id with another amount",
                () -> client.createDeposit(moid, "101.00", "mmk", "myanmar", "myanmar", Map.of()));
        try {
            client.createDeposit("java-" + run + "-f", 1.5, "mmk", "myanmar", "myanmar", Map.of());
            checks.check(false, "a double amount is refused before sending");
        } catch (IllegalArgumentException e) {
            checks.check(true, "a double amount is refused before sending");
        }
    }

    @SuppressWarnings("unchecked")
    static void checkCallbacks(OctopusClient client, Checks checks) throws Exception {
        Duration timeout = Duration.ofSeconds(20);
        String moid = "java-" + runId() + "-cb";
        try (CallbackReceiver receiver = new CallbackReceiver(Map.of(client.apiKey, client.apiSecret), f -> { },
                "127.0.0.1", 0, "/octopus/callback").start()) {
            String forged = CALLBACK_EXAMPLE_BODY.replace("ock_2p6Hd2v7XQVhgZrvcLYrKEYh", client.apiKey);
            HttpResponse<String> f = client.http.send(HttpRequest.newBuilder(URI.create(receiver.url()))
                    .header("Content-Type", "application/json")
                    .header("Oc-Signature", CALLBACK_EXAMPLE_SIGNATURE)
                    .POST(HttpRequest.BodyPublishers.ofString(forged)).build(), HttpResponse.BodyHandlers.ofString());
            checks.check(f.statusCode() == 401 && receiver.received().isEmpty(),
                    "the receiver refuses a forged callback (" + f.statusCode() + " " + f.body() + ")");

            String before = mmkAvailable(client.getMerchantBalance());
            Map<String, Object> created = client.createDeposit(moid, "250.00", "mmk", "myanmar", "myanmar",
                    Map.of("notify_url", receiver.url()));
            String uid = (String) ((Map<String, Object>) created.get("payment")).get("payment_uid");
            int status = client.payInSandbox((String) created.get("payment_url"), "completed");
            checks.check(status == 303, "sandbox Pay on the cashier page answered " + status);
            Optional<Map<String, String>> fields = receiver.waitFor(
                    x -> moid.equals(x.get("merchant_order_id")) && "completed".equals(x.get("payment_status")), timeout);
            checks.check(fields.isPresent() && uid.equals(fields.get().get("order_uid"))
                    && "250.00".equals(fields.get().get("final_amount")) && "1".equals(fields.get().get("test")),
                    "a correctly signed 'completed' callback arrived for " + moid + " (test=1, final_amount 250.00)");
            Object acked = poll(timeout, () -> "completed".equals(client.getOrderByPaymentUid(uid).get("notify_status")));
            checks.check(acked != null, "the gateway took the receiver's 'success' as acknowledgement (notify_status completed)");
            Object after = poll(timeout, () -> {
                String a = mmkAvailable(client.getMerchantBalance());
                return new BigDecimal(a).compareTo(new BigDecimal(before)) > 0 ? a : null;
            });
            checks.check(after != null, "the test balance grew: " + before + " -> " + after + " mmk");
        }
    }

    static String option(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) return args[i + 1];
        }
        return fallback;
    }

    static String env(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty()) {
            System.err.println("set " + name);
            System.exit(2);
        }
        return v;
    }

    public static void main(String[] args) throws Exception {
        String command = args.length > 0 ? args[0] : "";
        if (command.equals("receive")) {
            String key = env("OCTOPUS_API_KEY");
            String secret = env("OCTOPUS_API_SECRET");
            // --fail-first N: answer the first N verified callbacks 500, to watch the gateway retry.
            java.util.concurrent.atomic.AtomicInteger failing =
                    new java.util.concurrent.atomic.AtomicInteger(Integer.parseInt(option(args, "--fail-first", "0")));
            Consumer<Map<String, String>> show = fields -> {
                if (failing.getAndDecrement() > 0) {
                    System.out.println("answering 500 (--fail-first): " + fields.get("merchant_order_id") + " "
                            + fields.get("payment_status"));
                    throw new IllegalStateException("--fail-first");
                }
                System.out.println(Json.write(fields));
            };
            CallbackReceiver receiver = new CallbackReceiver(Map.of(key, secret),
                    show, option(args, "--host", "127.0.0.1"),
                    Integer.parseInt(option(args, "--port", "8000")), "/octopus/callback").start();
            System.out.println("receiving callbacks at " + receiver.url());
            return;
        }
        if (!command.equals("vectors") && !command.equals("selftest")) {
            System.err.println("usage: java OctopusClient vectors|selftest [--vectors PATH] | receive [--host H] [--port P] [--fail-first N]");
            System.exit(2);
        }
        String defaultVectors = System.getenv("OCTOPUS_VECTORS") != null ? System.getenv("OCTOPUS_VECTORS") : "vectors/signing.json";
        Checks checks = new Checks();
        checkVectors(Path.of(option(args, "--vectors", defaultVectors)), checks);
        if (command.equals("selftest")) {
            OctopusClient client = new OctopusClient(env("OCTOPUS_URL"), env("OCTOPUS_API_KEY"),
                    env("OCTOPUS_API_SECRET"), env("OCTOPUS_MERCHANT_UID"));
            try {
                checkServer(client, checks);
                checkCallbacks(client, checks);
            } catch (OctopusException e) {
                checks.check(false, "unexpected " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        System.out.println("java: " + checks.failures + " failure(s)");
        System.exit(checks.failures == 0 ? 0 : 1);
    }
}
