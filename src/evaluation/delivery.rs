//! [`HttpSink`]: annotations posted to Phoenix or Langfuse from a sending thread of their own
//! ("openinference-annotations"), started with the first annotation.
//!
//! The calling thread only pushes the annotation on a bounded queue ([`QUEUE`]); a full queue
//! drops it and counts it. The sending thread posts what waits, in order: Phoenix takes up
//! to [`BATCH`] annotations a request, Langfuse one score. It uses the OTLP export's headers
//! (authorization included), TLS roots and timeout, and retries the same failures (no
//! connection, a timeout, 408, 429, 502, 503, 504) with the same backoff: 250 ms doubling to
//! 0.9 s with jitter, or the collector's longer `Retry-After` (up to 30 s). Both backends
//! replace an annotation sent twice rather than store it twice (Phoenix upserts on target,
//! name and identifier; Langfuse on the score id), so a request that timed out is retried.
//! A fresh annotation waits [`HOLD`] (the span batch delay) before it is posted, unless a
//! flush comes first, so that it usually follows the span it is about.
//! Past [`MAX_WAITING`] waiting annotations the oldest are dropped and counted. A refusal
//! that will not change (another 4xx) drops and counts the request's annotations.

use super::model::{AnnotateError, Annotation, AnnotationTarget};
use super::{langfuse, phoenix};
use crate::error::BuildError;
use crate::export::OtlpTarget;
use crate::pipeline::outbound::{FIRST_BACKOFF, MAX_BACKOFF, MAX_RETRY_AFTER};
use crate::pipeline::outcome::{parse_retry_after, ExportError};
use crate::pipeline::stats::{AnnotationDrop, PipelineStats};
use crate::privacy::{KeyPlans, Privacy};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Most annotations waiting for the sending thread.
const QUEUE: usize = 1_024;
/// Most annotations the sending thread keeps for a collector that refuses them.
const MAX_WAITING: usize = 4_096;
/// Most annotations in one Phoenix request.
const BATCH: usize = 100;
/// How often a request in progress checks whether it was abandoned.
const CANCEL_CHECK: Duration = Duration::from_millis(20);
/// How long the sending thread goes on after the last handle is dropped without a shutdown.
const DROP_WAIT: Duration = Duration::from_millis(700);
/// How long a fresh annotation waits before it is posted (a flush does not wait): the span
/// export's batch delay, so that the span an annotation is about usually reaches the
/// collector first.
const HOLD: Duration = Duration::from_millis(1_000);

/// Where annotations are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Phoenix at this base URL.
    Phoenix(String),
    /// Langfuse at this base URL.
    Langfuse(String),
}

/// What the calling side hands the sending thread.
enum Message {
    Annotation(Annotation),
    /// Send everything waiting until the deadline; answer whether nothing is left.
    Flush(SyncSender<bool>, Instant),
    /// As `Flush`, then drop what is left and stop.
    Shutdown(SyncSender<bool>, Instant),
}

/// The calling side: the queue, and the sending thread once started.
#[derive(Debug)]
pub(crate) struct HttpSink {
    tx: SyncSender<Message>,
    /// What the sending thread starts with, until it starts.
    unstarted: Mutex<Option<(Receiver<Message>, Poster)>>,
    started: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
    shut_down: AtomicBool,
    /// Set to abandon the request in progress (a shutdown's deadline passed).
    cancel: Arc<AtomicBool>,
    stats: Arc<PipelineStats>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Annotation(_) => "Annotation",
            Message::Flush(..) => "Flush",
            Message::Shutdown(..) => "Shutdown",
        })
    }
}

/// How and where requests are made.
#[derive(Debug)]
struct Poster {
    client: reqwest::Client,
    headers: reqwest::header::HeaderMap,
    destination: Destination,
    /// The spans' privacy settings, applied to each annotation's texts.
    privacy: Privacy,
}

impl HttpSink {
    /// A sink posting to `destination` with the client settings and headers of `target`.
    pub(crate) fn new(
        destination: Destination,
        target: &OtlpTarget,
        stats: Arc<PipelineStats>,
        privacy: Privacy,
    ) -> Result<HttpSink, BuildError> {
        let headers = crate::export::transport::header_map(target, "application/json")?;
        let poster = Poster {
            client: crate::export::transport::async_client(target)?,
            headers,
            destination,
            privacy,
        };
        let (tx, rx) = sync_channel(QUEUE);
        Ok(HttpSink {
            tx,
            unstarted: Mutex::new(Some((rx, poster))),
            started: AtomicBool::new(false),
            thread: Mutex::new(None),
            shut_down: AtomicBool::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            stats,
        })
    }

    /// Where annotations go.
    #[cfg(test)]
    pub(crate) fn destination(&self) -> Option<Destination> {
        self.unstarted
            .lock()
            .as_ref()
            .map(|(_, p)| p.destination.clone())
    }

    /// Queues `a` for the sending thread; never blocks.
    pub(crate) fn submit(&self, a: Annotation) -> Result<(), AnnotateError> {
        if self.shut_down.load(Ordering::Relaxed) {
            let why = "annotated after shutdown";
            self.stats
                .annotations
                .dropped(AnnotationDrop::Shutdown, 1, why);
            return Err(AnnotateError::ShutDown);
        }
        self.start();
        match self.tx.try_send(Message::Annotation(a)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                let why = "the annotation queue is full: is the collector slow or down?";
                self.stats
                    .annotations
                    .dropped(AnnotationDrop::QueueFull, 1, why);
                Err(AnnotateError::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => Err(AnnotateError::ShutDown),
        }
    }

    /// Starts the sending thread, once.
    fn start(&self) {
        if self.started.load(Ordering::Acquire) {
            return;
        }
        let mut unstarted = self.unstarted.lock();
        if let Some((rx, poster)) = unstarted.take() {
            let sender = Sender {
                poster,
                waiting: VecDeque::new(),
                backoff: Backoff::default(),
                stats: Arc::clone(&self.stats),
                cancel: Arc::clone(&self.cancel),
                plans: KeyPlans::default(),
            };
            match std::thread::Builder::new()
                .name("openinference-annotations".into())
                .spawn(move || sender.run(rx))
            {
                Ok(handle) => *self.thread.lock() = Some(handle),
                Err(e) => crate::error::warn_once(&format!(
                    "could not start the annotation thread ({e}); annotations are dropped"
                )),
            }
        }
        self.started.store(true, Ordering::Release);
    }

    /// Sends everything queued, waiting at most until `deadline`.
    pub(crate) fn flush(&self, deadline: Instant) -> Result<(), String> {
        if !self.started.load(Ordering::Acquire) {
            return Ok(());
        }
        self.request(Message::Flush, deadline)
    }

    /// Sends everything queued until `deadline`, drops (and counts) the rest, and stops.
    pub(crate) fn shutdown(&self, deadline: Instant) -> Result<(), String> {
        if self.shut_down.swap(true, Ordering::Relaxed) || !self.started.load(Ordering::Acquire) {
            return Ok(());
        }
        let result = self.request(Message::Shutdown, deadline);
        if result.is_ok() {
            if let Some(thread) = self.thread.lock().take() {
                let _ = thread.join();
            }
        } else {
            self.cancel.store(true, Ordering::Relaxed);
        }
        result
    }

    fn request(
        &self,
        make: fn(SyncSender<bool>, Instant) -> Message,
        deadline: Instant,
    ) -> Result<(), String> {
        let (ack, answer) = sync_channel(1);
        let mut message = make(ack, deadline);
        loop {
            match self.tx.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return Ok(()),
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    message = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return Err("annotations: timed out".into()),
            }
        }
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(true) => Ok(()),
            Ok(false) => Err("annotations wait for a collector that refuses them".into()),
            Err(RecvTimeoutError::Timeout) => Err("annotations: timed out".into()),
            Err(RecvTimeoutError::Disconnected) => Ok(()),
        }
    }
}

/// The wait between attempts after failures (the span export's rules).
#[derive(Debug)]
struct Backoff {
    not_before: Option<Instant>,
    current: Duration,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            not_before: None,
            current: Duration::ZERO,
            seed: 0x2545_F491_4F6C_DD1D,
        }
    }
}

impl Backoff {
    /// How long until the next attempt may be made.
    fn left(&self) -> Duration {
        self.not_before.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    fn succeeded(&mut self) {
        self.not_before = None;
        self.current = Duration::ZERO;
    }

    fn failed(&mut self, retry_after: Option<Duration>) {
        self.current = if self.current.is_zero() {
            FIRST_BACKOFF
        } else {
            (self.current * 2).min(MAX_BACKOFF)
        };
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let tenth = self.current.as_millis() as u64 / 10 + 1;
        let backoff = self.current + Duration::from_millis(self.seed % tenth);
        let wait = match retry_after {
            Some(asked) => asked.min(MAX_RETRY_AFTER).max(backoff),
            None => backoff,
        };
        self.not_before = Some(Instant::now() + wait);
    }
}

/// An annotation waiting, with the Langfuse score id it keeps across retries.
struct Pending {
    annotation: Annotation,
    score_id: String,
    /// Not posted before this, but by a flush.
    not_before: Instant,
}

/// The sending thread's state.
struct Sender {
    poster: Poster,
    waiting: VecDeque<Pending>,
    backoff: Backoff,
    stats: Arc<PipelineStats>,
    cancel: Arc<AtomicBool>,
    plans: KeyPlans,
}

impl Sender {
    fn run(mut self, rx: Receiver<Message>) {
        // The HTTP client's own telemetry is not recorded.
        let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("openinference-annotations-io")
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                crate::error::warn_once(&format!("no runtime for annotations: {e}"));
                return;
            }
        };
        loop {
            let first = match self.due_in() {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(wait) => rx.recv_timeout(wait),
            };
            let mut next = match first {
                Ok(message) => Some(message),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.drive(&runtime, Instant::now() + DROP_WAIT);
                    self.drop_waiting("the pipeline was dropped without a shutdown");
                    return;
                }
            };
            while let Some(message) = next {
                match message {
                    Message::Annotation(a) => self.push(a),
                    Message::Flush(ack, deadline) => {
                        let _ = ack.send(self.drive(&runtime, deadline));
                    }
                    Message::Shutdown(ack, deadline) => {
                        let done = self.drive(&runtime, deadline);
                        self.drop_waiting("the collector did not take them before shutdown");
                        let _ = ack.send(done);
                        return;
                    }
                }
                next = rx.try_recv().ok();
            }
            // Sends while the collector takes them and the oldest is due.
            while self.due_in() == Some(Duration::ZERO) {
                if !self.attempt(&runtime, None) {
                    break;
                }
            }
        }
    }

    /// How long until the oldest waiting annotation may be posted; `None` when none waits.
    fn due_in(&self) -> Option<Duration> {
        let front = self.waiting.front()?;
        let held = front.not_before.saturating_duration_since(Instant::now());
        Some(held.max(self.backoff.left()))
    }

    fn push(&mut self, annotation: Annotation) {
        let annotation = super::masking::cleaned(annotation, &self.poster.privacy, &mut self.plans);
        let score_id = match &self.poster.destination {
            Destination::Langfuse(_) => langfuse::score_id(&annotation, random_u64),
            Destination::Phoenix(_) => String::new(),
        };
        self.waiting.push_back(Pending {
            annotation,
            score_id,
            not_before: Instant::now() + HOLD,
        });
        if self.waiting.len() > MAX_WAITING {
            self.waiting.pop_front();
            self.stats.annotations.dropped(
                AnnotationDrop::RetryFull,
                1,
                "the collector is down and the annotations waiting for it outgrew their bound",
            );
        }
    }

    /// Sends what waits until nothing does (`true`) or `deadline` passes, honouring backoff.
    fn drive(&mut self, runtime: &tokio::runtime::Runtime, deadline: Instant) -> bool {
        while !self.waiting.is_empty() {
            let wait = self.backoff.left();
            if Instant::now() + wait >= deadline {
                return false;
            }
            std::thread::sleep(wait);
            self.attempt(runtime, Some(deadline));
        }
        true
    }

    fn drop_waiting(&mut self, why: &str) {
        let n = self.waiting.len() as u64;
        self.waiting.clear();
        self.stats
            .annotations
            .dropped(AnnotationDrop::Shutdown, n, why);
    }

    /// Makes one request with the oldest waiting annotations; whether the collector is
    /// taking requests (`false` after a passing failure: they wait for the next attempt).
    fn attempt(&mut self, runtime: &tokio::runtime::Runtime, deadline: Option<Instant>) -> bool {
        let Some((url, body, n)) = self.next_request() else {
            return true;
        };
        let request = self
            .poster
            .client
            .post(url)
            .headers(self.poster.headers.clone())
            .body(body);
        let result = runtime.block_on(send(request, &self.cancel, deadline));
        match result {
            Ok(()) => {
                self.backoff.succeeded();
                self.waiting.drain(..n);
                self.stats
                    .annotations
                    .delivered
                    .fetch_add(n as u64, Ordering::Relaxed);
                true
            }
            Err(e) if e.retryable() => {
                self.stats.annotations.warn_retrying(&e.to_string());
                self.backoff.failed(e.retry_after());
                false
            }
            Err(e) => {
                self.waiting.drain(..n);
                let why = e.to_string();
                self.stats
                    .annotations
                    .dropped(AnnotationDrop::ExportFailed, n as u64, &why);
                true
            }
        }
    }

    /// The URL, body and number of annotations of the next request; what cannot be sent
    /// to this destination is dropped and counted on the way.
    fn next_request(&mut self) -> Option<(String, Vec<u8>, usize)> {
        loop {
            let front = self.waiting.front()?;
            match &self.poster.destination {
                Destination::Phoenix(base) => {
                    let span = matches!(front.annotation.target, AnnotationTarget::Span { .. });
                    let n = self
                        .waiting
                        .iter()
                        .take(BATCH)
                        .take_while(|p| {
                            matches!(p.annotation.target, AnnotationTarget::Span { .. }) == span
                        })
                        .count();
                    let body = phoenix::body(self.waiting.iter().take(n).map(|p| &p.annotation));
                    return Some((phoenix::endpoint(base, span), body, n));
                }
                Destination::Langfuse(base) => {
                    match langfuse::body(&front.annotation, &front.score_id) {
                        Ok(body) => return Some((langfuse::endpoint(base), body, 1)),
                        Err(langfuse::NoValue) => {
                            self.waiting.pop_front();
                            self.stats.annotations.dropped(
                                AnnotationDrop::ExportFailed,
                                1,
                                "a Langfuse score needs a score or a label, not only an explanation",
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A random 64-bit value (for score ids): the standard library's randomly keyed hasher.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Sends one request and reads its status; gives up when `cancel` is set or `deadline`
/// passes.
async fn send(
    request: reqwest::RequestBuilder,
    cancel: &AtomicBool,
    deadline: Option<Instant>,
) -> Result<(), ExportError> {
    let exchange = async {
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                ExportError::Timeout
            } else if e.is_connect() {
                ExportError::Unreachable(e.to_string())
            } else {
                ExportError::Network(e.to_string())
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let text = response.text().await.unwrap_or_default();
        Err(ExportError::Status {
            code: status.as_u16(),
            retry_after,
            message: text.chars().take(200).collect(),
        })
    };
    let mut exchange = std::pin::pin!(exchange);
    loop {
        match tokio::time::timeout(CANCEL_CHECK, &mut exchange).await {
            Ok(result) => return result,
            Err(_) if cancel.load(Ordering::Relaxed) => return Err(ExportError::Cancelled),
            Err(_) if deadline.is_some_and(|d| Instant::now() >= d) => {
                return Err(ExportError::Timeout)
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_honours_retry_after() {
        let mut b = Backoff::default();
        b.failed(None);
        assert!(b.left() <= FIRST_BACKOFF + FIRST_BACKOFF / 10 + Duration::from_millis(1));
        for _ in 0..10 {
            b.failed(None);
        }
        assert!(b.left() <= MAX_BACKOFF + MAX_BACKOFF / 10 + Duration::from_millis(1));
        b.failed(Some(Duration::from_secs(3)));
        assert!(b.left() > Duration::from_millis(2_900));
        b.succeeded();
        assert_eq!(b.left(), Duration::ZERO);
    }
}
