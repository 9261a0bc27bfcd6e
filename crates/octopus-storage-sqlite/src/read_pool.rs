//! A small pool of read connections. In WAL mode readers never block the writer nor each
//! other; each read runs on tokio's blocking threads so the async workers stay free.

use std::path::Path;
use std::sync::{Arc, Mutex};

use octopus_storage::{Result, StorageError};
use rusqlite::Connection;
use tokio::sync::Semaphore;

pub(crate) struct ReadPool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn open(path: &Path, size: usize) -> Result<Arc<ReadPool>> {
        let mut idle = Vec::with_capacity(size);
        for _ in 0..size {
            idle.push(crate::connect(path)?);
        }
        Ok(Arc::new(ReadPool {
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
        }))
    }

    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        // The permit moves into the blocking task: even if the caller goes away, the
        // connection is back in the pool before another read can claim it.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Database("read pool closed".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .idle
                .lock()
                .expect("read pool lock")
                .pop()
                .expect("a permit guarantees an idle connection");
            // The connection goes back even if the read panics, so permits and connections
            // stay equal in number.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&conn)))
                .unwrap_or_else(|_| Err(StorageError::Database("a read panicked".into())));
            pool.idle.lock().expect("read pool lock").push(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|_| StorageError::Database("a read task panicked".into()))?
    }
}
