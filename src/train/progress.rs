//! The progress line: on a terminal a bar redrawn each step, cut to the terminal's width (a
//! wrapped line would not be redrawn in place, and each redraw would add a line); otherwise
//! one line per logged step (so CI logs and `tee` stay readable).

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
            let width = terminal_size::terminal_size_of(std::io::stderr())
                .map_or(usize::MAX, |(w, _)| w.0 as usize);
            eprint!("\r\x1b[2K{}", fit(&self.line(done), width));
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

/// `line` cut to fit `width` columns (one left free for the cursor), ending in "…" when cut.
fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1);
    if line.chars().count() <= room {
        return line.to_string();
    }
    let mut out: String = line.chars().take(room.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_line_fits_the_terminal() {
        let line = "step 50/600 [##----] 8% stage 1 | loss 895.7 | ETA 32s";
        assert_eq!(super::fit(line, 200), line);
        let cut = super::fit(line, 20);
        assert_eq!(cut.chars().count(), 19);
        assert!(cut.ends_with('…') && line.starts_with(cut.trim_end_matches('…')));
    }
}
