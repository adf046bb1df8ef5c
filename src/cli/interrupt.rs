//! Ctrl-C: the first sets a flag that the training loop reads after each step (it then
//! checkpoints and returns); a second quits at once. The checkpoint on disk is whole either
//! way (written atomically). One handler for the process, however many runs it trains.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static STOP: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// The process's stop flag, with the handler installed on first use.
pub fn flag() -> &'static AtomicBool {
    INSTALLED.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\nvae-gpu: interrupted; checkpointing after this step (Ctrl-C again to quit now)"
            );
        });
    });
    &STOP
}
