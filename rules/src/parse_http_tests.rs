//! Tests of the HTTP keywords of the rule parser (buffers of content, pcre, isdataat; urilen;
//! sticky buffers; `alert http`).

use super::*;

fn rule(options: &str) -> Rule {
    let text = format!("alert tcp any any -> any any ({options} sid:1;)");
    parse_text(&text).unwrap_or_else(|why| panic!("`{options}`: {why:?}"))
}

fn error(options: &str) -> String {
    let text = format!("alert tcp any any -> any any ({options} sid:1;)");
    match parse_text(&text) {
        Err(Rejection::Error(message)) => message,
        other => panic!("`{options}`: expected an error, got {other:?}"),
    }
}

/// The buffer of every content, pcre, isdataat and urilen, in order.
fn buffers(options: &str) -> Vec<Buffer> {
    rule(options)
        .detection
        .iter()
        .filter(|o| {
            matches!(
                o,
                DetectOption::Content(_)
                    | DetectOption::Pcre(_)
                    | DetectOption::IsDataAt(_)
                    | DetectOption::UriLen(_)
            )
        })
        .map(DetectOption::buffer)
        .collect()
}

#[test]
fn content_defaults_to_the_packet() {
    assert_eq!(buffers(r#"content:"x";"#), [Buffer::Packet]);
    assert_eq!(rule(r#"content:"x";"#).first_http_buffer(), None);
}

#[test]
fn snort_content_modifiers_set_the_buffer() {
    let cases = [
        ("http_uri", Buffer::HttpUri),
        ("http_raw_uri", Buffer::HttpRawUri),
        ("http_header", Buffer::HttpHeader),
        ("http_raw_header", Buffer::HttpRawHeader),
        ("http_method", Buffer::HttpMethod),
        ("http_cookie", Buffer::HttpCookie),
        ("http_raw_cookie", Buffer::HttpRawCookie),
        ("http_client_body", Buffer::HttpClientBody),
        ("http_stat_code", Buffer::HttpStatCode),
        ("http_stat_msg", Buffer::HttpStatMsg),
    ];
    for (modifier, buffer) in cases {
        assert_eq!(
            buffers(&format!(r#"content:"x"; {modifier};"#)),
            [buffer],
            "{modifier}"
        );
    }
}

#[test]
fn suricata_content_modifiers_set_the_buffer() {
    let cases = [
        ("http_user_agent", Buffer::HttpUserAgent),
        ("http_host", Buffer::HttpHost),
        ("http_raw_host", Buffer::HttpRawHost),
        ("http_server_body", Buffer::FileData),
    ];
    for (modifier, buffer) in cases {
        assert_eq!(
            buffers(&format!(r#"content:"x"; {modifier};"#)),
            [buffer],
            "{modifier}"
        );
    }
}

#[test]
fn suricata_4_sticky_keywords_apply_to_the_following_contents() {
    let cases = [
        ("http_header_names", Buffer::HttpHeaderNames),
        ("http_request_line", Buffer::HttpRequestLine),
        ("http_response_line", Buffer::HttpResponseLine),
        ("http_protocol", Buffer::HttpProtocol),
        ("http_start", Buffer::HttpStart),
        ("http_accept", Buffer::HttpAccept),
        ("http_content_type", Buffer::HttpContentType),
    ];
    for (sticky, buffer) in cases {
        assert_eq!(
            buffers(&format!(
                r#"content:"a"; http_uri; {sticky}; content:"x"; content:"y";"#
            )),
            [Buffer::HttpUri, buffer, buffer],
            "{sticky}"
        );
    }
}

#[test]
fn modifier_applies_only_to_the_preceding_content() {
    assert_eq!(
        buffers(r#"content:"a"; content:"b"; http_uri; content:"c";"#),
        [Buffer::Packet, Buffer::HttpUri, Buffer::Packet]
    );
}

#[test]
fn modifier_keeps_the_other_content_modifiers() {
    let rule = rule(r#"content:"ab"; nocase; http_header; depth:10; fast_pattern;"#);
    let DetectOption::Content(content) = &rule.detection[0] else {
        panic!("not a content")
    };
    assert!(content.nocase);
    assert_eq!(content.depth, Some(Value::Literal(10)));
    assert_eq!(content.fast_pattern, FastPattern::Yes);
    assert_eq!(content.buffer, Buffer::HttpHeader);
}

#[test]
fn two_buffers_on_one_content_is_an_error() {
    assert!(error(r#"content:"x"; http_uri; http_header;"#).contains("one buffer per content"));
}

#[test]
fn modifier_without_content_is_an_error() {
    assert!(error("http_uri;").contains("no preceding content"));
}

#[test]
fn uricontent_is_content_in_the_uri() {
    assert_eq!(buffers(r#"uricontent:"/x"; nocase;"#), [Buffer::HttpUri]);
}

#[test]
fn sticky_buffers_apply_until_the_next_one() {
    assert_eq!(
        buffers(
            r#"http.uri; content:"a"; content:"b"; http.header; content:"c"; pkt_data; content:"d";"#
        ),
        [
            Buffer::HttpUri,
            Buffer::HttpUri,
            Buffer::HttpHeader,
            Buffer::Packet
        ]
    );
}

#[test]
fn every_sticky_buffer_name_is_read() {
    let cases = [
        ("http.uri", Buffer::HttpUri),
        ("http.uri.raw", Buffer::HttpRawUri),
        ("http.method", Buffer::HttpMethod),
        ("http.header", Buffer::HttpHeader),
        ("http.header.raw", Buffer::HttpRawHeader),
        ("http.cookie", Buffer::HttpCookie),
        ("http.user_agent", Buffer::HttpUserAgent),
        ("http.host", Buffer::HttpHost),
        ("http.host.raw", Buffer::HttpRawHost),
        ("http.request_body", Buffer::HttpClientBody),
        ("http.response_body", Buffer::FileData),
        ("http.stat_code", Buffer::HttpStatCode),
        ("http.stat_msg", Buffer::HttpStatMsg),
        ("http.header_names", Buffer::HttpHeaderNames),
        ("http.request_line", Buffer::HttpRequestLine),
        ("http.response_line", Buffer::HttpResponseLine),
        ("http.protocol", Buffer::HttpProtocol),
        ("file.data", Buffer::FileData),
        ("file_data", Buffer::FileData),
        ("http.start", Buffer::HttpStart),
        ("http.accept", Buffer::HttpAccept),
        ("http.accept_enc", Buffer::HttpAcceptEnc),
        ("http.accept_lang", Buffer::HttpAcceptLang),
        ("http.referer", Buffer::HttpReferer),
        ("http.connection", Buffer::HttpConnection),
        ("http.content_type", Buffer::HttpContentType),
        ("http.content_len", Buffer::HttpContentLen),
        ("http.server", Buffer::HttpServer),
        ("http.location", Buffer::HttpLocation),
    ];
    for (sticky, buffer) in cases {
        assert_eq!(
            buffers(&format!(r#"{sticky}; content:"x";"#)),
            [buffer],
            "{sticky}"
        );
    }
}

#[test]
fn pcre_flags_set_the_buffer() {
    let cases = [
        ('U', Buffer::HttpUri),
        ('I', Buffer::HttpRawUri),
        ('H', Buffer::HttpHeader),
        ('D', Buffer::HttpRawHeader),
        ('C', Buffer::HttpCookie),
        ('K', Buffer::HttpRawCookie),
        ('M', Buffer::HttpMethod),
        ('S', Buffer::HttpStatCode),
        ('Y', Buffer::HttpStatMsg),
        ('P', Buffer::HttpClientBody),
        ('V', Buffer::HttpUserAgent),
        ('W', Buffer::HttpHost),
        ('Z', Buffer::HttpRawHost),
    ];
    for (flag, buffer) in cases {
        assert_eq!(
            buffers(&format!(r#"pcre:"/x/i{flag}";"#)),
            [buffer],
            "{flag}"
        );
    }
}

#[test]
fn pcre_without_flag_uses_the_sticky_buffer() {
    assert_eq!(buffers(r#"file_data; pcre:"/x/";"#), [Buffer::FileData]);
}

#[test]
fn pcre_with_flags_of_two_buffers_is_an_error() {
    assert!(error(r#"pcre:"/x/UH";"#).contains("two buffers"));
}

#[test]
fn relative_isdataat_follows_the_previous_match() {
    assert_eq!(
        buffers(r#"content:"a"; http_uri; isdataat:!1,relative;"#),
        [Buffer::HttpUri, Buffer::HttpUri]
    );
    assert_eq!(
        buffers(r#"content:"a"; http_uri; isdataat:5;"#),
        [Buffer::HttpUri, Buffer::Packet]
    );
}

#[test]
fn byte_options_read_the_sticky_or_the_previous_match_buffer() {
    let buffer_of = |options: &str| {
        rule(options)
            .detection
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    DetectOption::ByteTest(_)
                        | DetectOption::ByteJump(_)
                        | DetectOption::ByteExtract(_)
                )
            })
            .map(DetectOption::buffer)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        buffer_of("file_data; byte_test:1,=,1,0;"),
        [Buffer::FileData]
    );
    assert_eq!(
        buffer_of(r#"content:"a"; http_uri; byte_jump:1,0,relative;"#),
        [Buffer::HttpUri]
    );
    // Not relative, no sticky buffer: the packet.
    assert_eq!(
        buffer_of(r#"content:"a"; http_uri; byte_test:1,=,1,0;"#),
        [Buffer::Packet]
    );
    assert_eq!(
        buffer_of("file_data; byte_extract:1,0,a; byte_extract:1,1,b; byte_test:1,=,a,b;"),
        [Buffer::FileData; 3]
    );
    // byte_extract variables are numbered within one buffer.
    let text = r#"alert tcp any any -> any any (byte_extract:1,0,a; file_data; byte_extract:1,0,b; sid:1;)"#;
    assert_eq!(
        parse_text(text).err(),
        Some(Rejection::Unsupported("byte_extract in two buffers".into()))
    );
}

#[test]
fn urilen_forms() {
    let urilen = |text: &str| match &rule(text).detection[0] {
        DetectOption::UriLen(u) => *u,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        urilen("urilen:5;"),
        UriLen {
            cmp: IntCmp::Eq(5),
            raw: false
        }
    );
    assert_eq!(
        urilen("urilen:<5;"),
        UriLen {
            cmp: IntCmp::Lt(5),
            raw: false
        }
    );
    assert_eq!(
        urilen("urilen:>5,raw;"),
        UriLen {
            cmp: IntCmp::Gt(5),
            raw: true
        }
    );
    assert_eq!(
        urilen("urilen:2<>10,norm;"),
        UriLen {
            cmp: IntCmp::Between(2, 10),
            raw: false
        }
    );
    assert_eq!(
        urilen("urilen:2<=>10;"),
        UriLen {
            cmp: IntCmp::Within(2, 10),
            raw: false
        }
    );
    assert_eq!(buffers("urilen:5,raw;"), [Buffer::HttpRawUri]);
    assert!(error("urilen:5,sideways;").contains("sideways"));
    assert!(error("urilen:10<>2;").contains("low bound"));
}

#[test]
fn alert_http_is_tcp_requiring_http() {
    let text = r#"alert http any any -> any any (content:"x"; sid:1;)"#;
    let rule = parse_text(text).expect("loads");
    assert_eq!(rule.protocol, Protocol::Tcp);
    assert!(rule.requires_http());
    let tcp = parse_text(r#"alert tcp any any -> any any (sid:1;)"#).expect("loads");
    assert!(!tcp.requires_http());
}

#[test]
fn buffer_names_round_trip() {
    for buffer in Buffer::HTTP {
        assert_eq!(Buffer::from_sticky(buffer.sticky_name()), Some(buffer));
        let legacy = buffer.legacy_name();
        let by_legacy = Buffer::from_modifier(legacy).or_else(|| Buffer::from_sticky(legacy));
        assert_eq!(by_legacy, Some(buffer), "{legacy}");
    }
    assert_eq!(Buffer::Packet.sticky_name(), "pkt_data");
    assert_eq!(Buffer::from_modifier("pkt_data"), None);
}

#[test]
fn buffer_sides() {
    assert_eq!(Buffer::HttpUri.side(), BufferSide::Request);
    assert_eq!(Buffer::HttpClientBody.side(), BufferSide::Request);
    assert_eq!(Buffer::FileData.side(), BufferSide::Response);
    assert_eq!(Buffer::HttpStatCode.side(), BufferSide::Response);
    assert_eq!(Buffer::HttpHeader.side(), BufferSide::Either);
    assert_eq!(Buffer::Packet.side(), BufferSide::Either);
}
