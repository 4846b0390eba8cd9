//! A loopback OTLP/HTTP collector that keeps the raw bytes of every request body it receives,
//! for tests that search what actually left the process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The most body bytes kept; later bodies are answered but not kept.
const MAX_KEPT: usize = 64 << 20;

/// The sink. Dropping it stops the accept thread.
pub struct RawSink {
    addr: std::net::SocketAddr,
    bodies: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawSink {
    /// Starts a sink on an ephemeral loopback port that answers every request 200.
    pub fn start() -> RawSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (bodies, stop) = (Arc::clone(&bodies), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let bodies = Arc::clone(&bodies);
                            std::thread::spawn(move || serve(stream, &bodies));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        RawSink {
            addr,
            bodies,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// The base URL for `with_otlp_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request body received so far, one after the other.
    pub fn bytes(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for RawSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Serves one keep-alive connection: `Content-Length` bodies, answered 200 with an empty body.
fn serve(stream: TcpStream, bodies: &Mutex<Vec<u8>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut started = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let t = line.trim_end();
            if t.is_empty() {
                if started {
                    break;
                }
                continue;
            }
            started = true;
            if let Some((name, value)) = t.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        {
            let mut kept = bodies.lock().unwrap();
            if kept.len() + body.len() <= MAX_KEPT {
                kept.extend_from_slice(&body);
            }
        }
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
