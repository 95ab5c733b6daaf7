//! Classtypes and their priorities: Snort's classification.config built in, or read from a file.
//!
//! Only the name -> priority mapping matters to the engine (a rule's default priority); the
//! descriptions are kept for reports. Not a general snort.conf reader.

use std::collections::HashMap;

/// snort.conf's classification.config (Snort 2.9), plus the classes ET Open adds.
#[rustfmt::skip]
const BUILTIN: &[(&str, &str, u32)] = &[
    ("not-suspicious", "Not Suspicious Traffic", 3),
    ("unknown", "Unknown Traffic", 3),
    ("bad-unknown", "Potentially Bad Traffic", 2),
    ("attempted-recon", "Attempted Information Leak", 2),
    ("successful-recon-limited", "Information Leak", 2),
    ("successful-recon-largescale", "Large Scale Information Leak", 2),
    ("attempted-dos", "Attempted Denial of Service", 2),
    ("successful-dos", "Denial of Service", 2),
    ("attempted-user", "Attempted User Privilege Gain", 1),
    ("unsuccessful-user", "Unsuccessful User Privilege Gain", 1),
    ("successful-user", "Successful User Privilege Gain", 1),
    ("attempted-admin", "Attempted Administrator Privilege Gain", 1),
    ("successful-admin", "Successful Administrator Privilege Gain", 1),
    ("rpc-portmap-decode", "Decode of an RPC Query", 2),
    ("shellcode-detect", "Executable code was detected", 1),
    ("string-detect", "A suspicious string was detected", 3),
    ("suspicious-filename-detect", "A suspicious filename was detected", 2),
    ("suspicious-login", "An attempted login using a suspicious username was detected", 2),
    ("system-call-detect", "A system call was detected", 2),
    ("tcp-connection", "A TCP connection was detected", 4),
    ("trojan-activity", "A Network Trojan was detected", 1),
    ("unusual-client-port-connection", "A client was using an unusual port", 2),
    ("network-scan", "Detection of a Network Scan", 3),
    ("denial-of-service", "Detection of a Denial of Service Attack", 2),
    ("non-standard-protocol", "Detection of a non-standard protocol or event", 2),
    ("protocol-command-decode", "Generic Protocol Command Decode", 3),
    ("web-application-activity", "access to a potentially vulnerable web application", 2),
    ("web-application-attack", "Web Application Attack", 1),
    ("misc-activity", "Misc activity", 3),
    ("misc-attack", "Misc Attack", 2),
    ("icmp-event", "Generic ICMP event", 3),
    ("inappropriate-content", "Inappropriate Content was Detected", 1),
    ("policy-violation", "Potential Corporate Privacy Violation", 1),
    ("default-login-attempt", "Attempt to login by a default username and password", 2),
    ("sdf", "Sensitive Data was Transmitted Across the Network", 2),
    ("file-format", "Known malicious file or file based exploit", 1),
    ("malware-cnc", "Known malware command and control traffic", 1),
    ("client-side-exploit", "Known client side exploit attempt", 1),
    // Emerging Threats' classification.config additions.
    ("targeted-activity", "Targeted Malicious Activity was Detected", 1),
    ("exploit-kit", "Exploit Kit Activity Detected", 1),
    ("external-ip-check", "Device Retrieving External IP Address Detected", 2),
    ("domain-c2", "Domain Observed Used for C2 Detected", 1),
    ("pup-activity", "Possibly Unwanted Program Detected", 2),
    ("credential-theft", "Successful Credential Theft Detected", 1),
    ("social-engineering", "Possible Social Engineering Attempted", 2),
    ("coin-mining", "Crypto Currency Mining Activity Detected", 2),
    ("command-and-control", "Malware Command and Control Activity Detected", 1),
];

/// One class: description and priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub description: String,
    pub priority: u32,
}

/// The classtype table.
#[derive(Clone, Debug)]
pub struct Classifications {
    classes: HashMap<String, Class>,
}

impl Default for Classifications {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Classifications {
    /// The built-in table.
    pub fn builtin() -> Self {
        let classes = BUILTIN
            .iter()
            .map(|(name, description, priority)| {
                (
                    name.to_string(),
                    Class {
                        description: description.to_string(),
                        priority: *priority,
                    },
                )
            })
            .collect();
        Classifications { classes }
    }

    /// Read a classification.config (`config classification: name,description,priority`
    /// lines; comments and blank lines skipped). Returns the table, or `line: message`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut classes = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(rest) = line.strip_prefix("config classification:") else {
                return Err((
                    index + 1,
                    format!(
                        "expected `config classification: name,description,priority`, got `{line}`"
                    ),
                ));
            };
            let (name, class) = parse_class(rest).map_err(|message| (index + 1, message))?;
            classes.insert(name, class);
        }
        Ok(Classifications { classes })
    }

    pub fn get(&self, name: &str) -> Option<&Class> {
        self.classes.get(name)
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }
}

/// `name,description,priority` (the description may not contain commas, as in Snort).
pub fn parse_class(text: &str) -> Result<(String, Class), String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [name, description, priority] = parts.as_slice() else {
        return Err(format!(
            "classification `{}` needs name,description,priority",
            text.trim()
        ));
    };
    if name.is_empty() {
        return Err("classification with an empty name".to_string());
    }
    let priority = priority
        .parse::<u32>()
        .map_err(|_| format!("classification {name}: priority `{priority}` is not a number"))?;
    Ok((
        name.to_string(),
        Class {
            description: description.to_string(),
            priority,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_priorities() {
        let table = Classifications::builtin();
        assert_eq!(table.get("trojan-activity").unwrap().priority, 1);
        assert_eq!(table.get("bad-unknown").unwrap().priority, 2);
        assert_eq!(table.get("misc-activity").unwrap().priority, 3);
        assert_eq!(table.get("tcp-connection").unwrap().priority, 4);
        assert!(table.get("Bitcoin-event").is_none());
    }

    #[test]
    fn parse_file() {
        let text = "# comment\n\nconfig classification: my-class,My Class, 2\n";
        let table = Classifications::parse(text).unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(table.get("my-class").unwrap().priority, 2);
        assert!(table.get("trojan-activity").is_none());
    }

    #[test]
    fn parse_file_errors_name_the_line() {
        assert_eq!(
            Classifications::parse("\nconfig classification: a,b\n")
                .unwrap_err()
                .0,
            2
        );
        assert_eq!(
            Classifications::parse("config classification: a,b,x\n")
                .unwrap_err()
                .0,
            1
        );
        assert_eq!(
            Classifications::parse("preprocessor foo\n").unwrap_err().0,
            1
        );
    }
}
