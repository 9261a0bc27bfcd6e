//! Gathering concurrent requests into groups, shared by the group insert and the group
//! writer. Callers submit a request and wait for its answer; a dispatcher task takes every
//! request waiting (while all group slots are busy, more gather), hands each group to the
//! handler, and at most `in_flight` groups run at once. The handler answers each request.

use std::future::Future;
use std::sync::Arc;

use octopus_storage::{Result, StorageError};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// A request with the channel its answer goes back on.
pub(crate) struct Waiting<Req, Res> {
    pub(crate) request: Req,
    pub(crate) answer: oneshot::Sender<Result<Res>>,
}

pub(crate) struct Grouper<Req, Res> {
    queue: mpsc::UnboundedSender<Waiting<Req, Res>>,
    name: &'static str,
}

impl<Req, Res> Clone for Grouper<Req, Res> {
    fn clone(&self) -> Self {
        Grouper {
            queue: self.queue.clone(),
            name: self.name,
        }
    }
}

impl<Req: Send + 'static, Res: Send + 'static> Grouper<Req, Res> {
    /// Starts the dispatcher. `handle` gets each group and must answer every request in it.
    pub(crate) fn start<F, Fut>(
        name: &'static str,
        max_group: usize,
        in_flight: usize,
        handle: F,
    ) -> Self
    where
        F: Fn(Vec<Waiting<Req, Res>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (queue, mut receiver) = mpsc::unbounded_channel::<Waiting<Req, Res>>();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(in_flight));
            while let Some(first) = receiver.recv().await {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let mut group = vec![first];
                while group.len() < max_group {
                    match receiver.try_recv() {
                        Ok(w) => group.push(w),
                        Err(_) => break,
                    }
                }
                let work = handle(group);
                tokio::spawn(async move {
                    work.await;
                    drop(slot);
                });
            }
        });
        Grouper { queue, name }
    }

    /// Submits a request and waits for its group to answer it.
    pub(crate) async fn submit(&self, request: Req) -> Result<Res> {
        let (answer, receive) = oneshot::channel();
        self.queue
            .send(Waiting { request, answer })
            .map_err(|_| StorageError::Database(format!("the {} has stopped", self.name)))?;
        receive
            .await
            .map_err(|_| StorageError::Database(format!("the {} dropped a request", self.name)))?
    }
}
