//! One engine per data directory. Two engines on one journal — the desktop app and
//! `sentinela-headless`, or two services — would each run the same escalations and phone
//! everyone twice, so the second refuses to start and names the process that holds it.
//!
//! The lock is the operating system's (`File::try_lock`: `flock` on Unix, `LockFileEx` on
//! Windows), so it is released when the holder ends, even by a crash or `kill -9`: no stale lock
//! to clean by hand. Who holds it is written beside it (`engine.owner`), because on Windows a
//! locked file cannot be read by another process.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "engine.lock";
const OWNER_FILE: &str = "engine.owner";

/// Held while the engine runs; dropping it releases the data directory.
#[derive(Debug)]
pub struct EngineLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineLockError {
    #[error("another Sentinela engine is already running on the data directory {dir} ({holder}). Two engines would phone everyone twice: stop the other one (the desktop app's Quit, or the sentinela-headless service), or give this one its own --data-dir.")]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock the data directory {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
}

impl EngineLockError {
    /// The same in Portuguese, for the desktop app.
    pub fn in_portuguese(&self) -> String {
        match self {
            EngineLockError::Held { dir, holder } => format!(
                "Outro Sentinela já está vigiando com a pasta de dados {} ({holder}). Dois ligariam duas vezes para todos: feche o outro (Sair, no ícone do Sentinela, ou pare o serviço sentinela-headless) ou use outra pasta de dados.",
                dir.display()
            ),
            EngineLockError::Io { dir, source } => format!("Não consigo reservar a pasta de dados {}: {source}", dir.display()),
        }
    }
}

impl EngineLock {
    /// Takes the data directory for this process, or says who has it.
    pub fn acquire(data_dir: &Path) -> Result<EngineLock, EngineLockError> {
        let io = |source| EngineLockError::Io { dir: data_dir.to_owned(), source };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(data_dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(data_dir.join(OWNER_FILE))
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "a process that did not say who it is".to_owned());
                return Err(EngineLockError::Held { dir: data_dir.to_owned(), holder });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let owner = format!(
            "process {} {exe}, since {}",
            std::process::id(),
            chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
        );
        // Best effort: the lock is what matters; the owner line only words the refusal.
        if let Ok(mut f) = File::create(data_dir.join(OWNER_FILE)) {
            let _ = writeln!(f, "{owner}");
        }
        Ok(EngineLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_engine_is_refused_and_told_who_holds_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = EngineLock::acquire(dir.path()).unwrap();
        let e = EngineLock::acquire(dir.path()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&format!("process {}", std::process::id())), "{msg}");
        assert!(msg.contains("--data-dir"), "{msg}");
        assert!(e.in_portuguese().starts_with("Outro Sentinela já está vigiando"));
        drop(first);
        EngineLock::acquire(dir.path()).expect("released with its holder");
    }
}
