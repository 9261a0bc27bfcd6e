//! Merchant callbacks (notify_url): what a callback says, when a failed one is tried again,
//! what counts as the merchant's acknowledgement, and which destinations are refused.
//!
//! A callback is written in the same transaction as the status change it reports (an outbox),
//! with its body frozen then; it is signed like a merchant request (`Oc-Signature`) with the
//! secret of the API key that created the order.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::fields::RequestFields;
use crate::money::format_amount;
use crate::order::Order;
use crate::Timestamp;

/// The body of a callback reporting the order as it is now: every field the BRIEF lists, then
/// a few more that merchants find useful (and `"test":"1"` on test orders). All values are
/// strings. `tenant` is added when the
/// callback is sent (see [`body`]).
pub fn payload(order: &Order) -> RequestFields {
    let c = order.currency;
    [
        (
            "transaction_type",
            order.transaction_type.as_str().to_string(),
        ),
        ("merchant_uid", order.merchant_uid.clone()),
        ("amount", format_amount(order.amount, c)),
        ("final_amount", format_amount(order.final_amount, c)),
        ("currency", c.code().to_string()),
        ("notify_url", order.notify_url.clone()),
        ("merchant_order_id", order.merchant_order_id.clone()),
        ("payment_status", order.payment_status.as_str().to_string()),
        ("payment_fail_reason", order.payment_fail_reason.clone()),
        ("order_uid", order.payment_uid.clone()),
        ("signature_key", order.signature_key.clone()),
        (
            "accounting_type",
            order.accounting_type.as_str().to_string(),
        ),
        ("floating_amount", format_amount(order.floating_amount, c)),
        ("fee", format_amount(order.fee, c)),
        ("payment", order.payment.clone()),
        ("merchant_id", order.member_id.clone()),
    ]
    .into_iter()
    // A test order says so in every callback; a live one has no such field.
    .chain(order.test.then(|| ("test", "1".to_string())))
    .collect()
}

/// A callback to queue: the order it reports, where it goes, which key signs it, and its
/// body, frozen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub order_id: i64,
    pub payment_uid: String,
    pub notify_url: String,
    /// The destination host ([`host_of`]).
    pub host: String,
    /// The API key whose secret signs it.
    pub signature_key: String,
    pub payload: RequestFields,
    /// Sent again by hand, not by a status change.
    pub manual: bool,
    pub at: Timestamp,
}

/// The callback reporting `order` as it is now, and the order marked as having a callback on
/// its way (`notify_status` delivered); `None`, and the order unchanged, without a notify_url.
pub fn report(order: &mut Order, manual: bool, at: Timestamp) -> Option<NewCallback> {
    if !is_reported(order) {
        return None;
    }
    order.notify_status = crate::order::NotifyStatus::Delivered;
    Some(NewCallback {
        order_id: order.id,
        payment_uid: order.payment_uid.clone(),
        notify_url: order.notify_url.clone(),
        host: host_of(&order.notify_url),
        signature_key: order.signature_key.clone(),
        payload: payload(order),
        manual,
        at,
    })
}

/// Whether the order's changes are reported to its merchant (it has a notify_url): a change of
/// one that is not queues no callback, and wakes no dispatcher.
pub fn is_reported(order: &Order) -> bool {
    !order.notify_url.is_empty()
}

/// The host a notify_url points to (with its port when not the default), which bounds how
/// many deliveries go to one destination at once.
pub fn host_of(notify_url: &str) -> String {
    url::Url::parse(notify_url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_default()
}

/// What is sent: the stored payload with the operator's `tenant`.
pub fn body(payload: &RequestFields, tenant: &str) -> RequestFields {
    let mut body = payload.clone();
    body.insert("tenant", tenant);
    body
}

/// Whether an answer acknowledges a callback: HTTP 200 and the body `success` (trimmed, any
/// case). Anything else is a failed attempt.
pub fn acknowledged(status: u16, body: &[u8]) -> bool {
    status == 200
        && std::str::from_utf8(body)
            .map(|b| b.trim().eq_ignore_ascii_case("success"))
            .unwrap_or(false)
}

/// When failed callbacks are tried again: the delay after the first attempt, after the
/// second, ... When they are used up, the callback has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(Vec<Duration>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid callback schedule {0:?}: expected delays like \"15s,1m,5m,15m,1h,2h,6h,12h\"")]
pub struct InvalidSchedule(pub String);

impl Default for Schedule {
    /// 15 s, 1 m, 5 m, 15 m, 1 h, 2 h, 6 h, 12 h: nine attempts over about 21 hours.
    fn default() -> Self {
        Schedule::parse("15s,1m,5m,15m,1h,2h,6h,12h").expect("the default schedule parses")
    }
}

impl Schedule {
    /// Parses delays separated by commas, each a number with `ms`, `s`, `m` or `h`.
    pub fn parse(text: &str) -> Result<Schedule, InvalidSchedule> {
        let bad = || InvalidSchedule(text.to_string());
        let mut delays = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let split = part.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            let (number, unit) = part.split_at(split);
            let n: u64 = number.parse().map_err(|_| bad())?;
            let delay = match unit {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n * 60),
                "h" => Duration::from_secs(n * 3600),
                _ => return Err(bad()),
            };
            delays.push(delay);
        }
        Ok(Schedule(delays))
    }

    /// How many attempts a callback gets in all.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// When to try again after `attempts_made` failed attempts, or `None` when they are used
    /// up. `jitter` in [-1, 1] moves the delay by up to a tenth either way, so callbacks that
    /// failed together do not all come back at once.
    pub fn next_attempt(
        &self,
        attempts_made: u32,
        now: Timestamp,
        jitter: f64,
    ) -> Option<Timestamp> {
        let delay = self.0.get(attempts_made.checked_sub(1)? as usize)?;
        let ms = delay.as_millis() as i64;
        let spread = (ms as f64 * 0.1 * jitter.clamp(-1.0, 1.0)) as i64;
        Some(now + (ms + spread).max(0))
    }
}

/// Why a destination address is refused (`None`: it is a public address).
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("a multicast address")
            } else if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
                // NAT64: the IPv4 address it stands for decides.
                let v4 =
                    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                forbidden_v4(v4)
            } else if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
                Some("a local-use NAT64 address")
            } else if s[..6] == [0; 6] {
                Some("an IPv4-compatible address")
            } else if s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
                Some("an IPv4-translated address")
            } else if s[0] & 0xffc0 == 0xfec0 {
                Some("a site-local address")
            } else if s[0] == 0x2002 {
                // 6to4: the IPv4 address it carries decides.
                forbidden_v4(Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                ))
            } else if s[0] == 0x2001 && s[1] == 0 {
                Some("a Teredo address")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if o[0] == 169 && o[1] == 254 {
        Some("a link-local or cloud metadata address")
    } else if ip.is_private() {
        Some("a private address")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("a shared (carrier-grade NAT) address")
    } else if o[0] == 0 {
        Some("a \"this network\" address")
    } else if ip.is_multicast() || o[0] >= 240 {
        Some("a multicast, reserved or broadcast address")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("an IETF protocol address")
    } else if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        Some("a benchmarking address")
    } else if ip.is_documentation() {
        Some("a documentation address")
    } else {
        None
    }
}

/// The address a notify_url names by an IP literal (`http://10.0.0.1/`, `http://[::1]/`, the
/// numeric forms such as `http://2130706433/`), with why it is refused, when it is one a
/// callback must not go to. Host names are checked after DNS, at delivery.
pub fn forbidden_literal(notify_url: &str) -> Option<(IpAddr, &'static str)> {
    let ip: IpAddr = match url::Url::parse(notify_url).ok()?.host()? {
        url::Host::Ipv4(ip) => ip.into(),
        url::Host::Ipv6(ip) => ip.into(),
        url::Host::Domain(_) => return None,
    };
    forbidden_address(ip).map(|why| (ip, why))
}

/// A readable refusal of a destination, for `notify_fail_reason`.
pub fn refusal(host: &str, ip: IpAddr, why: &str) -> String {
    if host == ip.to_string() {
        format!("notify_url points to {ip}, {why}; private destinations are not allowed")
    } else {
        format!(
            "notify_url host {host} resolves to {ip}, {why}; private destinations are not allowed"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::sample_order;

    #[test]
    fn the_body_has_every_documented_field() {
        let body = body(&payload(&sample_order()), "octopus");
        for f in [
            "transaction_type",
            "merchant_uid",
            "amount",
            "final_amount",
            "currency",
            "notify_url",
            "merchant_order_id",
            "payment_status",
            "payment_fail_reason",
            "order_uid",
            "signature_key",
            "tenant",
        ] {
            assert!(body.get(f).is_some(), "{f}");
        }
        assert_eq!(body.get("order_uid"), Some("u"));
        assert_eq!(body.get("amount"), Some("100.00"));
    }

    #[test]
    fn only_200_success_acknowledges() {
        assert!(acknowledged(200, b"success"));
        assert!(acknowledged(200, b"  SUCCESS\n"));
        assert!(acknowledged(200, b"Success"));
        assert!(!acknowledged(200, b"ok"));
        assert!(!acknowledged(200, b"{\"result\":\"success\"}"));
        assert!(!acknowledged(201, b"success"));
        assert!(!acknowledged(500, b"success"));
        assert!(!acknowledged(200, &[0xff, 0xfe]));
    }

    #[test]
    fn schedules_parse_and_end() {
        let s = Schedule::default();
        assert_eq!(s.attempts(), 9);
        assert_eq!(s.next_attempt(1, 0, 0.0), Some(15_000));
        assert_eq!(s.next_attempt(8, 0, 0.0), Some(12 * 3600 * 1000));
        assert_eq!(s.next_attempt(9, 0, 0.0), None);
        assert_eq!(s.next_attempt(1, 1000, 1.0), Some(1000 + 16_500));
        assert_eq!(s.next_attempt(1, 1000, -1.0), Some(1000 + 13_500));
        let total: u64 = (1..9)
            .map(|n| s.next_attempt(n, 0, 0.0).unwrap() as u64)
            .sum();
        assert!(
            (20 * 3600 * 1000..24 * 3600 * 1000).contains(&total),
            "about a day: {total}"
        );
        assert_eq!(Schedule::parse("500ms, 2s").unwrap().attempts(), 3);
        assert_eq!(Schedule::parse("").unwrap().attempts(), 1);
        assert!(Schedule::parse("5x").is_err());
        assert!(Schedule::parse("s").is_err());
    }

    #[test]
    fn private_and_metadata_destinations_are_refused() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "::ffff:0:10.0.0.1",
            "fec0::1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(forbidden_address(bad.parse().unwrap()).is_some(), "{bad}");
        }
        for good in [
            "8.8.8.8",
            "203.0.114.1",
            "2606:4700::1111",
            "1.1.1.1",
            "2002:808:808::1",
            "64:ff9b::808:808",
        ] {
            assert_eq!(forbidden_address(good.parse().unwrap()), None, "{good}");
        }
        assert_eq!(
            refusal("127.0.0.1", "127.0.0.1".parse().unwrap(), "a loopback address"),
            "notify_url points to 127.0.0.1, a loopback address; private destinations are not allowed"
        );
    }
}
