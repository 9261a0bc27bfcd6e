//! What the fuzzers feed. Every parser that reads bytes from outside the gateway has one
//! function here taking arbitrary input: it must never panic, hang or allocate without bound,
//! and what it accepts must hold up (a signature made over the fields verifies and a changed
//! one does not; an accepted amount is positive, exact in its currency and reads back the same;
//! a correctly signed postback is never refused as badly signed). The cargo-fuzz targets in
//! `fuzz/` call these; `tests/corpora.rs` replays the committed corpora through them in the
//! ordinary test suite, so a crash once found stays fixed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use octopus_connectors::registry::Setup;
use octopus_connectors::{Connector, Notification, PaykassmaConnector, PostbackError};
use octopus_domain::device::Report;
use octopus_domain::fields::RequestFields;
use octopus_domain::money::{format_amount, Amount, Currency};
use octopus_domain::request::OrderRequest;
use octopus_domain::signing::{canonical, SigningKey};
use rust_decimal::Decimal;

/// A fuzz target: takes any input, panics when a check fails.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the folders of `fuzz/corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("request", request),
    ("amount", amount),
    ("paykassma_postback", paykassma_postback),
    ("device_report", device_report),
];

/// A merchant request body: read as the signature sees it, signed and verified both ways the
/// empty fields may be treated, and validated as `order/new`.
pub fn request(data: &[u8]) {
    let Ok(fields) = RequestFields::from_json(data) else {
        return;
    };
    let key = SigningKey::new(b"fuzz-secret");
    for keep_empty in [true, false] {
        let text = canonical(&fields, keep_empty);
        let signature = key.sign_str(&text);
        assert!(
            key.verify_str(&text, &signature),
            "its own signature verifies"
        );
        assert!(
            !key.verify_str(&text, &flip(&signature)),
            "a changed signature does not verify"
        );
    }
    let signature = key.sign(&fields);
    assert!(key.verify(&fields, &signature));
    assert!(!key.verify(&fields, &flip(&signature)));
    assert!(!key.verify(&fields, &String::from_utf8_lossy(data)));
    // Valid or not, validation answers; an accepted order's amount is one the amount parser
    // accepts.
    if let Ok(order) = OrderRequest::from_fields(&fields) {
        let currency = order.currency;
        let text = format_amount(order.amount.value(), currency);
        assert_eq!(
            Amount::parse(&text, currency).map(Amount::value),
            Ok(order.amount.value())
        );
    }
}

/// An amount's text, in the currency the first byte picks: merchant text and an upstream's
/// reported JSON value.
pub fn amount(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let currency = Currency::ALL[pick as usize % Currency::ALL.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(amount) = Amount::parse(text, currency) {
        assert_accepted(amount, currency);
        // An accepted text reads the same as a JSON string or number from an upstream.
        let quoted = serde_json::to_string(text).expect("a string serializes");
        assert_eq!(Amount::parse_reported(&quoted, currency), Ok(amount));
        assert_eq!(Amount::parse_reported(text, currency), Ok(amount));
    }
    if let Ok(amount) = Amount::parse_reported(text, currency) {
        assert_accepted(amount, currency);
    }
}

fn assert_accepted(amount: Amount, currency: Currency) {
    let value = amount.value();
    assert!(value > Decimal::ZERO, "{value} accepted");
    assert!(
        value.normalize().scale() <= currency.precision(),
        "{value} exact in {currency:?}"
    );
    let formatted = format_amount(value, currency);
    assert_eq!(
        Amount::parse(&formatted, currency),
        Ok(amount),
        "{formatted} reads back"
    );
    assert_eq!(Amount::received(value, currency), Ok(amount));
}

/// A Paykassma postback: the bytes as they arrive, and, when they are JSON, the same JSON as
/// the transactions of an envelope signed with the channel's keys (so the fuzzer gets past the
/// signature to the transactions).
pub fn paykassma_postback(data: &[u8]) {
    let (connector, sim) = paykassma();
    let _ = connector.postback(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(additional) = serde_json::from_str::<&serde_json::value::RawValue>(text) else {
        return;
    };
    let signature = sim.postback_signature(&octopus_connectors::paykassma::provider_json(
        additional.get(),
    ));
    for direction in [None, Some("deposit"), Some("withdrawal")] {
        let mut envelope = format!(
            r#"{{"additional_data":{},"signature":"{signature}","access_key":"{}""#,
            additional.get(),
            sim.postback_access_key()
        );
        if let Some(direction) = direction {
            envelope.push_str(&format!(r#","direction":"{direction}""#));
        }
        envelope.push('}');
        match connector.postback(envelope.as_bytes()) {
            Err(PostbackError::BadSignature) => {
                panic!("a correctly signed postback was refused as badly signed: {envelope}")
            }
            Err(PostbackError::NotSupported) => panic!("a Paykassma channel takes postbacks"),
            Ok(notifications) => {
                for n in notifications {
                    // What a postback reports received is an amount the gateway may hold.
                    if let Notification::Deposit {
                        received: Ok(r), ..
                    } = &n
                    {
                        assert!(Amount::received(r.amount, r.currency).is_ok(), "{n:?}");
                    }
                }
            }
            Err(_) => {}
        }
    }
}

/// The connector of a Paykassma channel with the simulator's keys, built once.
fn paykassma() -> &'static (PaykassmaConnector, octopus_paykassma_sim::Sim) {
    static BUILT: OnceLock<(PaykassmaConnector, octopus_paykassma_sim::Sim)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let config = octopus_paykassma_sim::SimConfig::default();
        let credentials = config.channel_credentials();
        let settings: BTreeMap<String, String> =
            [("api_url".to_string(), "http://127.0.0.1:9".to_string())].into();
        let connector = PaykassmaConnector::from_setup(&Setup {
            channel: "pk-fuzz",
            settings: &settings,
            credentials: &credentials,
            sandbox_payout_delay: std::time::Duration::ZERO,
        })
        .expect("the simulator's keys make a channel");
        (connector, octopus_paykassma_sim::Sim::new(config))
    })
}

/// A device's report of a transfer: an accepted report's amount is exact and positive.
pub fn device_report(data: &[u8]) {
    if let Ok(report) = Report::parse(data) {
        let amount = Amount::received(report.amount, report.currency)
            .expect("an accepted report's amount is one the gateway may hold");
        assert_accepted(amount, report.currency);
        assert!(!report.account.is_empty() && !report.reference.is_empty());
    }
}

/// The signature with its first hex digit changed.
fn flip(signature: &str) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == '0' { '1' } else { '0' };
    }
    chars.into_iter().collect()
}

/// The largest single allocation a target may make: a parser given a few kilobytes that asks
/// for more is a bug (an unbounded buffer, a length taken from the input).
pub const ALLOCATION_LIMIT: usize = 32 * 1024 * 1024;

/// The system allocator, aborting (a crash libFuzzer reports, with the input) on any
/// allocation over [`ALLOCATION_LIMIT`]. The fuzz targets install it as their global
/// allocator; it enforces the bound with or without a sanitizer.
pub struct Bounded;

// SAFETY: every call goes to the system allocator unchanged, or aborts.
unsafe impl std::alloc::GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: the caller's layout, passed on.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

fn check(size: usize) {
    if size > ALLOCATION_LIMIT {
        use std::io::Write;
        // Unbuffered, from a static slice: no allocation on the way out.
        let _ = std::io::stderr().write_all(b"octopus-fuzz: an allocation over the limit\n");
        std::process::abort();
    }
}
