//! Process input and output: a shared stdin reader and byte sinks for stdout/stderr.
//!
//! A [`Sink`] is written synchronously (the simulator buffers without limit); the kubelet passes
//! sinks that append to container logs or stream to an exec client. [`Input`] is an async
//! reader shared by every command of one shell (so `read` and `cat` consume the same stream).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

/// Where a process writes bytes.
pub trait Sink: Send + Sync {
    /// Writes `data` (never blocks).
    fn write(&self, data: &[u8]);
}

/// A cheap clonable handle to a sink.
#[derive(Clone)]
pub struct Out(Arc<dyn Sink>);

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Out")
    }
}

impl Out {
    /// Wraps a sink.
    pub fn new(sink: impl Sink + 'static) -> Self {
        Out(Arc::new(sink))
    }

    /// A sink that drops everything (`/dev/null`).
    pub fn null() -> Self {
        Out::new(NullSink)
    }

    /// Writes bytes.
    pub fn write(&self, data: &[u8]) {
        if !data.is_empty() {
            self.0.write(data);
        }
    }

    /// Writes a string.
    pub fn print(&self, s: &str) {
        self.write(s.as_bytes());
    }

    /// A sink into a new shared buffer, and the buffer.
    pub fn capture() -> (Self, Captured) {
        let buf = Captured::default();
        (Out::new(buf.clone()), buf)
    }
}

struct NullSink;

impl Sink for NullSink {
    fn write(&self, _data: &[u8]) {}
}

/// A shared byte buffer that is also a sink (for tests, `$(...)` and logs).
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// A copy of everything written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Everything written so far, as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

impl Sink for Captured {
    fn write(&self, data: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(data);
        }
    }
}

/// A sink that forwards chunks into an unbounded channel (pipes, exec streams).
pub struct ChannelSink(pub tokio::sync::mpsc::UnboundedSender<Bytes>);

impl Sink for ChannelSink {
    fn write(&self, data: &[u8]) {
        // A closed reader is like SIGPIPE ignored: the bytes are dropped.
        let _ = self.0.send(Bytes::copy_from_slice(data));
    }
}

/// A process's standard input, shared by the commands of one shell.
#[derive(Clone)]
pub struct Input(Arc<tokio::sync::Mutex<InputState>>);

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Input")
    }
}

struct InputState {
    buf: VecDeque<u8>,
    stream: Option<BoxStream<'static, Bytes>>,
}

impl Input {
    /// An input that is at end of file from the start.
    pub fn empty() -> Self {
        Self::bytes(Vec::new())
    }

    /// An input holding these bytes.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Self {
        Input(Arc::new(tokio::sync::Mutex::new(InputState {
            buf: data.into().into(),
            stream: None,
        })))
    }

    /// An input fed by a stream of chunks (exec stdin, a pipe); ends when the stream ends.
    pub fn stream(stream: BoxStream<'static, Bytes>) -> Self {
        Input(Arc::new(tokio::sync::Mutex::new(InputState {
            buf: VecDeque::new(),
            stream: Some(stream),
        })))
    }

    /// An input fed by a channel receiver.
    pub fn channel(rx: tokio::sync::mpsc::UnboundedReceiver<Bytes>) -> Self {
        Self::stream(tokio_stream::wrappers::UnboundedReceiverStream::new(rx).boxed())
    }

    /// The next chunk, or `None` at end of file.
    pub async fn read_chunk(&self) -> Option<Bytes> {
        let mut s = self.0.lock().await;
        if !s.buf.is_empty() {
            let v: Vec<u8> = s.buf.drain(..).collect();
            return Some(Bytes::from(v));
        }
        match s.stream.as_mut() {
            Some(st) => {
                let next = st.next().await;
                if next.is_none() {
                    s.stream = None;
                }
                next
            }
            None => None,
        }
    }

    /// Everything until end of file.
    pub async fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(c) = self.read_chunk().await {
            out.extend_from_slice(&c);
        }
        out
    }

    /// One line without its newline, or `None` at end of file with nothing read.
    pub async fn read_line(&self) -> Option<String> {
        let mut s = self.0.lock().await;
        loop {
            if let Some(pos) = s.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = s.buf.drain(..=pos).collect();
                return Some(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            let next = match s.stream.as_mut() {
                Some(st) => st.next().await,
                None => None,
            };
            match next {
                Some(chunk) => s.buf.extend(chunk.iter()),
                None => {
                    s.stream = None;
                    if s.buf.is_empty() {
                        return None;
                    }
                    let line: Vec<u8> = s.buf.drain(..).collect();
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
            }
        }
    }
}

/// An open file descriptor: something to read or something to write.
#[derive(Clone, Debug)]
pub enum Fd {
    /// A readable descriptor (`3<file`).
    In(Input),
    /// A writable descriptor (`3>file`, `3>&1`).
    Out(Out),
}

/// The three standard streams of a process, and the descriptors above 2 it has open.
#[derive(Clone, Debug)]
pub struct Stdio {
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Out,
    /// Standard error.
    pub stderr: Out,
    /// Descriptors 3 and up (`exec 3>file`, `cmd 3>&1 1>&2 2>&3`), inherited by children.
    pub extra: BTreeMap<u32, Fd>,
}

impl Stdio {
    /// Streams with empty input and the given outputs.
    pub fn new(stdout: Out, stderr: Out) -> Self {
        Stdio {
            stdin: Input::empty(),
            stdout,
            stderr,
            extra: BTreeMap::new(),
        }
    }

    /// Descriptor `fd`, or `None` when it is not open.
    pub fn fd(&self, fd: u32) -> Option<Fd> {
        match fd {
            0 => Some(Fd::In(self.stdin.clone())),
            1 => Some(Fd::Out(self.stdout.clone())),
            2 => Some(Fd::Out(self.stderr.clone())),
            n => self.extra.get(&n).cloned(),
        }
    }

    /// Makes `fd` refer to `to` (`dup2`). A standard stream given the wrong direction reads
    /// nothing or discards what is written.
    pub fn set_fd(&mut self, fd: u32, to: Fd) {
        match (fd, to) {
            (0, Fd::In(i)) => self.stdin = i,
            (0, Fd::Out(_)) => self.stdin = Input::empty(),
            (1, Fd::Out(o)) => self.stdout = o,
            (2, Fd::Out(o)) => self.stderr = o,
            (1 | 2, Fd::In(_)) => self.set_fd(fd, Fd::Out(Out::null())),
            (n, to) => {
                self.extra.insert(n, to);
            }
        }
    }

    /// Closes `fd` (`3>&-`); a closed standard stream reads nothing and discards output.
    pub fn close_fd(&mut self, fd: u32) {
        match fd {
            0 => self.stdin = Input::empty(),
            1 => self.stdout = Out::null(),
            2 => self.stderr = Out::null(),
            n => {
                self.extra.remove(&n);
            }
        }
    }

    /// These streams with another stdin.
    pub fn with_stdin(mut self, stdin: Input) -> Self {
        self.stdin = stdin;
        self
    }
}
