//! Ordinary prose and code are not redacted: a corpus of chat text written for this test
//! (`tests/corpus/chat.md`), the crate's own source without its test modules, its examples and
//! its benches goes through the exporter's mapping and privacy stage, and must come out
//! unchanged.
//!
//! The lines that give a credential format as an example on purpose (the privacy module's
//! documentation of what it recognizes) are listed in [`DELIBERATE`] and left out.

use std::path::{Path, PathBuf};
use tracing_openinference::otel::opentelemetry::{KeyValue, Value};
use tracing_openinference::privacy::Privacy;

/// Lines that hold a credential example on purpose, by a fragment of the line.
const DELIBERATE: &[&str] = &[
    "postgres://user:pass@host",
    "scheme://user:password@host",
    "a://:p@h",
];

/// Lines are scanned this many at a time, so formats spanning lines are seen whole.
const CHUNK_LINES: usize = 40;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "md" || e == "json" || e == "txt")
        {
            out.push(path);
        }
    }
}

/// The lines of `path` before its test module (the crate keeps tests last in each file).
fn corpus_lines(path: &Path) -> Vec<String> {
    // The privacy module's own unit tests hold test credentials on purpose.
    if path.components().any(|c| c.as_os_str() == "tests") && path.starts_with(src_dir()) {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .filter(|l| !DELIBERATE.iter().any(|d| l.contains(d)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ordinary_text_and_code_are_not_redacted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["tests/corpus", "src", "examples", "benches"] {
        files_under(&root.join(dir), &mut files);
    }
    let privacy = Privacy::default().with_max_value_len(0);
    let (mut lines, mut bytes, mut changed) = (0usize, 0usize, Vec::new());
    for path in &files {
        let all = corpus_lines(path);
        lines += all.len();
        for (n, chunk) in all.chunks(CHUNK_LINES).enumerate() {
            let text = chunk.join("\n");
            bytes += text.len();
            let out = tracing_openinference::__private::map_attributes(
                &privacy,
                vec![
                    KeyValue::new("openinference.span.kind", "CHAIN"),
                    KeyValue::new("app.text", text.clone()),
                ],
            );
            let got = out
                .iter()
                .find(|kv| kv.key.as_str() == "app.text")
                .map(|kv| kv.value.clone());
            if got != Some(Value::from(text.clone())) {
                let got = got.map(|v| v.as_str().into_owned()).unwrap_or_default();
                let first = text
                    .lines()
                    .zip(got.lines())
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("{a:?} -> {b:?}"))
                    .unwrap_or_default();
                changed.push(format!(
                    "{} lines {}..: {first}",
                    path.display(),
                    n * CHUNK_LINES
                ));
            }
        }
    }
    eprintln!(
        "false-positive corpus: {} files, {lines} lines, {bytes} bytes, {} changed",
        files.len(),
        changed.len()
    );
    assert!(lines >= 3_000, "corpus too small: {lines} lines");
    assert!(
        changed.is_empty(),
        "redacted ordinary text:\n{}",
        changed.join("\n")
    );
}
