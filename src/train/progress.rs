//! The progress line: on a terminal a bar redrawn each step, otherwise one line per
//! logged step (so CI logs and `tee` stay readable).

use crate::text::duration;
use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    total: u64,
    first: u64,
    start: Instant,
    tty: bool,
    status: String,
}

impl Progress {
    pub fn new(first: u64, total: u64) -> Progress {
        Progress {
            total,
            first,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            status: String::new(),
        }
    }

    fn line(&self, done: u64) -> String {
        let frac = done as f64 / self.total.max(1) as f64;
        let width = 24;
        let filled = (frac * width as f64).round() as usize;
        let rate = (done - self.first) as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        let eta = if done > self.first {
            duration((self.total - done) as f64 / rate)
        } else {
            "?".into()
        };
        format!(
            "step {done}/{} [{}{}] {:3.0}% {} | ETA {eta}",
            self.total,
            "#".repeat(filled),
            "-".repeat(width - filled),
            100.0 * frac,
            self.status
        )
    }

    /// After every step.
    pub fn step(&mut self, done: u64) {
        if self.tty {
            eprint!("\r\x1b[2K{}", self.line(done));
            let _ = std::io::stderr().flush();
        }
    }

    /// After a logged step: the latest metrics join the line.
    pub fn logged(&mut self, done: u64, status: String) {
        self.status = status;
        if self.tty {
            self.step(done);
        } else {
            eprintln!("{}", self.line(done));
        }
    }

    /// A line of its own (the bar, on a terminal, is redrawn below it).
    pub fn note(&mut self, text: &str) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!("{text}");
    }

    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
