//! Several gateway nodes on one database, and what stands in front of them in production: a
//! balancer that sends each request to a node whose `/readyz` answers ready (as a load
//! balancer with health checks does), merchants' traffic spread over the nodes, and a way to
//! tell which process holds a connection (to know whose callbacks a receiver got).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use octopus_client::{Client, NewOrder};
use tokio::task::JoinHandle;

/// How often the balancer asks each node's `/readyz`.
pub const HEALTH_CHECK_EVERY: Duration = Duration::from_millis(100);

struct Entry {
    url: String,
    client: Client,
    ready: bool,
}

/// Sends each request to the next ready node, in turn; a node is ready while its last
/// `/readyz` answered 200 (within half a second).
pub struct Balancer {
    nodes: Arc<Mutex<Vec<Entry>>>,
    next: AtomicUsize,
    key: String,
    secret: String,
    checker: JoinHandle<()>,
}

impl Balancer {
    pub fn start(key: &str, secret: &str) -> Balancer {
        let nodes: Arc<Mutex<Vec<Entry>>> = Arc::default();
        let checked = Arc::clone(&nodes);
        let checker = tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            loop {
                let urls: Vec<String> = checked
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|e| e.url.clone())
                    .collect();
                // All nodes at once, so one slow to answer does not delay the others' checks.
                let checks = urls.into_iter().map(|url| {
                    let http = http.clone();
                    async move {
                        let ready = matches!(
                            http.get(format!("{url}/readyz")).send().await,
                            Ok(answer) if answer.status() == 200
                        );
                        (url, ready)
                    }
                });
                for (url, ready) in futures::future::join_all(checks).await {
                    if let Some(e) = checked.lock().unwrap().iter_mut().find(|e| e.url == url) {
                        e.ready = ready;
                    }
                }
                tokio::time::sleep(HEALTH_CHECK_EVERY).await;
            }
        });
        Balancer {
            nodes,
            next: AtomicUsize::new(0),
            key: key.to_string(),
            secret: secret.to_string(),
            checker,
        }
    }

    /// A node behind the balancer; it gets requests once its `/readyz` answered ready.
    pub fn add(&self, url: &str) {
        self.nodes.lock().unwrap().push(Entry {
            url: url.to_string(),
            client: Client::new(url, &self.key, &self.secret),
            ready: false,
        });
    }

    pub fn remove(&self, url: &str) {
        self.nodes.lock().unwrap().retain(|e| e.url != url);
    }

    /// The next ready node: its URL and a merchant client for it.
    pub fn pick(&self) -> Option<(String, Client)> {
        let nodes = self.nodes.lock().unwrap();
        let ready: Vec<&Entry> = nodes.iter().filter(|e| e.ready).collect();
        if ready.is_empty() {
            return None;
        }
        let e = ready[self.next.fetch_add(1, Ordering::Relaxed) % ready.len()];
        Some((e.url.clone(), e.client.clone()))
    }

    /// Waits until the balancer sends requests to `url`.
    pub async fn wait_ready(&self, url: &str) {
        assert!(
            self.ready_within(url, Duration::from_secs(30)).await,
            "{url} never became ready"
        );
    }

    /// Whether the balancer sends requests to `url` within `timeout`.
    pub async fn ready_within(&self, url: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .nodes
                .lock()
                .unwrap()
                .iter()
                .any(|e| e.url == url && e.ready)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.checker.abort();
    }
}

/// A TCP load balancer (as one in front of the nodes, at one address that does not change
/// when nodes do): each connection goes to the next node the [`Balancer`] has ready. Payers'
/// pages, providers' postbacks and merchants reach the nodes through it.
pub struct Front {
    pub url: String,
    accepting: JoinHandle<()>,
}

impl Front {
    pub async fn start(balancer: Arc<Balancer>) -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Some((node, _)) = balancer.pick() else {
                    continue; // no node ready: the connection is closed
                };
                let address = node.trim_start_matches("http://").to_string();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&address).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Front { url, accepting }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// The local ports of the TCP connections process `pid` has open (from `/proc`): a receiver
/// that saw a request from one of them got it from that process.
pub fn open_ports(pid: u32) -> HashSet<u16> {
    let mut inodes = HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    inodes.insert(inode);
                }
            }
        }
    }
    let mut ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (columns.get(1), columns.get(9)) else {
                continue;
            };
            if inode.parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                if let Some(port) = local
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
                {
                    ports.insert(port);
                }
            }
        }
    }
    ports
}

/// What merchants' traffic through a [`Balancer`] did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Deposits acknowledged: (merchant_order_id, payment_uid).
    pub acknowledged: Vec<(String, String)>,
    /// Deposits paid on their cashier page (merchant_order_id).
    pub paid: Vec<String>,
    /// Requests that failed (each attempt), with what failed.
    pub failures: Vec<String>,
    /// Requests answered.
    pub answered: u64,
}

/// Merchants' deposits through the balancer: each worker creates a deposit (with the
/// `notify_url`), pays it on its cashier page through a node the balancer picks, and reads it
/// back. A failed request is counted and made again on the next node (the same
/// `merchant_order_id`: creation is idempotent).
pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    pub tally: Arc<Mutex<Tally>>,
}

impl Load {
    pub fn start(
        balancer: Arc<Balancer>,
        merchant_uid: &str,
        notify_url: &str,
        workers: usize,
        prefix: &str,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally: Arc<Mutex<Tally>> = Arc::default();
        let workers = (0..workers)
            .map(|w| {
                let (balancer, stop, tally) =
                    (Arc::clone(&balancer), Arc::clone(&stop), Arc::clone(&tally));
                let (uid, notify_url) = (merchant_uid.to_string(), notify_url.to_string());
                let prefix = format!("{prefix}-{w}");
                tokio::spawn(async move {
                    let http = super::http();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let id = format!("{prefix}-{i}");
                        let mut order = NewOrder::deposit(&uid, &id, "12.34", "usd", "card", "US");
                        order.notify_url = Some(notify_url.clone());
                        let Some(created) =
                            attempt(&balancer, &tally, "create", |_, client| {
                                let order = order.clone();
                                async move {
                                    client.create_order(&order).await.map_err(|e| e.to_string())
                                }
                            })
                            .await
                        else {
                            break;
                        };
                        tally
                            .lock()
                            .unwrap()
                            .acknowledged
                            .push((id.clone(), created.payment.payment_uid.clone()));
                        let path = page_path(&created.payment_url);
                        let paid = attempt(&balancer, &tally, "pay", |base, client| {
                            let (http, url, id) =
                                (http.clone(), format!("{base}{path}"), id.clone());
                            async move {
                                // Paid already, by an earlier try whose answer was lost?
                                match client.get_order(&id).await {
                                    Ok(p) if p.payment_status == "completed" => Ok(()),
                                    Ok(_) => pay(&http, &url).await,
                                    Err(e) => Err(e.to_string()),
                                }
                            }
                        })
                        .await;
                        if paid.is_none() {
                            break;
                        }
                        tally.lock().unwrap().paid.push(id.clone());
                        let read = attempt(&balancer, &tally, "read", |_, client| {
                            let id = id.clone();
                            async move { client.get_order(&id).await.map_err(|e| e.to_string()) }
                        })
                        .await;
                        match read {
                            Some(p) if p.payment_status == "completed" => {}
                            Some(p) => tally.lock().unwrap().failures.push(format!(
                                "{id} read back {} after it was paid",
                                p.payment_status
                            )),
                            None => break,
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            workers,
            tally,
        }
    }

    /// Waits until at least `n` deposits were paid (or panics after a minute).
    pub async fn wait_for_paid(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.tally.lock().unwrap().paid.len() < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} deposits paid in a minute"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the workers after their current deposit; what they did.
    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.await.unwrap();
        }
        std::mem::take(&mut *self.tally.lock().unwrap())
    }
}

/// How many times a request is made (on the next ready node each time) before the worker
/// gives up, and how long it waits between two.
const TRIES: usize = 100;
const BETWEEN_TRIES: Duration = Duration::from_millis(50);

/// Makes one request on the next ready node until it succeeds; every failure is counted.
async fn attempt<T, F, Fut>(
    balancer: &Balancer,
    tally: &Mutex<Tally>,
    what: &str,
    request: F,
) -> Option<T>
where
    F: Fn(String, Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    for _ in 0..TRIES {
        let Some((base, client)) = balancer.pick() else {
            tokio::time::sleep(BETWEEN_TRIES).await;
            continue;
        };
        match request(base.clone(), client).await {
            Ok(answer) => {
                tally.lock().unwrap().answered += 1;
                return Some(answer);
            }
            Err(e) => {
                tally
                    .lock()
                    .unwrap()
                    .failures
                    .push(format!("{what} on {base}: {e}"));
                tokio::time::sleep(BETWEEN_TRIES).await;
            }
        }
    }
    None
}

/// The path of a cashier page's URL (any node serves it).
fn page_path(payment_url: &str) -> String {
    let after_scheme = payment_url
        .split_once("://")
        .map_or(payment_url, |(_, r)| r);
    after_scheme
        .find('/')
        .map_or(String::new(), |i| after_scheme[i..].to_string())
}

/// Pays a sandbox deposit on its cashier page, as the payer does; an error for any failure.
async fn pay(http: &reqwest::Client, payment_url: &str) -> Result<(), String> {
    let page = http
        .get(payment_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status() != 200 {
        return Err(format!("the page answered {}", page.status()));
    }
    let page = page.text().await.map_err(|e| e.to_string())?;
    let Some(token) = page
        .split(r#"<meta name="csrf-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
    else {
        return Err("the page has no token".to_string());
    };
    let answer = http
        .post(format!("{payment_url}/simulate"))
        .form(&[("outcome", "completed"), ("token", token)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match answer.status().as_u16() {
        303 => Ok(()),
        status => Err(format!("paying answered {status}")),
    }
}
