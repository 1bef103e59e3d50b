//! What a role keeps on disk is its own user's alone: the process creates files 0600 and
//! directories 0700 (umask 0077), and it refuses to start with a secret that another user of the
//! machine could read, naming the file and its mode, instead of using a key that may have leaked.

use crate::StartError;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Sets the process's umask to 0077, so that every file and directory it creates (databases and
/// their journals, secrets, public keys, logs) is for its own user only. Process-wide and
/// idempotent: every role calls it as it starts.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Refuses a secret (`what`, at `path`) that its group or anyone else may read or write. A
/// missing file is fine here: the role creates it (0600) or reports it missing where it reads it.
pub fn check_secret(path: &Path, what: &'static str) -> Result<(), StartError> {
    let mode = match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StartError::File {
                path: path.display().to_string(),
                source,
            })
        }
    };
    if mode & 0o077 != 0 {
        return Err(StartError::SecretMode {
            path: path.display().to_string(),
            what,
            mode: format!("{mode:04o}"),
        });
    }
    Ok(())
}

/// Opens (creating, 0600) `path` and takes an exclusive lock on it without waiting: `Some` with
/// the file that holds the lock, `None` when another open file holds it (another process, or
/// another role of this one). The lock ends when the file is closed, the process's end too.
pub fn try_lock(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    // 0600 whatever the umask: the lock may be taken before the role restricts it.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_secret_others_can_read_is_refused_naming_file_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.secret");
        std::fs::write(&path, [0u8; 32]).unwrap();
        for (mode, refused) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let result = check_secret(&path, "the node secret");
            assert_eq!(result.is_err(), refused, "mode {mode:o}");
            if let Err(e) = result {
                let message = e.to_string();
                assert!(message.contains(&path.display().to_string()), "{message}");
                assert!(message.contains(&format!("{mode:04o}")), "{message}");
                assert!(message.contains("the node secret"), "{message}");
            }
        }
        assert!(check_secret(&dir.path().join("absent"), "a key").is_ok());
    }
}
