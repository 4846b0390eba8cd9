//! A loopback OTLP/HTTP collector behind TLS, with a self-signed certificate made at start
//! (so no key or certificate is committed, and none expires): it answers every
//! `POST /v1/traces` with 200 and records the span names it got.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The collector. Dropping it stops the accept thread.
pub struct TlsSink {
    addr: SocketAddr,
    /// The certificate clients must trust, PEM.
    pub certificate_pem: String,
    names: Arc<Mutex<Vec<String>>>,
    handshake_failures: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl TlsSink {
    /// Starts a collector for `localhost` on an ephemeral loopback port.
    pub fn start() -> TlsSink {
        let key = rcgen::KeyPair::generate().expect("key pair");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .expect("certificate parameters");
        let cert = params.self_signed(&key).expect("self-signed certificate");
        let certificate_pem = cert.pem();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .expect("server config");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let names = Arc::new(Mutex::new(Vec::new()));
        let handshake_failures = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (names, failures, stop) = (
                Arc::clone(&names),
                Arc::clone(&handshake_failures),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let (config, names, failures) = (
                                Arc::clone(&config),
                                Arc::clone(&names),
                                Arc::clone(&failures),
                            );
                            std::thread::spawn(move || serve(tcp, config, names, failures));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        TlsSink {
            addr,
            certificate_pem,
            names,
            handshake_failures,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// The base URL (`https://localhost:<port>`).
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// The span names received so far.
    pub fn names(&self) -> Vec<String> {
        self.names.lock().unwrap().clone()
    }

    /// Connections whose TLS handshake failed (a client that did not trust the certificate).
    pub fn handshake_failures(&self) -> u64 {
        *self.handshake_failures.lock().unwrap()
    }
}

impl Drop for TlsSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    names: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<u64>>,
) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            *failures.lock().unwrap() += 1;
            return;
        }
    }
    let mut reader = BufReader::new(tls);
    loop {
        let mut length = None;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((k, v)) = trimmed.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
        }
        let mut body = vec![0; length.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Some(got) = super::otlp_sink::names_in(&body) {
            names.lock().unwrap().extend(got);
        }
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        let stream = reader.get_mut();
        if stream.write_all(answer.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
    }
}
