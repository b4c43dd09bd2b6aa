//! Files that only this process's user may read: the data directory, the
//! key-encryption keyring and the tokens file. Data files are created
//! under a 0700 directory and secret files 0600; the server refuses to
//! start when a keyring or tokens file is open to other users.

use std::path::Path;

use anyhow::{Context, bail};

/// Creates `dir` (and its parents) if needed, closed to other users (0700).
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {} to its owner", dir.display()))?;
        }
    }
    Ok(())
}

/// Writes a new secret file, readable by its owner only (0600).
pub fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// Refuses a secret file (keyring, tokens) that other users may read or
/// write. Group access is allowed: a Kubernetes Secret mounted with mode
/// 0440 and an `fsGroup` is the usual way to give it to the process.
pub fn check_secret_file(path: &Path, what: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mode = meta.permissions().mode();
        if mode & 0o007 != 0 {
            bail!(
                "{what} {} is open to other users (mode {:o}): run `chmod 600 {}` (or 0440 for a mounted Secret)",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_secret_files_are_closed_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        create_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let key = data.join("kek.keyring");
        write_new(&key, "secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        check_secret_file(&key, "keyring").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o440)).unwrap();
        check_secret_file(&key, "keyring").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_secret_file(&key, "keyring").unwrap_err().to_string();
        assert!(
            err.contains("open to other users") && err.contains("chmod 600"),
            "{err}"
        );
        check_secret_file(&data.join("absent"), "tokens").unwrap();
    }
}
