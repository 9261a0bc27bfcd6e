//! Errors of the storage layer.

use octopus_domain::decision::Refusal;
use octopus_domain::IllegalTransition;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// The merchant's available balance does not cover the movement.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// Every candidate floating amount is held by another open order.
    #[error("no free floating amount is left for this amount on the channel")]
    NoFreeAmount,
    /// The order has no notify_url to call back.
    #[error("the order has no notify_url")]
    NoNotifyUrl,
    /// A unique value (merchant uid, API key) exists already.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database could not be opened or migrated.
    #[error("database setup failed: {0}")]
    Setup(String),
    /// Any other database failure. The text is for logs, never for API answers.
    #[error("database error: {0}")]
    Database(String),
    /// An order's accounting cannot be decided from what is stored (an entry that cannot be
    /// built from the order): nothing was changed. The text is for logs.
    #[error("accounting failure: {0}")]
    Accounting(String),
    /// A stored value that does not parse (a bug or a corrupted row).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
}

impl From<Refusal> for StorageError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Illegal(t) => StorageError::IllegalTransition(t),
            Refusal::InsufficientBalance => StorageError::InsufficientBalance,
            Refusal::NoNotifyUrl => StorageError::NoNotifyUrl,
            Refusal::Accounting(reason) => StorageError::Accounting(reason),
            // A backend that decides without loading first has a bug; nothing was written.
            not_loaded @ Refusal::NotLoaded(_) => StorageError::Database(not_loaded.to_string()),
        }
    }
}
