//! The operator's master key, which encrypts secrets at rest. It comes from
//! `OCTOPUS_MASTER_KEY` or a key file; on first start without either, a key is generated into
//! the key file (mode 0600) and the operator is told to back it up. Every database remembers a
//! check value, so starting with another key fails clearly instead of corrupting secrets.

use std::io::Write;
use std::path::{Path, PathBuf};

use octopus_domain::secret_box::MasterKey;
use octopus_storage::Settings;

const CHECK_SETTING: &str = "master_key_check";

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("invalid master key in {source_name}: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("cannot read or write the master key file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(
        "the master key does not match this database (it was set up with another key); \
         give the original key with --master-key-file or OCTOPUS_MASTER_KEY"
    )]
    Mismatch,
    #[error(transparent)]
    Storage(#[from] octopus_storage::StorageError),
}

/// Where the key came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// Loads the key from `env_value` if set, else from `file`, generating the file if absent.
pub fn load(
    env_value: Option<&str>,
    file: &Path,
) -> Result<(MasterKey, KeySource), MasterKeyError> {
    if let Some(text) = env_value.filter(|t| !t.trim().is_empty()) {
        let key = MasterKey::parse(text).map_err(|e| MasterKeyError::Invalid {
            source_name: "OCTOPUS_MASTER_KEY".into(),
            reason: e.to_string(),
        })?;
        return Ok((key, KeySource::Environment));
    }
    let file_error = |e: std::io::Error| MasterKeyError::File {
        path: file.to_path_buf(),
        reason: e.to_string(),
    };
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let key = MasterKey::parse(&text).map_err(|e| MasterKeyError::Invalid {
                source_name: file.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok((key, KeySource::File(file.to_path_buf())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(file_error)?;
            }
            // Written whole to a temporary file, then linked into place: another process
            // starting at the same moment sees either no key file or a complete one, and the
            // first link wins.
            let (key, text) = MasterKey::generate();
            let temporary = file.with_extension(format!("tmp-{}", std::process::id()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let written = options.open(&temporary).and_then(|mut f| {
                f.write_all(format!("{text}\n").as_bytes())?;
                f.sync_all()
            });
            let linked = written.and_then(|_| std::fs::hard_link(&temporary, file));
            let _ = std::fs::remove_file(&temporary);
            match linked {
                Ok(()) => Ok((key, KeySource::Generated(file.to_path_buf()))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(None, file),
                Err(e) => Err(file_error(e)),
            }
        }
        Err(e) => Err(file_error(e)),
    }
}

/// Binds the key to the database on first use, and refuses a different key afterwards.
pub async fn verify(storage: &dyn Settings, key: &MasterKey) -> Result<(), MasterKeyError> {
    let stored = storage
        .init_setting(CHECK_SETTING, &key.check_value())
        .await?;
    if key.matches(&stored) {
        Ok(())
    } else {
        Err(MasterKeyError::Mismatch)
    }
}
