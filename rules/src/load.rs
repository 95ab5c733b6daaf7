//! Reading rule files: comments, continuations, `include`, variables, and per-rule diagnostics.
//!
//! Lines are read as Snort 2.9 reads a rules file or snort.conf: `#` comments, blank lines,
//! trailing-backslash continuations, `include` (relative to the including file; cycles are
//! errors), `var`/`ipvar`/`portvar`, and snort.conf-only directives (`config`, `preprocessor`,
//! `output`, ...) skipped with a counted warning. Each rule line goes to [`crate::parse`]; a bad
//! rule is reported and loading goes on. Not a rule parser, and not the compiler
//! ([`crate::ruleset`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ast::{Origin, Rule};
use crate::classification::Classifications;
use crate::parse::{parse_rule, ParseCache, ParseContext, Rejection};
use crate::vars::{VarKind, Vars};

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
    /// Lines skipped on purpose: snort.conf directives that mean nothing to a rule loader.
    pub warnings: Vec<Diagnostic>,
    /// `HOME_NET` and `EXTERNAL_NET` as they stood after every file was read (their defining
    /// text, `any` by default): what a speed or alert figure was taken with.
    pub home_net: String,
    pub external_net: String,
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

/// Deepest `include` nesting accepted (a cycle is reported before this is reached).
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// snort.conf statements that configure Snort itself, not rules: skipped with a warning.
const SNORT_CONF_DIRECTIVES: &[&str] = &[
    "config",
    "preprocessor",
    "output",
    "dynamicpreprocessor",
    "dynamicengine",
    "dynamicdetection",
    "dynamicsidmapping",
    "event_filter",
    "suppress",
    "threshold",
    "rate_filter",
    "ruletype",
    "attribute_table",
    "decoder",
    "event_queue",
    "ipvar6",
    "sidmap",
    "policy_mode",
    "classification",
    "reference",
];

/// Load rule files; a directory means every `*.rules` file in it, sorted by name.
///
/// Counting: every active (uncommented) rule line of every file read, includes too, is counted
/// once in its file as loaded, unsupported or error; a duplicate gid:sid counts as loaded in
/// its file but only the later rule is in [`LoadReport::rules`].
pub fn load_paths(paths: &[PathBuf], options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let mut loader = Loader::new(options)?;
    for path in rule_files(paths)? {
        let text = read_file(&path)?;
        loader.read_rules_file(&path, &text);
    }
    Ok(loader.finish())
}

/// Load rules held in memory as the text of a file called `name` (tests, tools, rules built
/// at run time): counted, reported and ordered exactly as [`load_paths`] does with a file.
/// `include` lines are resolved relative to the working directory.
pub fn load_text(name: &str, text: &str, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let mut loader = Loader::new(options)?;
    loader.read_rules_file(Path::new(name), text);
    Ok(loader.finish())
}

/// The rules of `text` (one per line, default variables), or the first error or unsupported
/// rule as `line: message`: for tests and tools that build rules in code and want all of them.
pub fn rules_from_text(text: &str) -> Result<Vec<Rule>, String> {
    let options = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let report = load_text("rules", text, &options).map_err(|e| e.message)?;
    match report.errors.first() {
        Some(d) => Err(format!("{}: {}", d.line, d.message)),
        None => Ok(report.rules),
    }
}

/// The files named by `paths`: files as given, directories as their sorted `*.rules` files.
fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| LoadError {
            message: format!("{}: {e}", path.display()),
        })?;
        if !metadata.is_dir() {
            files.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| LoadError {
            message: format!("{}: {e}", path.display()),
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| LoadError {
                message: format!("{}: {e}", path.display()),
            })?;
            let file = entry.path();
            if file.extension().is_some_and(|ext| ext == "rules") && file.is_file() {
                found.push(file);
            }
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn read_file(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        message: format!("{}: cannot read: {e}", path.display()),
    })?;
    Ok(file_text(bytes))
}

/// A file's text: a UTF-8 byte-order mark dropped, invalid UTF-8 replaced (it can only matter
/// in `msg`: Snort itself rejects non-ASCII bytes in content strings).
fn file_text(bytes: Vec<u8>) -> String {
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// What a file may contain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Rules,
    /// `--vars`: variables (and ignorable snort.conf lines) only.
    Vars,
}

/// One logical line: continuations joined, numbered by its first physical line.
pub fn logical_lines(text: &str) -> Vec<(usize, Cow<'_, str>)> {
    let mut lines = Vec::new();
    let mut pending: Option<(usize, Cow<'_, str>)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed_end = line.trim_end();
        let continues = trimmed_end.ends_with('\\');
        match pending.as_mut() {
            Some((_, joined)) => {
                joined.to_mut().push_str(if continues {
                    &trimmed_end[..trimmed_end.len() - 1]
                } else {
                    line
                });
            }
            None => {
                let start = line.trim_start();
                if start.is_empty() || start.starts_with('#') || start.starts_with(';') {
                    continue;
                }
                let body = if continues {
                    &trimmed_end[..trimmed_end.len() - 1]
                } else {
                    line
                };
                pending = Some((index + 1, Cow::Borrowed(body)));
            }
        }
        if !continues {
            lines.extend(pending.take());
        }
    }
    lines.extend(pending);
    lines
}

struct Loader {
    vars: Vars,
    classes: Classifications,
    cache: ParseCache,
    strict: bool,
    report: LoadReport,
    /// Loaded rules; a slot is emptied when a later duplicate replaces it.
    slots: Vec<Option<Rule>>,
    by_id: HashMap<(u32, u32), usize>,
    /// Files being read (canonical paths), for include cycles.
    stack: Vec<PathBuf>,
}

enum Outcome {
    Loaded,
    Unsupported,
    Error,
    /// Not a rule (variable definitions, skipped directives, includes).
    NotARule,
}

impl Loader {
    /// A loader with the classification table and the variables files of `options` read.
    fn new(options: &LoadOptions) -> Result<Loader, LoadError> {
        let classes = match &options.classification_file {
            None => Classifications::builtin(),
            Some(path) => {
                let text = read_file(path)?;
                Classifications::parse(&text).map_err(|(line, message)| LoadError {
                    message: format!("{}:{line}: {message}", path.display()),
                })?
            }
        };
        let mut loader = Loader {
            vars: Vars::with_defaults(),
            classes,
            cache: ParseCache::default(),
            strict: options.strict,
            report: LoadReport::default(),
            slots: Vec::new(),
            by_id: HashMap::new(),
            stack: Vec::new(),
        };
        for path in &options.vars_files {
            let text = read_file(path)?;
            loader.read_text(path, &text, Mode::Vars, None);
        }
        Ok(loader)
    }

    fn finish(self) -> LoadReport {
        let mut report = self.report;
        let text_of = |name| self.vars.raw(name).unwrap_or("any").to_string();
        report.home_net = text_of("HOME_NET");
        report.external_net = text_of("EXTERNAL_NET");
        // filter_map collects in place (an `Option<Rule>` is the size of a `Rule`; `flatten`
        // does not): no second copy of ~13 MB of ET Open rules at the peak of loading.
        #[allow(clippy::filter_map_identity)]
        let rules: Vec<Rule> = self.slots.into_iter().filter_map(|slot| slot).collect();
        report.rules = rules;
        report.rules.shrink_to_fit();
        report
    }

    fn read_rules_file(&mut self, path: &Path, text: &str) {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.stack.push(canonical);
        self.report.files.push(FileReport {
            path: path.display().to_string(),
            ..Default::default()
        });
        let file_index = self.report.files.len() - 1;
        self.read_text(path, text, Mode::Rules, Some(file_index));
        self.stack.pop();
    }

    fn read_text(&mut self, path: &Path, text: &str, mode: Mode, file_index: Option<usize>) {
        let file: Arc<str> = Arc::from(path.display().to_string());
        for (line, content) in logical_lines(text) {
            let outcome = self.line(path, &file, line, content.trim(), mode);
            let Some(counts) = file_index.and_then(|i| self.report.files.get_mut(i)) else {
                continue;
            };
            match outcome {
                Outcome::Loaded => counts.loaded += 1,
                Outcome::Unsupported => counts.unsupported += 1,
                Outcome::Error => counts.errors += 1,
                Outcome::NotARule => {}
            }
        }
    }

    fn error(&mut self, file: &str, line: usize, message: String) -> Outcome {
        self.report.errors.push(Diagnostic {
            file: file.to_string(),
            line,
            message,
        });
        Outcome::Error
    }

    fn line(
        &mut self,
        path: &Path,
        file: &Arc<str>,
        line: usize,
        text: &str,
        mode: Mode,
    ) -> Outcome {
        let (word, rest) = match text.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim()),
            None => (text, ""),
        };
        let word_lower = word.trim_end_matches(':').to_ascii_lowercase();
        match word_lower.as_str() {
            "var" | "ipvar" | "portvar" => {
                let kind = match word_lower.as_str() {
                    "ipvar" => VarKind::Ip,
                    "portvar" => VarKind::Port,
                    _ => VarKind::Any,
                };
                let Some((name, value)) = rest.split_once(char::is_whitespace) else {
                    return self.error(file, line, format!("{word} needs a name and a value"));
                };
                match self.vars.define(kind, name, value) {
                    Ok(()) => Outcome::NotARule,
                    Err(message) => self.error(file, line, message),
                }
            }
            "include" if mode == Mode::Rules => self.include(path, file, line, rest),
            d if d == "include"
                || SNORT_CONF_DIRECTIVES.contains(&d)
                || d.starts_with("dynamic") =>
            {
                self.report.warnings.push(Diagnostic {
                    file: file.to_string(),
                    line,
                    message: format!("`{word}` line skipped (snort.conf directive, not a rule)"),
                });
                Outcome::NotARule
            }
            _ if mode == Mode::Vars => self.error(
                file,
                line,
                format!("`{word}`: only var/ipvar/portvar lines belong in a vars file"),
            ),
            _ => self.rule(file, line, text),
        }
    }

    fn include(&mut self, path: &Path, file: &Arc<str>, line: usize, target: &str) -> Outcome {
        if target.is_empty() {
            return self.error(file, line, "include needs a file name".to_string());
        }
        let expanded = match self.expand_path_vars(target) {
            Ok(expanded) => expanded,
            Err(message) => return self.error(file, line, format!("include {target}: {message}")),
        };
        let mut included = PathBuf::from(&expanded);
        if included.is_relative() {
            if let Some(dir) = path.parent() {
                included = dir.join(included);
            }
        }
        let canonical = included.canonicalize().unwrap_or_else(|_| included.clone());
        if self.stack.contains(&canonical) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain([&canonical])
                .map(|p| p.display().to_string())
                .collect();
            return self.error(file, line, format!("include cycle: {}", chain.join(" -> ")));
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return self.error(
                file,
                line,
                format!("include nesting deeper than {MAX_INCLUDE_DEPTH}"),
            );
        }
        match std::fs::read(&included) {
            Ok(bytes) => {
                self.read_rules_file(&included, &file_text(bytes));
                Outcome::NotARule
            }
            Err(e) => self.error(
                file,
                line,
                format!("include {}: cannot read: {e}", included.display()),
            ),
        }
    }

    /// `$RULE_PATH/x.rules` -> the variable's text + `/x.rules`.
    fn expand_path_vars(&self, text: &str) -> Result<String, String> {
        let Some(rest) = text.strip_prefix('$') else {
            return Ok(text.to_string());
        };
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let value = self
            .vars
            .raw(name)
            .ok_or_else(|| format!("undefined variable ${name}"))?;
        Ok(format!("{value}{}", &rest[end..]))
    }

    fn rule(&mut self, file: &Arc<str>, line: usize, text: &str) -> Outcome {
        let origin = Origin {
            file: file.clone(),
            line,
        };
        let mut ctx = ParseContext {
            vars: &mut self.vars,
            classes: &self.classes,
            cache: &mut self.cache,
        };
        match parse_rule(text, origin, &mut ctx) {
            Ok(rule) => {
                let key = (rule.gid, rule.sid);
                if let Some(&old) = self.by_id.get(&key) {
                    if let Some(previous) = self.slots[old].take() {
                        self.report.duplicates.push(Diagnostic {
                            file: file.to_string(),
                            line,
                            message: format!(
                                "duplicate gid:sid {}:{} (also at {}); the later rule wins",
                                key.0, key.1, previous.origin
                            ),
                        });
                    }
                }
                self.by_id.insert(key, self.slots.len());
                self.slots.push(Some(rule));
                Outcome::Loaded
            }
            Err(rejected) => match rejected.why {
                Rejection::Error(message) => self.error(file, line, message),
                Rejection::Unsupported(keyword) if self.strict => self.error(
                    file,
                    line,
                    format!("unsupported keyword `{keyword}` (--strict)"),
                ),
                Rejection::Unsupported(keyword) => {
                    self.report.unsupported.push(Unsupported {
                        file: file.to_string(),
                        line,
                        sid: rejected.sid,
                        keyword,
                    });
                    Outcome::Unsupported
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("nfips-load-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn load_text(text: &str) -> LoadReport {
        let dir = Scratch::new();
        let path = dir.file("t.rules", text);
        load_paths(&[path], &LoadOptions::default()).unwrap()
    }

    fn messages(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics
            .iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect()
    }

    #[test]
    fn logical_lines_join_continuations_and_skip_comments() {
        let text = "# comment\n\n  ; also a comment\nalert tcp any any -> \\\n  any any (sid:1;)\r\nlast\\";
        let lines: Vec<(usize, String)> = logical_lines(text)
            .into_iter()
            .map(|(n, l)| (n, l.into_owned()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (4, "alert tcp any any ->   any any (sid:1;)".to_string()),
                (6, "last".to_string())
            ]
        );
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let report = load_text("\u{feff}alert tcp any any -> any any (sid:1;)\n");
        assert_eq!((report.rules.len(), report.errors.len()), (1, 0));
    }

    #[test]
    fn commented_rules_are_not_counted() {
        let report = load_text(
            "# alert tcp any any -> any any (sid:1;)\nalert tcp any any -> any any (sid:2;)\n",
        );
        assert_eq!(report.files[0].loaded, 1);
        assert_eq!(report.rules[0].sid, 2);
        assert_eq!(report.rules[0].origin.line, 2);
    }

    #[test]
    fn errors_name_the_line_and_loading_continues() {
        let report = load_text(
            "alert tcp any any -> any any (sid:1;)\nalert tcp any any -> any any (nocase; sid:2;)\nalert tcp any any -> any any (sid:3;)\n",
        );
        assert_eq!(report.rules.len(), 2);
        assert_eq!(
            messages(&report.errors),
            vec!["2: nocase: no preceding content to modify"]
        );
        assert_eq!(
            report.files[0],
            FileReport {
                path: report.files[0].path.clone(),
                loaded: 2,
                unsupported: 0,
                errors: 1
            }
        );
        assert!(report.errors[0].to_string().contains("t.rules:2: nocase"));
    }

    #[test]
    fn pcre_compile_error_names_file_and_line() {
        let report = load_text("\nalert tcp any any -> any any (pcre:\"/[/\"; sid:1;)\n");
        assert_eq!(report.errors.len(), 1);
        let shown = report.errors[0].to_string();
        assert!(shown.contains("t.rules:2: pcre `/[/`"), "{shown}");
    }

    #[test]
    fn unsupported_rules_are_recorded_with_sid_and_keyword() {
        let report = load_text(
            "alert tcp any any -> any any (content:\"x\"; asn1:oversize_length 100; sid:9;)\n",
        );
        assert_eq!(report.unsupported.len(), 1);
        let u = &report.unsupported[0];
        assert_eq!((u.line, u.sid, u.keyword.as_str()), (1, Some(9), "asn1"));
        assert!(report.rules.is_empty() && report.errors.is_empty());
    }

    #[test]
    fn strict_makes_unsupported_an_error() {
        let dir = Scratch::new();
        let path = dir.file("t.rules", "alert sip any any -> any any (sid:9;)\n");
        let options = LoadOptions {
            strict: true,
            ..Default::default()
        };
        let report = load_paths(&[path], &options).unwrap();
        assert!(report.unsupported.is_empty());
        assert_eq!(
            messages(&report.errors),
            vec!["1: unsupported keyword `sip` (--strict)"]
        );
        assert_eq!(report.files[0].errors, 1);
    }

    #[test]
    fn duplicates_later_wins() {
        let report = load_text(
            "alert tcp any any -> any any (msg:\"old\"; sid:5;)\nalert tcp any any -> any any (gid:2; sid:5;)\nalert tcp any any -> any any (msg:\"new\"; sid:5; rev:2;)\n",
        );
        assert_eq!(report.rules.len(), 2);
        let winner = report.rules.iter().find(|r| r.gid == 1).unwrap();
        assert_eq!((winner.msg.as_str(), winner.rev), ("new", 2));
        assert_eq!(report.duplicates.len(), 1);
        assert_eq!(report.duplicates[0].line, 3);
        assert!(
            report.duplicates[0].message.contains("1:5")
                && report.duplicates[0].message.contains(":1")
        );
        assert_eq!(report.files[0].loaded, 3);
    }

    #[test]
    fn variables_defined_in_rule_files() {
        let report = load_text(
            "ipvar MY_NET [10.0.0.0/8]\nportvar MY_PORTS [8000:8100]\nvar RULE_PATH .\nalert tcp $MY_NET any -> any $MY_PORTS (sid:1;)\nipvar BAD 300.0.0.1\n",
        );
        assert_eq!(report.rules.len(), 1);
        assert!(report.rules[0].src.contains("10.9.9.9".parse().unwrap()));
        assert!(report.rules[0].dst_ports.contains(8050));
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].line, 5);
    }

    #[test]
    fn undefined_variable_is_an_error() {
        let report = load_text("alert tcp $NOPE any -> any any (sid:1;)\n");
        assert!(report.errors[0]
            .message
            .contains("undefined variable $NOPE"));
    }

    #[test]
    fn snort_conf_directives_are_warnings() {
        let report = load_text("config checksum_mode: all\npreprocessor frag3_global\noutput alert_fast\nalert tcp any any -> any any (sid:1;)\n");
        assert_eq!(report.warnings.len(), 3);
        assert_eq!(report.rules.len(), 1);
        assert!(report.errors.is_empty());
    }

    #[test]
    fn include_is_relative_to_the_including_file() {
        let dir = Scratch::new();
        std::fs::create_dir_all(dir.0.join("sub")).unwrap();
        dir.file("sub/inner.rules", "alert tcp any any -> any any (sid:2;)\n");
        let top = dir.file(
            "top.rules",
            "include sub/inner.rules\nalert tcp any any -> any any (sid:1;)\n",
        );
        let report = load_paths(&[top], &LoadOptions::default()).unwrap();
        assert_eq!(report.rules.len(), 2);
        assert_eq!(report.files.len(), 2);
        assert!(report.files[1].path.ends_with("inner.rules"));
        assert_eq!(report.files[1].loaded, 1);
    }

    #[test]
    fn include_with_a_path_variable() {
        let dir = Scratch::new();
        dir.file("inner.rules", "alert tcp any any -> any any (sid:2;)\n");
        let dir_text = dir.0.display().to_string();
        let top = dir.file(
            "top.rules",
            &format!("var RULE_PATH {dir_text}\ninclude $RULE_PATH/inner.rules\n"),
        );
        let report = load_paths(&[top], &LoadOptions::default()).unwrap();
        assert_eq!(report.rules.len(), 1, "{:?}", report.errors);
    }

    #[test]
    fn include_cycles_and_missing_files_are_errors() {
        let dir = Scratch::new();
        dir.file(
            "a.rules",
            "include b.rules\nalert tcp any any -> any any (sid:1;)\n",
        );
        dir.file(
            "b.rules",
            "include a.rules\nalert tcp any any -> any any (sid:2;)\ninclude missing.rules\n",
        );
        let report = load_paths(&[dir.0.join("a.rules")], &LoadOptions::default()).unwrap();
        assert_eq!(report.rules.len(), 2);
        let errors = messages(&report.errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("1: include cycle"), "{errors:?}");
        assert!(
            errors[1].starts_with("3: include") && errors[1].contains("cannot read"),
            "{errors:?}"
        );
    }

    #[test]
    fn directories_load_sorted_rules_files_only() {
        let dir = Scratch::new();
        dir.file("b.rules", "alert tcp any any -> any any (sid:2;)\n");
        dir.file("a.rules", "alert tcp any any -> any any (sid:1;)\n");
        dir.file("notes.txt", "not rules\n");
        let report = load_paths(std::slice::from_ref(&dir.0), &LoadOptions::default()).unwrap();
        let sids: Vec<u32> = report.rules.iter().map(|r| r.sid).collect();
        assert_eq!(sids, vec![1, 2]);
        assert_eq!(report.files.len(), 2);
    }

    #[test]
    fn missing_path_is_a_load_error() {
        let err = load_paths(
            &[PathBuf::from("/nonexistent/nfips.rules")],
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("/nonexistent/nfips.rules"));
    }

    #[test]
    fn vars_files_define_variables_before_rules() {
        let dir = Scratch::new();
        let vars = dir.file(
            "vars.conf",
            "# site\nipvar HOME_NET 192.168.0.0/16\nconfig x\n",
        );
        let rules = dir.file(
            "r.rules",
            "alert tcp $EXTERNAL_NET any -> $HTTP_SERVERS any (sid:1;)\n",
        );
        let options = LoadOptions {
            vars_files: vec![vars],
            ..Default::default()
        };
        let report = load_paths(&[rules], &options).unwrap();
        let rule = &report.rules[0];
        assert!(rule.dst.contains("192.168.1.1".parse().unwrap()));
        assert!(!rule.dst.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn external_net_as_negated_home_net() {
        let dir = Scratch::new();
        let vars = dir.file(
            "vars.conf",
            "ipvar HOME_NET 10.0.0.0/8\nipvar EXTERNAL_NET !$HOME_NET\n",
        );
        let rules = dir.file(
            "r.rules",
            "alert tcp $EXTERNAL_NET any -> $HOME_NET any (sid:1;)\n",
        );
        let options = LoadOptions {
            vars_files: vec![vars],
            ..Default::default()
        };
        let report = load_paths(&[rules], &options).unwrap();
        let rule = &report.rules[0];
        assert!(rule.src.contains("8.8.8.8".parse().unwrap()));
        assert!(!rule.src.contains("10.1.1.1".parse().unwrap()));
        assert_eq!(
            (report.home_net.as_str(), report.external_net.as_str()),
            ("10.0.0.0/8", "!$HOME_NET")
        );
        // Without the vars file, HOME_NET is any and `!$HOME_NET` is an error naming the fix.
        let report = load_paths(
            &[dir.file("s.rules", "alert tcp !$HOME_NET any -> any any (sid:1;)\n")],
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(
            (report.home_net.as_str(), report.external_net.as_str()),
            ("any", "any")
        );
        assert!(
            report.errors[0].message.contains("define HOME_NET"),
            "{:?}",
            report.errors
        );
    }

    #[test]
    fn vars_files_reject_rules() {
        let dir = Scratch::new();
        let vars = dir.file("vars.conf", "alert tcp any any -> any any (sid:1;)\n");
        let rules = dir.file("r.rules", "");
        let options = LoadOptions {
            vars_files: vec![vars],
            ..Default::default()
        };
        let report = load_paths(&[rules], &options).unwrap();
        assert!(report.rules.is_empty());
        assert!(report.errors[0].message.contains("vars file"));
    }

    #[test]
    fn classification_file_replaces_the_builtin_table() {
        let dir = Scratch::new();
        let classes = dir.file(
            "classification.config",
            "config classification: Bitcoin-event,Mining,2\n",
        );
        let rules = dir.file(
            "r.rules",
            "alert tcp any any -> any any (classtype:Bitcoin-event; sid:1;)\n",
        );
        let options = LoadOptions {
            classification_file: Some(classes.clone()),
            ..Default::default()
        };
        let report = load_paths(std::slice::from_ref(&rules), &options).unwrap();
        assert_eq!(report.rules[0].priority, 2);
        let bad = dir.file("bad.config", "config classification: x\n");
        let options = LoadOptions {
            classification_file: Some(bad),
            ..Default::default()
        };
        assert!(load_paths(&[rules], &options)
            .unwrap_err()
            .message
            .contains("bad.config:1"));
    }
}
