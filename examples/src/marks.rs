//! Small named values a tool keeps between runs.

use crate::BoxError;

/// Small named values a tool keeps between runs (a watermark): files beside
/// the embedded store (written atomically), Redis keys, or memory.
#[non_exhaustive]
pub enum Marks {
    /// One file per name in a directory.
    Files(std::path::PathBuf),
    /// Redis keys under a prefix.
    Redis(bridge_core::redis::RedisConnection, String),
    /// Memory (tests).
    Memory(std::sync::Mutex<std::collections::HashMap<String, String>>),
}

impl std::fmt::Debug for Marks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Marks::Files(_) => "Marks::Files",
            Marks::Redis(..) => "Marks::Redis",
            Marks::Memory(_) => "Marks::Memory",
        })
    }
}

impl Marks {
    /// The value of a name.
    pub async fn get(&self, name: &str) -> Result<Option<String>, BoxError> {
        Ok(match self {
            Marks::Files(dir) => match std::fs::read_to_string(dir.join(format!("{name}.mark"))) {
                Ok(v) => Some(v.trim().to_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(format!(
                        "cannot read {}: {e}",
                        dir.join(format!("{name}.mark")).display()
                    )
                    .into());
                }
            },
            Marks::Redis(conn, prefix) => {
                let mut c = conn.clone();
                redis::cmd("GET")
                    .arg(format!("{prefix}mark:{name}"))
                    .query_async(&mut c)
                    .await?
            }
            Marks::Memory(m) => m.lock().ok().and_then(|m| m.get(name).cloned()),
        })
    }

    /// Sets a name's value (durably: a file is written, synced, then renamed).
    pub async fn set(&self, name: &str, value: &str) -> Result<(), BoxError> {
        match self {
            Marks::Files(dir) => {
                use std::io::Write as _;
                let path = dir.join(format!("{name}.mark"));
                let tmp = dir.join(format!("{name}.mark.tmp"));
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(value.as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            Marks::Redis(conn, prefix) => {
                let mut c = conn.clone();
                let () = redis::cmd("SET")
                    .arg(format!("{prefix}mark:{name}"))
                    .arg(value)
                    .query_async(&mut c)
                    .await?;
            }
            Marks::Memory(m) => {
                if let Ok(mut m) = m.lock() {
                    m.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Ok(())
    }
}
