//! How a channel and each of its own accounts did over a recent period (the consoles show the
//! last hour): how many orders, how many of those that ended succeeded, how long completions
//! took, and how its upstream calls answered and how fast. Computed here from plain samples
//! the storage reads, so both backends and every page say the same.

use std::collections::BTreeMap;

use crate::order::PaymentStatus;

/// Orders of one channel (and own account, `""` for none) in one status, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCount {
    pub channel: String,
    pub account: String,
    pub status: PaymentStatus,
    pub count: i64,
}

/// One order's completion: how long after its creation it was completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub channel: String,
    pub account: String,
    pub after_ms: i64,
}

/// One call to an upstream provider: how long it took and whether it was answered (an HTTP
/// answer below 500 with no transport error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCall {
    pub channel: String,
    pub latency_ms: i64,
    pub answered: bool,
}

/// The health of a channel (`account` empty) or of one of its own accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub channel: String,
    pub account: String,
    /// Orders created in the period.
    pub orders: i64,
    /// Of those, completed (refunded ones included: they were paid).
    pub succeeded: i64,
    /// Of those, failed or expired unpaid.
    pub failed: i64,
    /// Completed share of the orders that ended (succeeded + failed), in thousandths,
    /// rounded down (`None`: none ended yet).
    pub success_permille: Option<i64>,
    /// Time to completion, median and 95th percentile.
    pub completion_p50_ms: Option<i64>,
    pub completion_p95_ms: Option<i64>,
    /// Upstream calls (channel rows only), those not answered, and their latency.
    pub upstream_calls: i64,
    pub upstream_unanswered: i64,
    pub upstream_p50_ms: Option<i64>,
    pub upstream_p95_ms: Option<i64>,
}

impl Health {
    /// The success rate as text: `"97.5%"`, or `"—"` when no order ended.
    pub fn success_rate(&self) -> String {
        match self.success_permille {
            Some(p) => format!("{}.{}%", p / 10, p % 10),
            None => "—".to_string(),
        }
    }
}

/// Whether an order in `status` has ended, and how: `Some(true)` paid, `Some(false)` not,
/// `None` still open (or refused at creation, which no channel was asked about).
fn ended(status: PaymentStatus) -> Option<bool> {
    match status {
        PaymentStatus::Completed | PaymentStatus::Refund => Some(true),
        PaymentStatus::Failed | PaymentStatus::Overdue => Some(false),
        _ => None,
    }
}

/// The `q`th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[i64], q: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * q).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// A row being summed: its health, completion times and upstream latencies.
#[derive(Default)]
struct Sums {
    health: Health,
    completions: Vec<i64>,
    latencies: Vec<i64>,
}

/// Applies `f` to the rows a sample counts for: its channel's and, when it has one, its
/// account's.
fn each_row(
    rows: &mut BTreeMap<(String, String), Sums>,
    channel: &str,
    account: &str,
    mut f: impl FnMut(&mut Sums),
) {
    let accounts: &[&str] = if account.is_empty() {
        &[""]
    } else {
        &["", account]
    };
    for account in accounts {
        let key = (channel.to_string(), account.to_string());
        let sums = rows.entry(key).or_insert_with(|| Sums {
            health: Health {
                channel: channel.to_string(),
                account: account.to_string(),
                ..Health::default()
            },
            ..Sums::default()
        });
        f(sums);
    }
}

/// Every channel's health (one row per channel, `account` empty), then each own account's
/// (a row per channel and account that had orders), sorted by channel then account.
pub fn summarize(
    counts: &[OrderCount],
    completions: &[Completion],
    calls: &[UpstreamCall],
) -> Vec<Health> {
    let mut rows: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for c in counts {
        each_row(&mut rows, &c.channel, &c.account, |sums| {
            sums.health.orders += c.count;
            match ended(c.status) {
                Some(true) => sums.health.succeeded += c.count,
                Some(false) => sums.health.failed += c.count,
                None => {}
            }
        });
    }
    for c in completions {
        each_row(&mut rows, &c.channel, &c.account, |sums| {
            sums.completions.push(c.after_ms.max(0))
        });
    }
    for call in calls {
        each_row(&mut rows, &call.channel, "", |sums| {
            sums.health.upstream_calls += 1;
            if !call.answered {
                sums.health.upstream_unanswered += 1;
            }
            sums.latencies.push(call.latency_ms.max(0));
        });
    }
    rows.into_values()
        .map(|mut sums| {
            sums.completions.sort_unstable();
            sums.latencies.sort_unstable();
            let h = &mut sums.health;
            let ended = h.succeeded + h.failed;
            h.success_permille = (ended > 0).then(|| h.succeeded * 1000 / ended);
            h.completion_p50_ms = percentile(&sums.completions, 50);
            h.completion_p95_ms = percentile(&sums.completions, 95);
            h.upstream_p50_ms = percentile(&sums.latencies, 50);
            h.upstream_p95_ms = percentile(&sums.latencies, 95);
            sums.health
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(channel: &str, account: &str, status: PaymentStatus, count: i64) -> OrderCount {
        OrderCount {
            channel: channel.into(),
            account: account.into(),
            status,
            count,
        }
    }

    #[test]
    fn a_channel_and_its_accounts_are_summed_from_their_samples() {
        use PaymentStatus::{Completed, Failed, Overdue, Pending, Refund, Reject};
        let counts = [
            count("own-th", "acc-1", Completed, 37),
            count("own-th", "acc-1", Refund, 1),
            count("own-th", "acc-1", Overdue, 2),
            count("own-th", "acc-2", Failed, 1),
            count("own-th", "acc-2", Pending, 5),
            count("pk", "", Completed, 1),
            count("pk", "", Reject, 3),
        ];
        let completions: Vec<Completion> = (1..=20)
            .map(|k| Completion {
                channel: "own-th".into(),
                account: "acc-1".into(),
                after_ms: k * 1000,
            })
            .collect();
        let calls = [
            UpstreamCall {
                channel: "pk".into(),
                latency_ms: 120,
                answered: true,
            },
            UpstreamCall {
                channel: "pk".into(),
                latency_ms: 80,
                answered: true,
            },
            UpstreamCall {
                channel: "pk".into(),
                latency_ms: 10_000,
                answered: false,
            },
        ];
        let health = summarize(&counts, &completions, &calls);
        let keys: Vec<(&str, &str)> = health
            .iter()
            .map(|h| (h.channel.as_str(), h.account.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("own-th", ""),
                ("own-th", "acc-1"),
                ("own-th", "acc-2"),
                ("pk", "")
            ]
        );

        let channel = &health[0];
        assert_eq!(
            (channel.orders, channel.succeeded, channel.failed),
            (46, 38, 3)
        );
        // 38 of the 41 that ended: 92.6%, rounded down.
        assert_eq!(channel.success_permille, Some(926));
        assert_eq!(channel.success_rate(), "92.6%");
        assert_eq!(channel.completion_p50_ms, Some(10_000));
        assert_eq!(channel.completion_p95_ms, Some(19_000));
        assert_eq!(channel.upstream_calls, 0);
        assert_eq!(channel.upstream_p50_ms, None);

        assert_eq!(health[1].success_permille, Some(950), "38 of 40");
        assert_eq!(
            health[2].success_rate(),
            "0.0%",
            "its one ended order failed"
        );
        assert_eq!(health[2].completion_p50_ms, None);

        let pk = &health[3];
        assert_eq!(
            pk.success_rate(),
            "100.0%",
            "refusals at creation are not counted as ended"
        );
        assert_eq!((pk.upstream_calls, pk.upstream_unanswered), (3, 1));
        assert_eq!(
            (pk.upstream_p50_ms, pk.upstream_p95_ms),
            (Some(120), Some(10_000))
        );
    }

    #[test]
    fn nothing_ended_has_no_rate() {
        let health = summarize(&[count("c", "", PaymentStatus::Pending, 4)], &[], &[]);
        assert_eq!(health[0].success_rate(), "—");
        assert_eq!(percentile(&[5], 95), Some(5));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    }
}
