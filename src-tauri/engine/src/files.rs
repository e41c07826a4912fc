//! Files that hold what only this user should read — the configuration, the journal, the logs:
//! created `0600` in `0700` folders on Unix (an existing looser one is tightened, with a
//! warning), and the configuration written so that a crash never leaves half of it.
//!
//! On Windows the files live in the user's profile, whose ACL already keeps other users out;
//! the mode bits below do not exist there, so those functions only create.

use std::io::Write;
use std::path::Path;

/// Creates `dir` and its parents; on Unix makes `dir` itself `0700`.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    tighten(dir, 0o700)?;
    Ok(())
}

/// On Unix, makes an existing `file` `0600` if it was looser.
pub fn private_file(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if file.exists() {
        tighten(file, 0o600)?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates `file` empty and `0600` if it does not exist (so what is written to it later, by
/// SQLite for instance, is never readable by others, not even for a moment).
pub fn create_private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file).map(drop)?;
    private_file(file)
}

/// Writes `bytes` to `path` atomically: a uniquely named `0600` temporary file in the same
/// folder, flushed to disk, renamed over `path`, and the folder flushed so the rename survives a
/// power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    private_dir(dir)?;
    // tempfile creates it 0600 with a name no other writer shares.
    let mut tmp = tempfile::Builder::new().prefix(".sentinela-").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        tracing::warn!(path = %path.display(), "{:o} lets other users in: tightened to {mode:o}", current);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn looser_files_and_folders_are_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let f = dir.join("x");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        let new = dir.join("new.db");
        create_private_file(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
    }

    #[test]
    fn atomic_writes_replace_whole_and_private() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("conf/sentinela.toml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }
}
