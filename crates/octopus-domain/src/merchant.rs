//! Merchants and their API keys as the rest of the gateway sees them.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::signing::SigningKey;
use crate::Timestamp;

/// A merchant account, as one of its two books sees it: the live book (real money) or the
/// test book (sandbox money, kept apart). Each book has its own orders, `merchant_order_id`s
/// and balances; both answer with the merchant's one `uid` and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    /// Internal numeric id of this book (orders and ledger accounts are keyed by it); never
    /// shown to merchants.
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub created_at: crate::Timestamp,
    pub mode: Mode,
    /// The id of the merchant's live book: fees, blocklists, velocity rules, review thresholds
    /// and keys are the merchant's, whichever book an order is in (`id` for the live book).
    pub owner_id: i64,
}

/// Live or test: which money an API key moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }

    pub fn is_test(self) -> bool {
        self == Mode::Test
    }
}

/// An authenticated API key: the merchant book it belongs to, its prepared signing key, and
/// what limits its use.
#[derive(Debug, Clone)]
pub struct ApiCredential {
    pub api_key: String,
    pub merchant: Merchant,
    pub signing_key: SigningKey,
    pub policy: KeyPolicy,
}

/// What limits the use of an API key besides its signature: revocation, an expiry (a rotated
/// key stays valid until it) and an IP allowlist (empty: any address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub allowed_ips: Vec<IpNet>,
}

/// The answer to a correctly signed request from an address the key's allowlist leaves out.
pub const IP_NOT_ALLOWED: &str = "This IP address is not allowed for this key";

impl KeyPolicy {
    /// The key may still sign requests at `now` (a revoked key, or one whose expiry has
    /// come, is as if unknown).
    pub fn usable(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| now < at)
    }

    /// The key may be used from `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|net| net.contains(&ip))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Why an allowlist is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/24)")]
pub struct AllowlistError(pub String);

/// An IP allowlist as the operator writes it: addresses or CIDRs separated by commas or
/// spaces; each kept as its network (`10.1.2.3/8` is `10.0.0.0/8`). Empty text: no allowlist.
pub fn parse_allowlist(text: &str) -> Result<Vec<IpNet>, AllowlistError> {
    let mut nets: Vec<IpNet> = Vec::new();
    for part in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let net = parse_network(part).ok_or_else(|| AllowlistError(part.to_string()))?;
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    Ok(nets)
}

/// An address (as its one-address network) or a CIDR, truncated to its network.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(IpNet::from(canonical_ip(ip)));
    }
    let net: IpNet = text.parse().ok()?;
    Some(match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => IpNet::V4(
                ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                    .expect("a prefix of at most 32")
                    .trunc(),
            ),
            _ => IpNet::V6(v6.trunc()),
        },
        IpNet::V4(v4) => IpNet::V4(v4.trunc()),
    })
}

/// The allowlist as stored: its networks, comma separated.
pub fn format_allowlist(nets: &[IpNet]) -> String {
    nets.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Most characters of a merchant name.
pub const MAX_NAME_CHARS: usize = 128;

/// Why a merchant name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the merchant name must not be blank")]
    Blank,
    #[error("the merchant name must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the merchant name must not contain control characters")]
    Control,
    #[error("the merchant name must not contain invisible characters (U+{code:04X}, {what})")]
    Invisible { code: u32, what: &'static str },
}

/// A merchant name as stored and shown on consoles, callbacks and the ledger answer: trimmed,
/// 1 to [`MAX_NAME_CHARS`] characters, no control and no invisible characters
/// ([`crate::invisible`]), so what an operator reads is what is stored.
pub fn parse_name(name: &str) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Blank);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    if let Some(c) = crate::invisible::first_invisible(name) {
        let what = crate::invisible::invisible(c)
            .map(|r| r.what)
            .unwrap_or("invisible");
        return Err(NameError::Invisible {
            code: c as u32,
            what,
        });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_are_networks_and_checked_against_the_caller() {
        let nets = parse_allowlist("203.0.113.7, 10.1.2.3/8 2001:db8::/32,203.0.113.7").unwrap();
        assert_eq!(
            format_allowlist(&nets),
            "203.0.113.7/32,10.0.0.0/8,2001:db8::/32"
        );
        assert_eq!(parse_allowlist("").unwrap(), vec![]);
        assert_eq!(
            parse_allowlist("10.0.0.0/33").unwrap_err().to_string(),
            "'10.0.0.0/33' is not an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/24)"
        );
        assert!(parse_allowlist("example.com").is_err());
        let policy = KeyPolicy {
            revoked: false,
            expires_at: Some(1000),
            allowed_ips: nets,
        };
        assert!(policy.allows("10.200.0.1".parse().unwrap()));
        assert!(policy.allows("::ffff:10.0.0.9".parse().unwrap()));
        assert!(policy.allows("2001:db8::1".parse().unwrap()));
        assert!(!policy.allows("192.0.2.1".parse().unwrap()));
        assert!(KeyPolicy::default().allows("192.0.2.1".parse().unwrap()));
        assert!(policy.usable(999));
        assert!(!policy.usable(1000));
        assert!(KeyPolicy::default().usable(i64::MAX));
        let revoked = KeyPolicy {
            revoked: true,
            ..KeyPolicy::default()
        };
        assert!(!revoked.usable(0));
    }

    #[test]
    fn names_are_trimmed_and_visible() {
        assert_eq!(parse_name("  Shop One "), Ok("Shop One".to_string()));
        assert_eq!(parse_name("ร้านค้า 1"), Ok("ร้านค้า 1".to_string()));
        assert_eq!(parse_name(" \u{3000} "), Err(NameError::Blank));
        assert_eq!(parse_name(""), Err(NameError::Blank));
        assert_eq!(parse_name(&"x".repeat(129)), Err(NameError::TooLong));
        assert_eq!(parse_name("a\nb"), Err(NameError::Control));
        assert_eq!(
            parse_name("Shop\u{202E}enO").unwrap_err().to_string(),
            "the merchant name must not contain invisible characters (U+202E, bidirectional embeddings and overrides)"
        );
        assert!(matches!(
            parse_name("\u{FEFF}Shop"),
            Err(NameError::Invisible { code: 0xFEFF, .. })
        ));
        assert!(matches!(
            parse_name("Sh\u{200B}op"),
            Err(NameError::Invisible { code: 0x200B, .. })
        ));
    }
}
