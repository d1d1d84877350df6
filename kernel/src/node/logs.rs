//! Container logs on the node, in the CRI log format the kubelet reads
//! (`2024-05-01T10:00:00.123456789Z stdout F text`; `P` marks a partial line): one file per
//! run of a container, `<root>/<namespace>_<pod>_<uid>/<container>/<run>.log`, so
//! `kubectl logs --previous` reads the run before the current one. A run's file gets a
//! companion `<run>.end` when the run is over, which is where a followed log stops.
//! A file is capped at [`MAX_FILE_BYTES`]; what a run writes beyond it is dropped and counted
//! in one last line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// A log file's cap, as the kubelet's default `containerLogMaxSize`.
pub const MAX_FILE_BYTES: u64 = 10 << 20;

/// A partial line is written once it is this long.
const MAX_LINE: usize = 16 << 10;

/// Which output a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The log directory of one container of one pod.
#[derive(Debug, Clone)]
pub struct ContainerLogs {
    pod_dir: PathBuf,
    dir: PathBuf,
}

impl ContainerLogs {
    /// The directory of `container` in the pod `namespace/name` with `uid`, under `root`.
    pub fn new(root: &Path, namespace: &str, name: &str, uid: &str, container: &str) -> Self {
        Self::in_pod_dir(&pod_dir(root, namespace, name, uid), container)
    }

    /// The directory of `container` in the pod whose log directory is `pod_dir`.
    pub fn in_pod_dir(pod_dir: &Path, container: &str) -> Self {
        ContainerLogs {
            pod_dir: pod_dir.to_path_buf(),
            dir: pod_dir.join(container),
        }
    }

    /// The pod's directory (its containers' logs, and its volumes).
    pub fn pod_dir(&self) -> &Path {
        &self.pod_dir
    }

    /// The file run `run` writes to, created (empty) now.
    pub fn open_run(&self, run: u32) -> Result<RunLog, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.run_path(run);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(RunLog {
            inner: Arc::new(Mutex::new(Writer {
                file,
                written: 0,
                dropped: 0,
                partial: [Vec::new(), Vec::new()],
            })),
            end: self.dir.join(format!("{run}.end")),
        })
    }

    /// The runs that have a log, oldest first.
    pub fn runs(&self) -> Vec<u32> {
        let mut runs: Vec<u32> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        runs.sort_unstable();
        runs
    }

    /// The log file of run `run`.
    pub fn run_path(&self, run: u32) -> PathBuf {
        self.dir.join(format!("{run}.log"))
    }

    /// Whether run `run` is over.
    pub fn run_ended(&self, run: u32) -> bool {
        self.dir.join(format!("{run}.end")).exists()
    }

    /// Removes the logs of every container of a pod (the pod is gone).
    pub fn remove_pod(root: &Path, namespace: &str, name: &str, uid: &str) {
        let dir = pod_dir(root, namespace, name, uid);
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove logs {}: {e}", dir.display());
        }
    }
}

/// The log directory of a pod under `root`.
pub fn pod_dir(root: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    root.join(format!("{namespace}_{name}_{uid}"))
}

/// The log of one run, shared by its output streams.
#[derive(Clone)]
pub struct RunLog {
    inner: Arc<Mutex<Writer>>,
    end: PathBuf,
}

struct Writer {
    file: File,
    written: u64,
    dropped: u64,
    /// Bytes of an unfinished line, per stream.
    partial: [Vec<u8>; 2],
}

impl RunLog {
    /// Records `bytes` written by the container to `stream`.
    pub fn write(&self, stream: Stream, bytes: &[u8]) {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = stream as usize;
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut writer.partial[slot]);
            line.extend_from_slice(&rest[..at]);
            writer.record(stream, 'F', &line);
            rest = &rest[at + 1..];
        }
        writer.partial[slot].extend_from_slice(rest);
        if writer.partial[slot].len() >= MAX_LINE {
            let line = std::mem::take(&mut writer.partial[slot]);
            writer.record(stream, 'P', &line);
        }
    }

    /// Writes what is left of unfinished lines and marks the run over.
    pub fn finish(&self) {
        let mut writer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut writer.partial[stream as usize]);
            if !line.is_empty() {
                writer.record(stream, 'F', &line);
            }
        }
        if writer.dropped > 0 {
            let note = format!(
                "[keel: {} bytes of output dropped beyond the {MAX_FILE_BYTES}-byte log cap]",
                writer.dropped
            );
            writer.dropped = 0;
            let line = format_record(Stream::Stderr, 'F', note.as_bytes());
            let _ = writer.file.write_all(line.as_bytes());
        }
        let _ = writer.file.flush();
        if let Err(e) = File::create(&self.end) {
            tracing::warn!("cannot mark log {} over: {e}", self.end.display());
        }
    }
}

impl Writer {
    fn record(&mut self, stream: Stream, tag: char, line: &[u8]) {
        let record = format_record(stream, tag, line);
        if self.written + record.len() as u64 > MAX_FILE_BYTES {
            self.dropped += line.len() as u64;
            return;
        }
        match self.file.write_all(record.as_bytes()) {
            Ok(()) => self.written += record.len() as u64,
            Err(_) => self.dropped += line.len() as u64,
        }
    }
}

fn format_record(stream: Stream, tag: char, line: &[u8]) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.9fZ");
    format!(
        "{now} {} {tag} {}\n",
        stream.name(),
        String::from_utf8_lossy(line)
    )
}

/// One record of a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// When it was written (RFC 3339 with nanoseconds).
    pub time: &'a str,
    /// `stdout` or `stderr`.
    pub stream: &'a str,
    /// Whether the line goes on in the next record.
    pub partial: bool,
    /// The text.
    pub text: &'a str,
}

/// Reads one line of a log file.
pub fn parse_record(line: &str) -> Option<Record<'_>> {
    let mut parts = line.splitn(4, ' ');
    let time = parts.next()?;
    let stream = parts.next()?;
    let tag = parts.next()?;
    let text = parts.next().unwrap_or("");
    Some(Record {
        time,
        stream,
        partial: tag == "P",
        text,
    })
}

/// How a log is shown, from `kubectl logs`' options.
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    /// Each line starts with its time.
    pub timestamps: bool,
    /// Only the last so many lines.
    pub tail_lines: Option<usize>,
    /// Only lines written at or after this time (RFC 3339).
    pub since_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// The text `kubectl logs` shows for the records in `content`.
pub fn show(content: &str, options: &ShowOptions) -> String {
    let lines: Vec<String> = content
        .lines()
        .filter_map(parse_record)
        .filter(|record| {
            options.since_time.is_none_or(|since| {
                chrono::DateTime::parse_from_rfc3339(record.time)
                    .is_ok_and(|t| t.with_timezone(&chrono::Utc) >= since)
            })
        })
        .map(|record| {
            let end = if record.partial { "" } else { "\n" };
            if options.timestamps {
                format!("{} {}{end}", record.time, record.text)
            } else {
                format!("{}{end}", record.text)
            }
        })
        .collect();
    let skip = options
        .tail_lines
        .map_or(0, |tail| lines.len().saturating_sub(tail));
    lines[skip..].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_framed_per_line_and_stream_and_shown_as_written() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = ContainerLogs::new(dir.path(), "default", "web", "u1", "app");
        let run = logs.open_run(0).unwrap_or_else(|e| panic!("{e}"));
        run.write(Stream::Stdout, b"hello ");
        run.write(Stream::Stderr, b"oops\n");
        run.write(Stream::Stdout, b"world\nsecond\nthird");
        assert!(!logs.run_ended(0));
        run.finish();
        assert!(logs.run_ended(0));
        let content = std::fs::read_to_string(logs.run_path(0)).unwrap_or_else(|e| panic!("{e}"));
        let records: Vec<Record> = content.lines().filter_map(parse_record).collect();
        assert_eq!(records.len(), 4, "{content}");
        assert_eq!(records[0].stream, "stderr");
        assert_eq!(records[1].text, "hello world");
        assert_eq!(
            show(&content, &ShowOptions::default()),
            "oops\nhello world\nsecond\nthird\n"
        );
        let tail = ShowOptions {
            tail_lines: Some(2),
            ..ShowOptions::default()
        };
        assert_eq!(show(&content, &tail), "second\nthird\n");
        let stamped = ShowOptions {
            timestamps: true,
            ..ShowOptions::default()
        };
        assert!(show(&content, &stamped).starts_with(records[0].time));
        assert_eq!(logs.runs(), vec![0]);
    }

    #[test]
    fn a_run_beyond_the_cap_drops_output_and_says_how_much() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let logs = ContainerLogs::new(dir.path(), "default", "web", "u1", "app");
        let run = logs.open_run(3).unwrap_or_else(|e| panic!("{e}"));
        let line = vec![b'x'; 1023];
        let mut chunk = line.clone();
        chunk.push(b'\n');
        for _ in 0..(MAX_FILE_BYTES / 1024 + 100) {
            run.write(Stream::Stdout, &chunk);
        }
        run.finish();
        let size = std::fs::metadata(logs.run_path(3))
            .map(|m| m.len())
            .unwrap_or_default();
        assert!(size <= MAX_FILE_BYTES + 200, "{size}");
        let content = std::fs::read_to_string(logs.run_path(3)).unwrap_or_else(|e| panic!("{e}"));
        assert!(content.contains("bytes of output dropped"), "the note");
        assert_eq!(logs.runs(), vec![3]);
    }
}
