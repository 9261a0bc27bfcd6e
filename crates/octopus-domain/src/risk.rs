//! Merchant safety decided once: what a blocklist entry matches (values normalized so that
//! `0164-223-4663` and `01642234663` are one account), which entries an order could hit, when a
//! velocity rule is breached, and which payouts wait for an operator's review. The server
//! loads entries, rules and counts from storage and asks these functions; nothing here reads
//! a clock or a database.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use rust_decimal::Decimal;

use crate::merchant::{canonical_ip, parse_network};
use crate::{Currency, Order, PaymentStatus, StatusChange, Timestamp, TransactionType};

/// What a blocklist entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// The merchant's identifier of its end user (`merchant_id` of order/new).
    MemberId,
    /// The account money comes from (`from`).
    PayerAccount,
    /// The account money goes to (`to`).
    PayeeAccount,
    /// The payer's name (`from_name`).
    PayerName,
    /// The address the order came from, or a CIDR.
    Ip,
}

impl BlockKind {
    pub const ALL: [BlockKind; 5] = [
        BlockKind::MemberId,
        BlockKind::PayerAccount,
        BlockKind::PayeeAccount,
        BlockKind::PayerName,
        BlockKind::Ip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BlockKind::MemberId => "member_id",
            BlockKind::PayerAccount => "payer_account",
            BlockKind::PayeeAccount => "payee_account",
            BlockKind::PayerName => "payer_name",
            BlockKind::Ip => "ip",
        }
    }

    /// How the refusal names it: "Rejected: <what> is blocked".
    pub fn what(self) -> &'static str {
        match self {
            BlockKind::MemberId => "member id",
            BlockKind::PayerAccount => "payer account",
            BlockKind::PayeeAccount => "payee account",
            BlockKind::PayerName => "payer name",
            BlockKind::Ip => "IP address",
        }
    }
}

impl FromStr for BlockKind {
    type Err = RiskError;
    fn from_str(s: &str) -> Result<Self, RiskError> {
        BlockKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| RiskError::Kind(s.to_string()))
    }
}

impl std::fmt::Display for BlockKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a blocklist entry, a velocity rule or a threshold is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskError {
    #[error("unknown kind '{0}': use member_id, payer_account, payee_account, payer_name or ip")]
    Kind(String),
    #[error("the value is empty once normalized")]
    Empty,
    #[error("the value is longer than {MAX_VALUE_CHARS} characters")]
    TooLong,
    #[error("'{0}' is not an IP address or CIDR (e.g. 203.0.113.7 or 203.0.113.0/24)")]
    Ip(String),
    #[error("unknown subject '{0}': use member_id or payer_account")]
    Subject(String),
    #[error("a velocity rule needs --max-orders or --max-volume (or both)")]
    NoLimit,
    #[error("--max-volume needs --currency")]
    VolumeWithoutCurrency,
    #[error(
        "'{0}' is not a duration: write a whole number and s, m, h or d (e.g. 90s, 30m, 24h, 7d)"
    )]
    Duration(String),
}

/// Longest value an entry may hold.
pub const MAX_VALUE_CHARS: usize = 256;

/// The value an entry of `kind` is stored and matched as:
/// - member id: lower case, without spaces;
/// - an account: lower case, without spaces and dashes; a number written with dots, slashes,
///   `+` or parentheses (`+95 9-123.456`) is its digits; a VPA or e-mail keeps its dots;
/// - a name: lower case, words separated by one space;
/// - an IP address or CIDR: its network (`10.1.2.3/8` is `10.0.0.0/8`, an address is `/32`).
pub fn normalize(kind: BlockKind, raw: &str) -> Result<String, RiskError> {
    let value = match kind {
        BlockKind::MemberId => raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect(),
        BlockKind::PayerAccount | BlockKind::PayeeAccount => normalize_account(raw),
        BlockKind::PayerName => raw
            .split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
        BlockKind::Ip => parse_network(raw)
            .ok_or_else(|| RiskError::Ip(raw.trim().to_string()))?
            .to_string(),
    };
    if value.is_empty() {
        return Err(RiskError::Empty);
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(RiskError::TooLong);
    }
    Ok(value)
}

fn normalize_account(raw: &str) -> String {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    let numeric = compact.chars().any(|c| c.is_ascii_digit())
        && compact
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '/' | '+' | '(' | ')'));
    if numeric {
        compact.chars().filter(char::is_ascii_digit).collect()
    } else {
        compact
    }
}

/// The key an entry is stored and looked up by: `kind:value`.
pub fn entry_key(kind: BlockKind, normalized: &str) -> String {
    format!("{}:{normalized}", kind.as_str())
}

/// What of an order the blocklists are asked about.
#[derive(Debug, Clone, Copy)]
pub struct OrderSubjects<'a> {
    pub member_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub from_name: &'a str,
    pub ip: IpAddr,
}

/// The entry keys an order could hit, each with its kind: one per non-empty field, and for
/// the IP address every network that contains it (33 for IPv4, 129 for IPv6), so a lookup is
/// a handful of exact matches on an index, however many entries there are.
pub fn probes(order: &OrderSubjects<'_>) -> Vec<(BlockKind, String)> {
    let mut probes = Vec::with_capacity(40);
    for (kind, raw) in [
        (BlockKind::MemberId, order.member_id),
        (BlockKind::PayerAccount, order.from),
        (BlockKind::PayeeAccount, order.to),
        (BlockKind::PayerName, order.from_name),
    ] {
        if let Ok(value) = normalize(kind, raw) {
            probes.push((kind, entry_key(kind, &value)));
        }
    }
    let ip = canonical_ip(order.ip);
    if !ip.is_unspecified() {
        let longest = if ip.is_ipv4() { 32 } else { 128 };
        for prefix in (0..=longest).rev() {
            let net = IpNet::new(ip, prefix)
                .expect("a prefix within the address")
                .trunc();
            probes.push((BlockKind::Ip, entry_key(BlockKind::Ip, &net.to_string())));
        }
    }
    probes
}

/// The refusal of an order that hit an entry of `kind` (never the entry itself).
pub fn blocked(kind: BlockKind) -> String {
    format!("Rejected: {} is blocked", kind.what())
}

/// A blocklist entry applies at `now` (it has not expired).
pub fn in_force(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_none_or(|at| now < at)
}

/// What a velocity rule counts orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    MemberId,
    PayerAccount,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::MemberId => "member_id",
            Subject::PayerAccount => "payer_account",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Subject::MemberId => "member id",
            Subject::PayerAccount => "payer account",
        }
    }

    /// The order's value the rule counts by, as stored (exactly as the merchant sent it).
    pub fn of<'a>(self, member_id: &'a str, from: &'a str) -> &'a str {
        match self {
            Subject::MemberId => member_id,
            Subject::PayerAccount => from,
        }
    }
}

impl FromStr for Subject {
    type Err = RiskError;
    fn from_str(s: &str) -> Result<Self, RiskError> {
        match s.trim() {
            "member_id" => Ok(Subject::MemberId),
            "payer_account" => Ok(Subject::PayerAccount),
            other => Err(RiskError::Subject(other.to_string())),
        }
    }
}

/// A merchant's velocity rule: at most `max_orders` orders and at most `max_volume` (of
/// `currency`) per member id or payer account within `window_seconds`, of one transaction
/// type or of both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityRule {
    pub id: i64,
    /// The merchant (its live book's id; the rule applies to both books, each counted apart).
    pub merchant_id: i64,
    pub subject: Subject,
    pub transaction_type: Option<TransactionType>,
    pub window_seconds: i64,
    pub max_orders: Option<u32>,
    pub max_volume: Option<Decimal>,
    pub currency: Option<Currency>,
}

impl VelocityRule {
    /// Checks what the operator gives before it is stored.
    pub fn check(&self) -> Result<(), RiskError> {
        if self.max_orders.is_none() && self.max_volume.is_none() {
            return Err(RiskError::NoLimit);
        }
        if self.max_volume.is_some() && self.currency.is_none() {
            return Err(RiskError::VolumeWithoutCurrency);
        }
        Ok(())
    }

    /// The rule counts orders of this type and currency.
    pub fn covers(&self, transaction_type: TransactionType, currency: Currency) -> bool {
        self.transaction_type.is_none_or(|t| t == transaction_type)
            && (self.max_orders.is_some() || self.currency == Some(currency))
    }

    /// Whether one more order of `amount` (in `currency`) would go over the rule, given what
    /// the subject's orders of the window that count (not rejected, of the rule's type) add up
    /// to: `count` of them, `volume` the sum of those in the rule's currency. `Some` is the
    /// refusal.
    pub fn breach(
        &self,
        count: u64,
        volume: Decimal,
        currency: Currency,
        amount: Decimal,
    ) -> Option<String> {
        if self.max_orders.is_some_and(|max| count >= u64::from(max)) {
            return Some(format!(
                "Rejected: too many orders for this {}",
                self.subject.what()
            ));
        }
        if let (Some(max), Some(c)) = (self.max_volume, self.currency) {
            if c == currency && volume + amount > max {
                return Some(format!(
                    "Rejected: too much volume for this {}",
                    self.subject.what()
                ));
            }
        }
        None
    }

    /// The rule needs the amounts of the window's orders (a volume limit), not only their
    /// count.
    pub fn needs_amounts(&self) -> bool {
        self.max_volume.is_some()
    }

    /// What the rule asks storage about a new `order`: what the earlier orders of its subject
    /// in its book add up to over the window. `None` when the rule does not count the order
    /// (another type, a volume rule of another currency, or no value of the subject).
    pub fn query(&self, order: &Order) -> Option<WindowQuery> {
        if !self.covers(order.transaction_type, order.currency) {
            return None;
        }
        let value = self.subject.of(&order.member_id, &order.from);
        if value.is_empty() {
            return None;
        }
        Some(WindowQuery {
            subject: WindowSubject {
                book_id: order.merchant_id,
                subject: self.subject,
                value: value.to_string(),
                transaction_type: self.transaction_type,
                currency: self.currency,
            },
            since: order.created_at - self.window_seconds * 1000,
            // A count rule needs no more than its limit's worth of orders counted.
            limit: if self.needs_amounts() {
                None
            } else {
                self.max_orders
            },
        })
    }

    /// What a stored `order` the rule counts adds to its subject's tally.
    pub fn adds(&self, order: &Order) -> Tally {
        Tally {
            count: 1,
            volume: if self.currency == Some(order.currency) {
                order.amount
            } else {
                Decimal::ZERO
            },
        }
    }
}

/// Whose orders a velocity rule counts: one subject's value in one book (live or test), of
/// the rule's type (`None`: both) and, for the volume, in the rule's currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowSubject {
    pub book_id: i64,
    pub subject: Subject,
    pub value: String,
    pub transaction_type: Option<TransactionType>,
    pub currency: Option<Currency>,
}

/// A velocity rule's question to storage: what the subject's orders created at or after
/// `since` that count (not rejected) add up to. Counting may stop at `limit` orders.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowQuery {
    pub subject: WindowSubject,
    pub since: Timestamp,
    pub limit: Option<u32>,
}

/// What a subject's orders add up to: how many, and the sum of those in the rule's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub volume: Decimal,
}

impl std::ops::Add for Tally {
    type Output = Tally;
    fn add(self, other: Tally) -> Tally {
        Tally {
            count: self.count + other.count,
            volume: self.volume + other.volume,
        }
    }
}

impl Tally {
    /// The tally of orders read from storage: `(currency, amount)` of each.
    pub fn of(
        subject: &WindowSubject,
        orders: impl IntoIterator<Item = (Currency, Decimal)>,
    ) -> Tally {
        orders
            .into_iter()
            .fold(Tally::default(), |t, (currency, amount)| Tally {
                count: t.count + 1,
                volume: if subject.currency == Some(currency) {
                    t.volume + amount
                } else {
                    t.volume
                },
            })
    }
}

/// The first of the merchant's velocity `rules` that a new `order` would breach, as the
/// refusal; `tally` answers each rule's question (`VelocityRule::query`) from storage. Storage
/// asks this inside the transaction that stores the order, so a rule holds however many
/// orders arrive at once (see the backends).
pub fn velocity_refusal<E>(
    rules: &[VelocityRule],
    order: &Order,
    mut tally: impl FnMut(&WindowQuery) -> Result<Tally, E>,
) -> Result<Option<String>, E> {
    for rule in rules {
        let Some(query) = rule.query(order) else {
            continue;
        };
        let t = tally(&query)?;
        if let Some(refusal) = rule.breach(t.count, t.volume, order.currency, order.amount) {
            return Ok(Some(refusal));
        }
    }
    Ok(None)
}

/// The orders of a group written together (one transaction) that count for the group's later
/// orders: each new order the group stores and did not refuse, once per subject it is counted
/// by — however many rules count that subject. An order found to exist already (a retry) is
/// not recorded: it is not stored again.
#[derive(Debug, Default)]
pub struct GroupTally {
    accepted: std::collections::HashMap<WindowSubject, Tally>,
}

impl GroupTally {
    /// The refusal of the group's next `order` (`velocity_refusal`), `stored` answering each
    /// question from what storage held before the group.
    pub fn refusal<E>(
        &self,
        rules: &[VelocityRule],
        order: &Order,
        mut stored: impl FnMut(&WindowQuery) -> Result<Tally, E>,
    ) -> Result<Option<String>, E> {
        velocity_refusal(rules, order, |q| {
            Ok(stored(q)? + self.accepted.get(&q.subject).copied().unwrap_or_default())
        })
    }

    /// Counts `order`, stored by the group as new and not refused, for its later orders.
    pub fn record(&mut self, order: &Order, rules: &[VelocityRule]) {
        let mut counted: Vec<WindowSubject> = Vec::new();
        for rule in rules {
            let Some(q) = rule.query(order) else {
                continue;
            };
            if counted.contains(&q.subject) {
                continue;
            }
            let t = self.accepted.entry(q.subject.clone()).or_default();
            *t = *t + rule.adds(order);
            counted.push(q.subject);
        }
    }
}

/// A payout review threshold: payouts of `currency` above `above` wait for an operator.
/// `merchant_id` 0 is operator-wide; a merchant's own threshold replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewThreshold {
    pub merchant_id: i64,
    pub currency: Currency,
    pub above: Decimal,
}

/// Whether a payout of `amount` waits for review: above the merchant's threshold for the
/// currency, else above the operator-wide one.
pub fn needs_review(
    thresholds: &[ReviewThreshold],
    merchant_id: i64,
    currency: Currency,
    amount: Decimal,
) -> bool {
    let of = |m: i64| {
        thresholds
            .iter()
            .find(|t| t.merchant_id == m && t.currency == currency)
    };
    of(merchant_id)
        .or_else(|| of(0))
        .is_some_and(|t| amount > t.above)
}

/// Why an operator's review decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the order is not a payout waiting for review (it is {0})")]
pub struct NotInReview(pub PaymentStatus);

/// The change that approves a payout held for review: back to `pending`, due to be sent at
/// once by the next round of background work (on any node). Only from `preparing`, so an
/// approval and a rejection racing each other cannot both apply.
pub fn approval(order: &Order, reason: &str, at: Timestamp) -> Result<StatusChange, NotInReview> {
    if !order.awaits_review() {
        return Err(NotInReview(order.payment_status));
    }
    let why = match reason.trim() {
        "" => "approved in review".to_string(),
        r => format!("approved in review: {r}"),
    };
    Ok(StatusChange::new(PaymentStatus::Pending, why, at)
        .from_status(PaymentStatus::Preparing)
        .checking_at(at))
}

/// The change that rejects a payout held for review: `reject`, its hold released, the
/// merchant called back with "Rejected: <reason>".
pub fn review_rejection(
    order: &Order,
    reason: &str,
    at: Timestamp,
) -> Result<StatusChange, NotInReview> {
    if !order.awaits_review() {
        return Err(NotInReview(order.payment_status));
    }
    let reason = match reason.trim() {
        "" => "Rejected in review".to_string(),
        r => format!("Rejected: {r}"),
    };
    Ok(StatusChange::new(PaymentStatus::Reject, reason.clone(), at)
        .failing(reason)
        .from_status(PaymentStatus::Preparing))
}

/// A duration as the CLI takes it (`90s`, `30m`, `24h`, `7d`), in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, RiskError> {
    let text = text.trim();
    let bad = || RiskError::Duration(text.to_string());
    // The unit is the last character (a multi-byte one is no unit, never a split inside it).
    let last = text.char_indices().last().map_or(0, |(i, _)| i);
    let (number, unit) = text.split_at(last);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) || number.len() > 6 {
        return Err(bad());
    }
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok(n * unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_ending_in_any_character_is_refused_not_a_panic() {
        for text in ["Î\u{84}1(¯â", "5é", "é", "", "10", "0h", "1234567h"] {
            assert!(parse_duration_ms(text).is_err(), "{text:?}");
        }
        assert_eq!(parse_duration_ms("24h"), Ok(86_400_000));
        assert_eq!(parse_duration_ms(" 30s "), Ok(30_000));
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// A deposit of member `member` created at 10,000,000 ms.
    fn order_of(member: &str, currency: Currency, amount: &str) -> Order {
        let mut order = crate::order::tests::sample_order();
        order.merchant_id = 7;
        order.transaction_type = TransactionType::Income;
        order.member_id = member.into();
        order.from = "0164-223-4663".into();
        order.currency = currency;
        order.amount = d(amount);
        order.created_at = 10_000_000;
        order
    }

    #[test]
    fn values_are_normalized_by_kind() {
        use BlockKind::*;
        assert_eq!(normalize(MemberId, "  User 42 ").unwrap(), "user42");
        assert_eq!(
            normalize(PayerAccount, "0164-223-4663").unwrap(),
            "01642234663"
        );
        assert_eq!(
            normalize(PayerAccount, " 0164 223 4663").unwrap(),
            "01642234663"
        );
        assert_eq!(
            normalize(PayeeAccount, "+95 (9) 123.456").unwrap(),
            "959123456"
        );
        assert_eq!(
            normalize(PayerAccount, "John.Doe@OKAxis").unwrap(),
            "john.doe@okaxis"
        );
        assert_eq!(
            normalize(PayerAccount, "GB12 ABCD 1234").unwrap(),
            "gb12abcd1234"
        );
        assert_eq!(
            normalize(PayerName, "  SOMCHAI   Jaidee ").unwrap(),
            "somchai jaidee"
        );
        assert_eq!(normalize(PayerName, "สมชาย  ใจดี").unwrap(), "สมชาย ใจดี");
        assert_eq!(normalize(Ip, "10.1.2.3/8").unwrap(), "10.0.0.0/8");
        assert_eq!(normalize(Ip, "203.0.113.7").unwrap(), "203.0.113.7/32");
        assert_eq!(
            normalize(Ip, "::ffff:203.0.113.7").unwrap(),
            "203.0.113.7/32"
        );
        assert_eq!(normalize(Ip, "2001:DB8::1/32").unwrap(), "2001:db8::/32");
        assert_eq!(normalize(Ip, "nope"), Err(RiskError::Ip("nope".into())));
        assert_eq!(normalize(MemberId, "   "), Err(RiskError::Empty));
        assert_eq!(normalize(PayerAccount, "- -"), Err(RiskError::Empty));
        assert_eq!(
            normalize(MemberId, &"x".repeat(257)),
            Err(RiskError::TooLong)
        );
        assert_eq!("payee_account".parse::<BlockKind>(), Ok(PayeeAccount));
        assert!("card".parse::<BlockKind>().is_err());
    }

    #[test]
    fn an_order_probes_its_fields_and_every_network_of_its_address() {
        let probes = probes(&OrderSubjects {
            member_id: "U-1",
            from: "0164 223 4663",
            to: "",
            from_name: "Ko  Ko",
            ip: "203.0.113.7".parse().unwrap(),
        });
        let keys: Vec<&str> = probes.iter().map(|(_, k)| k.as_str()).collect();
        assert!(keys.contains(&"member_id:u-1"));
        assert!(keys.contains(&"payer_account:01642234663"));
        assert!(keys.contains(&"payer_name:ko ko"));
        assert!(keys.contains(&"ip:203.0.113.7/32"));
        assert!(keys.contains(&"ip:203.0.113.0/24"));
        assert!(keys.contains(&"ip:0.0.0.0/0"));
        assert!(!keys.iter().any(|k| k.starts_with("payee_account")));
        assert_eq!(probes.len(), 3 + 33);
        // each probe is exactly what the entry of the operator's writing is stored as
        let entry = entry_key(
            BlockKind::Ip,
            &normalize(BlockKind::Ip, "203.0.113.0/24").unwrap(),
        );
        assert!(keys.contains(&entry.as_str()));
        let v6 = super::probes(&OrderSubjects {
            member_id: "",
            from: "",
            to: "",
            from_name: "",
            ip: "2001:db8::1".parse().unwrap(),
        });
        assert_eq!(v6.len(), 129);
        assert_eq!(
            blocked(BlockKind::PayerAccount),
            "Rejected: payer account is blocked"
        );
    }

    #[test]
    fn velocity_counts_orders_and_volume_of_the_window() {
        let rule = VelocityRule {
            id: 1,
            merchant_id: 1,
            subject: Subject::MemberId,
            transaction_type: Some(TransactionType::Income),
            window_seconds: 3600,
            max_orders: Some(2),
            max_volume: Some(d("100")),
            currency: Some(Currency::Thb),
        };
        rule.check().unwrap();
        let thb = Currency::Thb;
        let z = Decimal::ZERO;
        assert_eq!(rule.breach(0, z, thb, d("100")), None);
        assert_eq!(
            rule.breach(0, z, thb, d("100.01")),
            Some("Rejected: too much volume for this member id".into())
        );
        let member = rule.query(&order_of("m-1", thb, "5")).unwrap();
        let t = Tally::of(&member.subject, [(thb, d("60")), (Currency::Usd, d("99"))]);
        assert_eq!((t.count, t.volume), (2, d("60")));
        assert_eq!(rule.breach(1, d("60"), thb, d("40")), None);
        assert!(rule.breach(1, d("60"), thb, d("41")).is_some());
        assert_eq!(
            rule.breach(2, d("2"), thb, d("1")),
            Some("Rejected: too many orders for this member id".into())
        );
        // volume of another currency is not this rule's
        assert_eq!(rule.breach(1, z, Currency::Usd, d("99")), None);
        assert!(rule.needs_amounts());
        assert!(rule.covers(TransactionType::Income, Currency::Usd));
        assert!(!rule.covers(TransactionType::Expense, thb));
        let volume_only = VelocityRule {
            max_orders: None,
            ..rule.clone()
        };
        assert!(!volume_only.covers(TransactionType::Income, Currency::Usd));
        assert!(!VelocityRule {
            max_volume: None,
            ..rule.clone()
        }
        .needs_amounts());
        assert_eq!(
            VelocityRule {
                max_orders: None,
                max_volume: None,
                ..rule.clone()
            }
            .check(),
            Err(RiskError::NoLimit)
        );
        assert_eq!(
            VelocityRule {
                currency: None,
                ..rule
            }
            .check(),
            Err(RiskError::VolumeWithoutCurrency)
        );
    }

    #[test]
    fn a_rule_asks_for_its_subjects_window_and_refuses_the_order_over_it() {
        let count = VelocityRule {
            id: 1,
            merchant_id: 1,
            subject: Subject::MemberId,
            transaction_type: Some(TransactionType::Income),
            window_seconds: 60,
            max_orders: Some(3),
            max_volume: None,
            currency: None,
        };
        let volume = VelocityRule {
            id: 2,
            subject: Subject::PayerAccount,
            transaction_type: None,
            max_orders: None,
            max_volume: Some(d("100")),
            currency: Some(Currency::Thb),
            ..count.clone()
        };
        let order = order_of("m-1", Currency::Thb, "30");
        let q = count.query(&order).unwrap();
        assert_eq!(q.since, 10_000_000 - 60_000);
        assert_eq!(q.limit, Some(3));
        assert_eq!(q.subject.book_id, 7);
        assert_eq!(q.subject.value, "m-1");
        let v = volume.query(&order).unwrap();
        assert_eq!((v.limit, v.subject.value.as_str()), (None, "0164-223-4663"));
        // Not counted: no member id, a payout for a deposit rule, another currency's volume.
        assert_eq!(count.query(&order_of("", Currency::Thb, "1")), None);
        let mut payout = order.clone();
        payout.transaction_type = TransactionType::Expense;
        assert_eq!(count.query(&payout), None);
        assert!(volume.query(&payout).is_some());
        assert_eq!(volume.query(&order_of("m", Currency::Usd, "1")), None);
        assert_eq!(
            volume.adds(&order),
            Tally {
                count: 1,
                volume: d("30")
            }
        );
        assert_eq!(count.adds(&order).volume, Decimal::ZERO);

        let rules = [count, volume];
        let answer = |c: u64, v: &'static str| {
            move |q: &WindowQuery| -> Result<Tally, ()> {
                Ok(match q.subject.subject {
                    Subject::MemberId => Tally {
                        count: c,
                        volume: Decimal::ZERO,
                    },
                    Subject::PayerAccount => Tally {
                        count: 0,
                        volume: d(v),
                    },
                })
            }
        };
        assert_eq!(velocity_refusal(&rules, &order, answer(2, "70")), Ok(None));
        assert_eq!(
            velocity_refusal(&rules, &order, answer(3, "0")),
            Ok(Some("Rejected: too many orders for this member id".into()))
        );
        assert_eq!(
            velocity_refusal(&rules, &order, answer(0, "70.01")),
            Ok(Some(
                "Rejected: too much volume for this payer account".into()
            ))
        );
        // Storage's failure is the caller's.
        assert_eq!(velocity_refusal(&rules, &order, |_| Err(())), Err(()));
    }

    #[test]
    fn a_group_counts_each_stored_order_once_per_subject() {
        let short = VelocityRule {
            id: 1,
            merchant_id: 1,
            subject: Subject::MemberId,
            transaction_type: Some(TransactionType::Income),
            window_seconds: 600,
            max_orders: Some(3),
            max_volume: None,
            currency: None,
        };
        // A second rule on the same subject: the orders must not count twice.
        let long = VelocityRule {
            id: 2,
            window_seconds: 86_400,
            max_orders: Some(20),
            ..short.clone()
        };
        let rules = [short, long];
        let nothing_stored = |_: &WindowQuery| Ok::<_, ()>(Tally::default());
        let mut group = GroupTally::default();
        let order = order_of("m", Currency::Thb, "10");
        for _ in 0..3 {
            assert_eq!(group.refusal(&rules, &order, nothing_stored), Ok(None));
            group.record(&order, &rules);
        }
        assert_eq!(
            group.refusal(&rules, &order, nothing_stored),
            Ok(Some("Rejected: too many orders for this member id".into()))
        );
        // Another member, and what storage holds, add up apart.
        let other = order_of("n", Currency::Thb, "10");
        assert_eq!(group.refusal(&rules, &other, nothing_stored), Ok(None));
        let two_stored = |_: &WindowQuery| {
            Ok::<_, ()>(Tally {
                count: 2,
                volume: Decimal::ZERO,
            })
        };
        group.record(&other, &rules);
        assert!(group.refusal(&rules, &other, two_stored).unwrap().is_some());
    }

    #[test]
    fn review_takes_the_merchants_threshold_else_the_operators() {
        let thb = Currency::Thb;
        let t = vec![
            ReviewThreshold {
                merchant_id: 0,
                currency: thb,
                above: d("1000"),
            },
            ReviewThreshold {
                merchant_id: 7,
                currency: thb,
                above: d("5000"),
            },
        ];
        assert!(needs_review(&t, 1, thb, d("1000.01")));
        assert!(!needs_review(&t, 1, thb, d("1000")));
        assert!(!needs_review(&t, 7, thb, d("4000")));
        assert!(needs_review(&t, 7, thb, d("5000.5")));
        assert!(!needs_review(&t, 1, Currency::Usd, d("1000000")));
    }

    #[test]
    fn review_decisions_only_apply_to_a_payout_in_review() {
        let mut payout = crate::order::tests::sample_order();
        payout.transaction_type = TransactionType::Expense;
        payout.payment_status = PaymentStatus::Preparing;
        payout.next_check_at = None;
        // In review it does not expire; approved, its ttl (60 s) runs from the approval.
        payout.expires_at = None;
        payout.ttl = Some(60);
        let approve = approval(&payout, " looks fine ", 5).unwrap();
        let mut approved = payout.clone();
        let event = approved.apply(&approve).unwrap();
        assert_eq!(approved.payment_status, PaymentStatus::Pending);
        assert_eq!(approved.next_check_at, Some(5));
        assert_eq!(approved.expires_at, Some(60_005));
        // only a payout goes back from preparing to pending
        let mut deposit = payout.clone();
        deposit.transaction_type = TransactionType::Income;
        assert!(deposit.apply(&approve).is_err());
        assert_eq!(event.reason, "approved in review: looks fine");
        // a second decision on the approved payout is refused, and a racing one cannot apply
        assert_eq!(
            review_rejection(&approved, "late", 6),
            Err(NotInReview(PaymentStatus::Pending))
        );
        let reject = review_rejection(&payout, "unknown payee", 6).unwrap();
        assert!(approved.clone().apply(&reject).is_err());
        let mut rejected = payout.clone();
        rejected.apply(&reject).unwrap();
        assert_eq!(rejected.payment_status, PaymentStatus::Reject);
        assert_eq!(rejected.payment_fail_reason, "Rejected: unknown payee");
        let deposit = crate::order::tests::sample_order();
        assert!(approval(&deposit, "", 1).is_err());
    }

    #[test]
    fn durations_are_whole_units() {
        assert_eq!(parse_duration_ms("24h"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("7d"), Ok(604_800_000));
        for bad in [
            "", "h", "0h", "1.5h", "-1h", "24", "24hours", "1w", "9999999d",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
