//! The Prometheus endpoint: a known workload, scraped over loopback with a plain TcpStream.
#![cfg(feature = "prometheus")]

mod common;
use common::quiet_builder;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tracing_openinference::pricing::{ModelPrice, PriceTable};
use tracing_openinference::{BuildError, LlmHandle, LlmLayer, LlmLayerBuilder, LlmSpanExt};
use tracing_subscriber::prelude::*;

const SCOPE: &str = concat!(
    "otel_scope_name=\"tracing-openinference\",otel_scope_version=\"",
    env!("CARGO_PKG_VERSION"),
    "\""
);

/// Sends `request` raw and returns (status line, headers+body text).
fn raw(addr: SocketAddr, request: &[u8]) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read response");
    let text = String::from_utf8(out).expect("utf-8 response");
    let status = text.lines().next().unwrap_or("").to_owned();
    (status, text)
}

fn get(addr: SocketAddr, path: &str) -> (String, String) {
    raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
}

/// The exposition body as `series -> value`, checking the response head on the way.
fn scrape(addr: SocketAddr) -> (String, HashMap<String, f64>) {
    let (status, text) = get(addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    let mut series = HashMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect("series and value");
        let value: f64 = value.parse().expect("a float value");
        assert!(
            series.insert(name.to_owned(), value).is_none(),
            "duplicate series {name}"
        );
    }
    (body.to_owned(), series)
}

fn value(series: &HashMap<String, f64>, key: &str) -> f64 {
    *series.get(key).unwrap_or_else(|| {
        let mut keys: Vec<_> = series.keys().collect();
        keys.sort();
        panic!("no series {key}; have:\n{keys:#?}")
    })
}

fn workload() {
    for i in 0..3u64 {
        tracing::info_span!(
            "chat",
            llm.model_name = "gpt-4o",
            llm.provider = "openai",
            llm.token_count.prompt = 100,
            llm.token_count.completion = 20 + i,
            llm.token_count.prompt_details.cache_read = 50,
        )
        .in_scope(|| {});
    }
    tracing::info_span!("chat", llm.model_name = "gpt-4o", llm.provider = "openai")
        .in_scope(|| tracing::error!(error.type = "RateLimited", "429"));
    let stream = tracing::info_span!(
        "stream",
        llm.model_name = "claude-sonnet-4",
        llm.provider = "anthropic"
    );
    stream.in_scope(|| {
        std::thread::sleep(Duration::from_millis(30));
        stream.mark_first_chunk().unwrap();
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(5));
            stream.mark_chunk().unwrap();
        }
    });
    drop(stream);
    tracing::info_span!("tool", tool.name = "search").in_scope(|| {});
}

fn layer_on_loopback() -> (LlmLayer<tracing_subscriber::Registry>, SocketAddr) {
    let layer: LlmLayer<_> = quiet_builder()
        .with_price_table(PriceTable::empty().with_price("gpt-4o", ModelPrice::new(2.0, 8.0)))
        .with_prometheus_endpoint("127.0.0.1:0")
        .try_build()
        .expect("endpoint binds");
    let addr = layer.handle().prometheus_addr().expect("endpoint on");
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    (layer, addr)
}

fn run(layer: LlmLayer<tracing_subscriber::Registry>) -> LlmHandle {
    let handle = layer.handle();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), workload);
    handle
}

#[test]
fn known_workload_scrapes_to_exact_series() {
    let (layer, addr) = layer_on_loopback();
    let handle = run(layer);
    let (body, s) = scrape(addr);

    let chat = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\"";
    let d = "gen_ai_client_operation_duration_seconds";
    assert_eq!(value(&s, &format!("{d}_count{{{chat},{SCOPE}}}")), 3.0);
    assert_eq!(
        value(
            &s,
            &format!("{d}_count{{error_type=\"RateLimited\",{chat},{SCOPE}}}")
        ),
        1.0
    );
    assert_eq!(
        value(&s, &format!("{d}_bucket{{{chat},{SCOPE},le=\"+Inf\"}}")),
        3.0
    );
    // Every documented duration boundary is a bucket, cumulative and ending at the count.
    let mut last = 0.0;
    for le in [
        "0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "10.24",
        "20.48", "40.96", "81.92",
    ] {
        let v = value(&s, &format!("{d}_bucket{{{chat},{SCOPE},le=\"{le}\"}}"));
        assert!(v >= last && v <= 3.0, "le={le}: {v}");
        last = v;
    }
    assert!(value(&s, &format!("{d}_sum{{{chat},{SCOPE}}}")) >= 0.0);

    let t = "gen_ai_client_token_usage";
    let input = format!("{chat},gen_ai_token_type=\"input\"");
    let output = format!("{chat},gen_ai_token_type=\"output\"");
    assert_eq!(value(&s, &format!("{t}_sum{{{input},{SCOPE}}}")), 300.0);
    assert_eq!(value(&s, &format!("{t}_count{{{input},{SCOPE}}}")), 3.0);
    assert_eq!(value(&s, &format!("{t}_sum{{{output},{SCOPE}}}")), 63.0);
    // Token boundaries: 100 and 20..22 tokens fall in (64, 256] and (16, 64].
    assert_eq!(
        value(&s, &format!("{t}_bucket{{{input},{SCOPE},le=\"64\"}}")),
        0.0
    );
    assert_eq!(
        value(&s, &format!("{t}_bucket{{{input},{SCOPE},le=\"256\"}}")),
        3.0
    );
    assert_eq!(
        value(&s, &format!("{t}_bucket{{{output},{SCOPE},le=\"64\"}}")),
        3.0
    );
    assert_eq!(
        value(
            &s,
            &format!("{t}_bucket{{{output},{SCOPE},le=\"67108864\"}}")
        ),
        3.0
    );

    let tokens = "openinference_llm_tokens_total{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\"";
    assert_eq!(
        value(
            &s,
            &format!("{tokens},gen_ai_token_type=\"cache_read\",{SCOPE}}}")
        ),
        150.0
    );
    assert_eq!(
        value(
            &s,
            &format!("{tokens},gen_ai_token_type=\"input\",{SCOPE}}}")
        ),
        300.0
    );
    assert_eq!(
        value(
            &s,
            &format!("openinference_llm_calls_total{{{chat},{SCOPE}}}")
        ),
        3.0
    );
    assert_eq!(
        value(
            &s,
            &format!("openinference_llm_calls_total{{error_type=\"RateLimited\",{chat},{SCOPE}}}")
        ),
        1.0
    );
    // 3 x (100 input x $2 + 20..22 output x $8) per million tokens.
    let cost = value(
        &s,
        &format!("openinference_llm_cost_USD_total{{{chat},{SCOPE}}}"),
    );
    assert!(
        (cost - 3.0 * 100.0 * 2e-6 - 63.0 * 8e-6).abs() < 1e-12,
        "{cost}"
    );

    let ttfc = "gen_ai_client_operation_time_to_first_chunk_seconds_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"anthropic\",gen_ai_request_model=\"claude-sonnet-4\"";
    assert_eq!(value(&s, &format!("{ttfc},{SCOPE}}}")), 1.0);
    let per_chunk = ttfc.replace("time_to_first_chunk", "time_per_output_chunk");
    assert_eq!(value(&s, &format!("{per_chunk},{SCOPE}}}")), 2.0);
    assert_eq!(
        value(
            &s,
            &format!(
                "openinference_tool_duration_seconds_count{{gen_ai_tool_name=\"search\",{SCOPE}}}"
            )
        ),
        1.0
    );
    assert!(body.contains("# TYPE gen_ai_client_operation_duration_seconds histogram\n"));
    assert!(body.contains("# TYPE openinference_llm_calls_total counter\n"));
    assert!(body.contains("\ntarget_info{"), "{body}");

    handle.shutdown(Duration::from_secs(5)).unwrap();
    // The endpoint is gone after shutdown.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn counts_accumulate_between_scrapes() {
    let (layer, addr) = layer_on_loopback();
    let handle = layer.handle();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let key = format!("openinference_llm_calls_total{{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"gpt-4o\",{SCOPE}}}");
    tracing::dispatcher::with_default(&dispatch, workload);
    assert_eq!(value(&scrape(addr).1, &key), 3.0);
    tracing::dispatcher::with_default(&dispatch, workload);
    assert_eq!(value(&scrape(addr).1, &key), 6.0);
    handle.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn http_edges_are_answered_not_hung() {
    let (layer, addr) = layer_on_loopback();
    assert_eq!(get(addr, "/").0, "HTTP/1.1 404 Not Found");
    assert_eq!(get(addr, "/metrics?x=1").0, "HTTP/1.1 200 OK");
    let (status, text) = raw(addr, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(text.contains("Allow: GET, HEAD"));
    let (status, text) = raw(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(text.ends_with("\r\n\r\n"), "HEAD has no body");
    let huge = format!(
        "GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(huge.as_bytes());
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply:.80}");
    // A client that connects and says nothing is timed out; the next one is served.
    let idle = TcpStream::connect(addr).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(get(addr, "/metrics").0, "HTTP/1.1 200 OK");
    assert!(started.elapsed() < Duration::from_secs(8));
    drop(idle);
    layer.handle().shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn address_in_use_fails_try_build_and_build_goes_on() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = quiet_builder()
        .with_prometheus_endpoint(addr)
        .try_build::<tracing_subscriber::Registry>()
        .unwrap_err();
    assert!(
        matches!(&err, BuildError::Exporter(m) if m.contains("Prometheus endpoint") && m.contains(&addr.to_string())),
        "{err:?}"
    );
    let layer: LlmLayer<tracing_subscriber::Registry> =
        quiet_builder().with_prometheus_endpoint(addr).build();
    assert_eq!(layer.handle().prometheus_addr(), None);
    layer.handle().shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn environment_turns_the_endpoint_on() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let vars = move |k: &str| match k {
        "OTEL_METRICS_EXPORTER" => Some("prometheus".to_owned()),
        "OTEL_EXPORTER_PROMETHEUS_HOST" => Some("127.0.0.1".to_owned()),
        "OTEL_EXPORTER_PROMETHEUS_PORT" => Some(port.to_string()),
        _ => None,
    };
    let layer: LlmLayer<tracing_subscriber::Registry> = LlmLayerBuilder::from_env_with(vars)
        .with_console_exporter(false)
        .try_build()
        .unwrap();
    let addr = layer.handle().prometheus_addr().unwrap();
    assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], port)));
    let handle = run(layer);
    let (_, s) = scrape(addr);
    assert!(s
        .keys()
        .any(|k| k.starts_with("openinference_llm_calls_total{")));
    handle.shutdown(Duration::from_secs(5)).unwrap();

    let bad = LlmLayerBuilder::from_env_with(|k: &str| match k {
        "OTEL_METRICS_EXPORTER" => Some("prometheus".to_owned()),
        "OTEL_EXPORTER_PROMETHEUS_PORT" => Some("not-a-port".to_owned()),
        _ => None,
    })
    .with_console_exporter(false)
    .try_build::<tracing_subscriber::Registry>()
    .unwrap_err();
    assert!(
        matches!(bad, BuildError::InvalidValue { ref var, .. } if var == "OTEL_EXPORTER_PROMETHEUS_PORT")
    );
}
