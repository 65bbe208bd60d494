//! What a check or load found wrong: one problem in one file, with its line where known.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The template cannot be used as it is.
    Error,
    /// It works, but a customer may get less than intended (a fallback locale, a long SMS).
    Warning,
}

/// One problem in one file, with its line where known.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// Line in the file (1-based).
    pub line: Option<usize>,
    /// Column in the line (1-based).
    pub column: Option<usize>,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub message: String,
}

impl Diagnostic {
    pub(super) fn error(path: &Path, line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column: None,
            severity: Severity::Error,
            message,
        }
    }

    pub(super) fn warning(path: &Path, line: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, line, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}: {}", self.message)
    }
}
