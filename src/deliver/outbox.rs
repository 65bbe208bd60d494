//! The `outbox` transport: every message becomes a file, written atomically.
//!
//! `email/<id>.eml` holds the RFC 5322 message; `sms/<id>.json` holds `to`, `from`, `body`,
//! `segments` and `encoding`. Files are written to a temporary name and renamed, so a reader
//! never sees half a message, and a repeated send overwrites the same file: resending is safe.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Outgoing;
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
