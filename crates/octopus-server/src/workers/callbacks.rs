//! Delivering merchant callbacks. The outbox rows are written with the status changes they
//! report (storage); this dispatcher claims the due ones, posts each to its notify_url —
//! signed with `Oc-Signature` like a merchant request — and records every attempt.
//!
//! - Callbacks of one order go out in order: storage only hands out a callback once every
//!   older one of its order is settled (acknowledged or given up).
//! - Concurrency is bounded globally and per destination host, so one slow merchant never
//!   holds up the others. A claim asks storage for at most what each host can take now and
//!   next (its free slots, plus one more round queued in memory so that a slot is refilled
//!   the moment it frees) and at most the free global slots, so nothing is claimed to be given
//!   back; a host's backlog waits in the database, where a claim's cost does not grow with it.
//!   A host whose claims keep filling its room while many callbacks are due for it is named
//!   in a warning.
//! - Failed attempts are retried on the configured schedule (with jitter); a claimed callback
//!   is leased, so after a crash another node (or this one) takes it up again when the lease
//!   ends; an attempt always ends before its lease does. A stopping node records the attempts
//!   in flight (each delivery holds the dispatcher, whose sender the recorder waits on) and
//!   hands back the callbacks it claimed and has not started.
//! - Unless private destinations are allowed, a notify_url that is, or resolves to, a
//!   loopback, private, link-local or metadata address is refused at delivery time, after
//!   DNS, and the connection only ever goes to the addresses that were checked.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_domain::callback;
use octopus_storage::{
    AttemptRecord, Callback, CallbackAttempt, CallbackOutbox, CallbackOutcome, ClaimRoom,
};
use rand::Rng;
use tokio::sync::{mpsc, watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::state::AppState;

/// How long a claimed callback belongs to this node: longer than it may wait in its host's
/// queue ([`queue_wait`]) and then take (`--callback-timeout`), so that it is never sent by
/// two claims at once, and no longer, so that the callbacks of a node that died are taken up
/// soon (30 s with the default timeout of 10 s).
pub fn lease(timeout: Duration) -> Duration {
    queue_wait(timeout) + timeout + LEASE_MARGIN
}
/// A claimed callback that waited this long for its host's slot is left to its lease's end
/// and claimed again, rather than started late in the lease. A queued callback waits for at
/// most one attempt ahead of it (the timeout) unless global slots run short.
fn queue_wait(timeout: Duration) -> Duration {
    timeout + LEASE_MARGIN
}
/// What a lease allows beyond the attempts themselves (the claim's round trip, reading the
/// signing key, recording, clocks of nodes a little apart).
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// An attempt ends at the latest this long before its lease does (see [`deliver`]), so that
/// no other node can claim the callback while it is being sent.
const LEASE_END_MARGIN: Duration = Duration::from_secs(2);
/// The longest an attempt may be allowed to take (`--callback-timeout`).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// The most callbacks claimed at once, and attempts recorded at once.
const BATCH: usize = 512;
/// A host with at least this many callbacks due is named in a warning ...
const BACKLOG_WARNING: u64 = 1_000;
/// ... at most this often (per node).
const BACKLOG_CHECK: Duration = Duration::from_secs(30);
/// How much of an answer is kept in the attempt log.
const RESPONSE_HEAD: usize = 1024;
/// How long the dispatcher and the recorder let work gather before one write takes it all:
/// under load, one claim (or one record) per few milliseconds instead of one per callback.
const GATHER: Duration = Duration::from_millis(4);

/// Starts the dispatcher and the recorder of attempts.
pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let (records, receive) = mpsc::unbounded_channel();
    let outbox: Arc<dyn CallbackOutbox> = state.storage.clone();
    let dispatcher = Arc::new(Dispatcher {
        outbox: Arc::clone(&outbox),
        http: http_client(&state),
        permits: Arc::new(Semaphore::new(state.config.callback_concurrency.max(1))),
        hosts: Mutex::new(HashMap::new()),
        // The first backlog is counted as soon as a host's claims are full.
        backlog: Mutex::new(BacklogWatch {
            hosts: HashSet::new(),
            checked: Instant::now()
                .checked_sub(BACKLOG_CHECK)
                .unwrap_or_else(Instant::now),
        }),
        turn: Default::default(),
        finished: Notify::new(),
        stopping: Default::default(),
        records,
        state: state.clone(),
    });
    vec![
        tokio::spawn(dispatcher.run(stop)),
        tokio::spawn(record_attempts(state, outbox, receive)),
    ]
}

fn http_client(state: &AppState) -> reqwest::Client {
    let c = &state.config;
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(c.callback_connect_timeout)
        .timeout(c.callback_timeout)
        .pool_max_idle_per_host(c.callback_host_concurrency)
        .tcp_nodelay(true)
        // A proxy from the environment (HTTP_PROXY, ...) would resolve and reach the
        // notify_url itself, past the address check: callbacks never use one.
        .no_proxy()
        .user_agent(concat!("Octopus-Callback/", env!("CARGO_PKG_VERSION")));
    if !c.allow_private_callbacks {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder
        .build()
        .expect("a reqwest client with static settings builds")
}

/// Resolves names to their public addresses only; a name with none is refused, saying why.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
                .into_iter()
                .partition(|a| callback::forbidden_address(a.ip()).is_none());
            if public.is_empty() {
                let Some(first) = refused.first() else {
                    return Err(format!("notify_url host {host} has no address").into());
                };
                let why = callback::forbidden_address(first.ip()).unwrap_or("refused");
                return Err(Refused(callback::refusal(&host, first.ip(), why)).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// A destination refused by the address check (found again in the error chain).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Deliveries of one destination host: those in flight, and those claimed and waiting to
/// start (they stay leased). At most the host's limit are in flight and as many again wait:
/// claims take no more, so a callback waits here for at most one attempt ahead of it.
#[derive(Default)]
struct Host {
    in_flight: usize,
    /// With when each was claimed.
    waiting: VecDeque<(Callback, Instant)>,
}

/// Hosts whose claims took all their free slots (more may be due for them) since their
/// backlog was last counted, and when that was.
struct BacklogWatch {
    hosts: HashSet<String>,
    checked: Instant,
}

struct Dispatcher {
    state: AppState,
    outbox: Arc<dyn CallbackOutbox>,
    http: reqwest::Client,
    /// One per delivery in flight, in all.
    permits: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, Host>>,
    backlog: Mutex<BacklogWatch>,
    /// Which host `start_ready` serves first, in turn, so no host's queue is starved.
    turn: std::sync::atomic::AtomicUsize,
    /// Signalled when a delivery ends.
    finished: Notify,
    /// Set when the node stops: nothing more is started.
    stopping: std::sync::atomic::AtomicBool,
    records: mpsc::UnboundedSender<AttemptRecord>,
}

impl Dispatcher {
    async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let every = self.state.config.worker_interval;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    self.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
                    self.hand_back().await;
                    return;
                }
                _ = self.state.callbacks_due.notified() => {}
                _ = self.finished.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
            tokio::time::sleep(GATHER).await;
            // Claim while there is room and a claim fills it: a claim that took less than it
            // could has taken everything due that the hosts can take now.
            loop {
                let room = self.permits.available_permits().min(BATCH);
                if room == 0 {
                    break;
                }
                let claimed = self.claim(room).await;
                self.start_ready();
                match claimed {
                    Ok(n) if n == room => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming callbacks failed; retrying later");
                        break;
                    }
                }
            }
            self.watch_backlog().await;
        }
    }

    /// Stopping: the callbacks claimed and not started go back to the outbox, for any node to
    /// claim at once instead of after their lease (those in flight finish and are recorded).
    async fn hand_back(&self) {
        let claims: Vec<(i64, i64)> = {
            let mut hosts = self.hosts.lock().expect("hosts lock");
            hosts
                .values_mut()
                .flat_map(|h| h.waiting.drain(..))
                .map(|(c, _)| (c.id, c.claimed_until))
                .collect()
        };
        if claims.is_empty() {
            return;
        }
        match self.outbox.release_callbacks(&claims).await {
            Ok(()) => tracing::info!(
                count = claims.len(),
                "stopping: queued callbacks handed back"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "handing back queued callbacks failed; they are claimed again when their lease ends")
            }
        }
    }

    fn host_limit(&self) -> usize {
        self.state.config.callback_host_concurrency.max(1)
    }

    /// The most callbacks of one host held at once: its limit in flight and as many queued,
    /// so that the next starts the moment one ends rather than after a claim's round trip
    /// (a drain of one host's backlog on PostgreSQL: about 3,500/s against 2,300/s with
    /// none queued; docs/benchmarks.md).
    fn host_room(&self) -> usize {
        2 * self.host_limit()
    }

    /// Claims up to `room` callbacks into their hosts' queues, for each host at most what it
    /// can take now and next (see [`Dispatcher::host_room`]); returns how many.
    async fn claim(&self, room: usize) -> Result<usize, octopus_storage::StorageError> {
        let most = self.host_room();
        let free = |h: &Host| most.saturating_sub(h.in_flight + h.waiting.len());
        let mut wanted = ClaimRoom::new(room as u32, most as u32);
        wanted.hosts = {
            let hosts = self.hosts.lock().expect("hosts lock");
            hosts
                .iter()
                .map(|(name, h)| (name.clone(), free(h) as u32))
                .collect()
        };
        let claimed = self
            .outbox
            .claim_callbacks(
                now_ms(),
                lease(self.state.config.callback_timeout).as_millis() as i64,
                &wanted,
            )
            .await?;
        let count = claimed.len();
        debug_assert!(count <= room, "a claim took {count} for room {room}");
        let mut per_host: HashMap<String, u32> = HashMap::new();
        {
            let now = Instant::now();
            let mut hosts = self.hosts.lock().expect("hosts lock");
            for c in claimed {
                *per_host.entry(c.host.clone()).or_default() += 1;
                hosts
                    .entry(c.host.clone())
                    .or_default()
                    .waiting
                    .push_back((c, now));
            }
            // Only this loop claims, and slots only free up meanwhile: what the claim was
            // allowed for each host still fits.
            debug_assert!(
                per_host.keys().all(|name| hosts
                    .get(name)
                    .is_some_and(|h| h.in_flight + h.waiting.len() <= most)),
                "a host was given more than the {most} callbacks it may hold"
            );
        }
        // A host that took all it could may have more due: its backlog is counted later.
        let full: Vec<String> = per_host
            .into_iter()
            .filter(|(name, n)| *n >= wanted.of(name))
            .map(|(name, _)| name)
            .collect();
        if !full.is_empty() {
            self.backlog
                .lock()
                .expect("backlog lock")
                .hosts
                .extend(full);
        }
        Ok(count)
    }

    /// Every [`BACKLOG_CHECK`], counts what is due for the hosts whose claims were full, and
    /// warns of those with a large backlog: they drain at their limit of callbacks at once.
    async fn watch_backlog(&self) {
        let hosts: Vec<String> = {
            let mut watch = self.backlog.lock().expect("backlog lock");
            if watch.hosts.is_empty() || watch.checked.elapsed() < BACKLOG_CHECK {
                return;
            }
            watch.checked = Instant::now();
            watch.hosts.drain().collect()
        };
        let now = now_ms();
        match self.outbox.callback_backlog(now, &hosts).await {
            Ok(backlogs) => {
                for b in backlogs.into_iter().filter(|b| b.due >= BACKLOG_WARNING) {
                    tracing::warn!(
                        host = %b.host,
                        due = b.due,
                        oldest_due_s = (now - b.oldest_due_at) / 1000,
                        at_once = self.host_limit(),
                        "callbacks are piling up for one host; it is sent at most `at_once` at a time per node (--callback-host-concurrency)"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting due callbacks failed"),
        }
    }

    /// Starts every waiting callback whose host has a free slot, while permits last, serving
    /// the hosts in turn. Callbacks that waited too long are dropped from the queue: they stay
    /// leased until their lease ends, and are claimed again then.
    fn start_ready(self: &Arc<Self>) {
        if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let limit = self.host_limit();
        let queue_wait = queue_wait(self.state.config.callback_timeout);
        let mut hosts = self.hosts.lock().expect("hosts lock");
        let mut names: Vec<String> = hosts.keys().cloned().collect();
        if !names.is_empty() {
            let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let first = turn % names.len();
            names.rotate_left(first);
        }
        'hosts: for name in names {
            let host = hosts.get_mut(&name).expect("listed");
            while let Some((_, claimed)) = host.waiting.front() {
                if claimed.elapsed() > queue_wait {
                    host.waiting.pop_front();
                    continue;
                }
                if host.in_flight >= limit {
                    break;
                }
                let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                    break 'hosts;
                };
                let (c, _) = host.waiting.pop_front().expect("not empty");
                host.in_flight += 1;
                tokio::spawn(deliver(Arc::clone(self), c, permit));
            }
        }
        hosts.retain(|_, h| h.in_flight > 0 || !h.waiting.is_empty());
    }
}

/// One attempt of one callback.
async fn deliver(dispatcher: Arc<Dispatcher>, c: Callback, permit: OwnedSemaphorePermit) {
    let state = &dispatcher.state;
    let started_at = now_ms();
    let clock = Instant::now();
    // The attempt ends before its lease does, whatever it waits for (the signing key, the
    // merchant): its result is recorded under the lease, and no other node sends it meanwhile.
    let left = c.claimed_until - LEASE_END_MARGIN.as_millis() as i64 - started_at;
    let bounded = tokio::time::timeout(
        Duration::from_millis(left.max(0) as u64),
        attempt(state, &dispatcher.http, &c),
    );
    let attempted = match bounded.await {
        Ok(answer) => answer,
        Err(_) => Err("no answer before the attempt's lease ran out".to_string()),
    };
    let (http_status, head, error) = match attempted {
        Ok((status, head)) if callback::acknowledged(status, &head) => {
            (Some(status), head, String::new())
        }
        Ok((status, head)) if status == 200 => (
            Some(status),
            head,
            "HTTP 200, but the body was not \"success\"".to_string(),
        ),
        Ok((status, head)) => (Some(status), head, format!("HTTP {status}")),
        Err(reason) => (None, Vec::new(), reason),
    };
    let attempt_no = c.attempts + 1;
    let outcome = if error.is_empty() {
        CallbackOutcome::Acknowledged
    } else {
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        match state
            .config
            .callback_schedule
            .next_attempt(attempt_no, now_ms(), jitter)
        {
            Some(at) => CallbackOutcome::RetryAt(at),
            None => CallbackOutcome::GaveUp,
        }
    };
    let counted = match outcome {
        CallbackOutcome::Acknowledged => "acknowledged",
        CallbackOutcome::RetryAt(_) => "retry",
        CallbackOutcome::GaveUp => "gave_up",
    };
    metrics::counter!(crate::metrics::CALLBACK_ATTEMPTS, "outcome" => counted).increment(1);
    let error = match outcome {
        CallbackOutcome::GaveUp => {
            format!("gave up after {attempt_no} attempts; the last: {error}")
        }
        _ => error,
    };
    let record = AttemptRecord {
        order_id: c.order_id,
        attempt: CallbackAttempt {
            callback_id: c.id,
            attempt: attempt_no,
            manual: c.manual,
            started_at,
            http_status,
            latency_ms: clock.elapsed().as_millis() as i64,
            error,
            response_head: String::from_utf8_lossy(&head[..head.len().min(RESPONSE_HEAD)])
                .into_owned(),
        },
        outcome,
        claim: c.claimed_until,
    };
    let _ = dispatcher.records.send(record);
    if let Some(host) = dispatcher
        .hosts
        .lock()
        .expect("hosts lock")
        .get_mut(&c.host)
    {
        host.in_flight = host.in_flight.saturating_sub(1);
    }
    drop(permit);
    // The slot goes to the next callback waiting, here or on another host.
    dispatcher.start_ready();
    dispatcher.finished.notify_one();
}

/// Sends the callback; the answer's status and first bytes, or why there is none.
async fn attempt(
    state: &AppState,
    http: &reqwest::Client,
    c: &Callback,
) -> Result<(u16, Vec<u8>), String> {
    let body = callback::body(&c.payload, &state.config.tenant);
    let credential = state
        .keys
        .signer(&c.signature_key)
        .await
        .map_err(|_| "the signing key could not be read".to_string())?
        .ok_or_else(|| "the API key that created the order no longer exists".to_string())?;
    let signature = credential.signing_key.sign(&body);
    if !state.config.allow_private_callbacks {
        check_literal_address(&c.notify_url)?;
    }
    let mut response = http
        .post(&c.notify_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Oc-Signature", signature)
        .body(body.to_json())
        .send()
        .await
        .map_err(|e| explain(&e, state.config.callback_timeout))?;
    let status = response.status().as_u16();
    let mut head = Vec::new();
    // Only the start of the answer matters; a longer one cannot be "success".
    while head.len() <= RESPONSE_HEAD {
        match response.chunk().await {
            Ok(Some(chunk)) => head.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return Err(explain(&e, state.config.callback_timeout)),
        }
    }
    head.truncate(RESPONSE_HEAD + 1);
    Ok((status, head))
}

/// Refuses a notify_url whose host is a forbidden IP literal (names go through the resolver).
fn check_literal_address(notify_url: &str) -> Result<(), String> {
    url::Url::parse(notify_url).map_err(|_| "notify_url is not a valid URL".to_string())?;
    match callback::forbidden_literal(notify_url) {
        Some((ip, why)) => Err(callback::refusal(&ip.to_string(), ip, why)),
        None => Ok(()),
    }
}

/// A failed request in words for `notify_fail_reason` (no internals beyond the cause).
fn explain(e: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        source = err.source();
    }
    if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        format!("could not connect: {}", innermost(e))
    } else if e.is_redirect() {
        "answered with a redirect (redirects are not followed)".to_string()
    } else {
        format!("request failed: {}", innermost(e))
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        last = err.to_string();
        source = err.source();
    }
    last
}

/// Records finished attempts in batches (one write for many).
async fn record_attempts(
    state: AppState,
    outbox: Arc<dyn CallbackOutbox>,
    mut receive: mpsc::UnboundedReceiver<AttemptRecord>,
) {
    while let Some(first) = receive.recv().await {
        tokio::time::sleep(GATHER).await;
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receive.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if let Err(e) = outbox.record_callback_attempts(batch, now_ms()).await {
            // The leases run out and the callbacks are attempted again.
            tracing::error!(error = %e, "recording callback attempts failed");
        }
        // An acknowledged callback may let the next one of its order go.
        state.callbacks_due.notify_one();
    }
}
