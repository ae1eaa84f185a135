//! Progress bars on a terminal, fed by the copy engine's events: one bar for everything the
//! command moves, and one per blob while its bytes move. Nothing is drawn when stderr is not
//! a terminal, or with --quiet or --json.
//!
//! Bars are redrawn in place, so any other line written while they are up would be overwritten
//! when they are cleared: every line the CLI prints goes through [`suspended`], which takes the
//! bars down, prints, and puts them back below. Each bar fits the terminal's width (a line that
//! wraps would make the redraw erase the line above it).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use irel::copy::{BlobDisposition, CopyEvent};
use irel::{CopyOptions, Digest};

/// The bars of one command.
pub(super) struct Progress {
    bars: MultiProgress,
    overall: ProgressBar,
    blobs: Mutex<HashMap<Digest, ProgressBar>>,
    counts: Mutex<(usize, usize, usize)>,
    planned: std::sync::atomic::AtomicUsize,
}

/// The bars on screen, if any: every printed line must take them down first.
static ON_SCREEN: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Runs `print` with the bars (if any) taken down, and draws them again after it.
pub(super) fn suspended(print: impl FnOnce()) {
    let bars = ON_SCREEN.lock().ok().and_then(|b| b.clone());
    match bars {
        Some(bars) => bars.suspend(print),
        None => print(),
    }
}

/// Takes the bars down for good (the command is being interrupted: its last line must not be
/// followed by bars that nothing will clear).
pub(super) fn clear() {
    // Taken for writing: no event is being drawn meanwhile, and none is drawn after (a bar
    // updated between the clearing and the hiding would be drawn again and left on screen).
    let mut cleared = CLEARED.write().unwrap_or_else(|e| e.into_inner());
    *cleared = true;
    if let Some(bars) = ON_SCREEN.lock().ok().and_then(|mut b| b.take()) {
        let _ = bars.clear();
        bars.set_draw_target(ProgressDrawTarget::hidden());
    }
}

/// Set once the bars are taken down for good; events read it (shared) before drawing.
static CLEARED: std::sync::RwLock<bool> = std::sync::RwLock::new(false);

/// Adds progress bars to `options` when they would be seen.
pub(super) fn attach(options: CopyOptions, quiet: bool) -> CopyOptions {
    if quiet || !std::io::stderr().is_terminal() {
        return options;
    }
    let progress = Arc::new(Progress::new());
    options.on_event(move |event| progress.on(event))
}

// `wide_bar` takes what the fixed fields leave of the terminal's width, so no line wraps.
fn blob_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:15} [{wide_bar}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec:>11}")
        .expect("a valid template")
        .progress_chars("=> ")
}

fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:17} [{wide_bar}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec:>11} {eta:>3}")
        .expect("a valid template")
        .progress_chars("=> ")
}

impl Progress {
    fn new() -> Progress {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = bars.add(ProgressBar::new(0).with_style(overall_style()));
        overall.set_message("blobs 0/0");
        if let Ok(mut on_screen) = ON_SCREEN.lock() {
            *on_screen = Some(bars.clone());
        }
        Progress {
            bars,
            overall,
            blobs: Mutex::new(HashMap::new()),
            counts: Mutex::new((0, 0, 0)),
            planned: Default::default(),
        }
    }

    fn on(&self, event: &CopyEvent) {
        let cleared = CLEARED.read().unwrap_or_else(|e| e.into_inner());
        if *cleared {
            return;
        }
        match event {
            CopyEvent::Planned { blobs, bytes } => {
                self.planned.fetch_add(*blobs, std::sync::atomic::Ordering::Relaxed);
                self.overall.inc_length(*bytes);
            }
            CopyEvent::BlobStarted { digest, size } => {
                let bar = self.bars.add(ProgressBar::new(*size).with_style(blob_style()));
                bar.set_prefix(short(digest));
                self.blobs.lock().expect("progress").insert(digest.clone(), bar);
            }
            CopyEvent::BlobProgress { digest, transferred } => {
                if let Some(bar) = self.blobs.lock().expect("progress").get(digest) {
                    let delta = transferred.saturating_sub(bar.position());
                    bar.set_position(*transferred);
                    self.overall.inc(delta);
                }
            }
            CopyEvent::BlobDone {
                digest,
                size,
                disposition,
                ..
            } => {
                let bar = self.blobs.lock().expect("progress").remove(digest);
                if let Some(bar) = bar {
                    // Mounted and skipped blobs count as done without moving bytes.
                    self.overall.inc(size.saturating_sub(bar.position()));
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                let mut counts = self.counts.lock().expect("progress");
                match disposition {
                    BlobDisposition::Copied => counts.0 += 1,
                    BlobDisposition::Mounted => counts.1 += 1,
                    BlobDisposition::Skipped => counts.2 += 1,
                }
                let (copied, mounted, present) = *counts;
                self.overall.set_message(format!(
                    "blobs {}/{}",
                    copied + mounted + present,
                    self.planned.load(std::sync::atomic::Ordering::Relaxed)
                ));
            }
            _ => {}
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.overall.finish_and_clear();
        if let Ok(mut on_screen) = ON_SCREEN.lock() {
            *on_screen = None;
        }
    }
}

fn short(d: &Digest) -> String {
    let s = d.to_string();
    s.chars().take(19).collect()
}
