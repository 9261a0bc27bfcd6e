//! `octopus backup --to FILE`: a consistent copy of the embedded SQLite database, taken while
//! the gateway serves (the storage crate's online backup). PostgreSQL is backed up with its own
//! tools (docs/operations.md, "Backups and restores"), so the command refuses a database URL.
//! The master key is not in the copy: keep it apart; without it the copy's secrets stay shut.

use anyhow::bail;

use crate::cli::BackupArgs;

pub fn run(args: BackupArgs) -> anyhow::Result<()> {
    if args
        .db
        .database_url
        .as_deref()
        .is_some_and(|u| !u.is_empty())
    {
        bail!(
            "octopus backup copies the embedded SQLite database; back PostgreSQL up with \
             pg_basebackup and WAL archiving or pg_dump (docs/operations.md)"
        );
    }
    let report = octopus_storage_sqlite::backup::backup(&args.db.data_dir, &args.to)?;
    println!(
        "{}",
        serde_json::json!({
            "to": args.to.display().to_string(),
            "bytes": report.bytes,
            "pages": report.pages,
            "schema_version": report.schema_version,
        })
    );
    Ok(())
}
