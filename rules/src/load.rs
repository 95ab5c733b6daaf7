//! Reading rule files: comments, continuations, `include`, variables, and per-rule diagnostics.
//! (Owned by the rules front end; API fixed.)

use std::path::PathBuf;

use crate::ast::Rule;

/// Options for [`load_paths`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Files of `var`/`ipvar`/`portvar` lines read before any rule file (`--vars`).
    pub vars_files: Vec<PathBuf>,
    /// A Snort `classification.config`; the built-in table is used when absent.
    pub classification_file: Option<PathBuf>,
    /// Unsupported rules are errors.
    pub strict: bool,
}

/// A message about one line of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// A rule left out because it uses a keyword the engine cannot honour yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    pub file: String,
    pub line: usize,
    pub sid: Option<u32>,
    /// The first unsupported keyword (or header protocol, e.g. `http`).
    pub keyword: String,
}

/// Per-file counts of active rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    pub path: String,
    pub loaded: usize,
    pub unsupported: usize,
    pub errors: usize,
}

/// Everything a load produced.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Loaded rules; for duplicate gid:sid the later one replaced the earlier.
    pub rules: Vec<Rule>,
    pub files: Vec<FileReport>,
    /// Rule syntax errors and bad variable lines (file:line: message).
    pub errors: Vec<Diagnostic>,
    pub unsupported: Vec<Unsupported>,
    /// One per duplicate gid:sid (naming both places).
    pub duplicates: Vec<Diagnostic>,
}

/// An error that stops loading altogether: an unreadable file or directory.
#[derive(Debug)]
pub struct LoadError {
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

/// Load rule files; a directory means every `*.rules` file in it, sorted by name.
pub fn load_paths(paths: &[PathBuf], options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let _ = (paths, options);
    Ok(LoadReport::default())
}
