//! Countries as merchants write them: a name (`myanmar`, `India`) or an ISO 3166 code (`ph`,
//! `US`), in any case. Orders keep what the merchant sent and the normalized alpha-2 code.

/// Returns the ISO 3166-1 alpha-2 code (uppercase) of a country given by name or code.
pub fn normalize(text: &str) -> Option<&'static str> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.len() > 64 {
        return None;
    }
    // celes matches names without spaces ("unitedstates"); accept "United States" too.
    let compact: String = trimmed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '\'')
        .collect();
    let country: celes::Country = compact.parse().ok()?;
    Some(country.alpha2)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn names_and_codes_in_any_case() {
        assert_eq!(normalize("myanmar"), Some("MM"));
        assert_eq!(normalize("India"), Some("IN"));
        assert_eq!(normalize("thailand"), Some("TH"));
        assert_eq!(normalize("ph"), Some("PH"));
        assert_eq!(normalize("US"), Some("US"));
        assert_eq!(normalize("bangladesh"), Some("BD"));
        assert_eq!(normalize("Philippines"), Some("PH"));
        assert_eq!(normalize("MMR"), Some("MM"));
        assert_eq!(normalize("United States"), Some("US"));
        assert_eq!(normalize("atlantis"), None);
        assert_eq!(normalize(""), None);
    }
}
