//! A copy of the embedded database taken while it serves (`octopus backup --to FILE`):
//! SQLite's online backup API copies every page under one read transaction, so the copy is
//! the database as of one instant (WAL mode: writers go on meanwhile), with every order
//! acknowledged before that instant. The copy is written beside its destination and renamed
//! into place only once whole and checked, so a failed backup leaves no file that looks like
//! one.

use std::path::Path;
use std::time::Duration;

use octopus_storage::{Result, StorageError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::DATABASE_FILE;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub bytes: u64,
    pub pages: i64,
    /// The newest migration the copy holds.
    pub schema_version: i64,
}

fn setup(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Setup(format!("{what}: {e}"))
}

/// Copies the database in `data_dir` to `to` (which must not exist yet).
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport> {
    let source = data_dir.join(DATABASE_FILE);
    if !source.exists() {
        return Err(setup("no database to back up", source.display()));
    }
    if to.exists() {
        return Err(setup("the backup file exists already", to.display()));
    }
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = copy(&source, &partial).and_then(|report| {
        std::fs::rename(&partial, to).map_err(|e| setup("cannot move the backup into place", e))?;
        Ok(report)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn copy(source: &Path, partial: &Path) -> Result<BackupReport> {
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| setup("cannot open the database", e))?;
    src.busy_timeout(Duration::from_secs(10))
        .map_err(|e| setup("cannot open the database", e))?;
    let mut dst = Connection::open(partial).map_err(|e| setup("cannot create the backup", e))?;
    {
        let backup =
            Backup::new(&src, &mut dst).map_err(|e| setup("cannot start the backup", e))?;
        // Every page in one step: one read transaction, one instant. A step the writer
        // keeps busy is tried again, for up to ten seconds.
        let mut tries = 0;
        loop {
            match backup.step(-1).map_err(|e| setup("the backup failed", e))? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked if tries < 200 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return Err(setup("the backup failed", "the database stayed busy")),
            }
        }
    }
    let check: String = dst
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| setup("cannot check the backup", e))?;
    if check != "ok" {
        return Err(setup("the backup is not sound", check));
    }
    let pages: i64 = dst
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(|e| setup("cannot read the backup", e))?;
    let schema_version: i64 = dst
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|e| setup("the backup holds no Octopus schema", e))?;
    // The copy is a rollback-journal database: one file, nothing beside it to lose.
    dst.pragma_update(None, "journal_mode", "DELETE")
        .map_err(|e| setup("cannot finish the backup", e))?;
    drop(dst);
    let bytes = std::fs::metadata(partial)
        .map_err(|e| setup("cannot read the backup", e))?
        .len();
    Ok(BackupReport {
        bytes,
        pages,
        schema_version,
    })
}
