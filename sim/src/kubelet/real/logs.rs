//! Container logs: every line of every container instance with its virtual timestamp and
//! stream, kept until the pod leaves its node, so `previous` works after a restart; followers
//! get new lines until the instance terminates, and attached clients get the raw bytes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::clock::TimeSource;
use crate::kubelet::streams::{LogLine, LogStream, StreamKind};
use crate::runtime::Sink;

/// (pod UID, container name, instance).
pub(crate) type LogKey = (String, String, u32);

#[derive(Default)]
struct Buf {
    lines: Vec<LogLine>,
    partial: [Vec<u8>; 2],
    followers: Vec<mpsc::UnboundedSender<LogLine>>,
    attached: Vec<mpsc::UnboundedSender<(StreamKind, Bytes)>>,
    done: bool,
}

/// The logs of every container instance on the cluster.
pub(crate) struct Logs {
    clock: Arc<dyn TimeSource>,
    bufs: Mutex<BTreeMap<LogKey, Buf>>,
}

fn idx(s: StreamKind) -> usize {
    match s {
        StreamKind::Stdout => 0,
        StreamKind::Stderr => 1,
    }
}

impl Logs {
    pub fn new(clock: Arc<dyn TimeSource>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            bufs: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<LogKey, Buf>> {
        self.bufs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the log of an instance (empty, running).
    pub fn open(&self, key: &LogKey) {
        self.lock().insert(key.clone(), Buf::default());
    }

    /// A sink appending to `key`'s log as `stream`.
    pub fn sink(self: &Arc<Self>, key: &LogKey, stream: StreamKind) -> LogSink {
        LogSink {
            logs: self.clone(),
            key: key.clone(),
            stream,
        }
    }

    fn write(&self, key: &LogKey, stream: StreamKind, data: &[u8]) {
        let now = self.clock.now();
        let mut bufs = self.lock();
        let Some(b) = bufs.get_mut(key) else { return };
        if b.done {
            return;
        }
        b.attached
            .retain(|tx| tx.send((stream, Bytes::copy_from_slice(data))).is_ok());
        let partial = &mut b.partial[idx(stream)];
        partial.extend_from_slice(data);
        while let Some(pos) = partial.iter().position(|c| *c == b'\n') {
            let line: Vec<u8> = partial.drain(..=pos).collect();
            let line = LogLine {
                time: now,
                stream,
                bytes: Bytes::from(line),
            };
            b.followers.retain(|f| f.send(line.clone()).is_ok());
            b.lines.push(line);
        }
    }

    /// Ends an instance's log: unterminated lines are kept, followers and attachments close.
    pub fn finish(&self, key: &LogKey) {
        let now = self.clock.now();
        let mut bufs = self.lock();
        let Some(b) = bufs.get_mut(key) else { return };
        if b.done {
            return;
        }
        for stream in [StreamKind::Stdout, StreamKind::Stderr] {
            let rest = std::mem::take(&mut b.partial[idx(stream)]);
            if !rest.is_empty() {
                let line = LogLine {
                    time: now,
                    stream,
                    bytes: Bytes::from(rest),
                };
                for f in &b.followers {
                    let _ = f.send(line.clone());
                }
                b.lines.push(line);
            }
        }
        b.done = true;
        b.followers.clear();
        b.attached.clear();
    }

    /// The log so far and, while the instance runs, its new lines.
    pub fn stream(&self, key: &LogKey) -> Option<LogStream> {
        let mut bufs = self.lock();
        let b = bufs.get_mut(key)?;
        let follow = (!b.done).then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            b.followers.push(tx);
            rx
        });
        Some(LogStream {
            history: b.lines.clone(),
            follow,
        })
    }

    /// The log so far, without following it.
    pub fn history(&self, key: &LogKey) -> Option<Vec<LogLine>> {
        self.lock().get(key).map(|b| b.lines.clone())
    }

    /// Raw output of a running instance from now on (`None` once it terminated).
    pub fn attach(&self, key: &LogKey) -> Option<mpsc::UnboundedReceiver<(StreamKind, Bytes)>> {
        let mut bufs = self.lock();
        let b = bufs.get_mut(key)?;
        if b.done {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        b.attached.push(tx);
        Some(rx)
    }

    /// Forgets the logs of a pod.
    pub fn remove_pod(&self, uid: &str) {
        self.lock().retain(|(u, _, _), _| u != uid);
    }
}

/// Appends a process's output to a container log.
pub(crate) struct LogSink {
    logs: Arc<Logs>,
    key: LogKey,
    stream: StreamKind,
}

impl Sink for LogSink {
    fn write(&self, data: &[u8]) {
        self.logs.write(&self.key, self.stream, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualTime;
    use crate::runtime::Out;

    #[test]
    fn lines_are_timestamped_and_followers_close_at_the_end() {
        let clock = Arc::new(ManualTime::default());
        let logs = Logs::new(clock.clone());
        let key: LogKey = ("u".into(), "c".into(), 0);
        logs.open(&key);
        let out = Out::new(logs.sink(&key, StreamKind::Stdout));
        let err = Out::new(logs.sink(&key, StreamKind::Stderr));
        out.print("a\nb");
        let t0 = clock.now();
        clock.advance(std::time::Duration::from_secs(5));
        let mut s = logs.stream(&key).expect("log");
        out.print("c\n");
        err.print("oops");
        logs.finish(&key);
        let texts: Vec<_> = s.history.iter().map(|l| l.bytes.clone()).collect();
        assert_eq!(texts, [Bytes::from("a\n")]);
        assert_eq!(s.history[0].time, t0);
        let f = s.follow.as_mut().expect("running");
        let l = f.try_recv().expect("bc");
        assert_eq!(l.bytes, Bytes::from("bc\n"));
        assert_eq!(l.time, clock.now());
        assert_eq!(f.try_recv().expect("oops").stream, StreamKind::Stderr);
        assert!(f.try_recv().is_err(), "closed after finish");
        assert!(logs.stream(&key).expect("log").follow.is_none());
    }
}
