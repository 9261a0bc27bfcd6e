//! The storage's metrics (the server's `metrics` module serves them with its own): how many
//! writes each group commit takes and how long it takes, by backend and by writer. Both
//! backends call [`group_committed`] after each group; the names are here once.

use std::time::Duration;

/// Writes per group commit, by `backend` (`sqlite`, `postgres`) and `writer` (`sqlite`: the
/// one writer; `postgres`: `deposits`, the group insert of new deposits, `changes`, payouts
/// and status changes).
pub const GROUP_SIZE: &str = "octopus_storage_group_size";
/// Seconds a group commit took, from its first write to its commit, by `backend` and `writer`.
pub const GROUP_SECONDS: &str = "octopus_storage_group_commit_seconds";

/// Records one group commit of `writes` writes that took `took`.
pub fn group_committed(backend: &'static str, writer: &'static str, writes: usize, took: Duration) {
    metrics::histogram!(GROUP_SIZE, "backend" => backend, "writer" => writer).record(writes as f64);
    metrics::histogram!(GROUP_SECONDS, "backend" => backend, "writer" => writer)
        .record(took.as_secs_f64());
}
