//! A real headless Chromium for the tests of the cashier page: which one to drive, launched
//! as a phone-sized window, and reading the page as it changes by itself (its script polls the
//! order's status and loads the page again), with deadlines rather than fixed sleeps.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use headless_chrome::{Browser, LaunchOptions, Tab};

/// The Chromium to drive: `OCTOPUS_CHROMIUM`, or the Debian package's path.
pub fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("OCTOPUS_CHROMIUM").ok().map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// The Chromium to drive for `test`, or `None` after saying the test is skipped; with
/// `OCTOPUS_REQUIRE_CHROMIUM` set a missing browser fails the test instead.
pub fn required(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("OCTOPUS_REQUIRE_CHROMIUM").is_none(),
            "OCTOPUS_REQUIRE_CHROMIUM is set but no Chromium was found"
        );
        crate::helpers::skipped(&format!(
            "{test}: no Chromium (install the chromium package or set OCTOPUS_CHROMIUM)"
        ));
    }
    found
}

/// A headless Chromium with a phone's window and a fresh profile.
pub fn browser(path: PathBuf) -> Browser {
    let profile = tempfile::tempdir().unwrap().keep();
    let args: Vec<&OsStr> = [
        "--no-first-run",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    Browser::new(
        LaunchOptions::default_builder()
            .path(Some(path))
            .headless(true)
            .sandbox(false)
            .window_size(Some((390, 844)))
            .user_data_dir(Some(profile))
            .args(args)
            .idle_browser_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .expect("launch headless Chromium")
}

/// The order's status as the page has it (`data-status`; the payer reads words instead).
pub fn page_status(tab: &Tab) -> String {
    tab.wait_for_element("#status")
        .unwrap()
        .get_attribute_value("data-status")
        .unwrap()
        .unwrap_or_default()
}

/// Reads `selector`'s text until it is `expected` (the page may be loading itself again
/// meanwhile), for at most `within`; returns what it read last.
pub fn wait_for_text(tab: &Tab, selector: &str, expected: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(text) = tab
            .find_element(selector)
            .and_then(|element| element.get_inner_text())
        {
            if text == expected {
                return text;
            }
            last = text;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    last
}

/// A JavaScript expression's value in the page, as text (empty when it is not a string).
pub fn evaluate(tab: &Tab, expression: &str) -> String {
    tab.evaluate(expression, false)
        .unwrap()
        .value
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The page's `<html lang>`.
pub fn html_lang(tab: &Tab) -> String {
    evaluate(tab, "document.documentElement.lang")
}
