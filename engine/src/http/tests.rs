//! Tests of the HTTP parser through its public API: buffers, events, counters, limits.

use proptest::prelude::*;

use super::parser::{Phase, StopReason};
use super::*;
use crate::craft::http_body::{chunked, gzip, zlib};

use Direction::{ToClient, ToServer};

/// One event as text: direction, the buffers that became ready with their contents, and `done`.
/// Body growth is left out (it depends on how the input was cut); a finished message shows its
/// body in full instead.
fn describe(state: &HttpState, direction: Direction, events: &HttpEvents) -> Option<String> {
    let body = match direction {
        ToServer => Buffer::HttpClientBody,
        ToClient => Buffer::FileData,
    };
    let mut text = String::new();
    for buffer in events.updated.iter().filter(|b| *b != body) {
        let value = state.buffer(direction, buffer).unwrap_or(b"<absent>");
        text.push_str(&format!(" {buffer}={:?}", String::from_utf8_lossy(value)));
    }
    if events.message_done {
        if let Some(value) = state.buffer(direction, body) {
            text.push_str(&format!(" {body}={:?}", String::from_utf8_lossy(value)));
        }
        text.push_str(" done");
    }
    (!text.is_empty()).then(|| format!("{direction}{text}"))
}

/// A flow under test: feeds whole inputs, records the transcript of events.
struct Flow {
    inspector: HttpInspector,
    state: HttpState,
    transcript: Vec<String>,
}

impl Flow {
    fn new() -> Self {
        Self::with(HttpSettings::default())
    }

    fn with(settings: HttpSettings) -> Self {
        Flow {
            inspector: HttpInspector::new(settings),
            state: HttpState::default(),
            transcript: Vec::new(),
        }
    }

    fn feed(&mut self, direction: Direction, input: &[u8]) -> &mut Self {
        let mut events = HttpEvents::default();
        let mut at = 0;
        while at < input.len() {
            let used = self
                .inspector
                .feed(&mut self.state, direction, &input[at..], &mut events);
            assert!(used > 0 || !events.is_empty(), "feed made no progress");
            at += used;
            if let Some(line) = describe(&self.state, direction, &events) {
                self.transcript.push(line);
            }
        }
        self
    }

    fn finish(&mut self, direction: Direction) -> &mut Self {
        let mut events = HttpEvents::default();
        self.inspector
            .finish(&mut self.state, direction, &mut events);
        if let Some(line) = describe(&self.state, direction, &events) {
            self.transcript.push(line);
        }
        self
    }

    fn buffer(&self, direction: Direction, buffer: Buffer) -> String {
        match self.state.buffer(direction, buffer) {
            Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            None => "<absent>".to_string(),
        }
    }

    fn req(&self, buffer: Buffer) -> String {
        self.buffer(ToServer, buffer)
    }

    fn resp(&self, buffer: Buffer) -> String {
        self.buffer(ToClient, buffer)
    }

    fn counters(&self) -> &HttpCounters {
        &self.inspector.counters
    }
}

const GET: &[u8] = b"GET /a/./b/../c%20d?q=%41 HTTP/1.1\r\nHost: WWW.Example.com:8080\r\nUser-Agent: Mozilla/5.0\r\nCookie: id=%41b\r\nAccept: */*\r\n\r\n";

#[test]
fn request_line_buffers() {
    let mut flow = Flow::new();
    flow.feed(ToServer, GET);
    assert_eq!(flow.req(Buffer::HttpMethod), "GET");
    assert_eq!(flow.req(Buffer::HttpRawUri), "/a/./b/../c%20d?q=%41");
    assert_eq!(flow.req(Buffer::HttpUri), "/a/c d?q=A");
    assert_eq!(flow.req(Buffer::HttpProtocol), "HTTP/1.1");
    assert_eq!(
        flow.req(Buffer::HttpRequestLine),
        "GET /a/./b/../c%20d?q=%41 HTTP/1.1"
    );
    assert_eq!(flow.counters().requests, 1);
}

#[test]
fn request_header_buffers() {
    let mut flow = Flow::new();
    flow.feed(ToServer, GET);
    assert_eq!(flow.req(Buffer::HttpHost), "www.example.com");
    assert_eq!(flow.req(Buffer::HttpRawHost), "WWW.Example.com:8080");
    assert_eq!(flow.req(Buffer::HttpUserAgent), "Mozilla/5.0");
    assert_eq!(flow.req(Buffer::HttpRawCookie), "id=%41b");
    assert_eq!(flow.req(Buffer::HttpCookie), "id=Ab");
    assert_eq!(
        flow.req(Buffer::HttpHeader),
        "Host: WWW.Example.com:8080\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n"
    );
    assert_eq!(
        flow.req(Buffer::HttpRawHeader),
        "Host: WWW.Example.com:8080\r\nUser-Agent: Mozilla/5.0\r\nCookie: id=%41b\r\nAccept: */*\r\n"
    );
    assert_eq!(
        flow.req(Buffer::HttpHeaderNames),
        "\r\nHost\r\nUser-Agent\r\nCookie\r\nAccept\r\n\r\n"
    );
    assert_eq!(flow.req(Buffer::HttpClientBody), "<absent>");
}

#[test]
fn uri_is_ready_when_the_request_line_ends() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /x HTTP/1.1\r\nHost: a");
    assert_eq!(flow.transcript.len(), 1);
    assert!(
        flow.transcript[0].contains("http.uri=\"/x\""),
        "{:?}",
        flow.transcript
    );
    assert_eq!(flow.req(Buffer::HttpHeader), "<absent>");
    assert_eq!(flow.state.phase(ToServer), Phase::Headers);
}

#[test]
fn headers_are_ready_on_the_blank_line() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /x HTTP/1.1\r\nHost: a\r\n");
    assert_eq!(flow.transcript.len(), 1);
    flow.feed(ToServer, b"\r\n");
    assert_eq!(flow.transcript.len(), 2);
    assert!(
        flow.transcript[1].contains("http.header=\"Host: a\\r\\n\""),
        "{:?}",
        flow.transcript
    );
    assert!(flow.transcript[1].ends_with(" done"));
}

#[test]
fn header_value_buffers() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET / HTTP/1.1\r\nAccept: a/b\r\naccept: c/d\r\nAccept-Encoding: gzip\r\nAccept-Language: en\r\nReferer: http://r/\r\nConnection: close\r\nContent-Type: text/x\r\n\r\n",
    );
    assert_eq!(flow.req(Buffer::HttpAccept), "a/b, c/d");
    assert_eq!(flow.req(Buffer::HttpAcceptEnc), "gzip");
    assert_eq!(flow.req(Buffer::HttpAcceptLang), "en");
    assert_eq!(flow.req(Buffer::HttpReferer), "http://r/");
    assert_eq!(flow.req(Buffer::HttpConnection), "close");
    assert_eq!(flow.req(Buffer::HttpContentType), "text/x");
    flow.feed(
        ToClient,
        b"HTTP/1.1 302 Found\r\nServer: nginx\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(flow.resp(Buffer::HttpServer), "nginx");
    assert_eq!(flow.resp(Buffer::HttpLocation), "/x");
    assert_eq!(flow.resp(Buffer::HttpContentLen), "0");
}

#[test]
fn http_start_is_start_line_and_raw_headers() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /s HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(
        flow.req(Buffer::HttpStart),
        "GET /s HTTP/1.1\r\nHost: h\r\n\r\n"
    );
    flow.feed(ToClient, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(
        flow.resp(Buffer::HttpStart),
        "HTTP/1.1 204 No Content\r\n\r\n"
    );
}

#[test]
fn folded_header_lines_are_joined() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET / HTTP/1.0\r\nX-Long: one\r\n  two\r\n\tthree\r\nB: c\r\n\r\n",
    );
    assert_eq!(
        flow.req(Buffer::HttpHeader),
        "X-Long: one two three\r\nB: c\r\n"
    );
    assert_eq!(
        flow.req(Buffer::HttpRawHeader),
        "X-Long: one\r\n  two\r\n\tthree\r\nB: c\r\n"
    );
}

#[test]
fn fold_before_any_header_is_counted() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET / HTTP/1.0\r\n folded\r\n\r\n");
    assert_eq!(flow.counters().fold_without_header, 1);
}

#[test]
fn header_without_colon_is_counted_and_kept_raw() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET / HTTP/1.0\r\nnocolon\r\nA: b\r\n\r\n");
    assert_eq!(flow.counters().header_without_colon, 1);
    assert_eq!(flow.req(Buffer::HttpHeader), "A: b\r\n");
    assert_eq!(flow.req(Buffer::HttpRawHeader), "nocolon\r\nA: b\r\n");
}

#[test]
fn bare_lf_line_endings_are_accepted() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /lf HTTP/1.1\nHost: h\n\n");
    assert_eq!(flow.req(Buffer::HttpUri), "/lf");
    assert_eq!(flow.req(Buffer::HttpHost), "h");
    assert_eq!(flow.state.phase(ToServer), Phase::StartLine);
}

#[test]
fn cookie_in_header_setting_keeps_cookies_in_http_header() {
    let settings = HttpSettings {
        cookie_in_header: true,
        ..HttpSettings::default()
    };
    let mut flow = Flow::with(settings);
    flow.feed(ToServer, b"GET / HTTP/1.1\r\nA: 1\r\nCookie: c=1\r\n\r\n");
    assert_eq!(flow.req(Buffer::HttpHeader), "A: 1\r\nCookie: c=1\r\n");
    assert_eq!(flow.req(Buffer::HttpCookie), "c=1");
}

#[test]
fn multiple_cookie_headers_are_joined() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET / HTTP/1.1\r\nCookie: a=1\r\ncookie: b=%32\r\n\r\n",
    );
    assert_eq!(flow.req(Buffer::HttpRawCookie), "a=1; b=%32");
    assert_eq!(flow.req(Buffer::HttpCookie), "a=1; b=2");
}

const RESPONSE: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nServer: x\r\nSet-Cookie: s=1\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn response_buffers() {
    let mut flow = Flow::new();
    flow.feed(ToClient, RESPONSE);
    assert_eq!(
        flow.resp(Buffer::HttpResponseLine),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(flow.resp(Buffer::HttpStatCode), "404");
    assert_eq!(flow.resp(Buffer::HttpStatMsg), "Not Found");
    assert_eq!(flow.resp(Buffer::HttpProtocol), "HTTP/1.1");
    assert_eq!(flow.resp(Buffer::HttpCookie), "s=1");
    assert_eq!(
        flow.resp(Buffer::HttpHeader),
        "Server: x\r\nContent-Length: 5\r\n"
    );
    assert_eq!(flow.resp(Buffer::FileData), "hello");
    assert_eq!(flow.counters().responses, 1);
    assert!(flow
        .transcript
        .last()
        .is_some_and(|l| l.ends_with("file.data=\"hello\" done")));
}

#[test]
fn status_line_without_reason_phrase() {
    let mut flow = Flow::new();
    flow.feed(ToClient, b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(flow.resp(Buffer::HttpStatCode), "200");
    assert_eq!(flow.resp(Buffer::HttpStatMsg), "");
}

#[test]
fn bad_status_code_is_counted() {
    let mut flow = Flow::new();
    flow.feed(ToClient, b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(flow.counters().bad_status_code, 1);
}

#[test]
fn content_length_request_body() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"POST /f HTTP/1.1\r\nContent-Length: 7\r\n\r\nab");
    assert_eq!(flow.req(Buffer::HttpClientBody), "ab");
    assert_eq!(flow.state.phase(ToServer), Phase::Body);
    flow.feed(ToServer, b"cdefgGET /next HTTP/1.1\r\n");
    assert_eq!(flow.req(Buffer::HttpUri), "/next");
    assert!(flow
        .transcript
        .iter()
        .any(|l| l.contains("http.request_body=\"abcdefg\" done")));
}

#[test]
fn chunked_request_body_is_dechunked() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n");
    assert_eq!(flow.req(Buffer::HttpClientBody), "wikipedia");
    assert_eq!(flow.state.phase(ToServer), Phase::StartLine);
}

#[test]
fn chunked_wins_over_content_length_and_is_counted() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");
    assert_eq!(flow.req(Buffer::HttpClientBody), "x");
    assert_eq!(flow.counters().chunked_and_content_length, 1);
}

#[test]
fn conflicting_content_lengths_are_counted_first_wins() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(flow.req(Buffer::HttpClientBody), "a");
    assert_eq!(flow.counters().conflicting_content_length, 1);
}

#[test]
fn bad_content_length_stops_the_direction() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\nGET /hidden HTTP/1.1\r\n\r\n",
    );
    assert_eq!(flow.counters().bad_content_length, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Desync)
    );
    assert_eq!(
        flow.req(Buffer::HttpHeader),
        "Content-Length: 1x\r\n",
        "headers still inspected"
    );
}

#[test]
fn bad_chunk_size_stops_the_direction() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert_eq!(flow.counters().bad_chunk_size, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Desync)
    );
}

#[test]
fn chunked_gzip_response_is_file_data() {
    let body = chunked(&gzip(b"<script>evil()</script>"), 7);
    let mut response =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    response.extend_from_slice(&body);
    let mut flow = Flow::new();
    flow.feed(ToClient, &response);
    assert_eq!(flow.resp(Buffer::FileData), "<script>evil()</script>");
    assert_eq!(flow.state.phase(ToClient), Phase::StartLine);
}

#[test]
fn deflate_response_is_decompressed() {
    let compressed = zlib(b"deflated");
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: {}\r\n\r\n",
        compressed.len()
    )
    .into_bytes();
    response.extend_from_slice(&compressed);
    let mut flow = Flow::new();
    flow.feed(ToClient, &response);
    assert_eq!(flow.resp(Buffer::FileData), "deflated");
}

#[test]
fn unknown_content_encoding_is_counted_and_kept_as_sent() {
    let mut flow = Flow::new();
    flow.feed(
        ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nxyz",
    );
    assert_eq!(flow.counters().unknown_content_encoding, 1);
    assert_eq!(flow.resp(Buffer::FileData), "xyz");
}

#[test]
fn thousand_to_one_body_stays_under_the_limit_and_is_counted() {
    let compressed = gzip(&vec![b'A'; 20_000_000]);
    assert!(
        compressed.len() * 1000 <= 20_000_000,
        "ratio {}",
        20_000_000 / compressed.len()
    );
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        compressed.len()
    )
    .into_bytes();
    response.extend_from_slice(&compressed);
    let mut flow = Flow::new();
    flow.feed(ToClient, &response);
    assert_eq!(
        flow.resp(Buffer::FileData).len(),
        HttpSettings::default().response_body_depth
    );
    assert_eq!(flow.counters().response_body_depth_reached, 1);
    assert_eq!(
        flow.state.phase(ToClient),
        Phase::StartLine,
        "the body is skipped to its end"
    );
    assert!(
        flow.state.memory_bytes() < 400_000,
        "memory {}",
        flow.state.memory_bytes()
    );
}

#[test]
fn request_body_depth_is_enforced_and_counted() {
    let settings = HttpSettings {
        request_body_depth: 4,
        ..HttpSettings::default()
    };
    let mut flow = Flow::with(settings);
    flow.feed(
        ToServer,
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /after HTTP/1.1\r\n",
    );
    assert_eq!(flow.counters().request_body_depth_reached, 1);
    assert_eq!(flow.req(Buffer::HttpUri), "/after");
    assert!(flow
        .transcript
        .iter()
        .any(|l| l.contains("http.request_body=\"0123\" done")));
}

#[test]
fn compressed_depth_is_counted() {
    let settings = HttpSettings {
        compressed_depth: 8,
        ..HttpSettings::default()
    };
    let compressed = gzip(b"some text that is long enough");
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        compressed.len()
    )
    .into_bytes();
    response.extend_from_slice(&compressed);
    let mut flow = Flow::with(settings);
    flow.feed(ToClient, &response);
    assert_eq!(flow.counters().compressed_depth_reached, 1);
}

#[test]
fn corrupt_gzip_is_counted() {
    let mut flow = Flow::new();
    flow.feed(
        ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip at!",
    );
    assert_eq!(flow.counters().decompress_error, 1);
    assert_eq!(flow.state.phase(ToClient), Phase::StartLine);
}

#[test]
fn pipelined_requests_each_get_their_events_in_order() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: b\r\n\r\n",
    );
    let uris: Vec<&String> = flow
        .transcript
        .iter()
        .filter(|l| l.contains("http.uri="))
        .collect();
    assert_eq!(uris.len(), 2);
    assert!(uris[0].contains("\"/one\"") && uris[1].contains("\"/two\""));
    let hosts: Vec<&String> = flow
        .transcript
        .iter()
        .filter(|l| l.contains("http.host="))
        .collect();
    assert!(hosts[0].contains("\"a\"") && hosts[1].contains("\"b\""));
    assert_eq!(flow.counters().requests, 2);
}

#[test]
fn persistent_connection_alternates_requests_and_responses() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /1 HTTP/1.1\r\n\r\n");
    flow.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    flow.feed(ToServer, b"GET /2 HTTP/1.1\r\n\r\n");
    flow.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes");
    assert_eq!(flow.req(Buffer::HttpUri), "/2");
    assert_eq!(flow.resp(Buffer::FileData), "yes");
    assert_eq!(
        flow.transcript
            .iter()
            .filter(|l| l.ends_with(" done"))
            .count(),
        4
    );
}

#[test]
fn head_response_has_no_body() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    flow.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(flow.counters().responses, 2);
    assert_eq!(flow.resp(Buffer::FileData), "hi");
}

#[test]
fn not_modified_and_continue_have_no_body() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
    );
    flow.feed(ToClient, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(flow.counters().responses, 3);
    assert_eq!(flow.state.phase(ToClient), Phase::StartLine);
}

#[test]
fn response_without_length_ends_on_close() {
    let mut flow = Flow::new();
    flow.feed(ToClient, b"HTTP/1.0 200 OK\r\n\r\nall of ");
    flow.feed(ToClient, b"this");
    assert_eq!(flow.state.phase(ToClient), Phase::Body);
    flow.finish(ToClient);
    assert!(flow
        .transcript
        .last()
        .is_some_and(|l| l.ends_with("file.data=\"all of this\" done")));
}

#[test]
fn connect_tunnel_stops_inspection() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"CONNECT host:443 HTTP/1.1\r\n\r\n");
    flow.feed(
        ToClient,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01",
    );
    assert_eq!(flow.counters().tunnels, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Tunnel)
    );
    assert_eq!(
        flow.state.phase(ToClient),
        Phase::Stopped(StopReason::Tunnel)
    );
}

#[test]
fn switching_protocols_stops_inspection() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    flow.feed(
        ToClient,
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello",
    );
    assert_eq!(flow.counters().tunnels, 1);
    assert_eq!(
        flow.state.phase(ToClient),
        Phase::Stopped(StopReason::Tunnel)
    );
}

#[test]
fn a_space_in_the_uri_keeps_the_flow_http() {
    // Servers that accept it exist: calling the flow "not HTTP" would blind every HTTP rule.
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET /a b?q=div class=\"x  HTTP/1.1\r\nUser-Agent: evil\r\n\r\n",
    );
    assert_eq!(flow.req(Buffer::HttpMethod), "GET");
    assert_eq!(flow.req(Buffer::HttpRawUri), "/a b?q=div class=\"x");
    assert_eq!(flow.req(Buffer::HttpProtocol), "HTTP/1.1");
    assert_eq!(flow.req(Buffer::HttpUserAgent), "evil");
    assert_eq!(flow.counters().uri_with_space, 1);
    assert_eq!(flow.counters().not_http, 0);
    // Without a protocol field it is still an HTTP/0.9 request, and two fields whose last is
    // not a version is not HTTP.
    let mut simple = Flow::new();
    simple.feed(ToServer, b"GET /index.html\r\n");
    assert_eq!(simple.req(Buffer::HttpRawUri), "/index.html");
    assert_eq!(simple.counters().uri_with_space, 0);
    let mut other = Flow::new();
    other.feed(ToServer, b"HELO a b\r\n");
    assert_eq!(other.counters().not_http, 1);
}

#[test]
fn tls_is_not_http() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::NotHttp)
    );
    assert_eq!(flow.counters().not_http, 1);
    assert!(!flow.state.is_http());
}

#[test]
fn other_line_protocols_are_not_http() {
    for line in [
        &b"EHLO mail.example.com\r\n"[..],
        b"USER bob\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ] {
        let mut flow = Flow::new();
        flow.feed(ToServer, line);
        assert_eq!(
            flow.state.phase(ToServer),
            Phase::Stopped(StopReason::NotHttp),
            "{line:?}"
        );
    }
    let mut flow = Flow::new();
    flow.feed(ToClient, b"220 mail.example.com ESMTP\r\n");
    assert_eq!(
        flow.state.phase(ToClient),
        Phase::Stopped(StopReason::NotHttp)
    );
}

#[test]
fn binary_is_rejected_without_waiting_for_a_line_end() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GE\x00");
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::NotHttp)
    );
}

#[test]
fn http_09_simple_request() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /old\r\n");
    assert_eq!(flow.req(Buffer::HttpUri), "/old");
    assert_eq!(flow.req(Buffer::HttpProtocol), "<absent>");
    assert!(flow.transcript[0].ends_with(" done"));
}

#[test]
fn unknown_method_with_http_version_is_http() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"PROPFIND /dav HTTP/1.1\r\n\r\n");
    assert_eq!(flow.req(Buffer::HttpMethod), "PROPFIND");
}

#[test]
fn garbage_after_a_request_is_a_desync() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET / HTTP/1.1\r\n\r\n\x01\x02 bad line\r\n");
    assert_eq!(flow.counters().bad_start_line, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Desync)
    );
}

#[test]
fn empty_lines_between_requests_are_tolerated() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET /1 HTTP/1.1\r\n\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
    );
    assert_eq!(flow.counters().requests, 2);
    assert_eq!(flow.counters().bad_start_line, 0);
}

#[test]
fn long_start_line_hits_the_limit() {
    let settings = HttpSettings {
        max_start_line: 64,
        ..HttpSettings::default()
    };
    let mut flow = Flow::with(settings);
    let mut request = b"GET /".to_vec();
    request.extend(std::iter::repeat_n(b'a', 100));
    flow.feed(ToServer, &request);
    assert_eq!(flow.counters().start_line_too_long, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Limit)
    );
    assert_eq!(flow.state.memory_bytes(), 0);
}

#[test]
fn large_header_block_hits_the_limit() {
    let settings = HttpSettings {
        max_header_bytes: 100,
        ..HttpSettings::default()
    };
    let mut flow = Flow::with(settings);
    flow.feed(ToServer, b"GET / HTTP/1.1\r\n");
    for _ in 0..10 {
        flow.feed(ToServer, b"X-Filler: 0123456789\r\n");
    }
    assert_eq!(flow.counters().headers_too_long, 1);
    assert_eq!(
        flow.state.phase(ToServer),
        Phase::Stopped(StopReason::Limit)
    );
    let memory = flow.state.memory_bytes();
    assert!(
        memory <= 64,
        "only the pending-request queue stays: {memory}"
    );
}

#[test]
fn pending_request_overflow_is_counted() {
    let settings = HttpSettings {
        max_pending_requests: 2,
        ..HttpSettings::default()
    };
    let mut flow = Flow::with(settings);
    flow.feed(
        ToServer,
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n",
    );
    assert_eq!(flow.counters().pending_requests_overflow, 1);
}

#[test]
fn uri_normalisation_events_are_counted() {
    let mut flow = Flow::new();
    flow.feed(ToServer, b"GET /%252e%u002e\\..\\..\\x%zz HTTP/1.1\r\n\r\n");
    let counters = flow.counters();
    assert_eq!(
        (
            counters.uri_double_encoding,
            counters.uri_percent_u,
            counters.uri_backslash,
            counters.uri_bad_escape
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(counters.uri_above_root, 1);
    assert_eq!(flow.req(Buffer::HttpUri), "/x%zz");
}

#[test]
fn response_rules_see_the_transactions_request_buffers() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET /dl.php HTTP/1.1\r\nHost: h\r\nX-Req: 1\r\n\r\n",
    );
    flow.feed(
        ToClient,
        b"HTTP/1.1 200 OK\r\nX-Resp: 2\r\nContent-Length: 0\r\n\r\n",
    );
    let state = &flow.state;
    assert_eq!(
        state.transaction_buffer(ToClient, Buffer::HttpUri),
        Some(&b"/dl.php"[..])
    );
    assert_eq!(
        state.transaction_buffer(ToClient, Buffer::HttpStatCode),
        Some(&b"200"[..])
    );
    assert_eq!(
        state.transaction_buffer(ToServer, Buffer::HttpStatCode),
        Some(&b"200"[..])
    );
    assert_eq!(
        state.transaction_buffer(ToClient, Buffer::HttpHeader),
        Some(&b"X-Resp: 2\r\nContent-Length: 0\r\n"[..])
    );
    assert_eq!(
        state.transaction_buffer(ToServer, Buffer::HttpHeader),
        Some(&b"Host: h\r\nX-Req: 1\r\n"[..])
    );
    assert_eq!(state.transaction_buffer(ToServer, Buffer::Packet), None);
}

#[test]
fn a_rule_alerts_once_per_message() {
    let mut flow = Flow::new();
    flow.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
    assert!(flow.state.first_alert(ToClient, 7));
    assert!(!flow.state.first_alert(ToClient, 7), "the same message");
    assert!(flow.state.first_alert(ToServer, 7), "the other direction");
    flow.feed(ToClient, b"cdHTTP/1.1 200 OK\r\n");
    assert!(flow.state.first_alert(ToClient, 7), "a new message");
}

#[test]
fn buffers_of_the_previous_message_are_forgotten() {
    let mut flow = Flow::new();
    flow.feed(
        ToServer,
        b"GET /1 HTTP/1.1\r\nUser-Agent: first\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
    );
    assert_eq!(flow.req(Buffer::HttpUserAgent), "<absent>");
}

#[test]
fn counters_iterate_by_name() {
    let mut flow = Flow::new();
    flow.feed(ToServer, GET);
    let requests = flow.counters().iter().find(|(name, _)| *name == "requests");
    assert_eq!(requests, Some(("requests", 1)));
    let mut total = HttpCounters::default();
    total.add(flow.counters());
    total.add(flow.counters());
    assert_eq!(total.requests, 2);
}

#[test]
fn buffer_set_holds_every_http_buffer() {
    let mut set = BufferSet::EMPTY;
    for buffer in Buffer::HTTP {
        assert!(!set.contains(buffer));
        set.insert(buffer);
    }
    assert_eq!(set.iter().count(), Buffer::HTTP.len());
    assert!(!set.contains(Buffer::Packet));
}

/// Feeds `input` cut at `cuts` (sorted offsets) and returns the transcript and counters.
fn transcript_with_cuts(
    direction: Direction,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<String>, HttpCounters) {
    let mut flow = Flow::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        flow.feed(direction, &input[start..cut]);
        start = cut;
    }
    flow.finish(direction);
    (flow.transcript, flow.inspector.counters)
}

fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "POST", "HEAD", "PUT"]);
    let uri = "/[a-z%./\\\\]{0,12}(\\?[a-z=%&]{0,6})?";
    let header = ("[A-Za-z-]{1,8}", "[ -~]{0,10}", any::<bool>());
    let body = prop::collection::vec(any::<u8>(), 0..40);
    (
        method,
        uri,
        prop::collection::vec(header, 0..4),
        body,
        0usize..3,
    )
        .prop_map(|(method, uri, headers, body, framing)| {
            let mut out = format!("{method} {uri} HTTP/1.1\r\n").into_bytes();
            for (name, value, folded) in headers {
                out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                if folded {
                    out.extend_from_slice(b" more\r\n");
                }
            }
            match framing {
                0 => out.extend_from_slice(b"\r\n"),
                1 => {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    out.extend_from_slice(&body);
                }
                _ => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    out.extend_from_slice(&chunked(&body, 7));
                }
            }
            out
        })
}

fn response_strategy() -> impl Strategy<Value = Vec<u8>> {
    let body = prop::collection::vec(any::<u8>(), 0..200);
    (
        (200u16..600).prop_map(|s| if s == 204 || s == 304 { 200 } else { s }),
        body,
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(status, body, framing, gzipped)| {
            let mut out = format!("HTTP/1.1 {status} Msg\r\n").into_bytes();
            let payload = if gzipped {
                out.extend_from_slice(b"Content-Encoding: gzip\r\n");
                gzip(&body)
            } else {
                body
            };
            match framing {
                0 => {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", payload.len()).as_bytes(),
                    );
                    out.extend_from_slice(&payload);
                }
                1 => {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    out.extend_from_slice(&chunked(&payload, 5));
                }
                _ => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
            }
            out
        })
}

proptest! {
    #[test]
    fn random_bytes_in_random_pieces_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(0usize..600, 0..8),
        to_client in any::<bool>(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let direction = if to_client { ToClient } else { ToServer };
        let (whole, counters) = transcript_with_cuts(direction, &input, &[]);
        let (pieces, piece_counters) = transcript_with_cuts(direction, &input, &cuts);
        prop_assert_eq!(whole, pieces);
        prop_assert_eq!(counters, piece_counters);
    }

    #[test]
    fn http_prefixed_random_bytes_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(0usize..500, 0..8),
    ) {
        let mut input = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n".to_vec();
        input.extend_from_slice(&tail);
        let mut cuts = cuts;
        cuts.sort_unstable();
        for direction in [ToServer, ToClient] {
            let (whole, _) = transcript_with_cuts(direction, &input, &[]);
            let (pieces, _) = transcript_with_cuts(direction, &input, &cuts);
            prop_assert_eq!(whole, pieces);
        }
    }

    #[test]
    fn pipelined_requests_parse_the_same_in_any_pieces(
        messages in prop::collection::vec(message_strategy(), 1..4),
        cuts in prop::collection::vec(0usize..800, 0..10),
    ) {
        let input = messages.concat();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (whole, counters) = transcript_with_cuts(ToServer, &input, &[]);
        let (pieces, piece_counters) = transcript_with_cuts(ToServer, &input, &cuts);
        prop_assert_eq!(counters.requests, messages.len() as u64);
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(counters, piece_counters);
    }

    #[test]
    fn responses_parse_the_same_in_any_pieces(
        messages in prop::collection::vec(response_strategy(), 1..4),
        cuts in prop::collection::vec(0usize..1200, 0..10),
    ) {
        let input = messages.concat();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (whole, counters) = transcript_with_cuts(ToClient, &input, &[]);
        let (pieces, piece_counters) = transcript_with_cuts(ToClient, &input, &cuts);
        prop_assert_eq!(counters.responses, messages.len() as u64);
        prop_assert_eq!(counters.decompress_error, 0);
        prop_assert_eq!(&whole, &pieces);
        prop_assert_eq!(counters, piece_counters);
    }
}

#[test]
fn flow_state_is_small_until_http_arrives() {
    // Inline size of the per-flow state (boxed by the engine only for TCP flows with data), and
    // nothing allocated before the first byte.
    let state = HttpState::default();
    let size = std::mem::size_of::<HttpState>();
    assert!(size <= 2560, "HttpState grew to {size} bytes");
    assert_eq!(state.memory_bytes(), 0);
}
