//! Exact money. Amounts are decimals (never floating point), each currency has its number of
//! decimal places, and parsing refuses anything that is not a plain positive decimal.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The currencies Octopus settles in (lowercase codes on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    Cny,
    Usd,
    Thb,
    Vnd,
    Php,
    Sgd,
    Idr,
    Bdt,
    Twd,
    Brl,
    Mxn,
    Inr,
    Mmk,
}

impl Currency {
    pub const ALL: [Currency; 13] = [
        Currency::Cny,
        Currency::Usd,
        Currency::Thb,
        Currency::Vnd,
        Currency::Php,
        Currency::Sgd,
        Currency::Idr,
        Currency::Bdt,
        Currency::Twd,
        Currency::Brl,
        Currency::Mxn,
        Currency::Inr,
        Currency::Mmk,
    ];

    /// The lowercase code used on the wire and in storage.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cny => "cny",
            Currency::Usd => "usd",
            Currency::Thb => "thb",
            Currency::Vnd => "vnd",
            Currency::Php => "php",
            Currency::Sgd => "sgd",
            Currency::Idr => "idr",
            Currency::Bdt => "bdt",
            Currency::Twd => "twd",
            Currency::Brl => "brl",
            Currency::Mxn => "mxn",
            Currency::Inr => "inr",
            Currency::Mmk => "mmk",
        }
    }

    /// Decimal places an order amount may carry (ISO 4217 minor units).
    pub fn precision(self) -> u32 {
        match self {
            Currency::Vnd => 0,
            _ => 2,
        }
    }

    /// Parses a currency code in any case (`MMK`, `mmk`).
    pub fn parse(text: &str) -> Option<Currency> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = UnknownCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s).ok_or(UnknownCurrency)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown currency")]
pub struct UnknownCurrency;

/// Largest number of integer digits an order amount may have (999 trillion fits every
/// currency's realistic order many times over and keeps every sum far inside `Decimal`).
pub const MAX_INTEGER_DIGITS: usize = 15;

/// Why an amount text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("must be a decimal number such as \"100.00\"")]
    Malformed,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("has more decimal places than the currency allows")]
    TooPrecise,
    #[error("is too large")]
    TooLarge,
}

/// A positive amount of one currency, exact, with at most the currency's decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    /// Parses the plain decimal text a merchant sends (`"100"`, `"100.5"`, `"100.50"`).
    /// Signs, exponents, spaces and empty parts (`"5."`, `".5"`) are refused.
    pub fn parse(text: &str, currency: Currency) -> Result<Amount, AmountError> {
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int_part) || frac_part.is_some_and(|f| !digits(f)) {
            return Err(AmountError::Malformed);
        }
        let significant_int = int_part.trim_start_matches('0');
        if significant_int.len() > MAX_INTEGER_DIGITS {
            return Err(AmountError::TooLarge);
        }
        let frac = frac_part.unwrap_or("");
        let significant_frac = frac.trim_end_matches('0');
        if significant_frac.len() > currency.precision() as usize {
            return Err(AmountError::TooPrecise);
        }
        let normalized = if significant_frac.is_empty() {
            (if significant_int.is_empty() {
                "0"
            } else {
                significant_int
            })
            .to_string()
        } else {
            format!(
                "{}.{}",
                if significant_int.is_empty() {
                    "0"
                } else {
                    significant_int
                },
                significant_frac
            )
        };
        let value = Decimal::from_str(&normalized).map_err(|_| AmountError::Malformed)?;
        if value <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        Ok(Amount(value))
    }

    /// Parses an amount an upstream reported, given as the raw JSON value it sent: a string
    /// holding a plain decimal (`"6000"`, `"6000.50"`) or a number taken as its literal text
    /// (`6000`, `6000.5`). The rules are [`Amount::parse`]'s: the currency's decimal places,
    /// at most 15 integer digits, greater than zero, no exponent (`6e3`), no spaces, no sign
    /// (a negative amount is reported as not positive). Every amount that comes from an
    /// upstream goes through here, so none is read more laxly than a merchant's.
    pub fn parse_reported(json: &str, currency: Currency) -> Result<Amount, AmountError> {
        let text = crate::fields::scalar_text(json).ok_or(AmountError::Malformed)?;
        match text.strip_prefix('-') {
            // A well-formed negative amount is "not positive"; anything else after the sign
            // is malformed.
            Some(rest) => Err(match Amount::parse(rest, currency) {
                Err(AmountError::Malformed) => AmountError::Malformed,
                _ => AmountError::NotPositive,
            }),
            None => Amount::parse(&text, currency),
        }
    }

    /// Checks a decimal the gateway holds as an amount actually received (an order's
    /// `final_amount` when it completes): greater than zero, exact to the currency's decimal
    /// places, at most 15 integer digits. The state machine refuses a completion that fails
    /// this, whoever reported it.
    pub fn received(value: Decimal, currency: Currency) -> Result<Amount, AmountError> {
        if value <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        if value.normalize().scale() > currency.precision() {
            return Err(AmountError::TooPrecise);
        }
        if value.trunc() >= Decimal::from(10u64.pow(MAX_INTEGER_DIGITS as u32)) {
            return Err(AmountError::TooLarge);
        }
        Ok(Amount(value))
    }

    /// Wraps a decimal known to be positive (for amounts computed by the gateway).
    pub fn from_decimal(value: Decimal) -> Option<Amount> {
        (value > Decimal::ZERO).then_some(Amount(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

/// Formats a decimal with `places` decimal places (`100.5` with 2 → `"100.50"`). A value with
/// more significant places keeps them: money is never rounded by formatting.
pub fn format_places(value: Decimal, places: u32) -> String {
    let mut v = value.normalize();
    if v.scale() < places {
        v.rescale(places);
    }
    v.to_string()
}

/// Formats an amount of `currency` with the currency's precision.
pub fn format_amount(value: Decimal, currency: Currency) -> String {
    format_places(value, currency.precision())
}

/// The ledger keeps six decimal places for every currency.
pub const LEDGER_PLACES: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_decimals_exactly() {
        let a = Amount::parse("100.00", Currency::Mmk).unwrap();
        assert_eq!(a.value(), Decimal::new(100, 0));
        assert_eq!(format_amount(a.value(), Currency::Mmk), "100.00");
        let b = Amount::parse("0.1", Currency::Usd).unwrap();
        assert_eq!(format_amount(b.value(), Currency::Usd), "0.10");
        assert_eq!(
            Amount::parse("2500.50", Currency::Thb).unwrap().value(),
            Decimal::new(250050, 2)
        );
        // trailing zeros beyond the precision do not change the value
        assert!(Amount::parse("100.000", Currency::Thb).is_ok());
        assert!(Amount::parse("000100", Currency::Vnd).is_ok());
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "", "abc", "1e5", "-5", "+5", " 5", "5 ", "5.", ".5", "1,000", "0x10", "NaN",
        ] {
            assert_eq!(
                Amount::parse(bad, Currency::Usd),
                Err(AmountError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            Amount::parse("0", Currency::Usd),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            Amount::parse("0.00", Currency::Usd),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            Amount::parse("1.001", Currency::Usd),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Amount::parse("1.5", Currency::Vnd),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Amount::parse("1000000000000000", Currency::Vnd),
            Err(AmountError::TooLarge)
        );
        assert!(Amount::parse("999999999999999.99", Currency::Usd).is_ok());
    }

    #[test]
    fn reported_amounts_are_read_as_strictly_as_a_merchants() {
        let mmk = Currency::Mmk;
        let ok = |json: &str| Amount::parse_reported(json, mmk).map(|a| a.value());
        assert_eq!(ok("\"6000\""), Ok(Decimal::new(6000, 0)));
        assert_eq!(
            ok("6000"),
            Ok(Decimal::new(6000, 0)),
            "a JSON number, as its literal text"
        );
        assert_eq!(ok("6000.5"), Ok(Decimal::new(60005, 1)));
        assert_eq!(ok("\"6000.50\""), Ok(Decimal::new(600050, 2)));
        assert_eq!(
            ok("6000.000"),
            Ok(Decimal::new(6000, 0)),
            "trailing zeros change nothing"
        );
        assert_eq!(
            ok("\"999999999999999.99\""),
            Ok(Decimal::new(99999999999999999, 2))
        );
        for (json, why) in [
            ("\"-6000\"", AmountError::NotPositive),
            ("-6000", AmountError::NotPositive),
            ("\"0\"", AmountError::NotPositive),
            ("0", AmountError::NotPositive),
            ("\"0.00\"", AmountError::NotPositive),
            ("-0", AmountError::NotPositive),
            ("\"6000.001\"", AmountError::TooPrecise),
            ("6000.001", AmountError::TooPrecise),
            ("\"99999999999999999999\"", AmountError::TooLarge),
            ("99999999999999999999", AmountError::TooLarge),
            ("\"1000000000000000\"", AmountError::TooLarge),
            ("\"6e3\"", AmountError::Malformed),
            ("6e3", AmountError::Malformed),
            ("6E3", AmountError::Malformed),
            ("6000e0", AmountError::Malformed),
            ("\"+6000\"", AmountError::Malformed),
            ("\" 6000\"", AmountError::Malformed),
            ("\"6000 \"", AmountError::Malformed),
            ("\"6,000\"", AmountError::Malformed),
            ("\"\"", AmountError::Malformed),
            ("\"-\"", AmountError::Malformed),
            ("\"--6000\"", AmountError::Malformed),
            ("\"NaN\"", AmountError::Malformed),
            ("\"Infinity\"", AmountError::Malformed),
            ("null", AmountError::Malformed),
            ("true", AmountError::Malformed),
            ("[6000]", AmountError::Malformed),
            ("{\"amount\":6000}", AmountError::Malformed),
            ("\"6000", AmountError::Malformed),
        ] {
            assert_eq!(ok(json), Err(why), "{json}");
        }
        assert_eq!(
            Amount::parse_reported("\"1.5\"", Currency::Vnd),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Amount::parse_reported("15", Currency::Vnd).map(|a| a.value()),
            Ok(Decimal::new(15, 0))
        );
    }

    #[test]
    fn received_amounts_are_positive_and_exact() {
        assert!(Amount::received(Decimal::new(600000, 2), Currency::Mmk).is_ok());
        assert!(
            Amount::received(Decimal::new(6000000, 3), Currency::Mmk).is_ok(),
            "6000.000 is exact"
        );
        assert_eq!(
            Amount::received(Decimal::new(-6000, 0), Currency::Mmk),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            Amount::received(Decimal::ZERO, Currency::Mmk),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            Amount::received(Decimal::new(6000001, 3), Currency::Mmk),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Amount::received(Decimal::new(15, 1), Currency::Vnd),
            Err(AmountError::TooPrecise)
        );
        assert_eq!(
            Amount::received("99999999999999999999".parse().unwrap(), Currency::Mmk),
            Err(AmountError::TooLarge)
        );
        assert!(Amount::received("999999999999999.99".parse().unwrap(), Currency::Mmk).is_ok());
    }

    #[test]
    fn formatting_pads_but_never_rounds() {
        assert_eq!(format_places(Decimal::new(1005, 1), 2), "100.50");
        assert_eq!(format_places(Decimal::new(100, 0), 6), "100.000000");
        assert_eq!(format_places(Decimal::new(1001, 3), 2), "1.001");
        assert_eq!(format_places(Decimal::new(12000, 3), 0), "12");
    }

    #[test]
    fn currency_codes_any_case() {
        assert_eq!(Currency::parse("MMK"), Some(Currency::Mmk));
        assert_eq!(Currency::parse("thb"), Some(Currency::Thb));
        assert_eq!(Currency::parse("eur"), None);
        assert_eq!(Currency::ALL.len(), 13);
    }
}
