//! Console exporter: prints each finished trace as a tree, like a Phoenix waterfall.
//!
//! Spans are buffered by trace id until the trace's local root arrives (a span with no
//! parent, or with a remote parent); the whole trace is then written as one block:
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736
//! agent.run [AGENT]  1.42s
//! ├─ retrieve [RETRIEVER]  12.3ms  docs 3
//! └─ chat [LLM]  850ms  gpt-4o-mini  tokens 120→45 (165)  cached 20  $0.000123
//!    └─ search [TOOL]  850µs  tool web_search  ERROR: timeout
//! ```
//!
//! Memory is bounded: each buffered span is kept only as its rendered line plus the ids
//! needed to place it in the tree, at most [`MAX_BUFFERED_SPANS`] spans and
//! [`MAX_BUFFERED_TRACES`] traces are held, and past either bound the oldest trace is
//! printed as `(incomplete)`. Spans arriving after their trace was printed are written as a
//! short `(continued)` block, one `(late)` line each, and not kept.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use parking_lot::Mutex;

mod line;
use line::*;

/// Most spans held while waiting for their traces' roots.
pub(crate) const MAX_BUFFERED_SPANS: usize = 10_000;
/// Most traces held while waiting for their roots.
pub(crate) const MAX_BUFFERED_TRACES: usize = 2_000;
/// How many printed trace ids are remembered to recognise late spans.
const MAX_REMEMBERED_PRINTED: usize = 4_096;
/// Tree depth past which lines are no longer indented further.
const MAX_INDENT_DEPTH: usize = 32;
/// Longest span name printed, in characters.
const MAX_NAME_CHARS: usize = 120;
/// Longest attribute value (model, tool, kind) printed, in characters.
const MAX_VALUE_CHARS: usize = 80;
/// Longest error message printed, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// ANSI: dim cyan, for the span kind.
const KIND_COLOR: &str = "\x1b[2;36m";
/// ANSI: red, for errors.
const ERROR_COLOR: &str = "\x1b[31m";
/// ANSI: reset all attributes.
const RESET: &str = "\x1b[0m";

/// Prints finished traces as trees.
pub(crate) struct ConsoleExporter {
    /// Buffered traces and bookkeeping; never held while writing.
    state: Mutex<State>,
    /// Destination; each trace block is one `write_all`.
    out: Mutex<Box<dyn Write + Send>>,
    /// Whether lines carry ANSI colors (only for a terminal stderr).
    color: bool,
}

impl ConsoleExporter {
    /// Writes to stderr.
    ///
    /// Colors the kind and errors when stderr is a terminal, unless `NO_COLOR` is set or
    /// `TERM` is `dumb`.
    pub(crate) fn stderr() -> Self {
        let no_color = matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty());
        let dumb = matches!(std::env::var_os("TERM"), Some(v) if v == "dumb");
        let color = std::io::stderr().is_terminal() && !no_color && !dumb;
        Self::with_color(Box::new(std::io::stderr()), color)
    }

    /// Writes to any writer (tests use a shared `Vec<u8>`). Never colors.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn new(out: Box<dyn Write + Send>) -> Self {
        Self::with_color(out, false)
    }

    /// Builds an exporter writing to `out`, colored or not.
    fn with_color(out: Box<dyn Write + Send>, color: bool) -> Self {
        Self {
            state: Mutex::new(State::default()),
            out: Mutex::new(out),
            color,
        }
    }

    /// Buffers a batch and prints whatever it completes, synchronously.
    fn export_now(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Render outside the lock: only the compact lines are kept.
        let nodes: Vec<(TraceId, Node)> = batch
            .iter()
            .map(|span| {
                (
                    span.span_context.trace_id(),
                    Node::from_span(span, self.color),
                )
            })
            .collect();
        drop(batch);
        let blocks = {
            let mut state = self.state.lock();
            if state.shut_down {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.accept(nodes)
        };
        self.write_blocks(&blocks)
    }

    /// Writes each block with a single `write_all`; keeps going past errors and reports
    /// the first one.
    fn write_blocks(&self, blocks: &[String]) -> OTelSdkResult {
        if blocks.is_empty() {
            return Ok(());
        }
        let mut out = self.out.lock();
        let mut first_error: Option<std::io::Error> = None;
        for block in blocks {
            if let Err(e) = out.write_all(block.as_bytes()) {
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = out.flush() {
            first_error.get_or_insert(e);
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(OTelSdkError::InternalFailure(format!(
                "console exporter: write failed: {e}"
            ))),
        }
    }
}

impl fmt::Debug for ConsoleExporter {
    /// Shows the color setting only; never waits on a lock.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("color", &self.color)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for ConsoleExporter {
    /// Buffers the batch, prints the traces it completes and any late spans, then
    /// returns a ready future. Fails only if writing failed or after shutdown.
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        std::future::ready(self.export_now(batch))
    }

    /// Prints every buffered trace, marked incomplete, and clears the buffer.
    fn force_flush(&self) -> OTelSdkResult {
        let blocks = self.state.lock().drain_all();
        self.write_blocks(&blocks)
    }

    /// Prints every buffered trace like `force_flush`; later exports are refused.
    /// Never waits, so the timeout is not needed.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let blocks = {
            let mut state = self.state.lock();
            if state.shut_down {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.shut_down = true;
            state.drain_all()
        };
        self.write_blocks(&blocks)
    }
}

/// One buffered span: what is needed to place it in the tree, and its rendered line.
#[derive(Debug)]
struct Node {
    /// The span's own id.
    span_id: SpanId,
    /// The parent's id (`SpanId::INVALID` for a root).
    parent_id: SpanId,
    /// No parent, or a remote parent: this span ends its trace in this process.
    local_root: bool,
    /// Start time, for ordering siblings.
    start: SystemTime,
    /// The rendered line, without tree prefix or newline.
    text: String,
}

impl Node {
    /// Renders a span into a compact node.
    fn from_span(span: &SpanData, color: bool) -> Self {
        let parent_id = span.parent_span_id;
        Self {
            span_id: span.span_context.span_id(),
            parent_id,
            local_root: parent_id == SpanId::INVALID || span.parent_span_is_remote,
            start: span.start_time,
            text: describe(span, color),
        }
    }
}

/// A trace waiting for its local root.
#[derive(Debug)]
struct Pending {
    /// Arrival order of the trace's first span; key into `State::age`.
    seq: u64,
    /// Spans received so far.
    nodes: Vec<Node>,
}

/// Everything the exporter buffers, behind one lock.
#[derive(Debug, Default)]
struct State {
    /// Traces waiting for their roots.
    pending: HashMap<TraceId, Pending>,
    /// Pending traces by arrival order, oldest first.
    age: BTreeMap<u64, TraceId>,
    /// Next arrival sequence number.
    next_seq: u64,
    /// Total spans across `pending`.
    buffered_spans: usize,
    /// Recently printed traces, so that their stragglers print as late.
    printed: HashSet<TraceId>,
    /// `printed` in insertion order, for bounded forgetting.
    printed_order: VecDeque<TraceId>,
    /// Set by shutdown; later exports are refused.
    shut_down: bool,
}

impl State {
    /// Buffers rendered spans and returns the blocks to print: evicted traces, traces
    /// completed by this batch, and late spans.
    fn accept(&mut self, nodes: Vec<(TraceId, Node)>) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut late: Vec<(TraceId, Vec<Node>)> = Vec::new();
        let mut late_index: HashMap<TraceId, usize> = HashMap::new();
        // Traces whose local root arrived in this batch, in arrival order. They are
        // printed after the whole batch is buffered, so that siblings of the root that
        // come later in the same batch are part of the tree.
        let mut completed: Vec<TraceId> = Vec::new();
        let mut completed_set: HashSet<TraceId> = HashSet::new();
        for (trace_id, node) in nodes {
            if !self.printed.contains(&trace_id) {
                self.make_room(trace_id, &mut blocks);
            }
            // Checked again: making room may have printed this very trace.
            if self.printed.contains(&trace_id) {
                let slot = *late_index.entry(trace_id).or_insert_with(|| {
                    late.push((trace_id, Vec::new()));
                    late.len().saturating_sub(1)
                });
                if let Some((_, group)) = late.get_mut(slot) {
                    group.push(node);
                }
                continue;
            }
            if node.local_root && completed_set.insert(trace_id) {
                completed.push(trace_id);
            }
            let next_seq = &mut self.next_seq;
            let age = &mut self.age;
            let pending = self.pending.entry(trace_id).or_insert_with(|| {
                let seq = *next_seq;
                *next_seq = next_seq.wrapping_add(1);
                age.insert(seq, trace_id);
                Pending {
                    seq,
                    nodes: Vec::new(),
                }
            });
            pending.nodes.push(node);
            self.buffered_spans = self.buffered_spans.saturating_add(1);
        }
        for trace_id in completed {
            // Absent if a later span of this batch forced its eviction.
            if let Some(pending) = self.remove(trace_id) {
                blocks.push(render_tree(trace_id, pending.nodes, ""));
            }
        }
        for (trace_id, group) in late {
            blocks.push(render_late(trace_id, &group));
        }
        blocks
    }

    /// Evicts the oldest traces (printing them as incomplete) until one more span of
    /// `trace_id` fits within the bounds.
    fn make_room(&mut self, trace_id: TraceId, blocks: &mut Vec<String>) {
        loop {
            let too_many_spans = self.buffered_spans >= MAX_BUFFERED_SPANS;
            let too_many_traces =
                !self.pending.contains_key(&trace_id) && self.pending.len() >= MAX_BUFFERED_TRACES;
            if !too_many_spans && !too_many_traces {
                return;
            }
            let Some((_, oldest)) = self.age.pop_first() else {
                return;
            };
            if let Some(pending) = self.remove(oldest) {
                blocks.push(render_tree(oldest, pending.nodes, " (incomplete)"));
            }
        }
    }

    /// Prints every buffered trace as incomplete, oldest first, and clears the buffer.
    fn drain_all(&mut self) -> Vec<String> {
        let mut blocks = Vec::with_capacity(self.pending.len());
        while let Some((_, trace_id)) = self.age.pop_first() {
            if let Some(pending) = self.remove(trace_id) {
                blocks.push(render_tree(trace_id, pending.nodes, " (incomplete)"));
            }
        }
        // Defensive: nothing should remain, but never keep unreachable entries.
        for (trace_id, pending) in std::mem::take(&mut self.pending) {
            self.remember_printed(trace_id);
            blocks.push(render_tree(trace_id, pending.nodes, " (incomplete)"));
        }
        self.buffered_spans = 0;
        blocks
    }

    /// Removes a pending trace, updates the counters, and remembers it as printed.
    fn remove(&mut self, trace_id: TraceId) -> Option<Pending> {
        let pending = self.pending.remove(&trace_id)?;
        self.age.remove(&pending.seq);
        self.buffered_spans = self.buffered_spans.saturating_sub(pending.nodes.len());
        self.remember_printed(trace_id);
        Some(pending)
    }

    /// Records a printed trace id, forgetting the oldest past the bound.
    fn remember_printed(&mut self, trace_id: TraceId) {
        if !self.printed.insert(trace_id) {
            return;
        }
        self.printed_order.push_back(trace_id);
        while self.printed_order.len() > MAX_REMEMBERED_PRINTED {
            if let Some(old) = self.printed_order.pop_front() {
                self.printed.remove(&old);
            }
        }
    }
}

/// Renders one trace as a tree block, children under parents ordered by start time.
/// `suffix` follows the trace id on the header line.
fn render_tree(trace_id: TraceId, nodes: Vec<Node>, suffix: &str) -> String {
    let bytes = nodes.iter().fold(64_usize, |acc, n| {
        acc.saturating_add(n.text.len()).saturating_add(16)
    });
    let mut out = String::with_capacity(bytes);
    let _ = writeln!(out, "trace {trace_id:032x}{suffix}");

    let count = nodes.len();
    let mut by_id: HashMap<SpanId, usize> = HashMap::with_capacity(count);
    for (i, node) in nodes.iter().enumerate() {
        by_id.entry(node.span_id).or_insert(i);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut roots: Vec<usize> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let parent = if node.local_root {
            None
        } else {
            by_id.get(&node.parent_id).copied().filter(|&p| p != i)
        };
        match parent {
            Some(p) => {
                if let Some(list) = children.get_mut(p) {
                    list.push(i);
                }
            }
            // Parent never arrived: shown as an extra root of the trace.
            None => roots.push(i),
        }
    }
    let order = |i: &usize| (nodes.get(*i).map(|n| n.start), *i);
    roots.sort_by_key(order);
    for list in &mut children {
        list.sort_by_key(order);
    }

    let mut visited = vec![false; count];
    for root in roots {
        walk(root, &nodes, &children, &mut visited, &mut out);
    }
    // Spans caught in a parent cycle are reachable from no root; print them anyway.
    let mut rest: Vec<usize> = (0..count)
        .filter(|&i| visited.get(i).is_some_and(|seen| !*seen))
        .collect();
    rest.sort_by_key(order);
    for i in rest {
        walk(i, &nodes, &children, &mut visited, &mut out);
    }
    out
}

/// One line waiting to be printed by [`walk`].
struct Frame {
    /// Index of the node.
    idx: usize,
    /// Tree prefix of this node's own line (guides and connector).
    line_prefix: String,
    /// Guides inherited by this node's children.
    child_prefix: String,
    /// Depth below the root (0 for the root).
    depth: usize,
}

/// Prints the subtree at `root` depth-first without recursion.
fn walk(
    root: usize,
    nodes: &[Node],
    children: &[Vec<usize>],
    visited: &mut [bool],
    out: &mut String,
) {
    let mut stack = vec![Frame {
        idx: root,
        line_prefix: String::new(),
        child_prefix: String::new(),
        depth: 0,
    }];
    while let Some(frame) = stack.pop() {
        let (Some(node), Some(kids)) = (nodes.get(frame.idx), children.get(frame.idx)) else {
            continue;
        };
        match visited.get_mut(frame.idx) {
            Some(seen) if !*seen => *seen = true,
            _ => continue,
        }
        out.push_str(&frame.line_prefix);
        if frame.depth > MAX_INDENT_DEPTH {
            let _ = write!(out, "[depth {}] ", frame.depth);
        }
        out.push_str(&node.text);
        out.push('\n');

        let kids: Vec<usize> = kids
            .iter()
            .copied()
            .filter(|&k| visited.get(k).is_some_and(|seen| !*seen))
            .collect();
        let last = kids.len().saturating_sub(1);
        let indent = frame.depth < MAX_INDENT_DEPTH;
        for (pos, &kid) in kids.iter().enumerate().rev() {
            let is_last = pos == last;
            let mut line_prefix = frame.child_prefix.clone();
            line_prefix.push_str(if is_last { "└─ " } else { "├─ " });
            let mut child_prefix = frame.child_prefix.clone();
            if indent {
                child_prefix.push_str(if is_last { "   " } else { "│  " });
            }
            stack.push(Frame {
                idx: kid,
                line_prefix,
                child_prefix,
                depth: frame.depth.saturating_add(1),
            });
        }
    }
}

/// Renders spans that arrived after their trace was printed: one `(late)` line each.
fn render_late(trace_id: TraceId, nodes: &[Node]) -> String {
    let bytes = nodes.iter().fold(64_usize, |acc, n| {
        acc.saturating_add(n.text.len()).saturating_add(12)
    });
    let mut out = String::with_capacity(bytes);
    let _ = writeln!(out, "trace {trace_id:032x} (continued)");
    for node in nodes {
        let _ = writeln!(out, "↳ {}  (late)", node.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, SpanContext, SpanKind, TraceFlags, TraceState};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::UNIX_EPOCH;

    const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SharedBuf {
        /// Everything written so far.
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().clone()).expect("utf-8 output")
        }
        /// Everything written so far, then clears the buffer.
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock())).expect("utf-8 output")
        }
    }

    /// A writer that always fails.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("stream closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("stream closed"))
        }
    }

    /// A waker that does nothing; the export future is always ready.
    struct NoopWake;

    impl Wake for NoopWake {
        fn wake(self: Arc<Self>) {}
    }

    fn exporter() -> (ConsoleExporter, SharedBuf) {
        let buf = SharedBuf::default();
        (ConsoleExporter::new(Box::new(buf.clone())), buf)
    }

    fn export(exporter: &ConsoleExporter, batch: Vec<SpanData>) -> OTelSdkResult {
        let waker = Waker::from(Arc::new(NoopWake));
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(exporter.export(batch));
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("export future was not ready"),
        }
    }

    /// A span of `trace`, starting `start_us` µs after the epoch and lasting `dur_us` µs.
    fn span(
        trace: u128,
        id: u64,
        parent: u64,
        name: &'static str,
        start_us: u64,
        dur_us: u64,
        attributes: Vec<KeyValue>,
    ) -> SpanData {
        let start =
            UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_micros(start_us);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: start,
            end_time: start + Duration::from_micros(dur_us),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    fn kind(k: &'static str) -> KeyValue {
        KeyValue::new("openinference.span.kind", k)
    }

    fn agent_trace() -> (Vec<SpanData>, Vec<SpanData>) {
        let root = span(TRACE, 1, 0, "agent.run", 0, 1_420_000, vec![kind("AGENT")]);
        let retrieve = span(
            TRACE,
            2,
            1,
            "retrieve",
            1_000,
            12_300,
            vec![
                kind("RETRIEVER"),
                KeyValue::new("retrieval.documents.0.document.id", "a"),
                KeyValue::new("retrieval.documents.0.document.score", 0.9),
                KeyValue::new("retrieval.documents.1.document.content", "b"),
                KeyValue::new("retrieval.documents.2.document.id", "c"),
            ],
        );
        let chat = span(
            TRACE,
            3,
            1,
            "chat",
            20_000,
            850_000,
            vec![
                kind("LLM"),
                KeyValue::new("llm.model_name", "gpt-4o-mini"),
                KeyValue::new("llm.token_count.prompt", 120_i64),
                KeyValue::new("llm.token_count.completion", 45_i64),
                KeyValue::new("llm.token_count.total", 165_i64),
                KeyValue::new("llm.token_count.prompt_details.cache_read", 20_i64),
                KeyValue::new("llm.cost.total", 0.000123),
            ],
        );
        let mut search = span(
            TRACE,
            4,
            3,
            "search",
            30_000,
            850,
            vec![kind("TOOL"), KeyValue::new("tool.name", "web_search")],
        );
        search.status = Status::error("timeout");
        // Children first, across two batches; the later sibling arrives first.
        (vec![search, chat], vec![retrieve, root])
    }

    const AGENT_TREE: &str = "\
trace 4bf92f3577b34da6a3ce929d0e0e4736
agent.run [AGENT]  1.42s
├─ retrieve [RETRIEVER]  12.3ms  docs 3
└─ chat [LLM]  850ms  gpt-4o-mini  tokens 120→45 (165)  cached 20  $0.000123
   └─ search [TOOL]  850µs  tool web_search  ERROR: timeout
";

    #[test]
    fn three_level_tree_across_batches_prints_once() {
        let (exporter, buf) = exporter();
        let (first, second) = agent_trace();
        assert!(export(&exporter, first).is_ok());
        assert_eq!(buf.text(), "", "nothing printed before the root");
        assert!(export(&exporter, second).is_ok());
        assert_eq!(buf.take(), AGENT_TREE);
        assert!(exporter.state.lock().pending.is_empty());
        assert_eq!(exporter.state.lock().buffered_spans, 0);
        assert!(exporter.force_flush().is_ok());
        assert_eq!(buf.text(), "", "a printed trace is not printed again");
    }

    #[test]
    fn root_first_in_the_same_batch_still_nests() {
        let (exporter, buf) = exporter();
        let (first, second) = agent_trace();
        let mut batch = second;
        batch.reverse();
        batch.extend(first);
        assert!(export(&exporter, batch).is_ok());
        assert_eq!(buf.text(), AGENT_TREE);
    }

    #[test]
    fn error_span_shows_error_message() {
        let (exporter, buf) = exporter();
        let mut failed = span(TRACE, 1, 0, "chat", 0, 5_000, vec![kind("LLM")]);
        failed.status = Status::error("rate limited");
        assert!(export(&exporter, vec![failed]).is_ok());
        assert!(buf
            .take()
            .contains("chat [LLM]  5.00ms  ERROR: rate limited\n"));

        let mut bare = span(TRACE + 1, 2, 0, "tool", 0, 5_000, vec![kind("TOOL")]);
        bare.status = Status::error("");
        bare.events.events.push(Event::new(
            "exception",
            UNIX_EPOCH,
            vec![
                KeyValue::new("exception.type", "io::Error"),
                KeyValue::new("exception.message", "connection\nreset"),
            ],
            0,
        ));
        assert!(export(&exporter, vec![bare]).is_ok());
        assert!(
            buf.text()
                .contains("tool [TOOL]  5.00ms  ERROR: connection reset\n"),
            "{}",
            buf.text()
        );
    }

    #[test]
    fn flush_prints_incomplete_trace_and_clears() {
        let (exporter, buf) = exporter();
        let (first, _) = agent_trace();
        assert!(export(&exporter, first).is_ok());
        assert!(exporter.force_flush().is_ok());
        let expected = "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (incomplete)
chat [LLM]  850ms  gpt-4o-mini  tokens 120→45 (165)  cached 20  $0.000123
└─ search [TOOL]  850µs  tool web_search  ERROR: timeout
";
        assert_eq!(buf.take(), expected);
        assert!(exporter.state.lock().pending.is_empty());
        assert!(exporter.force_flush().is_ok());
        assert_eq!(buf.text(), "");
    }

    #[test]
    fn shutdown_prints_buffered_and_refuses_later_exports() {
        let (exporter, buf) = exporter();
        let (first, _) = agent_trace();
        assert!(export(&exporter, first).is_ok());
        assert!(exporter
            .shutdown_with_timeout(Duration::from_secs(1))
            .is_ok());
        assert!(buf
            .take()
            .starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 (incomplete)\n"));
        let (_, second) = agent_trace();
        assert!(matches!(
            export(&exporter, second),
            Err(OTelSdkError::AlreadyShutdown)
        ));
        assert!(exporter.shutdown().is_err());
        assert_eq!(buf.text(), "");
    }

    #[test]
    fn trace_bound_evicts_oldest_as_incomplete() {
        let (exporter, buf) = exporter();
        let batch: Vec<SpanData> = (0..MAX_BUFFERED_TRACES as u128)
            .map(|t| span(t + 1, 10, 5, "step", 0, 1_000, vec![]))
            .collect();
        assert!(export(&exporter, batch).is_ok());
        assert_eq!(buf.text(), "");
        assert_eq!(exporter.state.lock().pending.len(), MAX_BUFFERED_TRACES);

        let newcomer = span(0xffff, 10, 5, "step", 0, 1_000, vec![]);
        assert!(export(&exporter, vec![newcomer]).is_ok());
        assert_eq!(
            buf.take(),
            "trace 00000000000000000000000000000001 (incomplete)\nstep  1.00ms\n"
        );
        let state = exporter.state.lock();
        assert_eq!(state.pending.len(), MAX_BUFFERED_TRACES);
        assert_eq!(state.buffered_spans, MAX_BUFFERED_TRACES);
        assert_eq!(state.age.len(), MAX_BUFFERED_TRACES);
    }

    #[test]
    fn span_bound_evicts_and_later_spans_print_late() {
        let (exporter, buf) = exporter();
        let batch: Vec<SpanData> = (0..=MAX_BUFFERED_SPANS as u64)
            .map(|i| span(TRACE, i + 2, 1, "step", i, 10, vec![]))
            .collect();
        assert!(export(&exporter, batch).is_ok());
        let out = buf.take();
        assert!(out.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 (incomplete)\n"));
        assert_eq!(out.matches("step  10.0µs\n").count(), MAX_BUFFERED_SPANS);
        assert!(out.ends_with(
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 (continued)\n↳ step  10.0µs  (late)\n"
        ));
        let state = exporter.state.lock();
        assert_eq!(state.buffered_spans, 0);
        assert!(state.pending.is_empty());
    }

    #[test]
    fn late_span_prints_as_continuation_and_is_not_kept() {
        let (exporter, buf) = exporter();
        let (first, second) = agent_trace();
        assert!(export(&exporter, second).is_ok());
        assert!(buf.take().contains("\n└─ retrieve"));
        assert!(export(&exporter, first).is_ok());
        assert_eq!(
            buf.take(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736 (continued)
↳ search [TOOL]  850µs  tool web_search  ERROR: timeout  (late)
↳ chat [LLM]  850ms  gpt-4o-mini  tokens 120→45 (165)  cached 20  $0.000123  (late)
"
        );
        assert!(exporter.state.lock().pending.is_empty());
        assert!(exporter.force_flush().is_ok());
        assert_eq!(buf.text(), "");
    }

    #[test]
    fn orphan_is_printed_as_extra_root() {
        let (exporter, buf) = exporter();
        let orphan = span(TRACE, 7, 99, "orphan", 5, 10, vec![]);
        let child = span(TRACE, 2, 1, "child", 3, 10, vec![]);
        let root = span(TRACE, 1, 0, "root", 0, 100, vec![]);
        assert!(export(&exporter, vec![orphan, child, root]).is_ok());
        assert_eq!(
            buf.text(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736
root  100µs
└─ child  10.0µs
orphan  10.0µs
"
        );
    }

    #[test]
    fn remote_parent_is_a_local_root_and_siblings_sort_by_start() {
        let (exporter, buf) = exporter();
        let mut root = span(TRACE, 1, 0xabc, "handler", 0, 3_000, vec![]);
        root.parent_span_is_remote = true;
        let a = span(TRACE, 2, 1, "a", 200, 10, vec![]);
        let b = span(TRACE, 3, 1, "b", 100, 10, vec![]);
        let c = span(TRACE, 4, 3, "c", 150, 1, vec![]);
        let d = span(TRACE, 5, 1, "d", 300, 10, vec![]);
        assert!(export(&exporter, vec![a, c]).is_ok());
        assert!(export(&exporter, vec![d, b, root]).is_ok());
        assert_eq!(
            buf.text(),
            "\
trace 4bf92f3577b34da6a3ce929d0e0e4736
handler  3.00ms
├─ b  10.0µs
│  └─ c  1.00µs
├─ a  10.0µs
└─ d  10.0µs
"
        );
    }

    #[test]
    fn parent_cycle_and_deep_chain_terminate() {
        let (exporter, buf) = exporter();
        let x = span(TRACE, 2, 3, "x", 0, 1, vec![]);
        let y = span(TRACE, 3, 2, "y", 1, 1, vec![]);
        assert!(export(&exporter, vec![x, y]).is_ok());
        assert!(exporter.force_flush().is_ok());
        assert_eq!(
            buf.take(),
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 (incomplete)\nx  1.00µs\n└─ y  1.00µs\n"
        );

        let depth = 5_000_u64;
        let mut chain: Vec<SpanData> = (1..depth)
            .map(|i| span(TRACE + 1, i + 1, i, "n", i, 1, vec![]))
            .collect();
        chain.push(span(TRACE + 1, 1, 0, "n", 0, 1, vec![]));
        assert!(export(&exporter, chain).is_ok());
        let out = buf.take();
        assert_eq!(out.lines().count(), depth as usize + 1);
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest < 3 * MAX_INDENT_DEPTH + 40, "indentation is capped");
        assert!(out.contains(&format!("[depth {}] n", depth - 1)));
    }

    #[test]
    fn write_error_is_returned_not_panicked() {
        let exporter = ConsoleExporter::new(Box::new(Broken));
        let (first, second) = agent_trace();
        assert!(export(&exporter, first).is_ok(), "nothing to write yet");
        assert!(matches!(
            export(&exporter, second),
            Err(OTelSdkError::InternalFailure(_))
        ));
        // The trace was consumed; the exporter keeps working.
        assert!(exporter.state.lock().pending.is_empty());
        // Its stragglers are late lines: written at once, so the error shows at once.
        let (first, _) = agent_trace();
        assert!(export(&exporter, first).is_err());
        let other = span(TRACE + 1, 2, 1, "child", 0, 1, vec![]);
        assert!(export(&exporter, vec![other]).is_ok());
        assert!(exporter.force_flush().is_err());
        assert!(exporter.state.lock().pending.is_empty());
        assert!(exporter.shutdown().is_ok());
    }

    #[test]
    fn values_are_sanitised_and_never_colored_by_new() {
        let (exporter, buf) = exporter();
        let long = "m".repeat(1_000);
        let attrs = vec![
            kind("LLM"),
            KeyValue::new("embedding.model_name", "text-embedding-3-small"),
            KeyValue::new("llm.model_name", long),
            KeyValue::new("tool.name", "ignored on LLM spans"),
        ];
        let mut s = span(TRACE, 1, 0, "evil\x1b[31mname\nline", 0, 1, attrs);
        s.status = Status::error("bad \x1b[2J thing");
        assert!(export(&exporter, vec![s]).is_ok());
        let out = buf.text();
        assert!(!out.contains('\x1b'));
        assert!(out.contains("evil\u{FFFD}[31mname line [LLM]"));
        assert!(out.contains(&format!(
            "  {}…  ERROR: bad \u{FFFD}[2J thing\n",
            "m".repeat(80)
        )));
        assert!(!out.contains("ignored"));
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn embedding_model_and_partial_tokens() {
        let (exporter, buf) = exporter();
        let attrs = vec![
            kind("EMBEDDING"),
            KeyValue::new("embedding.model_name", "text-embedding-3-small"),
            KeyValue::new("llm.token_count.prompt", 12_i64),
            KeyValue::new("llm.token_count.prompt_details.cache_read", 0_i64),
            KeyValue::new("llm.cost.total", 0.05),
        ];
        assert!(export(&exporter, vec![span(TRACE, 1, 0, "embed", 0, 2, attrs)]).is_ok());
        assert!(buf
            .text()
            .ends_with("embed [EMBEDDING]  2.00µs  text-embedding-3-small  tokens 12→?  $0.05\n"));
    }

    #[test]
    fn colored_lines_mark_kind_and_error() {
        let mut s = span(TRACE, 1, 0, "chat", 0, 1, vec![kind("LLM")]);
        s.status = Status::error("boom");
        assert_eq!(
            describe(&s, true),
            "chat \x1b[2;36m[LLM]\x1b[0m  1.00µs  \x1b[31mERROR: boom\x1b[0m"
        );
    }

    #[test]
    fn durations_and_costs_read_well() {
        let cases = [
            (Duration::from_nanos(0), "0ns"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_micros(850), "850µs"),
            (Duration::from_nanos(999_600), "1.00ms"),
            (Duration::from_micros(12_300), "12.3ms"),
            (Duration::from_millis(1_420), "1.42s"),
            (Duration::from_secs(125), "2m05s"),
            (Duration::from_secs(7_380), "2h03m"),
            (Duration::MAX, "5124095576030431h00m"),
        ];
        for (d, want) in cases {
            let mut s = String::new();
            push_duration(&mut s, d);
            assert_eq!(s, want);
        }
        let costs = [
            (0.000123, "  $0.000123"),
            (1.5, "  $1.50"),
            (0.0, "  $0.00"),
            (1e-9, "  <$0.000001"),
            (f64::NAN, ""),
            (-1.0, ""),
        ];
        for (c, want) in costs {
            let mut s = String::new();
            push_cost(&mut s, c);
            assert_eq!(s, want);
        }
    }

    #[test]
    fn end_before_start_and_empty_names_do_not_panic() {
        let (exporter, buf) = exporter();
        let mut s = span(
            TRACE,
            1,
            0,
            "",
            0,
            0,
            vec![KeyValue::new("llm.token_count.total", 7_i64)],
        );
        s.end_time = s.start_time - Duration::from_secs(1);
        assert!(export(&exporter, vec![s]).is_ok());
        assert!(buf.text().ends_with("<unnamed>  0ns  tokens 7\n"));
    }

    #[test]
    fn exporter_is_send_sync_debug() {
        fn check<T: Send + Sync + fmt::Debug>() {}
        check::<ConsoleExporter>();
        let (exporter, _) = exporter();
        assert!(format!("{exporter:?}").starts_with("ConsoleExporter"));
    }
}
