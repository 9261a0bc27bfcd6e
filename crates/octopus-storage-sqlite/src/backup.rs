//! A copy of the embedded database taken while it serves (`octopus backup --to FILE`):
//! SQLite's online backup API copies every page under one read transaction, so the copy is
//! the database as of one instant (WAL mode: writers go on meanwhile), with every order
//! acknowledged before that instant. The copy is written to a temporary file beside its
//! destination and linked into place only once whole, checked and synced, so a failed backup
//! leaves no file that looks like one.

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
///
/// The copy is written to a new file of its own beside `to` (readable by its owner only: it
/// holds the gateway's orders), synced, linked to `to` only if no file has that name by then
/// (a hard link fails rather than replaces), and the directory synced, so a crash or power
/// loss leaves either no `to` or a whole one.
pub fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport> {
    let source = data_dir.join(DATABASE_FILE);
    if !source.exists() {
        return Err(setup("no database to back up", source.display()));
    }
    if to.exists() {
        return Err(setup("the backup file exists already", to.display()));
    }
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let partial = tempfile::Builder::new()
        .prefix(".octopus-backup-")
        .tempfile_in(&dir)
        .map_err(|e| setup("cannot create the backup", e))?;
    let report = copy(&source, partial.path())?;
    std::fs::File::open(partial.path())
        .and_then(|f| f.sync_all())
        .map_err(|e| setup("cannot sync the backup", e))?;
    std::fs::hard_link(partial.path(), to).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            setup("the backup file exists already", to.display())
        } else {
            setup("cannot move the backup into place", e)
        }
    })?;
    // The temporary name goes; `to` stays.
    drop(partial);
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| setup("cannot sync the backup's directory", e))?;
    Ok(report)
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
    dst.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| setup("cannot create the backup", e))?;
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
    let mode: String = dst
        .pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))
        .map_err(|e| setup("cannot finish the backup", e))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(setup(
            "cannot finish the backup",
            format!("journal mode {mode}"),
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit still only in the WAL (no checkpoint ran, the writer's connection open) is in
    /// the copy; the copy is one file; a second backup to the same name is refused.
    #[test]
    fn the_copy_holds_commits_still_in_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
                 INSERT INTO schema_migrations VALUES (14);
                 CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('in the wal');",
            )
            .unwrap();
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "the commit is in the WAL"
        );
        let out = tempfile::tempdir().unwrap();
        let to = out.path().join("copy.db");
        let report = backup(dir.path(), &to).unwrap();
        assert_eq!(report.schema_version, 14);
        let copy = Connection::open(&to).unwrap();
        let v: String = copy.query_row("SELECT v FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(v, "in the wal");
        drop(copy);
        let names: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["copy.db"]);
        let again = backup(dir.path(), &to).unwrap_err();
        assert!(again.to_string().contains("exists already"), "{again}");
        drop(writer);
    }
}
