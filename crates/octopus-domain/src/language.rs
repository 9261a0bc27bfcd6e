//! The languages payers read the cashier page in, and the rule that picks one for a page:
//! the page's `lang` parameter (the payer's own choice, from the switcher), then the order's
//! `lang` (sent by the merchant with `order/new`), then the browser's `Accept-Language` (its
//! quality values honoured), then the order's country, then English. A value that names no
//! language of the page is skipped, so the next rule decides.

/// A language of the cashier page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    English,
    Thai,
    Burmese,
    /// Simplified Chinese, the only Chinese of the page: every `zh` tag reads as it.
    Chinese,
    Hindi,
    Bengali,
    Vietnamese,
    Indonesian,
}

impl Language {
    /// Every language, in the switcher's order.
    pub const ALL: [Language; 8] = [
        Language::English,
        Language::Thai,
        Language::Burmese,
        Language::Chinese,
        Language::Hindi,
        Language::Bengali,
        Language::Vietnamese,
        Language::Indonesian,
    ];

    /// The BCP 47 tag of `<html lang>`, `?lang=` and the message catalog.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Thai => "th",
            Language::Burmese => "my",
            Language::Chinese => "zh-Hans",
            Language::Hindi => "hi",
            Language::Bengali => "bn",
            Language::Vietnamese => "vi",
            Language::Indonesian => "id",
        }
    }

    /// The language a tag names, by its primary subtag in any case (`th-TH`, `EN_us`, `zh-CN`,
    /// `zh-Hant` all name one; `in` is the old tag of Indonesian). `None` for any other.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Some(match primary.as_str() {
            "en" => Language::English,
            "th" => Language::Thai,
            "my" => Language::Burmese,
            "zh" => Language::Chinese,
            "hi" => Language::Hindi,
            "bn" => Language::Bengali,
            "vi" => Language::Vietnamese,
            "id" | "in" => Language::Indonesian,
            _ => return None,
        })
    }

    /// The language most payers of a country (ISO 3166 alpha-2) read, where the page has it.
    pub fn of_country(code: &str) -> Option<Language> {
        Some(match code.trim().to_ascii_uppercase().as_str() {
            "TH" => Language::Thai,
            "MM" => Language::Burmese,
            "CN" => Language::Chinese,
            "IN" => Language::Hindi,
            "BD" => Language::Bengali,
            "VN" => Language::Vietnamese,
            "ID" => Language::Indonesian,
            "PH" => Language::English,
            _ => return None,
        })
    }
}

/// The first language of an `Accept-Language` header the page has, by quality (highest
/// first; equal qualities in the header's order); `q=0` means "not this one", `*` names none.
pub fn from_accept_language(header: &str) -> Option<Language> {
    let mut ranges: Vec<(u16, usize, Language)> = header
        .split(',')
        .enumerate()
        .filter_map(|(position, item)| {
            let mut parts = item.split(';');
            let language = Language::from_tag(parts.next()?)?;
            let mut quality = 1000;
            for parameter in parts {
                let (name, value) = parameter.split_once('=')?;
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = thousandths(value.trim())?;
                }
            }
            (quality > 0).then_some((quality, position, language))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges.first().map(|&(_, _, language)| language)
}

/// A quality value (`0` to `1` with up to three decimals) in thousandths; `None` if malformed.
fn thousandths(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    let q = whole * 1000 + fraction;
    (q <= 1000).then_some(q)
}

/// What a cashier page knows about the payer's language, strongest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct LanguageHints<'a> {
    /// The page's `lang` query parameter.
    pub page: Option<&'a str>,
    /// The `lang` the merchant sent with the order.
    pub order: Option<&'a str>,
    /// The browser's `Accept-Language` header.
    pub accept_language: Option<&'a str>,
    /// The order's country (ISO 3166 alpha-2).
    pub country_code: Option<&'a str>,
}

impl LanguageHints<'_> {
    /// The page's language (see the module's rule).
    pub fn choose(&self) -> Language {
        self.page
            .and_then(Language::from_tag)
            .or_else(|| self.order.and_then(Language::from_tag))
            .or_else(|| self.accept_language.and_then(from_accept_language))
            .or_else(|| self.country_code.and_then(Language::of_country))
            .unwrap_or(Language::English)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints<'a>(
        page: Option<&'a str>,
        order: Option<&'a str>,
        accept_language: Option<&'a str>,
        country_code: Option<&'a str>,
    ) -> Language {
        LanguageHints {
            page,
            order,
            accept_language,
            country_code,
        }
        .choose()
    }

    #[test]
    fn each_rule_decides_only_when_the_stronger_ones_name_no_language() {
        let all = (Some("th"), Some("my"), Some("vi, en;q=0.5"), Some("ID"));
        assert_eq!(hints(all.0, all.1, all.2, all.3), Language::Thai);
        assert_eq!(hints(None, all.1, all.2, all.3), Language::Burmese);
        assert_eq!(hints(None, None, all.2, all.3), Language::Vietnamese);
        assert_eq!(hints(None, None, None, all.3), Language::Indonesian);
        assert_eq!(hints(None, None, None, None), Language::English);
        assert_eq!(hints(None, None, None, Some("US")), Language::English);
        // A value the page has no language for is skipped, not taken as English.
        assert_eq!(
            hints(
                Some("fr"),
                Some("klingon"),
                Some("de-DE, fr;q=0.8"),
                Some("MM")
            ),
            Language::Burmese
        );
        assert_eq!(
            hints(Some(""), Some("zh-CN"), None, None),
            Language::Chinese
        );
    }

    #[test]
    fn tags_are_read_by_their_primary_subtag_in_any_case() {
        assert_eq!(Language::from_tag("th-TH"), Some(Language::Thai));
        assert_eq!(Language::from_tag("EN_us"), Some(Language::English));
        assert_eq!(Language::from_tag("zh-Hans-CN"), Some(Language::Chinese));
        assert_eq!(Language::from_tag("zh-TW"), Some(Language::Chinese));
        assert_eq!(Language::from_tag("in"), Some(Language::Indonesian));
        assert_eq!(Language::from_tag("bn-BD"), Some(Language::Bengali));
        assert_eq!(Language::from_tag("hi"), Some(Language::Hindi));
        assert_eq!(Language::from_tag("fil"), None);
        assert_eq!(Language::from_tag(""), None);
        for language in Language::ALL {
            assert_eq!(Language::from_tag(language.tag()), Some(language));
        }
    }

    #[test]
    fn accept_language_honours_quality_values() {
        let pick = from_accept_language;
        assert_eq!(pick("th-TH,th;q=0.9,en;q=0.8"), Some(Language::Thai));
        assert_eq!(pick("en;q=0.5, th;q=0.9"), Some(Language::Thai));
        assert_eq!(pick("de, my;q=0.3, en;q=0.2"), Some(Language::Burmese));
        assert_eq!(
            pick("vi;q=0.8, id;q=0.8"),
            Some(Language::Vietnamese),
            "ties: header order"
        );
        assert_eq!(
            pick("th;q=0, en;q=0.1"),
            Some(Language::English),
            "q=0 refuses"
        );
        assert_eq!(pick("hi;q=1.000"), Some(Language::Hindi));
        assert_eq!(pick("*"), None);
        assert_eq!(pick("fr-CA, fr;q=0.9"), None);
        assert_eq!(
            pick("th;q=2, bn;q=0.5"),
            Some(Language::Bengali),
            "a bad q skips that range"
        );
        assert_eq!(pick("th;q=abc"), None);
        assert_eq!(pick(""), None);
    }

    #[test]
    fn countries_map_to_their_languages() {
        for (code, language) in [
            ("TH", Language::Thai),
            ("MM", Language::Burmese),
            ("CN", Language::Chinese),
            ("IN", Language::Hindi),
            ("BD", Language::Bengali),
            ("VN", Language::Vietnamese),
            ("ID", Language::Indonesian),
            ("PH", Language::English),
            ("th", Language::Thai),
        ] {
            assert_eq!(Language::of_country(code), Some(language), "{code}");
        }
        assert_eq!(Language::of_country("FR"), None);
    }
}
