//! Characters that a console, a CSV export or a cashier page does not show, or shows as
//! something else: Unicode format characters (general category Cf — bidirectional overrides
//! that show `invoice<U+202E>gpj.exe` as `invoiceexe.jpg`, zero-width spaces and joiners that
//! make two equal-looking ids differ, the byte order mark, the soft hyphen), the line and
//! paragraph separators, and the Hangul fillers that draw as nothing. Identifiers and names
//! that people read are refused when they hold one (see `request.rs` and `merchant.rs`); this
//! is the one list of them.
//!
//! The list is data, kept here once: Cf as of Unicode 15.0, plus U+2028, U+2029 (Zl, Zp) and
//! the four Hangul fillers. Control characters (Cc) are refused separately by the callers.

/// One run of invisible characters, first and last inclusive, with what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvisibleRange {
    pub first: char,
    pub last: char,
    pub what: &'static str,
}

const fn range(first: char, last: char, what: &'static str) -> InvisibleRange {
    InvisibleRange { first, last, what }
}

/// Every character refused as invisible, in code point order.
pub const INVISIBLE: &[InvisibleRange] = &[
    range('\u{00AD}', '\u{00AD}', "soft hyphen"),
    range('\u{0600}', '\u{0605}', "Arabic number signs"),
    range('\u{061C}', '\u{061C}', "Arabic letter mark"),
    range('\u{06DD}', '\u{06DD}', "Arabic end of ayah"),
    range('\u{070F}', '\u{070F}', "Syriac abbreviation mark"),
    range('\u{0890}', '\u{0891}', "Arabic pound and piastre marks"),
    range('\u{08E2}', '\u{08E2}', "Arabic disputed end of ayah"),
    range(
        '\u{115F}',
        '\u{1160}',
        "Hangul choseong and jungseong fillers",
    ),
    range('\u{180E}', '\u{180E}', "Mongolian vowel separator"),
    range(
        '\u{200B}',
        '\u{200F}',
        "zero-width space, non-joiner, joiner, left-to-right and right-to-left marks",
    ),
    range('\u{2028}', '\u{2029}', "line and paragraph separators"),
    range(
        '\u{202A}',
        '\u{202E}',
        "bidirectional embeddings and overrides",
    ),
    range(
        '\u{2060}',
        '\u{2064}',
        "word joiner and invisible operators",
    ),
    range(
        '\u{2066}',
        '\u{206F}',
        "bidirectional isolates and deprecated format characters",
    ),
    range('\u{3164}', '\u{3164}', "Hangul filler"),
    range(
        '\u{FEFF}',
        '\u{FEFF}',
        "byte order mark (zero-width no-break space)",
    ),
    range('\u{FFA0}', '\u{FFA0}', "halfwidth Hangul filler"),
    range('\u{FFF9}', '\u{FFFB}', "interlinear annotation characters"),
    range('\u{110BD}', '\u{110BD}', "Kaithi number sign"),
    range('\u{110CD}', '\u{110CD}', "Kaithi number sign above"),
    range(
        '\u{13430}',
        '\u{1343F}',
        "Egyptian hieroglyph format controls",
    ),
    range('\u{1BCA0}', '\u{1BCA3}', "shorthand format controls"),
    range('\u{1D173}', '\u{1D17A}', "musical symbol format controls"),
    range('\u{E0001}', '\u{E0001}', "language tag"),
    range('\u{E0020}', '\u{E007F}', "tag characters"),
];

/// What a character is when it is invisible (`None` for every other character).
pub fn invisible(c: char) -> Option<&'static InvisibleRange> {
    // The list is short and sorted; most text is ASCII, below all of it.
    if c < '\u{00AD}' {
        return None;
    }
    INVISIBLE.iter().find(|r| r.first <= c && c <= r.last)
}

/// The first invisible character of `text`, if any.
pub fn first_invisible(text: &str) -> Option<char> {
    text.chars().find(|c| invisible(*c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_disjoint() {
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].first <= pair[0].last, "{:?}", pair[0]);
            assert!(
                pair[0].last < pair[1].first,
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    /// Every character the issue names, and every Cf character of Unicode 15.0, is refused.
    #[test]
    fn format_characters_are_invisible() {
        let named = [
            '\u{00AD}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}',
            '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2060}', '\u{2061}', '\u{2062}',
            '\u{2063}', '\u{2064}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}',
        ];
        for c in named {
            assert!(invisible(c).is_some(), "U+{:04X}", c as u32);
        }
        // General category Cf of Unicode 15.0 (UnicodeData.txt), as ranges.
        let cf: &[(u32, u32)] = &[
            (0x00AD, 0x00AD),
            (0x0600, 0x0605),
            (0x061C, 0x061C),
            (0x06DD, 0x06DD),
            (0x070F, 0x070F),
            (0x0890, 0x0891),
            (0x08E2, 0x08E2),
            (0x180E, 0x180E),
            (0x200B, 0x200F),
            (0x202A, 0x202E),
            (0x2060, 0x2064),
            (0x2066, 0x206F),
            (0xFEFF, 0xFEFF),
            (0xFFF9, 0xFFFB),
            (0x110BD, 0x110BD),
            (0x110CD, 0x110CD),
            (0x13430, 0x1343F),
            (0x1BCA0, 0x1BCA3),
            (0x1D173, 0x1D17A),
            (0xE0001, 0xE0001),
            (0xE0020, 0xE007F),
        ];
        for &(first, last) in cf {
            for cp in first..=last {
                let c = char::from_u32(cp).unwrap();
                assert!(invisible(c).is_some(), "U+{cp:04X}");
            }
        }
        for c in [
            '\u{2028}', '\u{2029}', '\u{3164}', '\u{115F}', '\u{1160}', '\u{FFA0}',
        ] {
            assert!(invisible(c).is_some(), "U+{:04X}", c as u32);
        }
        assert_eq!(first_invisible("invoice\u{202E}gpj.exe"), Some('\u{202E}'));
        assert_eq!(first_invisible("\u{FEFF}123qq"), Some('\u{FEFF}'));
    }

    /// Names in the gateway's languages, and ordinary spaces, are visible.
    #[test]
    fn names_in_every_language_are_visible() {
        for text in [
            "Jane Doe",
            "O'Brien-Smith",
            "สมชาย ใจดี",
            "မောင်မောင်",
            "राहुल शर्मा",
            "রহিম উদ্দিন",
            "张伟",
            "Nguyễn Văn An",
            "Budi Santoso",
            "Juan dela Cruz",
            "Straße\u{00A0}5",
            "ord-ภาษา-1",
            "😀",
            "مرحبا",
            "김민준",
        ] {
            assert_eq!(first_invisible(text), None, "{text}");
        }
    }
}
