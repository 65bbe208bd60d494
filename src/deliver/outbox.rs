//! The `outbox` transport: every message becomes a file, written atomically.
//!
//! `email/<id>.eml` holds the RFC 5322 message; `sms/<id>.json` holds `to`, `from`, `body`,
//! `segments` and `encoding`. Files are written to a temporary name and renamed, so a reader
//! never sees half a message, and a repeated send overwrites the same file: resending is safe.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Outgoing;
use super::Probe;
use super::SendError;
use super::email;
use crate::templates::sms::{self, SmsEncoding};

/// Writes messages as files under a directory.
#[derive(Debug, Clone)]
pub struct FileOutbox {
    dir: PathBuf,
}

/// The JSON written for each SMS.
#[derive(Debug, Serialize)]
struct SmsFile<'a> {
    to: &'a str,
    from: &'a str,
    body: &'a str,
    segments: usize,
    encoding: SmsEncoding,
}

impl FileOutbox {
    /// A file outbox rooted at `dir` (created on first write).
    pub fn new(dir: &Path) -> FileOutbox {
        FileOutbox {
            dir: dir.to_path_buf(),
        }
    }

    /// Removes the file written for message `id` of `channel` (`email` or `sms`), if it is
    /// there: a forgotten customer's messages leave nothing behind. Whether one was removed.
    pub async fn remove(&self, channel: &str, id: uuid::Uuid) -> std::io::Result<bool> {
        let name = match channel {
            "email" => format!("email/{id}.eml"),
            _ => format!("sms/{id}.json"),
        };
        match tokio::fs::remove_file(self.dir.join(name)).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checks that messages can be written: the directory (or, while it does not exist yet, the
    /// nearest directory above it, where the first send will create it) takes a file, which is
    /// removed again.
    pub async fn probe(&self) -> Probe {
        let dir = self.dir.clone();
        let checked = tokio::task::spawn_blocking(move || writable(&dir)).await;
        match checked {
            Ok(Ok(detail)) => Probe::Accepted { detail },
            Ok(Err(detail)) => Probe::Refused { detail },
            Err(e) => Probe::Refused {
                detail: format!("the check stopped: {e}"),
            },
        }
    }

    /// Writes the email file; returns its path as the provider message id.
    pub async fn send_email(
        &self,
        message: &Outgoing,
        from: &super::EmailSender,
    ) -> Result<String, SendError> {
        let email = email::build(message, from)?;
        self.write("email", &format!("{}.eml", message.id), &email.formatted())
            .await
    }

    /// Writes the SMS file; returns its path as the provider message id.
    pub async fn send_sms(&self, message: &Outgoing, from: &str) -> Result<String, SendError> {
        let info = sms::analyse(&message.body_text);
        let file = SmsFile {
            to: &message.recipient,
            from,
            body: &message.body_text,
            segments: info.segments,
            encoding: info.encoding,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| SendError::Permanent {
            message: format!("cannot encode SMS: {e}"),
        })?;
        self.write("sms", &format!("{}.json", message.id), &json)
            .await
    }

    async fn write(&self, kind: &str, name: &str, bytes: &[u8]) -> Result<String, SendError> {
        let dir = self.dir.join(kind);
        let target = dir.join(name);
        // A hidden temporary name in the same directory: rename is atomic within a file system,
        // and readers that list `*.eml` / `*.json` never see it.
        let temp = dir.join(format!(".{name}.tmp"));
        let bytes = bytes.to_vec();
        let shown = target.display().to_string();
        // The whole write on one blocking thread: five file operations each handed to a thread
        // of their own cost more than the writing.
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(&bytes)?;
            // Flushed to disk before it becomes visible: a crash leaves no empty message behind.
            file.sync_all()?;
            drop(file);
            std::fs::rename(&temp, &target)
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(shown),
            Ok(Err(e)) => Err(SendError::Retryable {
                message: format!("writing {shown}: {e}"),
                retry_after: None,
            }),
            Err(e) => Err(SendError::Retryable {
                message: format!("writing {shown}: the writer stopped: {e}"),
                retry_after: None,
            }),
        }
    }
}

/// Whether `dir` (or the nearest existing directory above it) and its `email` and `sms`
/// directories, where they exist, take a file; what was found.
fn writable(dir: &Path) -> Result<String, String> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            // A relative path whose first part is missing: the working directory will hold it.
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    takes_a_file(existing)?;
    if existing != dir {
        return Ok(format!(
            "{} does not exist yet; {} is writable, so the first message creates it",
            dir.display(),
            existing.display()
        ));
    }
    for kind in ["email", "sms"] {
        let sub = dir.join(kind);
        if sub.exists() {
            takes_a_file(&sub)?;
        }
    }
    Ok(format!("{} is writable", dir.display()))
}

/// Writes and removes a hidden file in `dir`: the one sure test of permissions, quotas and
/// read-only mounts alike.
fn takes_a_file(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let probe = dir.join(format!(
        ".amends-doctor-{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&probe, b"amends doctor\n")
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_outbox_is_fine_where_it_can_be_created() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("var/outbox");
        let found = writable(&dir).unwrap();
        assert!(found.contains("does not exist yet"), "{found}");
        assert!(!dir.exists(), "the check creates nothing");
        std::fs::create_dir_all(dir.join("email")).unwrap();
        assert!(writable(&dir).unwrap().ends_with("is writable"));
        // Nothing is left behind.
        assert_eq!(std::fs::read_dir(dir.join("email")).unwrap().count(), 0);
    }

    #[test]
    fn a_file_in_the_way_is_no_outbox() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("outbox");
        std::fs::write(&file, "x").unwrap();
        let e = writable(&file).unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
    }
}
