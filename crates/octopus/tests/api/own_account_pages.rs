//! The cashier page of deposits on the operator's own accounts, fetched over real HTTP on both
//! backends as a payer's phone gets it: a Thai PromptPay deposit's page carries the payload its
//! QR encodes, read here by a decoder of this file (a TLV reader and its own CRC, not the
//! domain's code) and by a QR reader from the drawing, with the account, holder and bank and
//! the floating digits highlighted, in Thai on `?lang=th`; an Indian UPI deposit's page has
//! the `upi://` link and its QR, and a GCash deposit's page the number with a copy button, and
//! a device's report of the exact amount completes each. In headless Chromium the PromptPay
//! page reads in Thai, Burmese and Chinese, its switcher changes the language, and the open
//! page turns to the received words by itself once the device reports the transfer.

use std::time::Duration;

use octopus_client::NewOrder;

use crate::helpers::accounts::{gcash, indian_upi, own_channel, thai_promptpay};
use crate::helpers::chromium::{browser, evaluate, html_lang, page_status, wait_for_text};
use crate::helpers::{http, spawn_app, Backend, TestApp};

/// A deposit asking for a positive floating offset (`float_precision` "2").
fn deposit(
    app: &TestApp,
    id: &str,
    amount: &str,
    currency: &str,
    payment: &str,
    country: &str,
) -> NewOrder {
    NewOrder {
        float_precision: Some("2".into()),
        ..NewOrder::deposit(
            &app.live.merchant_uid,
            id,
            amount,
            currency,
            payment,
            country,
        )
    }
}

/// The page at `url` as a browser set to English gets it (HTTP 200 asserted).
async fn page(url: &str) -> String {
    let answer = http().get(url).send().await.expect("GET the page");
    assert_eq!(answer.status(), 200, "GET {url}");
    answer.text().await.unwrap()
}

// Reading the served HTML without a parser: the page's values are in elements with ids, and
// the template escapes what it writes into attributes.

/// Undoes the template's escaping of text and attribute values.
fn unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The opening tag of the element with `id`, and where its content starts.
fn opening_tag<'a>(html: &'a str, id: &str) -> Option<(&'a str, usize)> {
    let at = html.find(&format!(" id=\"{id}\""))?;
    let open = html[..at].rfind('<')?;
    let close = at + html[at..].find('>')?;
    Some((&html[open..close], close + 1))
}

/// The inner HTML of the element with `id` (an element with no element of its own kind
/// inside, as the page's values are).
fn inner(html: &str, id: &str) -> String {
    let (tag, start) = opening_tag(html, id).unwrap_or_else(|| panic!("no #{id} in {html}"));
    let name: String = tag[1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let end = start + html[start..].find(&format!("</{name}>")).unwrap();
    html[start..end].to_string()
}

/// The value of `attribute` on the element with `id`.
fn attribute(html: &str, id: &str, attribute: &str) -> Option<String> {
    let (tag, _) = opening_tag(html, id)?;
    let value = tag.split(&format!(" {attribute}=\"")).nth(1)?;
    Some(unescape(&value[..value.find('"')?]))
}

/// The `data-copy` of the copy button for the value `#<target>`.
fn copy_button(html: &str, target: &str) -> Option<String> {
    let at = html.find(&format!(" data-target=\"{target}\""))?;
    let open = html[..at].rfind("<button")?;
    let tag = &html[open..at];
    assert!(tag.contains("class=\"copy\""), "{tag}");
    let value = tag.split(" data-copy=\"").nth(1)?;
    Some(unescape(&value[..value.find('"')?]))
}

/// The page's QR code read back from its drawing: the SVG's modules (one unit each, as
/// `M<x> <y>h1v1h-1z` steps) painted onto a greyscale image and decoded by a QR reader.
fn read_qr(html: &str) -> String {
    let svg = &html[html.find("<svg").expect("a QR code")..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    let size: usize = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let path = svg.split(" d=\"").nth(1).unwrap();
    let path = &path[..path.find('"').unwrap()];
    let mut dark = vec![false; size * size];
    for module in path.split('M').filter(|m| !m.is_empty()) {
        let mut numbers = module
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty());
        let x: usize = numbers.next().unwrap().parse().unwrap();
        let y: usize = numbers.next().unwrap().parse().unwrap();
        dark[y * size + x] = true;
    }
    let scale = 4;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(size * scale, size * scale, |x, y| {
            if dark[(y / scale) * size + x / scale] {
                0
            } else {
                255
            }
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("a readable QR code").1
}

/// The fields of an EMVCo (Thai QR) payload in order: two digits of tag, two of length, then
/// that many characters of value.
fn emv_fields(text: &str) -> Vec<(String, String)> {
    assert!(text.is_ascii(), "{text}");
    let mut fields = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "a field cut short: {rest:?} in {text}");
        let (tag, length) = (&rest[..2], &rest[2..4]);
        assert!(
            (tag.to_owned() + length)
                .bytes()
                .all(|b| b.is_ascii_digit()),
            "tag and length are digits: {rest:?}"
        );
        let length: usize = length.parse().unwrap();
        assert!(rest.len() >= 4 + length, "field {tag} runs past the end");
        fields.push((tag.to_string(), rest[4..4 + length].to_string()));
        rest = &rest[4 + length..];
    }
    fields
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR.
fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Checks `payload` is the PromptPay payload of a one-time transfer of `amount` baht to the
/// mobile 0812345678, field by field.
fn assert_promptpay_payload(payload: &str, amount: &str) {
    let fields = emv_fields(payload);
    let tags: Vec<&str> = fields.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        tags,
        ["00", "01", "29", "53", "54", "58", "63"],
        "{payload}"
    );
    let value = |tag: &str| {
        fields
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(value("00"), "01", "payload format indicator");
    assert_eq!(value("01"), "12", "a dynamic (one-time) QR");
    let merchant = emv_fields(value("29"));
    assert_eq!(
        merchant,
        [
            ("00".to_string(), "A000000677010111".to_string()),
            ("01".to_string(), "0066812345678".to_string()),
        ],
        "PromptPay's AID, and the mobile 0812345678 as 0066 and its 9 digits"
    );
    assert_eq!(value("53"), "764", "baht");
    assert_eq!(value("54"), amount, "the final amount");
    let cents = value("54").split_once('.').map(|(_, c)| c.len());
    assert_eq!(cents, Some(2), "two decimals: {}", value("54"));
    assert_eq!(value("58"), "TH");
    // The CRC covers everything before its value, its own tag and length ("6304") included.
    let (covered, crc) = payload.split_at(payload.len() - 4);
    assert!(covered.ends_with("6304"), "{payload}");
    assert_eq!(
        crc,
        format!("{:04X}", crc16_ccitt_false(covered.as_bytes())),
        "the CRC, in upper-case hex"
    );
}

#[test]
fn the_decoder_of_this_file_reads_the_documented_example() {
    // The CRC's published check value, and the payload docs/cashier.md gives for 500.37 baht.
    assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    assert_promptpay_payload(
        "00020101021229370016A0000006770101110113006681234567853037645406500.375802TH63045DB2",
        "500.37",
    );
}

async fn a_promptpay_page_shows_the_payload_its_qr_encodes_and_where_to_pay(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    thai_promptpay(&app, "own").await;
    let created = app
        .live_client
        .create_order(&deposit(
            &app, "pp-1", "500.00", "thb", "thailand", "thailand",
        ))
        .await
        .expect("order/new");
    let p = &created.payment;
    assert_eq!(p.channel, "own");
    assert_ne!(p.final_amount, "500.00", "an offset was added");

    let html = page(&created.payment_url).await;
    let payload = attribute(&html, "qr", "data-payload").expect("the QR's payload on the page");
    assert_eq!(
        read_qr(&html),
        payload,
        "the QR drawn encodes the payload shown"
    );
    assert_promptpay_payload(&payload, &p.final_amount);

    // Where to pay: the PromptPay ID, the bank account behind it, its holder and bank.
    assert_eq!(
        attribute(&html, "pay-to", "data-method").unwrap(),
        "promptpay"
    );
    assert_eq!(inner(&html, "pay-promptpay-id"), "0812345678");
    assert_eq!(inner(&html, "pay-account-number"), "123-4-56789-0");
    assert_eq!(inner(&html, "pay-account-holder"), "Somchai Jaidee");
    assert_eq!(inner(&html, "pay-bank"), "Kasikornbank");
    assert_eq!(
        copy_button(&html, "pay-account-number").as_deref(),
        Some("123-4-56789-0")
    );
    // The exact amount, its floating part highlighted.
    let (whole, cents) = p.final_amount.split_once('.').unwrap();
    assert_eq!(whole, "500");
    assert_eq!(
        inner(&html, "pay-amount"),
        format!("{whole}.<mark>{cents}</mark>")
    );
    assert_eq!(
        copy_button(&html, "pay-amount").as_deref(),
        Some(p.final_amount.as_str())
    );
    assert_eq!(inner(&html, "headline"), "Waiting for your payment");

    // In Thai: the same account and payload, the words in Thai.
    let thai = page(&format!("{}?lang=th", created.payment_url)).await;
    assert!(thai.contains("<html lang=\"th\">"));
    assert_eq!(inner(&thai, "headline"), "รอการชำระเงินของคุณ");
    assert_eq!(inner(&thai, "send-exactly"), "โอนยอดนี้ให้ตรงทุกหลัก");
    assert_eq!(
        inner(&thai, "how"),
        "สแกน QR นี้ด้วยแอปธนาคารของคุณ หรือโอนผ่านพร้อมเพย์"
    );
    assert_eq!(
        inner(&thai, "exact-note"),
        "โปรดโอนให้ตรงยอดนี้ รวมถึงตัวเลขที่ไฮไลต์ไว้ เพื่อให้เราทราบว่าเป็นยอดของคุณ"
    );
    for (label, id, value) in [
        ("หมายเลขพร้อมเพย์", "pay-promptpay-id", "0812345678"),
        ("เลขที่บัญชี", "pay-account-number", "123-4-56789-0"),
        ("ชื่อบัญชี", "pay-account-holder", "Somchai Jaidee"),
        ("ธนาคาร", "pay-bank", "Kasikornbank"),
    ] {
        let row = format!("<dt>{label}</dt><dd><span id=\"{id}\">{value}</span>");
        assert!(thai.contains(&row), "{row} in {thai}");
    }
    assert_eq!(
        inner(&thai, "pay-amount"),
        format!("{whole}.<mark>{cents}</mark>")
    );
    assert_eq!(
        attribute(&thai, "qr", "data-payload").as_deref(),
        Some(payload.as_str())
    );
}

async fn a_upi_page_has_the_link_and_qr_and_a_report_completes_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own-in", &["IN"], &["inr"]).await;
    let account = indian_upi(&app, "own-in").await;
    let created = app
        .live_client
        .create_order(&deposit(&app, "upi-1", "1000.00", "inr", "india", "india"))
        .await
        .expect("order/new");
    let p = &created.payment;
    assert_eq!(p.channel, "own-in");

    let html = page(&created.payment_url).await;
    assert_eq!(attribute(&html, "pay-to", "data-method").unwrap(), "upi");
    let link = attribute(&html, "app-link", "href").expect("the link that opens a UPI app");
    // As docs/cashier.md writes it: the VPA's `@` as it is, a space as %20.
    assert_eq!(
        link,
        format!(
            "upi://pay?pa=demoshop@okaxis&pn=Demo%20Shop&am={}&cu=INR&tn={}",
            p.final_amount, p.payment_uid
        )
    );
    assert!(link.contains(&format!("am={}&cu=INR", p.final_amount)));
    let parsed = url::Url::parse(&link).unwrap();
    assert_eq!((parsed.scheme(), parsed.host_str()), ("upi", Some("pay")));
    let query: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        query,
        [
            pair("pa", "demoshop@okaxis"),
            pair("pn", "Demo Shop"),
            pair("am", &p.final_amount),
            pair("cu", "INR"),
            pair("tn", &p.payment_uid),
        ]
    );
    assert_eq!(read_qr(&html), link, "the QR is the same link");
    assert_eq!(
        attribute(&html, "qr", "data-payload").as_deref(),
        Some(link.as_str())
    );
    assert_eq!(inner(&html, "pay-vpa"), "demoshop@okaxis");
    assert_eq!(
        copy_button(&html, "pay-vpa").as_deref(),
        Some("demoshop@okaxis")
    );
    assert_eq!(inner(&html, "pay-account-holder"), "Demo Shop");

    let answer = account
        .report(&account.transfer(&p.final_amount, "inr", "UTR-416512345678"))
        .await;
    assert_eq!(answer["outcome"], "matched");
    assert_eq!(answer["payment_uid"], p.payment_uid.as_str());
    let done = app.live_client.get_order("upi-1").await.unwrap();
    assert_eq!(done.payment_status, "completed");
    assert_eq!(done.final_amount, p.final_amount);
    let after = page(&created.payment_url).await;
    assert_eq!(inner(&after, "headline"), "Payment received");
    assert!(!after.contains("upi://"), "no instructions once paid");
    app.assert_ledger_sound().await;
}

async fn a_gcash_page_shows_the_number_to_copy_and_a_report_completes_the_order(backend: Backend) {
    let app = spawn_app(backend).await;
    own_channel(&app, "own-ph", &["PH"], &["php"]).await;
    let account = gcash(&app, "own-ph").await;
    let created = app
        .live_client
        .create_order(&deposit(&app, "gc-1", "500.00", "php", "gcash", "PH"))
        .await
        .expect("order/new");
    let p = &created.payment;
    assert_eq!(p.channel, "own-ph");

    let html = page(&created.payment_url).await;
    assert_eq!(attribute(&html, "pay-to", "data-method").unwrap(), "wallet");
    assert_eq!(inner(&html, "how"), "Send to this GCash number");
    assert!(
        html.contains(
            "<dt>GCash number</dt><dd><span id=\"pay-account-number\">09171234567</span>"
        ),
        "{html}"
    );
    assert_eq!(
        copy_button(&html, "pay-account-number").as_deref(),
        Some("09171234567")
    );
    assert_eq!(inner(&html, "pay-account-holder"), "Juan Cruz");
    assert!(!html.contains("<svg"), "an e-wallet number has no QR");
    let (whole, cents) = p.final_amount.split_once('.').unwrap();
    assert_eq!(
        inner(&html, "pay-amount"),
        format!("{whole}.<mark>{cents}</mark>")
    );

    let answer = account
        .report(&account.transfer(&p.final_amount, "php", "GC-7001234567"))
        .await;
    assert_eq!(answer["outcome"], "matched");
    let done = app.live_client.get_order("gc-1").await.unwrap();
    assert_eq!(done.payment_status, "completed");
    assert_eq!(done.final_amount, p.final_amount);
    app.assert_ledger_sound().await;
}

/// What one language's page shows: `<html lang>`, the headline, the heading of the
/// instructions, and whether the QR is drawn.
type Seen = (String, String, String, bool);

async fn a_promptpay_page_in_chromium_speaks_three_languages_and_turns_to_received_by_itself(
    backend: Backend,
) {
    let Some(path) = crate::helpers::chromium::required("the PromptPay page in Chromium") else {
        return;
    };
    let app = spawn_app(backend).await;
    own_channel(&app, "own", &["TH"], &["thb"]).await;
    let account = thai_promptpay(&app, "own").await;
    let created = app
        .live_client
        .create_order(&deposit(
            &app,
            "pp-chrome",
            "750.00",
            "thb",
            "thailand",
            "thailand",
        ))
        .await
        .expect("order/new");
    let url = created.payment_url.clone();
    let final_amount = created.payment.final_amount.clone();
    let runtime = tokio::runtime::Handle::current();

    let (seen, switched, reported, received) = tokio::task::spawn_blocking(move || {
        let browser = browser(path);
        let tab = browser.new_tab().unwrap();
        let text = |sel: &str| tab.wait_for_element(sel).unwrap().get_inner_text().unwrap();
        let mut seen: Vec<Seen> = Vec::new();
        for lang in ["th", "my", "zh-Hans"] {
            tab.navigate_to(&format!("{url}?lang={lang}"))
                .unwrap()
                .wait_until_navigated()
                .unwrap();
            seen.push((
                html_lang(&tab),
                text("#headline"),
                text("#how"),
                tab.find_element("#qr svg").is_ok(),
            ));
        }
        // On the Chinese page, the payer picks Thai in the switcher.
        tab.wait_for_element("#lang-th").unwrap().click().unwrap();
        let headline = wait_for_text(
            &tab,
            "#headline",
            "รอการชำระเงินของคุณ",
            Duration::from_secs(10),
        );
        let switched = (headline, html_lang(&tab), evaluate(&tab, "location.href"));

        // With the page open, the account's device reports the transfer; the test does not
        // touch the page again and reads it until it shows the received words.
        let report = account.transfer(&final_amount, "thb", "FT-CHROME-1");
        let reported = runtime.block_on(account.report(&report));
        let headline = wait_for_text(
            &tab,
            "#headline",
            "ได้รับการชำระเงินแล้ว",
            Duration::from_secs(30),
        );
        let received = (
            headline,
            text("#status"),
            page_status(&tab),
            evaluate(&tab, "location.href"),
            tab.find_element("#qr").is_err(),
        );
        (seen, switched, reported, received)
    })
    .await
    .unwrap();

    let expect = |lang: &str, headline: &str, how: &str| {
        (
            lang.to_string(),
            headline.to_string(),
            how.to_string(),
            true,
        )
    };
    assert_eq!(
        seen,
        [
            expect(
                "th",
                "รอการชำระเงินของคุณ",
                "สแกน QR นี้ด้วยแอปธนาคารของคุณ หรือโอนผ่านพร้อมเพย์"
            ),
            expect(
                "my",
                "သင့်ငွေပေးချေမှုကို စောင့်နေပါသည်",
                "ဤ QR ကုဒ်ကို သင့်ဘဏ်အက်ပ်ဖြင့် စကင်ဖတ်ပါ သို့မဟုတ် PromptPay ဖြင့် လွှဲပါ"
            ),
            expect(
                "zh-Hans",
                "等待您付款",
                "用您的银行 App 扫描此二维码，或通过 PromptPay 转账"
            ),
        ]
    );
    assert_eq!(switched.0, "รอการชำระเงินของคุณ", "Thai after the switch");
    assert_eq!(switched.1, "th");
    assert!(switched.2.ends_with("?lang=th"), "{}", switched.2);
    assert_eq!(reported["outcome"], "matched");
    assert_eq!(
        received,
        (
            "ได้รับการชำระเงินแล้ว".to_string(),
            "ได้รับแล้ว".to_string(),
            "completed".to_string(),
            switched.2.clone(),
            true,
        ),
        "the open page showed the payment received by itself, in the chosen language, without the QR"
    );
    assert_eq!(
        app.live_client
            .get_order("pp-chrome")
            .await
            .unwrap()
            .payment_status,
        "completed"
    );
}

crate::on_both_backends!(
    a_promptpay_page_shows_the_payload_its_qr_encodes_and_where_to_pay,
    a_upi_page_has_the_link_and_qr_and_a_report_completes_the_order,
    a_gcash_page_shows_the_number_to_copy_and_a_report_completes_the_order,
    a_promptpay_page_in_chromium_speaks_three_languages_and_turns_to_received_by_itself,
);
