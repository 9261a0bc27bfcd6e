//! The single SQLite writer with group commit.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. Instead of one
//! transaction (and one fsync) per request, every write is sent as a job to one thread that
//! owns the write connection. The thread takes all jobs waiting, runs each inside its own
//! savepoint of one `BEGIN IMMEDIATE` transaction, commits once, and only then answers the
//! callers: many orders per fsync, and no caller hears "done" before its data is durable.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;

use octopus_storage::{Result, StorageError};
use rusqlite::Connection;
use tokio::sync::oneshot;

/// Most jobs committed together (bounds the latency of the first job of a batch).
const MAX_BATCH: usize = 1024;

type Finish = Box<dyn FnOnce(Result<()>) + Send>;
/// A job runs against the write connection and says whether it succeeded (a failed job's
/// writes are rolled back to its savepoint) and how to deliver its answer after the commit.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

/// A job and whether it needs its own savepoint.
struct Queued {
    job: Job,
    savepoint: bool,
}

/// Handle to the writer thread. Cloning shares the same thread.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Queued>,
}

impl Writer {
    /// Starts the writer thread on `conn`. The thread ends when every handle is dropped, after
    /// finishing the jobs already sent.
    pub(crate) fn start(conn: Connection) -> std::io::Result<Writer> {
        let (jobs, receiver) = mpsc::channel::<Queued>();
        thread::Builder::new()
            .name("octopus-sqlite-writer".into())
            .spawn(move || run(conn, receiver))?;
        Ok(Writer { jobs })
    }

    /// Runs `work` in the next group commit, inside its own savepoint (if it fails, none of
    /// its writes stay), and returns its result once it is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.queue(work, true).await
    }

    /// Like [`Writer::write`] without the savepoint, for work that makes every check before
    /// its first write (the hot paths: creating orders, changing their status; a savepoint
    /// costs a sub-journal copy of every page it touches). Should such work still fail after
    /// writing (a database error), the whole group commit is rolled back and every caller in
    /// it hears an error: nothing half-written is ever kept.
    pub(crate) async fn write_checked<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.queue(work, false).await
    }

    async fn queue<T, F>(&self, work: F, savepoint: bool) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (answer, receive) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(StorageError::Database("a write job panicked".into())));
            let ok = outcome.is_ok();
            let finish: Finish = Box::new(move |commit: Result<()>| {
                let _ = answer.send(commit.and(outcome));
            });
            (ok, finish)
        });
        self.jobs
            .send(Queued { job, savepoint })
            .map_err(|_| StorageError::Database("the SQLite writer has stopped".into()))?;
        receive
            .await
            .map_err(|_| StorageError::Database("the SQLite writer dropped a job".into()))?
    }
}

fn run(conn: Connection, receiver: mpsc::Receiver<Queued>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (writes, started) = (batch.len(), std::time::Instant::now());
        commit_batch(&conn, batch);
        octopus_storage::metrics::group_committed("sqlite", "sqlite", writes, started.elapsed());
    }
}

fn commit_batch(conn: &Connection, batch: Vec<Queued>) {
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
        // Dropping the jobs unrun answers each caller with an error.
        tracing::error!(error = %e, jobs = batch.len(), "could not begin a write transaction");
        return;
    }
    // Set when the transaction can no longer be trusted: SQLite rolled it back by itself
    // (disk full, I/O error), or a failed job's writes could not be undone. Then nothing of
    // the batch is committed, the jobs not yet run are dropped unrun, and every caller hears
    // an error.
    let mut broken: Option<String> = None;
    for Queued { job, savepoint } in batch {
        if broken.is_some() {
            break;
        }
        if !savepoint {
            let before = conn.total_changes();
            let (ok, finish) = job(conn);
            finishes.push(finish);
            if !ok && conn.total_changes() != before {
                broken = Some("a job failed after writing".into());
            }
        } else if let Err(e) = run_cached(conn, "SAVEPOINT job") {
            broken = Some(format!("could not open a savepoint: {e}"));
        } else {
            let (ok, finish) = job(conn);
            finishes.push(finish);
            let closed = if ok {
                run_cached(conn, "RELEASE job")
            } else {
                run_cached(conn, "ROLLBACK TO job").and_then(|_| run_cached(conn, "RELEASE job"))
            };
            if let Err(e) = closed {
                broken = Some(format!("could not close a savepoint: {e}"));
            }
        }
        if broken.is_none() && conn.is_autocommit() {
            broken = Some("SQLite rolled the transaction back".into());
        }
    }
    let outcome = match broken {
        None => run_cached(conn, "COMMIT").map_err(|e| format!("commit failed: {e}")),
        Some(reason) => Err(reason),
    };
    if let Err(reason) = &outcome {
        tracing::error!(%reason, jobs = finishes.len(), "a group commit failed; nothing of it is stored");
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    for finish in finishes {
        finish(outcome.clone().map_err(StorageError::Database));
    }
}

/// Transaction control statements, prepared once (they run several times per batch).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    /// Jobs committed together stay independent: a failing job's writes are rolled back to
    /// its savepoint, the others of the same group commit are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_leaves_nothing_and_does_not_spoil_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = crate::connect(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        let writer = Writer::start(conn).unwrap();
        let mut jobs = Vec::new();
        for v in 0..200i64 {
            let w = writer.clone();
            jobs.push(tokio::spawn(async move {
                w.write(move |conn| {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
                        .map_err(crate::db)?;
                    if v % 3 == 0 {
                        // wrote, then failed: the write must not stay
                        return Err(StorageError::Conflict(format!("job {v}")));
                    }
                    Ok(v)
                })
                .await
            }));
        }
        let mut ok = 0;
        for j in jobs {
            if j.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 200 - 67);
        let check = crate::connect(&path).unwrap();
        assert_eq!(count(&check), 133);
        let failed_left: i64 = check
            .query_row("SELECT COUNT(*) FROM t WHERE v % 3 = 0", [], |r| r.get(0))
            .unwrap();
        assert_eq!(failed_left, 0);
    }

    /// Whatever happens to a group commit — here SQLite dropping the transaction in the middle
    /// of a group, as on a full disk — a caller hears "done" exactly when its write is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_hear_done_exactly_when_their_write_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = crate::connect(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .unwrap();
        let writer = Writer::start(conn).unwrap();
        let mut jobs = Vec::new();
        for v in 0..300i64 {
            let w = writer.clone();
            jobs.push(tokio::spawn(async move {
                let work = move |conn: &Connection| {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", [v])
                        .map_err(crate::db)?;
                    if v % 50 == 7 {
                        // the transaction disappears under the group
                        conn.execute_batch("ROLLBACK").map_err(crate::db)?;
                    }
                    if v % 50 == 21 {
                        // fails after writing: in a savepoint only its own write goes; without
                        // one, its whole group
                        return Err(StorageError::Conflict(format!("job {v}")));
                    }
                    Ok(())
                };
                let result = if v % 2 == 0 {
                    w.write(work).await
                } else {
                    w.write_checked(work).await
                };
                (v, result.is_ok())
            }));
        }
        let mut answers = Vec::new();
        for j in jobs {
            answers.push(j.await.unwrap());
        }
        let check = crate::connect(&path).unwrap();
        let mut failed = 0;
        for (v, ok) in answers {
            let stored: bool = check
                .query_row("SELECT COUNT(*) FROM t WHERE v = ?1", [v], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
                == 1;
            assert_eq!(ok, stored, "job {v}: answered ok={ok} but stored={stored}");
            failed += usize::from(!ok);
        }
        assert!(failed >= 12, "the broken groups failed their callers");
    }
}
