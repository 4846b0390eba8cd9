//! The Prometheus scrape endpoint (feature `prometheus`): `GET /metrics` in the text
//! exposition format (version 0.0.4), served by one std thread from the layer's metric
//! pipeline.
//!
//! Names follow the OpenTelemetry-to-Prometheus compatibility rules: characters outside
//! `[a-zA-Z0-9_:]` become `_`, the unit is appended as a suffix (`s` -> `_seconds`, `By` ->
//! `_bytes`, annotations such as `{token}` add nothing, other units as written, e.g. `_USD`),
//! counters end in `_total`, histograms expose `_bucket{le=..}`, `_sum` and `_count`. Every
//! series carries `otel_scope_name` and `otel_scope_version`; the resource is `target_info`.
//!
//! | OpenTelemetry | Prometheus |
//! |---|---|
//! | `gen_ai.client.operation.duration` | `gen_ai_client_operation_duration_seconds_{bucket,sum,count}` |
//! | `gen_ai.client.token.usage` | `gen_ai_client_token_usage_{bucket,sum,count}` |
//! | `gen_ai.client.operation.time_to_first_chunk` | `gen_ai_client_operation_time_to_first_chunk_seconds_*` |
//! | `gen_ai.client.operation.time_per_output_chunk` | `gen_ai_client_operation_time_per_output_chunk_seconds_*` |
//! | `openinference.llm.calls` | `openinference_llm_calls_total` |
//! | `openinference.llm.tokens` | `openinference_llm_tokens_total` |
//! | `openinference.llm.cost` | `openinference_llm_cost_USD_total` |
//! | `openinference.tool.duration` | `openinference_tool_duration_seconds_*` |
//!
//! The server is bounded: requests are handled one at a time, a request head may be at most
//! [`MAX_REQUEST_BYTES`], reads and writes time out, and nothing in it panics the host.

use super::snapshot::{Family, FamilyKind, MetricsTap, PointValue, Snapshot};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest request head the server reads; larger requests get `431`.
pub(crate) const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long one request may take to arrive.
const READ_DEADLINE: Duration = Duration::from_secs(3);
/// How long writing one response may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the idle server checks whether it should stop.
const POLL: Duration = Duration::from_millis(25);

/// The content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Encoding

/// Replaces characters outside `[a-zA-Z0-9_:]` (`[a-zA-Z0-9_]` for labels) with `_`, collapses
/// runs of `_`, and prefixes a leading digit with `_`.
fn sanitize(raw: &str, colon_ok: bool) -> String {
    let mut out = String::with_capacity(raw.len() + 1);
    for c in raw.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (colon_ok && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The unit's Prometheus suffix, if any.
fn unit_suffix(unit: &str, kind: FamilyKind) -> Option<String> {
    // Annotations in braces (`{token}`) carry no unit.
    let mut plain = String::new();
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.trim();
    let word = match plain {
        "" => return None,
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "%" => "percent",
        "1" if kind == FamilyKind::Gauge => "ratio",
        "1" => return None,
        other => return Some(sanitize(other, false).trim_matches('_').to_owned()),
    };
    Some(word.to_owned())
}

/// The Prometheus name of a family (without the histogram series suffixes).
pub(crate) fn prometheus_name(name: &str, unit: &str, kind: FamilyKind) -> String {
    let mut out = sanitize(name, true);
    if let Some(suffix) = unit_suffix(unit, kind).filter(|s| !s.is_empty()) {
        if !out.ends_with(&format!("_{suffix}")) {
            out.push('_');
            out.push_str(&suffix);
        }
    }
    if kind == FamilyKind::Counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A number as Prometheus reads it.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Label pairs, sanitized and sorted by name; keys that collide after sanitizing have their
/// values joined by `;`.
fn labels(attributes: &[(String, String)], family: &Family) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(attributes.len() + 2);
    for (k, v) in attributes {
        let key = sanitize(k, false);
        match out.iter_mut().find(|(existing, _)| *existing == key) {
            Some((_, joined)) => {
                joined.push(';');
                joined.push_str(v);
            }
            None => out.push((key, v.clone())),
        }
    }
    out.push(("otel_scope_name".into(), family.scope_name.clone()));
    if let Some(version) = &family.scope_version {
        out.push(("otel_scope_version".into(), version.clone()));
    }
    // The SDK keeps attributes in no fixed order; scrapes should not differ by it.
    out.sort();
    out
}

fn series(out: &mut String, name: &str, labels: &[(String, String)], extra: Option<(&str, &str)>) {
    out.push_str(name);
    let all = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra);
    let mut first = true;
    for (k, v) in all {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
    out.push(' ');
}

struct Group<'a> {
    kind: FamilyKind,
    help: &'a str,
    families: Vec<&'a Family>,
}

/// The whole snapshot in the text exposition format: families sorted by name, one `# HELP`
/// and `# TYPE` each (families of the same name from several scopes are merged; a name
/// reused with another type keeps the first).
pub(crate) fn encode(snapshot: &Snapshot) -> String {
    let mut groups: BTreeMap<String, Group<'_>> = BTreeMap::new();
    for f in &snapshot.families {
        let name = prometheus_name(&f.name, &f.unit, f.kind);
        let g = groups.entry(name).or_insert_with(|| Group {
            kind: f.kind,
            help: &f.description,
            families: Vec::new(),
        });
        if g.kind == f.kind {
            g.families.push(f);
        }
    }
    let mut out = String::new();
    for (name, g) in &groups {
        let ty = match g.kind {
            FamilyKind::Counter => "counter",
            FamilyKind::Gauge => "gauge",
            FamilyKind::Histogram => "histogram",
        };
        if !g.help.is_empty() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(g.help));
        }
        let _ = writeln!(out, "# TYPE {name} {ty}");
        for f in &g.families {
            for p in &f.points {
                let labels = labels(&p.attributes, f);
                match &p.value {
                    PointValue::Number(v) => {
                        series(&mut out, name, &labels, None);
                        out.push_str(&number(*v));
                        out.push('\n');
                    }
                    PointValue::Histogram {
                        bounds,
                        counts,
                        sum,
                        count,
                        ..
                    } => {
                        let bucket = format!("{name}_bucket");
                        let mut cumulative = 0u64;
                        for (i, bound) in bounds.iter().enumerate() {
                            cumulative += counts.get(i).copied().unwrap_or(0);
                            let le = number(*bound);
                            series(&mut out, &bucket, &labels, Some(("le", &le)));
                            let _ = writeln!(out, "{cumulative}");
                        }
                        series(&mut out, &bucket, &labels, Some(("le", "+Inf")));
                        let _ = writeln!(out, "{count}");
                        series(&mut out, &format!("{name}_sum"), &labels, None);
                        let _ = writeln!(out, "{}", number(*sum));
                        series(&mut out, &format!("{name}_count"), &labels, None);
                        let _ = writeln!(out, "{count}");
                    }
                }
            }
        }
    }
    if !snapshot.resource.is_empty() {
        out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
        let mut resource: Vec<(String, String)> = Vec::new();
        for (k, v) in &snapshot.resource {
            resource.push((sanitize(k, false), v.clone()));
        }
        resource.sort();
        series(&mut out, "target_info", &resource, None);
        out.push_str("1\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Serving

/// The running endpoint. Stopped by [`PrometheusServer::stop`], or when dropped.
#[derive(Debug)]
pub(crate) struct PrometheusServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl PrometheusServer {
    /// Binds the first address of `addrs` that can be bound and starts serving `tap`.
    pub(crate) fn start(addrs: &[SocketAddr], tap: MetricsTap) -> io::Result<Self> {
        let listener = TcpListener::bind(addrs)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("openinference-prometheus".into())
            .spawn(move || serve(&listener, &tap, &flag))?;
        Ok(PrometheusServer {
            addr,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The address the endpoint listens on (with the port the OS chose for port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits up to `timeout` for the thread to finish. Idempotent.
    pub(crate) fn stop(&self, timeout: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + timeout;
        let mut slot = self.thread.lock();
        if let Some(thread) = slot.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(listener: &TcpListener, tap: &MetricsTap, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                // One request at a time; a panic in the SDK must not end the endpoint.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _ = handle(stream, tap);
                }));
            }
            // WouldBlock when idle; anything else (out of descriptors) is retried later.
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads the request head: up to the blank line, at most [`MAX_REQUEST_BYTES`], within
/// [`READ_DEADLINE`]. `Err(status)` when the client sent too much, too little or too slowly.
fn read_head(stream: &mut TcpStream) -> io::Result<Result<Vec<u8>, u16>> {
    let started = Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(Ok(buf));
        }
        if buf.len() >= MAX_REQUEST_BYTES {
            return Ok(Err(431));
        }
        let left = READ_DEADLINE.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Ok(Err(408));
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => return Ok(Err(400)),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(Err(408))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let room = MAX_REQUEST_BYTES + 4 - buf.len();
        buf.extend_from_slice(&chunk[..n.min(room)]);
    }
}

fn respond(stream: &mut TcpStream, status: u16, body: &str, head_only: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let content_type = if status == 200 {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 405 {
        response.push_str("Allow: GET, HEAD\r\n");
    }
    response.push_str("\r\n");
    let mut bytes = response.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&bytes)?;
    stream.flush()
}

fn handle(mut stream: TcpStream, tap: &MetricsTap) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let head = match read_head(&mut stream)? {
        Ok(head) => head,
        Err(status) => return respond(&mut stream, status, "bad request\n", false),
    };
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, "only GET and HEAD\n", false);
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    if path != "/metrics" {
        return respond(&mut stream, 404, "metrics are at /metrics\n", head_only);
    }
    match tap.snapshot() {
        Ok(snapshot) => respond(&mut stream, 200, &encode(&snapshot), head_only),
        Err(e) => respond(
            &mut stream,
            503,
            &format!("metrics unavailable: {e}\n"),
            head_only,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::snapshot::Point;

    #[test]
    fn names_follow_the_compatibility_rules() {
        use FamilyKind::*;
        let cases = [
            (
                "gen_ai.client.operation.duration",
                "s",
                Histogram,
                "gen_ai_client_operation_duration_seconds",
            ),
            (
                "gen_ai.client.token.usage",
                "{token}",
                Histogram,
                "gen_ai_client_token_usage",
            ),
            (
                "openinference.llm.cost",
                "USD",
                Counter,
                "openinference_llm_cost_USD_total",
            ),
            (
                "openinference.llm.calls",
                "{call}",
                Counter,
                "openinference_llm_calls_total",
            ),
            (
                "openinference.spans.exported",
                "{span}",
                Counter,
                "openinference_spans_exported_total",
            ),
            (
                "openinference.buffer.bytes",
                "By",
                Gauge,
                "openinference_buffer_bytes",
            ),
            ("already_total", "", Counter, "already_total"),
            ("ratio", "1", Gauge, "ratio_ratio"),
            ("9lives..x", "1", Counter, "_9lives_x_total"),
            ("a-b/c", "ms", Gauge, "a_b_c_milliseconds"),
        ];
        for (name, unit, kind, expected) in cases {
            assert_eq!(
                prometheus_name(name, unit, kind),
                expected,
                "{name} [{unit}]"
            );
        }
    }

    #[test]
    fn encodes_counters_histograms_and_target_info() {
        let family = |name: &str, unit: &str, kind, points| Family {
            name: name.into(),
            description: "line one\nback\\slash".into(),
            unit: unit.into(),
            scope_name: "s".into(),
            scope_version: Some("1".into()),
            kind,
            points,
        };
        let snap = Snapshot {
            resource: vec![("service.name".into(), "bot".into())],
            families: vec![
                family(
                    "x.calls",
                    "{call}",
                    FamilyKind::Counter,
                    vec![Point {
                        attributes: vec![
                            ("model.name".into(), "a\"b\\c\nd".into()),
                            ("model_name".into(), "second".into()),
                        ],
                        value: PointValue::Number(3.0),
                    }],
                ),
                family(
                    "x.duration",
                    "s",
                    FamilyKind::Histogram,
                    vec![Point {
                        attributes: vec![],
                        value: PointValue::Histogram {
                            bounds: vec![0.5, 1.0],
                            counts: vec![1, 0, 2],
                            sum: 4.25,
                            count: 3,
                            min: None,
                            max: None,
                        },
                    }],
                ),
            ],
        };
        let expected = r#"# HELP x_calls_total line one\nback\\slash
# TYPE x_calls_total counter
x_calls_total{model_name="a\"b\\c\nd;second",otel_scope_name="s",otel_scope_version="1"} 3
# HELP x_duration_seconds line one\nback\\slash
# TYPE x_duration_seconds histogram
x_duration_seconds_bucket{otel_scope_name="s",otel_scope_version="1",le="0.5"} 1
x_duration_seconds_bucket{otel_scope_name="s",otel_scope_version="1",le="1"} 1
x_duration_seconds_bucket{otel_scope_name="s",otel_scope_version="1",le="+Inf"} 3
x_duration_seconds_sum{otel_scope_name="s",otel_scope_version="1"} 4.25
x_duration_seconds_count{otel_scope_name="s",otel_scope_version="1"} 3
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_name="bot"} 1
"#;
        assert_eq!(encode(&snap), expected);
    }

    #[test]
    fn numbers_read_as_prometheus_floats() {
        assert_eq!(number(0.01), "0.01");
        assert_eq!(number(67108864.0), "67108864");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
