//! The callback outbox: callbacks are queued with the status changes they report (see
//! `Orders::change_status`), claimed by the dispatcher of one node at a time, and recorded
//! after each attempt. The dispatcher uses [`CallbackOutbox`]; an operator looking at an
//! order's callbacks, or sending one again, uses [`CallbackHistory`].

use async_trait::async_trait;
use octopus_domain::{NotifyStatus, RequestFields, Timestamp};

use crate::Result;

/// Delivery state of one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The merchant acknowledged it.
    Completed,
    /// Its schedule is used up.
    Failed,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Completed => "completed",
            CallbackState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<CallbackState> {
        Some(match text {
            "pending" => CallbackState::Pending,
            "completed" => CallbackState::Completed,
            "failed" => CallbackState::Failed,
            _ => return None,
        })
    }
}

/// A callback as stored: written with the status change it reports, its body frozen then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub order_id: i64,
    pub payment_uid: String,
    pub notify_url: String,
    /// The destination host, to bound deliveries per host.
    pub host: String,
    /// The API key whose secret signs it.
    pub signature_key: String,
    /// The body (without `tenant`): the fields it signs and sends.
    pub payload: RequestFields,
    pub state: CallbackState,
    /// Sent again by hand (`octopus callback resend`).
    pub manual: bool,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Until when the node that claimed it owns it (0: nobody). A claim's value is also its
    /// token: an attempt is recorded only while the callback is still held under that claim.
    pub claimed_until: Timestamp,
}

/// One delivery attempt of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAttempt {
    pub callback_id: i64,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub manual: bool,
    pub started_at: Timestamp,
    /// The HTTP status, if an answer came.
    pub http_status: Option<u16>,
    pub latency_ms: i64,
    /// Why the attempt failed ("" when acknowledged).
    pub error: String,
    /// The first KiB of the answer.
    pub response_head: String,
}

/// How many callbacks one claim may take: in all, and per destination host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRoom {
    /// The most in all.
    pub total: u32,
    /// The most for a host not listed in `hosts`.
    pub per_host: u32,
    /// The most for each of these hosts (what each can take now; 0: none).
    pub hosts: Vec<(String, u32)>,
}

impl ClaimRoom {
    /// Room for `total` callbacks, at most `per_host` of each host.
    pub fn new(total: u32, per_host: u32) -> ClaimRoom {
        ClaimRoom {
            total,
            per_host,
            hosts: Vec::new(),
        }
    }

    /// The most this claim may take for `host`.
    pub fn of(&self, host: &str) -> u32 {
        self.hosts
            .iter()
            .find(|(h, _)| h == host)
            .map_or(self.per_host, |(_, room)| *room)
            .min(self.total)
    }
}

/// The callbacks due for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBacklog {
    pub host: String,
    /// Due now: pending, due, and the next of their order.
    pub due: u64,
    /// When the one due longest became due.
    pub oldest_due_at: Timestamp,
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Acknowledged,
    /// Failed; try again then.
    RetryAt(Timestamp),
    /// Failed, and the schedule is used up.
    GaveUp,
}

/// What is recorded after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The order the callback reports.
    pub order_id: i64,
    pub attempt: CallbackAttempt,
    pub outcome: CallbackOutcome,
    /// The claim the attempt was made under ([`Callback::claimed_until`]). When the lease ran
    /// out and the callback was claimed again, the attempt is logged but changes nothing.
    pub claim: Timestamp,
}

impl AttemptRecord {
    /// The order's notify status after this attempt, given whether another of its callbacks
    /// is still pending, and the failure reason to keep (if any).
    pub fn notify_after(&self, other_pending: bool) -> (NotifyStatus, Option<String>) {
        match self.outcome {
            CallbackOutcome::Acknowledged if other_pending => (NotifyStatus::Delivered, None),
            CallbackOutcome::Acknowledged => (NotifyStatus::Completed, None),
            CallbackOutcome::RetryAt(_) => {
                (NotifyStatus::Delivered, Some(self.attempt.error.clone()))
            }
            CallbackOutcome::GaveUp => (NotifyStatus::Failed, Some(self.attempt.error.clone())),
        }
    }
}

/// What the callback dispatcher does with the outbox.
#[async_trait]
pub trait CallbackOutbox: Send + Sync + 'static {
    /// Claims callbacks due for an attempt: pending, due, not leased, the oldest pending one of
    /// its order (callbacks of an order go out in order), at most as many per host as `room`
    /// gives it and as many in all, the earliest due first. Each is leased until
    /// `now + lease_ms`. A claim reads about as many rows as it takes plus two per host with
    /// pending callbacks, however many are due.
    async fn claim_callbacks(
        &self,
        now: Timestamp,
        lease_ms: i64,
        room: &ClaimRoom,
    ) -> Result<Vec<Callback>>;

    /// Hands back claims not attempted (a stopping node's queued callbacks): each callback whose
    /// claim is still `claimed_until` may be claimed again at once, by any node. A claim that
    /// ran out and was taken again meanwhile is left alone.
    async fn release_callbacks(&self, claims: &[(i64, Timestamp)]) -> Result<()>;

    /// How many callbacks are due for each of `hosts` (those with any), and since when.
    async fn callback_backlog(&self, now: Timestamp, hosts: &[String]) -> Result<Vec<HostBacklog>>;

    /// Records attempts and their outcomes, and each order's `notify_status` and
    /// `notify_fail_reason`.
    async fn record_callback_attempts(
        &self,
        records: Vec<AttemptRecord>,
        at: Timestamp,
    ) -> Result<()>;
}

/// An order's callbacks as an operator sees them, and sending one again.
#[async_trait]
pub trait CallbackHistory: Send + Sync + 'static {
    /// The callbacks of an order, oldest first, each with its attempts.
    async fn callbacks_of(
        &self,
        payment_uid: &str,
    ) -> Result<Vec<(Callback, Vec<CallbackAttempt>)>>;

    /// Queues the order's current state to its notify_url again, as a manual callback.
    async fn resend_callback(&self, payment_uid: &str, at: Timestamp) -> Result<Callback>;
}
