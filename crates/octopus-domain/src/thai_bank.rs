//! Thai banks, as merchants name them in Thailand's `from_bank_name` / `to_bank_name` and as an
//! operator's bank wants them in a bulk payout file: the three-digit code of the Thai bank
//! list (`004`) or its short name (`KBANK`), in any case. The list is data here, in one place,
//! so request validation, payee checks, payout exports and docs/api.md ("Thai bank codes")
//! agree; `tests::the_whole_list_parses` keeps it honest.

use std::fmt;

/// One Thai bank of the list. Only [`ThaiBank::ALL`] and [`ThaiBank::parse`] make one, so a
/// `ThaiBank` is always a bank of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThaiBank {
    code: &'static str,
    short_name: &'static str,
    name: &'static str,
}

const fn bank(code: &'static str, short_name: &'static str, name: &'static str) -> ThaiBank {
    ThaiBank {
        code,
        short_name,
        name,
    }
}

/// TMBThanachart, which the merged Thanachart Bank's code and name lead to.
const TTB: ThaiBank = bank("011", "TTB", "TMBThanachart");

/// Codes and short names no longer in use that still name a bank of the list:
/// (code, short name, name, the bank it became).
pub const MERGED: &[(&str, &str, &str, ThaiBank)] =
    &[("065", "TBANK", "Thanachart (merged into TTB)", TTB)];

/// A bank name that is not on the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Thai bank code or short name (see \"Thai bank codes\" in docs/api.md)")]
pub struct UnknownThaiBank(pub String);

impl ThaiBank {
    /// Every bank of the list, in the order of its codes.
    pub const ALL: &'static [ThaiBank] = &[
        bank("002", "BBL", "Bangkok Bank"),
        bank("004", "KBANK", "Kasikornbank"),
        bank("006", "KTB", "Krung Thai Bank"),
        TTB,
        bank("014", "SCB", "Siam Commercial Bank"),
        bank("017", "CITI", "Citibank"),
        bank("020", "SCBT", "Standard Chartered (Thai)"),
        bank("022", "CIMBT", "CIMB Thai"),
        bank("024", "UOB", "United Overseas Bank (Thai)"),
        bank("025", "BAY", "Bank of Ayudhya (Krungsri)"),
        bank("030", "GSB", "Government Savings Bank"),
        bank("033", "GHB", "Government Housing Bank"),
        bank(
            "034",
            "BAAC",
            "Bank for Agriculture and Agricultural Cooperatives",
        ),
        bank("039", "MHCB", "Mizuho"),
        bank("045", "BNPP", "BNP Paribas"),
        bank("052", "BOC", "Bank of China (Thai)"),
        bank("066", "ISBT", "Islamic Bank of Thailand"),
        bank("067", "TISCO", "TISCO"),
        bank("069", "KKP", "Kiatnakin Phatra"),
        bank("070", "ICBCT", "ICBC (Thai)"),
        bank("071", "TCD", "Thai Credit Bank"),
        bank("073", "LH", "Land and Houses Bank"),
    ];

    /// The bank a merchant named: a code (`"004"`) or a short name (`"KBANK"`, `"kbank"`), with
    /// white space around it ignored. A merged bank's code or name gives the bank it became
    /// (`"065"` and `"TBANK"` give 011 TTB). Anything else (a full name, a code without its
    /// leading zeros) is not recognised: the list is what operators' banks use.
    pub fn parse(text: &str) -> Result<ThaiBank, UnknownThaiBank> {
        let sent = text;
        let text = text.trim();
        let named =
            |code: &str, short_name: &str| code == text || short_name.eq_ignore_ascii_case(text);
        ThaiBank::ALL
            .iter()
            .copied()
            .find(|b| named(b.code, b.short_name))
            .or_else(|| {
                MERGED
                    .iter()
                    .find(|(code, short_name, _, _)| named(code, short_name))
                    .map(|(_, _, _, bank)| *bank)
            })
            .ok_or_else(|| UnknownThaiBank(sent.to_string()))
    }

    /// The three-digit code, as a bulk payout file wants it (`"004"`).
    pub fn code(self) -> &'static str {
        self.code
    }

    /// The short name, upper case (`"KBANK"`).
    pub fn short_name(self) -> &'static str {
        self.short_name
    }

    /// The name payers and operators read (`"Kasikornbank"`).
    pub fn name(self) -> &'static str {
        self.name
    }
}

impl fmt::Display for ThaiBank {
    /// `004 KBANK`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.short_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case spelling of a short ASCII name, from all lower to all upper.
    fn spellings(name: &str) -> Vec<String> {
        let letters: Vec<usize> = name
            .char_indices()
            .filter(|(_, c)| c.is_ascii_alphabetic())
            .map(|(i, _)| i)
            .collect();
        (0..1u32 << letters.len())
            .map(|mask| {
                let mut s: Vec<u8> = name.to_ascii_lowercase().into_bytes();
                for (bit, &i) in letters.iter().enumerate() {
                    if mask & (1 << bit) != 0 {
                        s[i] = s[i].to_ascii_uppercase();
                    }
                }
                String::from_utf8(s).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_whole_list_parses() {
        assert_eq!(ThaiBank::ALL.len(), 22);
        for &bank in ThaiBank::ALL {
            assert_eq!(bank.code().len(), 3, "{bank}");
            assert!(bank.code().bytes().all(|b| b.is_ascii_digit()), "{bank}");
            assert_eq!(bank.short_name(), bank.short_name().to_ascii_uppercase());
            assert!(!bank.name().is_empty());
            assert_eq!(ThaiBank::parse(bank.code()), Ok(bank));
            assert_eq!(ThaiBank::parse(&format!(" {}\t", bank.code())), Ok(bank));
            for spelling in spellings(bank.short_name()) {
                assert_eq!(ThaiBank::parse(&spelling), Ok(bank), "{spelling}");
                assert_eq!(ThaiBank::parse(&format!("{spelling} ")), Ok(bank));
            }
        }
        // Codes in order, none twice, and no short name is another bank's.
        let codes: Vec<&str> = ThaiBank::ALL.iter().map(|b| b.code()).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "{codes:?}");
        let mut names: Vec<&str> = ThaiBank::ALL.iter().map(|b| b.short_name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ThaiBank::ALL.len());
    }

    #[test]
    fn a_few_banks_as_the_list_writes_them() {
        let kbank = ThaiBank::parse("kbank").unwrap();
        assert_eq!(
            (kbank.code(), kbank.short_name(), kbank.name()),
            ("004", "KBANK", "Kasikornbank")
        );
        assert_eq!(kbank.to_string(), "004 KBANK");
        assert_eq!(
            ThaiBank::parse("KBANK2").unwrap_err().to_string(),
            "\"KBANK2\" is not a Thai bank code or short name (see \"Thai bank codes\" in docs/api.md)"
        );
        assert_eq!(ThaiBank::parse("Scb").unwrap().code(), "014");
        assert_eq!(ThaiBank::parse("073").unwrap().short_name(), "LH");
        assert_eq!(ThaiBank::parse("baac").unwrap().code(), "034");
    }

    #[test]
    fn thanachart_is_ttb() {
        for text in ["065", "TBANK", "tbank", " TBank "] {
            let bank = ThaiBank::parse(text).unwrap();
            assert_eq!(bank.code(), "011", "{text}");
            assert_eq!(bank.short_name(), "TTB");
            assert_eq!(bank, ThaiBank::parse("ttb").unwrap());
        }
        // The merged bank is not listed as a bank of its own.
        assert!(ThaiBank::ALL.iter().all(|b| b.code() != "065"));
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "",
            " ",
            "4",
            "04",
            "0004",
            "999",
            "000",
            "001",
            "065x",
            "KBANK2",
            "K BANK",
            "KBANK.",
            "kasikornbank",
            "Bangkok Bank",
            "kbz",
            "UPI",
            "bkash",
            "TMB",
            "K-BANK",
            "０04",
            "ＫＢＡＮＫ",
            "004\u{200B}",
        ] {
            assert_eq!(
                ThaiBank::parse(text),
                Err(UnknownThaiBank(text.to_string())),
                "{text:?}"
            );
        }
    }
}
