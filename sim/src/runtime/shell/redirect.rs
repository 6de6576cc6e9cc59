//! Redirections: `>`, `>>`, `<`, `2>&1`, `&>`, `N>file`, `N>&M`, `N<&M`, `N>&-`, here-documents
//! and here-strings, applied to a copy of the shell's descriptors (0-2 and any above).

use std::sync::Arc;

use brush_parser::ast::{IoFileRedirectKind, IoFileRedirectTarget, IoRedirect};

use super::Shell;
use crate::runtime::fs::{Vfs, absolute};
use crate::runtime::host::Host;
use crate::runtime::io::{Fd, Input, Out, Sink, Stdio};

/// The descriptor a redirection names, or `default` (0 for input, 1 for output).
fn fd_or(fd: Option<i32>, default: u32) -> Result<u32, String> {
    match fd {
        None => Ok(default),
        Some(n) => u32::try_from(n).map_err(|_| format!("{n}: Bad file descriptor")),
    }
}

/// A sink that appends to a file of the container filesystem (redirections).
struct FileSink {
    fs: Vfs,
    path: String,
    host: Arc<dyn Host>,
}

impl Sink for FileSink {
    fn write(&self, data: &[u8]) {
        let _ = self
            .fs
            .write(&self.path, data, true, 0o644, self.host.now());
    }
}

impl Shell {
    fn open_out(&self, io: &Stdio, target: &str, append: bool) -> Result<Out, String> {
        match target {
            "/dev/null" => return Ok(Out::null()),
            "/dev/stdout" => return Ok(io.stdout.clone()),
            "/dev/stderr" => return Ok(io.stderr.clone()),
            _ => {}
        }
        let path = absolute(&self.cwd, target);
        let now = self.sys.host.now();
        let exists = self.sys.fs.exists(&path);
        if !append || !exists {
            self.sys
                .fs
                .write(&path, b"", false, 0o644, now)
                .map_err(|e| {
                    format!(
                        "can't create {target}: {}",
                        e.to_string().rsplit(": ").next().unwrap_or("error")
                    )
                })?;
        } else if self.sys.fs.is_dir(&path) {
            return Err(format!("can't create {target}: Is a directory"));
        }
        Ok(Out::new(FileSink {
            fs: self.sys.fs.clone(),
            path,
            host: self.sys.host.clone(),
        }))
    }

    pub(super) async fn redirect_io(&mut self, redirs: &[&IoRedirect]) -> Result<Stdio, String> {
        let mut io = self.io.clone();
        for r in redirs {
            match r {
                IoRedirect::File(fd, kind, target) => {
                    let target_str = match target {
                        IoFileRedirectTarget::Filename(w) | IoFileRedirectTarget::Duplicate(w) => {
                            self.expand_string(&w.value)
                                .await
                                .map_err(|_| "bad redirection".to_string())?
                        }
                        IoFileRedirectTarget::Fd(n) => n.to_string(),
                        IoFileRedirectTarget::ProcessSubstitution(..) => {
                            return Err("process substitution: not supported".into());
                        }
                    };
                    match kind {
                        IoFileRedirectKind::Read | IoFileRedirectKind::ReadAndWrite => {
                            let path = absolute(&self.cwd, &target_str);
                            let data = if target_str == "/dev/null" {
                                Vec::new()
                            } else {
                                self.sys
                                    .fs
                                    .read(&path)
                                    .map_err(|e| {
                                        format!(
                                            "can't open '{target_str}': {}",
                                            e.to_string().rsplit(": ").next().unwrap_or("error")
                                        )
                                    })?
                                    .to_vec()
                            };
                            io.set_fd(fd_or(*fd, 0)?, Fd::In(Input::bytes(data)));
                        }
                        IoFileRedirectKind::Write
                        | IoFileRedirectKind::Clobber
                        | IoFileRedirectKind::Append => {
                            let out = self.open_out(
                                &io,
                                &target_str,
                                matches!(kind, IoFileRedirectKind::Append),
                            )?;
                            io.set_fd(fd_or(*fd, 1)?, Fd::Out(out));
                        }
                        IoFileRedirectKind::DuplicateOutput
                        | IoFileRedirectKind::DuplicateInput => {
                            let input = matches!(kind, IoFileRedirectKind::DuplicateInput);
                            let dest = fd_or(*fd, if input { 0 } else { 1 })?;
                            if target_str == "-" {
                                io.close_fd(dest);
                            } else if let Ok(src) = target_str.parse::<u32>() {
                                let Some(to) = io.fd(src) else {
                                    return Err(format!("{src}: Bad file descriptor"));
                                };
                                io.set_fd(dest, to);
                            } else if input {
                                return Err(format!("{target_str}: Bad file descriptor"));
                            } else {
                                // `>&file` is `&>file` in bash.
                                let out = self.open_out(&io, &target_str, false)?;
                                io.stderr = out.clone();
                                io.set_fd(dest, Fd::Out(out));
                            }
                        }
                    }
                }
                IoRedirect::HereDocument(fd, doc) => {
                    let text = if doc.requires_expansion {
                        self.expand_heredoc(&doc.doc.value)
                            .await
                            .map_err(|_| "bad here-document".to_string())?
                    } else {
                        doc.doc.value.clone()
                    };
                    let text = if doc.remove_tabs {
                        text.lines()
                            .map(|l| l.trim_start_matches('\t'))
                            .collect::<Vec<_>>()
                            .join("\n")
                            + "\n"
                    } else {
                        text
                    };
                    io.set_fd(fd_or(*fd, 0)?, Fd::In(Input::bytes(text.into_bytes())));
                }
                IoRedirect::HereString(fd, w) => {
                    let s = self
                        .expand_string(&w.value)
                        .await
                        .map_err(|_| "bad here-string".to_string())?;
                    io.set_fd(
                        fd_or(*fd, 0)?,
                        Fd::In(Input::bytes(format!("{s}\n").into_bytes())),
                    );
                }
                IoRedirect::OutputAndError(w, append) => {
                    let t = self
                        .expand_string(&w.value)
                        .await
                        .map_err(|_| "bad redirection".to_string())?;
                    let out = self.open_out(&io, &t, *append)?;
                    io.stdout = out.clone();
                    io.stderr = out;
                }
            }
        }
        Ok(io)
    }
}
