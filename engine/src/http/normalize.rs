//! URI, cookie and host normalisation as Snort 2.9's http_inspect does it.
//!
//! A URI is percent-decoded (`%XX` and IIS `%uXXXX`), decoded a second time when the first pass
//! produced a new escape (double encoding, flagged), backslashes become `/`, and in the path
//! `//`, `/./` and `/../` are collapsed; the query string is decoded but its slashes are left
//! alone. The raw forms are kept by the caller; these functions only write the normalised form
//! into a reused output buffer, so they allocate nothing once that buffer has grown.
//!
//! Not here: finding the URI in a request line (the parser), or deciding which header is a cookie.

/// What normalising a URI noticed; each flag is counted by the inspector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UriFlags {
    /// A `%XX` escape decoded to a byte that itself started a new escape (`%252e` -> `%2e` -> `.`).
    pub double_encoded: bool,
    /// An IIS `%uXXXX` escape was decoded.
    pub percent_u: bool,
    /// A `%` not followed by two hex digits (or `%u` and four): kept as a literal `%`.
    pub bad_escape: bool,
    /// A `/../` tried to leave the root; the extra `..` segments were dropped.
    pub above_root: bool,
    /// A backslash was turned into `/`.
    pub backslash: bool,
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn hex_pair(input: &[u8]) -> Option<u8> {
    match input {
        [high, low, ..] => Some(hex_value(*high)? << 4 | hex_value(*low)?),
        _ => None,
    }
}

/// Appends `code_point` as UTF-8 (IIS `%u` escapes above 0xFF); lone surrogates become `?`.
fn push_code_point(out: &mut Vec<u8>, code_point: u32) {
    match char::from_u32(code_point) {
        Some(c) if code_point > 0xff => {
            let mut utf8 = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        // Code points up to 0xFF map to the byte itself, as http_inspect's default map does.
        Some(_) => out.push(code_point as u8),
        None => out.push(b'?'),
    }
}

/// One pass of percent-decoding of `input` appended to `out`.
fn percent_decode_into(input: &[u8], out: &mut Vec<u8>, flags: &mut UriFlags) {
    let mut at = 0;
    while at < input.len() {
        let byte = input[at];
        if byte != b'%' {
            out.push(byte);
            at += 1;
            continue;
        }
        let rest = &input[at + 1..];
        if let Some(value) = hex_pair(rest) {
            out.push(value);
            at += 3;
        } else if let [b'u' | b'U', a, b, c, d, ..] = rest {
            match (hex_pair(&[*a, *b]), hex_pair(&[*c, *d])) {
                (Some(high), Some(low)) => {
                    flags.percent_u = true;
                    push_code_point(out, u32::from(high) << 8 | u32::from(low));
                    at += 6;
                }
                _ => {
                    flags.bad_escape = true;
                    out.push(b'%');
                    at += 1;
                }
            }
        } else {
            flags.bad_escape = true;
            out.push(b'%');
            at += 1;
        }
    }
}

/// True when `decoded` still holds an escape sequence that decoding would change.
fn has_escape(decoded: &[u8]) -> bool {
    decoded.iter().enumerate().any(|(at, &byte)| {
        byte == b'%' && {
            let rest = &decoded[at + 1..];
            hex_pair(rest).is_some()
                || matches!(rest, [b'u' | b'U', a, b, c, d, ..]
                    if [a, b, c, d].iter().all(|x| hex_value(**x).is_some()))
        }
    })
}

/// Percent-decodes `input` into `out` (cleared first), twice when the raw input did not hold the
/// second-level escape but the first pass produced one (double encoding). `scratch` is reused.
fn percent_decode(input: &[u8], out: &mut Vec<u8>, scratch: &mut Vec<u8>, flags: &mut UriFlags) {
    out.clear();
    percent_decode_into(input, out, flags);
    if input.contains(&b'%') && has_escape(out) {
        flags.double_encoded = true;
        scratch.clear();
        scratch.extend_from_slice(out);
        out.clear();
        percent_decode_into(scratch, out, flags);
    }
}

/// Collapses `//`, `/./` and `/../` in a path (already decoded, backslashes already `/`), in
/// place. A path that does not start with `/` keeps its first segment as written.
fn collapse_path(path: &mut Vec<u8>, flags: &mut UriFlags) {
    // Write cursor `len` trails read cursor `at`; segments are copied down as they are accepted.
    let mut len = 0;
    let mut at = 0;
    let total = path.len();
    while at < total {
        if path[at] != b'/' {
            path[len] = path[at];
            len += 1;
            at += 1;
            continue;
        }
        // `at` is on a slash: look at the segment that follows it.
        let segment_end = path[at + 1..]
            .iter()
            .position(|&b| b == b'/')
            .map_or(total, |p| at + 1 + p);
        let segment = &path[at + 1..segment_end];
        match segment {
            // `//`: drop the empty segment unless it is the last (a trailing slash stays).
            [] if segment_end < total => at = segment_end,
            [b'.'] => {
                at = segment_end;
                if at == total {
                    path[len] = b'/';
                    len += 1;
                }
            }
            [b'.', b'.'] => {
                match path[..len].iter().rposition(|&b| b == b'/') {
                    Some(previous_slash) => len = previous_slash,
                    None if len > 0 => len = 0,
                    None => flags.above_root = true,
                }
                at = segment_end;
                if at == total {
                    path[len] = b'/';
                    len += 1;
                }
            }
            _ => {
                path[len] = b'/';
                len += 1;
                at += 1;
            }
        }
    }
    path.truncate(len);
}

/// Where the path of a URI starts: after `scheme://authority` for an absolute URI, else 0.
fn path_start(uri: &[u8]) -> usize {
    let Some(scheme_end) = uri.windows(3).position(|w| w == b"://") else {
        return 0;
    };
    if !uri[..scheme_end]
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
    {
        return 0;
    }
    let authority = scheme_end + 3;
    uri[authority..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(uri.len(), |p| authority + p)
}

/// Reused buffers for [`normalize_uri`].
#[derive(Debug, Default)]
pub struct UriScratch {
    decoded: Vec<u8>,
    second: Vec<u8>,
}

/// Writes the http_inspect-normalised form of `raw` into `out` (cleared first).
pub fn normalize_uri(raw: &[u8], out: &mut Vec<u8>, scratch: &mut UriScratch) -> UriFlags {
    let mut flags = UriFlags::default();
    // The query starts at the first raw `?`: an encoded `%3f` is data, not a separator.
    let query_at = raw.iter().position(|&b| b == b'?').unwrap_or(raw.len());
    let (path_part, query_part) = raw.split_at(query_at);
    let prefix_len = path_start(path_part);
    out.clear();
    out.extend_from_slice(&path_part[..prefix_len]);

    percent_decode(
        &path_part[prefix_len..],
        &mut scratch.decoded,
        &mut scratch.second,
        &mut flags,
    );
    for byte in scratch.decoded.iter_mut() {
        if *byte == b'\\' {
            *byte = b'/';
            flags.backslash = true;
        }
    }
    collapse_path(&mut scratch.decoded, &mut flags);
    out.extend_from_slice(&scratch.decoded);

    if !query_part.is_empty() {
        percent_decode(
            query_part,
            &mut scratch.decoded,
            &mut scratch.second,
            &mut flags,
        );
        out.extend_from_slice(&scratch.decoded);
    }
    flags
}

/// Appends the percent-decoded `raw` to `out` (cookies: decoded, no path collapsing).
pub fn percent_decode_append(raw: &[u8], out: &mut Vec<u8>, scratch: &mut UriScratch) -> UriFlags {
    let mut flags = UriFlags::default();
    percent_decode(raw, &mut scratch.decoded, &mut scratch.second, &mut flags);
    out.extend_from_slice(&scratch.decoded);
    flags
}

/// The normalised Host value: port and trailing dot removed, ASCII lowercased, into `out`.
pub fn normalize_host(raw: &[u8], out: &mut Vec<u8>) {
    let trimmed = raw.trim_ascii();
    let host = if trimmed.first() == Some(&b'[') {
        // An IPv6 literal keeps its colons: cut after the closing bracket.
        trimmed
            .iter()
            .position(|&b| b == b']')
            .map_or(trimmed, |end| &trimmed[..=end])
    } else {
        trimmed
            .iter()
            .position(|&b| b == b':')
            .map_or(trimmed, |colon| &trimmed[..colon])
    };
    let host = host.strip_suffix(b".").unwrap_or(host);
    out.clear();
    out.extend(host.iter().map(u8::to_ascii_lowercase));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> (String, UriFlags) {
        let mut out = Vec::new();
        let flags = normalize_uri(raw.as_bytes(), &mut out, &mut UriScratch::default());
        (String::from_utf8_lossy(&out).into_owned(), flags)
    }

    fn n(raw: &str) -> String {
        norm(raw).0
    }

    #[test]
    fn plain_uri_is_unchanged() {
        assert_eq!(n("/index.html?a=b"), "/index.html?a=b");
        assert_eq!(norm("/index.html").1, UriFlags::default());
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(n("/a%20b%2Fc"), "/a b/c");
    }

    #[test]
    fn percent_u_escape_is_decoded_and_flagged() {
        let (uri, flags) = norm("/%u0041dmin");
        assert_eq!(uri, "/Admin");
        assert!(flags.percent_u);
    }

    #[test]
    fn percent_u_up_to_ff_is_the_byte_and_above_is_utf8() {
        let mut out = Vec::new();
        normalize_uri(b"/%u00e9%u20ac", &mut out, &mut UriScratch::default());
        assert_eq!(out, [b'/', 0xe9, 0xe2, 0x82, 0xac]);
    }

    #[test]
    fn double_encoding_is_decoded_twice_and_flagged() {
        let (uri, flags) = norm("/%252e%252e/etc/passwd");
        assert_eq!(uri, "/etc/passwd");
        assert!(flags.double_encoded);
    }

    #[test]
    fn single_encoded_percent_sign_is_not_double_encoding() {
        let (uri, flags) = norm("/100%25");
        assert_eq!(uri, "/100%");
        assert!(!flags.double_encoded);
    }

    #[test]
    fn bad_escape_is_kept_literally() {
        let (uri, flags) = norm("/a%zzb%");
        assert_eq!(uri, "/a%zzb%");
        assert!(flags.bad_escape);
    }

    #[test]
    fn double_slashes_collapse() {
        assert_eq!(n("//a///b"), "/a/b");
    }

    #[test]
    fn dot_segments_collapse() {
        assert_eq!(n("/a/./b/."), "/a/b/");
    }

    #[test]
    fn dot_dot_removes_previous_segment() {
        assert_eq!(n("/a/b/../c"), "/a/c");
        assert_eq!(n("/a/b/.."), "/a/");
    }

    #[test]
    fn dot_dot_above_root_is_flagged() {
        let (uri, flags) = norm("/../../etc/passwd");
        assert_eq!(uri, "/etc/passwd");
        assert!(flags.above_root);
    }

    #[test]
    fn encoded_traversal_is_collapsed() {
        assert_eq!(n("/scripts/..%2f..%2fwinnt/cmd.exe"), "/winnt/cmd.exe");
    }

    #[test]
    fn backslashes_become_slashes() {
        let (uri, flags) = norm("/scripts\\..\\winnt\\cmd.exe");
        assert_eq!(uri, "/winnt/cmd.exe");
        assert!(flags.backslash);
    }

    #[test]
    fn query_is_decoded_but_not_path_collapsed() {
        assert_eq!(n("/a//b?x=%2F%2F..//y"), "/a/b?x=//..//y");
    }

    #[test]
    fn encoded_question_mark_does_not_start_the_query() {
        assert_eq!(n("/a%3f/../b"), "/b");
    }

    #[test]
    fn absolute_uri_keeps_scheme_and_authority() {
        assert_eq!(n("http://Example.com//a/../b"), "http://Example.com/b");
    }

    #[test]
    fn relative_path_keeps_first_segment() {
        assert_eq!(n("a/../b"), "/b");
        assert_eq!(n("*"), "*");
    }

    proptest::proptest! {
        #[test]
        fn normalised_path_has_no_dot_segments_and_never_grows(
            raw in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'/'),
                proptest::strategy::Just(b'.'),
                proptest::strategy::Just(b'%'),
                proptest::strategy::Just(b'\\'),
                proptest::strategy::Just(b'2'),
                proptest::strategy::Just(b'e'),
                proptest::strategy::Just(b'f'),
                proptest::strategy::Just(b'u'),
                proptest::strategy::Just(b'0'),
                proptest::prelude::any::<u8>(),
            ], 0..40)
        ) {
            let raw: Vec<u8> = raw.into_iter().filter(|&b| b != b'?').collect();
            let mut out = Vec::new();
            normalize_uri(&raw, &mut out, &mut UriScratch::default());
            proptest::prop_assert!(out.len() <= raw.len(), "{:?} -> {:?}", raw, out);
            if path_start(&raw) == 0 {
                let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
                proptest::prop_assert!(!has(b"//") && !has(b"/./") && !has(b"/../"), "{:?} -> {:?}", raw, out);
                proptest::prop_assert!(!out.ends_with(b"/.") && !out.ends_with(b"/.."), "{:?} -> {:?}", raw, out);
                proptest::prop_assert!(!out.contains(&b'\\'));
            }
        }
    }

    #[test]
    fn host_is_lowercased_without_port_or_trailing_dot() {
        let mut out = Vec::new();
        normalize_host(b" WWW.Example.COM.:8080 ", &mut out);
        assert_eq!(out, b"www.example.com");
        normalize_host(b"[::1]:80", &mut out);
        assert_eq!(out, b"[::1]");
    }
}
