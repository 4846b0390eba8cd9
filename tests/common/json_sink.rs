//! A loopback HTTP server that records every request (method, path, headers, body, time) and
//! answers each as a test's responder says: for the JSON endpoints of Phoenix and Langfuse,
//! next to the OTLP path of the same host.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {:?}", self.path, self.body))
    }
}

/// An answer: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);
/// Chooses the answer to a request, given how many earlier requests had the same path.
pub type Responder = Arc<dyn Fn(&Request, usize) -> Answer + Send + Sync>;

/// The sink. Dropping it stops the accept thread.
pub struct JsonSink {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

/// Answers every request 200 with an empty body.
pub fn ok() -> Responder {
    Arc::new(|_, _| (200, Vec::new(), String::new()))
}

impl JsonSink {
    /// Starts a sink on an ephemeral loopback port.
    pub fn start(responder: Responder) -> JsonSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let requests = Arc::clone(&requests);
                            let responder = Arc::clone(&responder);
                            std::thread::spawn(move || serve(stream, &requests, &*responder));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        JsonSink {
            addr,
            requests,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests whose path starts with `prefix`.
    pub fn to(&self, prefix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }
}

impl Drop for JsonSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Serves one keep-alive connection of `Content-Length` requests.
fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    responder: &(dyn Fn(&Request, usize) -> Answer + Send + Sync),
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        let mut request_line = None;
        let mut headers = Vec::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let t = line.trim_end();
            if t.is_empty() {
                if request_line.is_some() {
                    break;
                }
                continue;
            }
            if request_line.is_none() {
                request_line = Some(t.to_owned());
            } else if let Some((name, value)) = t.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let request_line = request_line.unwrap_or_default();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0usize);
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method,
            path,
            headers,
            body,
            at: Instant::now(),
        };
        let earlier = {
            let mut all = requests.lock().unwrap();
            let earlier = all.iter().filter(|r| r.path == request.path).count();
            all.push(request.clone());
            earlier
        };
        let (status, extra, body) = responder(&request, earlier);
        let mut answer = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in extra {
            answer.push_str(&format!("{k}: {v}\r\n"));
        }
        answer.push_str("\r\n");
        answer.push_str(&body);
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}
