//! A token store in a file: written atomically (temporary file, fsync,
//! rename), readable by its owner only, safe for several processes at once.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Persisted, StoredToken, TokenStore};
use crate::error::Error;

/// Keeps tokens in a JSON file (mode 0600 on Unix), so that a rotated refresh
/// token survives a restart. The compare-and-swap holds an exclusive lock on
/// a `<file>.lock` beside it, so processes sharing the file (a webhook server
/// and a reminders job) never spend one refresh token twice.
///
/// The file holds the tokens in clear, like every CLI credential file: keep
/// it on an encrypted disk, readable by the service's user only.
///
/// ```no_run
/// # async fn f() -> Result<(), salesforce_rest::Error> {
/// use std::sync::Arc;
/// use salesforce_rest::auth::{FileTokenStore, TokenStore};
/// let store = FileTokenStore::new("bridge-data/salesforce-token.json");
/// let _ = store.load().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// A store in a file (created on the first write, with its directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::TokenStore(format!("{what} {}: {e}", self.path.display()))
    }

    fn read(&self) -> Result<Option<StoredToken>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice::<Persisted>(&bytes)
                .map(|p| Some(p.into_token()))
                .map_err(|e| self.err("not a token file:", e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err("cannot read", e)),
        }
    }

    fn private(opts: &mut OpenOptions) -> &mut OpenOptions {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        opts
    }

    fn swap(&self, expected: Option<u64>, new: &StoredToken) -> Result<bool, Error> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| self.err("cannot create the directory of", e))?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = Self::private(OpenOptions::new().create(true).truncate(false).write(true))
            .open(&lock_path)
            .map_err(|e| self.err("cannot open the lock of", e))?;
        lock.lock().map_err(|e| self.err("cannot lock", e))?;
        let current = self.read()?.map(|t| t.version);
        if current != expected {
            return Ok(false);
        }
        let tmp = self.path.with_extension("tmp");
        let body = serde_json::to_vec_pretty(&Persisted::from_token(new))
            .map_err(|e| self.err("cannot encode", e))?;
        let mut f: File = Self::private(OpenOptions::new().create(true).truncate(true).write(true))
            .open(&tmp)
            .map_err(|e| self.err("cannot write", e))?;
        f.write_all(&body)
            .and_then(|()| f.sync_all())
            .map_err(|e| self.err("cannot write", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err("cannot replace", e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        drop(lock);
        Ok(true)
    }
}

#[async_trait]
impl TokenStore for FileTokenStore {
    async fn load(&self) -> Result<Option<StoredToken>, Error> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.read())
            .await
            .map_err(|e| Error::TokenStore(e.to_string()))?
    }

    async fn compare_and_swap(
        &self,
        expected: Option<u64>,
        new: StoredToken,
    ) -> Result<bool, Error> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.swap(expected, &new))
            .await
            .map_err(|e| Error::TokenStore(e.to_string()))?
    }
}
