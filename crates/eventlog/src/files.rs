//! The log directory's files: private creation and modes, the fingerprint that
//! tells whether a directory changed while it was copied, the copy itself, and
//! directory fsyncs.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::anchor;
use crate::error::{LogError, Result};
use crate::holder;

/// Creates `dir` and its missing parents readable by the owner alone.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Takes group and other permissions off the log's files and directories (sled
/// creates them with the process's umask). Best effort: a file that cannot be changed is logged.
pub(crate) fn restrict_files(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let mode = meta.permissions().mode();
            if (meta.is_file() || meta.is_dir()) && mode & 0o077 != 0 {
                let tightened = std::fs::Permissions::from_mode(mode & 0o700);
                if let Err(e) = std::fs::set_permissions(entry.path(), tightened) {
                    tracing::warn!(file = %entry.path().display(), error = %e, "cannot restrict a log file to its owner");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// One file of a log directory: path, length, modification time, and (for the
/// anchor) its content.
pub(crate) type FileState = (PathBuf, u64, Option<std::time::SystemTime>, Vec<u8>);

/// What identifies the state of a log directory's files: every file's path,
/// length and modification time, and the anchor's line.
pub(crate) fn fingerprint(dir: &Path) -> Result<Vec<FileState>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(LogError::io(&d))? {
            let entry = entry.map_err(LogError::io(&d))?;
            let path = entry.path();
            if entry.file_name() == holder::HOLDER_FILE {
                continue;
            }
            let meta = entry.metadata().map_err(LogError::io(&path))?;
            if meta.is_dir() {
                pending.push(path);
                continue;
            }
            let content = if entry.file_name() == anchor::ANCHOR_FILE {
                std::fs::read(&path).map_err(LogError::io(&path))?
            } else {
                Vec::new()
            };
            out.push((path, meta.len(), meta.modified().ok(), content));
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the regular files of `from` (and its subdirectories) into `to`,
/// leaving out the holder file. Symbolic links and special files are refused.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(LogError::io(from))? {
        let entry = entry.map_err(LogError::io(from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if entry.file_name() == holder::HOLDER_FILE {
            continue;
        }
        let kind = entry.file_type().map_err(LogError::io(&src))?;
        if kind.is_dir() {
            create_private_dir(&dst).map_err(LogError::io(&dst))?;
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(LogError::io(&dst))?;
            // The copy keeps the source's mode; a log its reader may not
            // write (an auditor's read-only files) must still be writable
            // here, where only this process opens it.
            make_private_file(&dst)?;
        } else {
            return Err(LogError::io(&src)(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a regular file; a log directory holds only files and directories",
            )));
        }
    }
    Ok(())
}

/// Makes a copied file readable and writable by its owner alone.
pub(crate) fn make_private_file(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(LogError::io(path))?;
    }
    #[cfg(not(unix))]
    {
        let mut perms = std::fs::metadata(path)
            .map_err(LogError::io(path))?
            .permissions();
        perms.set_readonly(false);
        std::fs::set_permissions(path, perms).map_err(LogError::io(path))?;
    }
    Ok(())
}

/// Empties `dir` (a failed copy attempt), keeping the directory.
pub(crate) fn clear_dir(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(LogError::io(dir))? {
        let path = entry.map_err(LogError::io(dir))?.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(LogError::io(&path))?;
    }
    Ok(())
}

/// fsyncs a directory, so the entries created in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir))
}
