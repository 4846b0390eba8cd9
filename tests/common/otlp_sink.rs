//! A scriptable OTLP/HTTP trace sink on loopback, on std threads: for outage tests and the
//! export-throughput bench.
//!
//! It speaks just enough HTTP/1.1 (keep-alive, `Content-Length` bodies) to take
//! `POST /v1/traces` with protobuf bodies, walks each `ExportTraceServiceRequest` to count
//! spans by name, and answers as its [`Mode`] says: healthy (200, empty protobuf body), slow
//! (200 after a delay), an error status (503, 429), or down (the port refuses connections).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with an empty `ExportTraceServiceResponse`; spans are counted.
    Healthy,
    /// Like healthy, after sleeping this long per request.
    Slow(Duration),
    /// This HTTP status (503, 429, ...) with `Retry-After: 0` and no span counted.
    Status(u16),
    /// This HTTP status with `Retry-After: <seconds>` and no span counted.
    RetryAfter(u16, u64),
    /// Reads each request and never answers it (until the mode changes, then the connection
    /// is cut); nothing is counted but `requests`.
    BlackHole,
    /// 200 with an OTLP partial success: this many spans of each request rejected (they are
    /// still counted as received).
    Partial(u64),
    /// The listener is closed: connections are refused, open ones are cut.
    Down,
}

/// What the sink has seen so far.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Requests read in full (any answer).
    pub requests: u64,
    /// Requests answered 200.
    pub accepted_requests: u64,
    /// Requests answered with an error status.
    pub rejected_requests: u64,
    /// Spans in requests answered 200.
    pub spans: u64,
    /// Spans in requests answered with an error status.
    pub rejected_spans: u64,
    /// Request body bytes read.
    pub body_bytes: u64,
    /// Bodies that did not decode as `ExportTraceServiceRequest`.
    pub undecodable: u64,
    /// Accepted spans by name.
    pub names: HashMap<String, u64>,
    /// Copies accepted of each span id.
    pub copies: HashMap<Vec<u8>, u32>,
    /// Requests that came with `Content-Encoding: gzip` (their bodies are gunzipped).
    pub gzip_requests: u64,
    /// Requests by path (`/v1/traces`, `/v1/metrics`).
    pub paths: HashMap<String, u64>,
    /// The last value of each request header seen (names lower-case).
    pub headers: HashMap<String, String>,
    /// When each request was read, from the sink's start, with its answer status (0: none).
    pub arrivals: Vec<(Duration, u16)>,
    /// Every request in full, when started with [`OtlpSink::start_recording`].
    pub recorded: Vec<Recorded>,
}

/// One request as the sink read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request target (`/v1/traces`).
    pub path: String,
    /// Its headers, names in lower case.
    pub headers: HashMap<String, String>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Stats {
    /// Accepted spans named `name`.
    pub fn named(&self, name: &str) -> u64 {
        self.names.get(name).copied().unwrap_or(0)
    }

    /// The most copies of one span accepted.
    pub fn max_copies(&self) -> u32 {
        self.copies.values().copied().max().unwrap_or(0)
    }
}

struct Shared {
    mode: Mutex<Mode>,
    stats: Mutex<Stats>,
    changed: Condvar,
    stop: AtomicBool,
    /// Whole requests are kept in [`Stats::recorded`].
    record: bool,
    /// Answers requests other than OTLP ones (see [`OtlpSink::start_answering`]).
    responder: Option<Responder>,
    /// Set when the listener is down: connection threads close their sockets.
    generation: std::sync::atomic::AtomicU64,
    started: Instant,
}

/// Answers a request (target, body) with a status and a JSON body, or leaves it to the sink.
pub type Responder = Arc<dyn Fn(&str, &[u8]) -> Option<(u16, String)> + Send + Sync>;

/// The sink. Dropping it stops the accept thread.
pub struct OtlpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl OtlpSink {
    /// Starts a sink on an ephemeral loopback port, in `mode`.
    pub fn start(mode: Mode) -> OtlpSink {
        Self::start_with(mode, false)
    }

    /// A healthy sink that keeps every request (path, headers, body) in [`Stats::recorded`].
    pub fn start_recording() -> OtlpSink {
        Self::start_with(Mode::Healthy, true)
    }

    /// A recording sink that first asks `responder` for an answer to each request (its
    /// request target and body): `Some((status, json))` is sent as is, and the request is
    /// recorded but not read as OTLP; `None` goes on as for a healthy sink.
    pub fn start_answering(responder: Responder) -> OtlpSink {
        Self::start_with_responder(Mode::Healthy, true, Some(responder))
    }

    fn start_with(mode: Mode, record: bool) -> OtlpSink {
        Self::start_with_responder(mode, record, None)
    }

    fn start_with_responder(mode: Mode, record: bool, responder: Option<Responder>) -> OtlpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            stats: Mutex::new(Stats::default()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            record,
            responder,
            generation: Default::default(),
            started: Instant::now(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("otlp-sink-accept".into())
                .spawn(move || accept_loop(listener, addr, shared))
                .expect("spawn sink")
        };
        OtlpSink {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The base URL to give `with_otlp_endpoint` (`/v1/traces` is added by the exporter).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the mode; takes effect for the next request (down: at once).
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        if mode == Mode::Down {
            self.shared.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Time since the sink started (the clock of [`Stats::arrivals`]).
    pub fn now(&self) -> Duration {
        self.shared.started.elapsed()
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    /// Waits until at least `spans` spans were accepted, or `timeout` passes; returns the stats.
    pub fn wait_for_spans(&self, spans: u64, timeout: Duration) -> Stats {
        let deadline = Instant::now() + timeout;
        let mut stats = self.shared.stats.lock().unwrap();
        while stats.spans < spans {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            stats = self
                .shared
                .changed
                .wait_timeout(stats, deadline - now)
                .unwrap()
                .0;
        }
        stats.clone()
    }
}

impl Drop for OtlpSink {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    if let Some(l) = &listener {
        l.set_nonblocking(true).expect("nonblocking");
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let down = *shared.mode.lock().unwrap() == Mode::Down;
        if down {
            // Closing the listener makes the port refuse connections.
            listener = None;
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr) {
                Ok(l) => {
                    l.set_nonblocking(true).expect("nonblocking");
                    listener = Some(l);
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        match l.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                let _ = std::thread::Builder::new()
                    .name("otlp-sink-conn".into())
                    .spawn(move || serve(stream, shared));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Serves one keep-alive connection until the client closes it or the sink goes down.
fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let generation = shared.generation.load(Ordering::SeqCst);
    let _ = stream.set_nonblocking(false);
    // A short read timeout lets the thread notice `Down` while the client idles.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let gone = |shared: &Shared| {
        shared.stop.load(Ordering::SeqCst) || shared.generation.load(Ordering::SeqCst) != generation
    };
    loop {
        // Request line and headers.
        let mut content_length: Option<usize> = None;
        let mut gzip = false;
        let mut path = String::new();
        let mut headers = Vec::new();
        let mut first = true;
        let mut line = String::new();
        loop {
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if gone(&shared) {
                        let _ = writer.shutdown(Shutdown::Both);
                        return;
                    }
                    // Partial lines stay in `line`; keep reading onto it.
                    continue;
                }
                Err(_) => return,
            }
            if !line.ends_with('\n') {
                continue;
            }
            let trimmed = line.trim_end();
            let end_of_headers = !first && trimmed.is_empty();
            if first {
                // The request line (blank lines before it are skipped).
                first = trimmed.is_empty();
                path = trimmed.split(' ').nth(1).unwrap_or("").to_owned();
            } else if let Some((name, value)) = trimmed.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().ok();
                }
                if name.trim().eq_ignore_ascii_case("content-encoding") {
                    gzip = value.trim().eq_ignore_ascii_case("gzip");
                }
            }
            line.clear();
            if end_of_headers {
                break;
            }
        }
        // A request with no body (a GET) is only answered by a responder.
        let Some(len) = content_length.or(shared.responder.as_ref().map(|_| 0)) else {
            let _ = writer.write_all(
                b"HTTP/1.1 411 Length Required\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            return;
        };
        let mut body = vec![0u8; len];
        let mut read = 0;
        while read < len {
            match reader.read(&mut body[read..]) {
                Ok(0) => return,
                Ok(n) => read += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if gone(&shared) {
                        let _ = writer.shutdown(Shutdown::Both);
                        return;
                    }
                }
                Err(_) => return,
            }
        }

        if let Some((status, json)) = shared.responder.as_ref().and_then(|r| r(&path, &body)) {
            shared.stats.lock().unwrap().recorded.push(Recorded {
                path: path.clone(),
                headers: headers.iter().cloned().collect(),
                body,
            });
            let answer = format!(
                "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                json.len()
            );
            if writer.write_all(answer.as_bytes()).is_err() {
                return;
            }
            let _ = writer.flush();
            continue;
        }
        {
            let mut stats = shared.stats.lock().unwrap();
            *stats.paths.entry(path.clone()).or_insert(0) += 1;
            stats.headers.extend(headers.iter().cloned());
        }
        let mode = *shared.mode.lock().unwrap();
        if mode == Mode::Down || gone(&shared) {
            // Cut the connection without an answer, like a collector that died mid-request.
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        if let Mode::Slow(delay) = mode {
            std::thread::sleep(delay);
        }
        if mode == Mode::BlackHole {
            {
                let mut stats = shared.stats.lock().unwrap();
                stats.requests += 1;
                let at = shared.started.elapsed();
                stats.arrivals.push((at, 0));
            }
            // Hold the request unanswered while the mode lasts, then cut the connection.
            while *shared.mode.lock().unwrap() == Mode::BlackHole && !gone(&shared) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        if path == "/v1/metrics" {
            // Counted by path only; answered 200 with an empty body.
            let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if writer.write_all(ok.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        if gzip {
            let mut plain = Vec::new();
            use std::io::Read as _;
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_ok()
            {
                body = plain;
            }
        }
        let names = span_names(&body);
        let ids = span_ids(&body).unwrap_or_default();
        let (status, retry_after) = match mode {
            Mode::Status(code) => (code, 0),
            Mode::RetryAfter(code, seconds) => (code, seconds),
            _ => (200, 0),
        };
        {
            let mut stats = shared.stats.lock().unwrap();
            stats.requests += 1;
            if shared.record {
                stats.recorded.push(Recorded {
                    path: std::mem::take(&mut path),
                    headers: headers.iter().cloned().collect(),
                    body: body.clone(),
                });
            }
            stats.gzip_requests += u64::from(gzip);
            let at = shared.started.elapsed();
            stats.arrivals.push((at, status));
            if status == 200 {
                for id in ids {
                    *stats.copies.entry(id.to_vec()).or_insert(0) += 1;
                }
            }
            stats.body_bytes += len as u64;
            let mut n = 0u64;
            match names {
                Some(names) => {
                    for name in names {
                        n += 1;
                        if status == 200 {
                            let name = String::from_utf8_lossy(name);
                            match stats.names.get_mut(name.as_ref()) {
                                Some(c) => *c += 1,
                                None => {
                                    stats.names.insert(name.into_owned(), 1);
                                }
                            }
                        }
                    }
                }
                None => stats.undecodable += 1,
            }
            if status == 200 {
                stats.accepted_requests += 1;
                stats.spans += n;
            } else {
                stats.rejected_requests += 1;
                stats.rejected_spans += n;
            }
        }
        shared.changed.notify_all();
        let response = if let Mode::Partial(rejected) = mode {
            // ExportTraceServiceResponse { partial_success { rejected_spans, error_message } }
            let message = b"over quota";
            let mut inner = vec![0x08];
            let mut v = rejected;
            while v >= 0x80 {
                inner.push(v as u8 | 0x80);
                v >>= 7;
            }
            inner.push(v as u8);
            inner.push(0x12);
            inner.push(message.len() as u8);
            inner.extend_from_slice(message);
            let mut body = vec![0x0a, inner.len() as u8];
            body.extend_from_slice(&inner);
            let mut answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            answer.extend_from_slice(&body);
            if writer.write_all(&answer).is_err() {
                return;
            }
            let _ = writer.flush();
            continue;
        } else if status == 200 {
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                .to_owned()
        } else {
            format!(
                "HTTP/1.1 {status} Unavailable\r\ncontent-type: application/x-protobuf\r\n\
                 retry-after: {retry_after}\r\ncontent-length: 0\r\n\r\n"
            )
        };
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
        let _ = writer.flush();
    }
}

/// Field `number` of every span in an `ExportTraceServiceRequest` (empty where a span lacks
/// it), or `None` if the body is not one.
///
/// A walk over the protobuf wire format (resource spans, scope spans, spans, the field),
/// checking every length on the way, without building the message: the sink shares the machine
/// with the pipeline it measures, and a full decode into owned structs cost as much per span as
/// the encoding did.
fn span_field(body: &[u8], number: u64) -> Option<Vec<&[u8]>> {
    let mut found = Vec::new();
    for (field, rs) in fields(body)? {
        if field != 1 {
            continue;
        }
        for (field, ss) in fields(rs?)? {
            if field != 2 {
                continue;
            }
            for (field, span) in fields(ss?)? {
                if field != 2 {
                    continue;
                }
                let mut value: &[u8] = b"";
                for (field, bytes) in fields(span?)? {
                    if field == number {
                        value = bytes?;
                    }
                }
                found.push(value);
            }
        }
    }
    Some(found)
}

/// The names of the spans in an `ExportTraceServiceRequest` (field 5 of a span).
fn span_names(body: &[u8]) -> Option<Vec<&[u8]>> {
    span_field(body, 5)
}

/// The span ids in an `ExportTraceServiceRequest` (field 2 of a span).
fn span_ids(body: &[u8]) -> Option<Vec<&[u8]>> {
    span_field(body, 2)
}

/// The span names in an `ExportTraceServiceRequest` body, or `None` if it is not one.
pub fn names_in(body: &[u8]) -> Option<Vec<String>> {
    span_names(body).map(|names| {
        names
            .into_iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    })
}

/// The fields of one message: number and, for length-delimited ones, the bytes (`None` for
/// numbers). `None` overall if the message is cut short or malformed.
#[allow(clippy::type_complexity)]
fn fields(mut bytes: &[u8]) -> Option<Vec<(u64, Option<&[u8]>)>> {
    fn varint(bytes: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = bytes.split_first()?;
            *bytes = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let value = match key & 7 {
            0 => {
                varint(&mut bytes)?;
                None
            }
            1 => {
                bytes = bytes.get(8..)?;
                None
            }
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = bytes.get(..len)?;
                bytes = &bytes[len..];
                Some(value)
            }
            5 => {
                bytes = bytes.get(4..)?;
                None
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

/// Peak resident set size of this process (`VmHWM`), in KiB; 0 where `/proc` is missing.
pub fn peak_rss_kib() -> u64 {
    proc_status_kib("VmHWM:")
}

/// Current resident set size (`VmRSS`), in KiB.
pub fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l[key.len()..]
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}
