//! Progress output for long steps: on a terminal a spinner with the elapsed time that turns into
//! a check mark (or a cross); otherwise plain lines, one when a step starts and one when it ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// One running step. A step dropped without [`Step::success`] or [`Step::fail`] (an early
/// return with `?`, a panic) ends as failed, so no spinner line is ever left without its mark.
pub struct Step {
    title: String,
    started: Instant,
    tty: bool,
    stop: Arc<AtomicBool>,
    lock: Arc<Mutex<()>>,
    spinner: Option<std::thread::JoinHandle<()>>,
}

fn elapsed(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl Step {
    /// Starts a step.
    pub fn start(title: &str) -> Step {
        let tty = std::io::stdout().is_terminal();
        let stop = Arc::new(AtomicBool::new(false));
        let lock = Arc::new(Mutex::new(()));
        let started = Instant::now();
        let spinner = if tty {
            let (stop, lock, title) = (stop.clone(), lock.clone(), title.to_string());
            Some(std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(_g) = lock.lock() {
                        print!(
                            "\r\x1b[2K {}  {title} [{}]",
                            FRAMES[i % FRAMES.len()],
                            elapsed(started.elapsed())
                        );
                        let _ = std::io::stdout().flush();
                    }
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }))
        } else {
            println!(" •  {title} ...");
            None
        };
        Step {
            title: title.to_string(),
            started,
            tty,
            stop,
            lock,
            spinner,
        }
    }

    /// Prints a line under the step without breaking the spinner.
    pub fn note(&self, line: &str) {
        let _g = self.lock.lock();
        if self.tty {
            println!("\r\x1b[2K    {line}");
        } else {
            println!("    {line}");
        }
    }

    /// A handle that prints lines under the step from another task.
    pub fn notifier(&self) -> impl FnMut(&str) + Send + 'static {
        let lock = self.lock.clone();
        let tty = self.tty;
        move |line: &str| {
            let _g = lock.lock();
            if tty {
                println!("\r\x1b[2K    {line}");
            } else {
                println!("    {line}");
            }
        }
    }

    fn finish(&mut self, mark: &str) {
        if self.stop.swap(true, Ordering::Relaxed) {
            return; // already ended
        }
        if let Some(h) = self.spinner.take() {
            let _ = h.join();
        }
        let _g = self.lock.lock();
        let clear = if self.tty { "\r\x1b[2K" } else { "" };
        println!(
            "{clear} {mark}  {} [{}]",
            self.title,
            elapsed(self.started.elapsed())
        );
    }

    /// Ends the step successfully.
    pub fn success(mut self) {
        self.finish("✓");
    }

    /// Ends the step with a failure.
    pub fn fail(mut self) {
        self.finish("✗");
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.finish("✗");
    }
}
