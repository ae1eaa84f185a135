//! What a person sees at a terminal: the commands run in tmux (a real terminal emulator, at 60
//! and 80 columns), and the screen is read back once they end. Results printed while progress
//! bars are up must survive the bars being cleared.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{make_layout, skopeo_push, Registry};

/// Runs `command` in a detached tmux session `cols` wide; returns the screen (wrapped lines
/// joined) once it has printed `__done__`.
fn on_screen(cols: u16, command: &str) -> String {
    let session = format!("irel-test-{}-{cols}", std::process::id());
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", &cols.to_string(), "-y", "40"])
        .arg(format!("{command}; echo __done__; sleep 600"))
        .status()
        .expect("tmux (Debian package tmux)");
    assert!(status.success());
    let started = Instant::now();
    let screen = loop {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-J", "-t", &session])
            .output()
            .unwrap();
        let screen = String::from_utf8_lossy(&out.stdout).to_string();
        if screen.contains("__done__") || started.elapsed() > Duration::from_secs(60) {
            break screen;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("tmux").args(["kill-session", "-t", &session]).status();
    screen
}

#[test]
fn results_stay_whole_under_progress_bars_at_60_and_80_columns() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[6 << 20, 6 << 20], &["amd64", "arm64"], 91);
    skopeo_push(&layout, "t", &format!("{}/big/app:t", src.addr), &[]);
    let irel = env!("CARGO_BIN_EXE_irel");
    let image = format!("{}/big/app:t", src.addr);
    for cols in [60, 80] {
        let dst_image = format!("{}/copy/c{cols}:t", dst.addr);
        let screen = on_screen(cols, &format!("{irel} copy {image} {dst_image}"));
        let want = format!("copied {image} to {dst_image} with content digest {}", fx.digest);
        assert!(screen.contains(&want), "{cols} columns:\n{screen}");

        let prefix = format!("{}/reloc{cols}", dst.addr);
        let screen = on_screen(cols, &format!("{irel} relocate -r {prefix} {image}"));
        assert!(
            screen.contains(&format!("relocated {image} to {prefix}/")) && screen.contains(&fx.digest),
            "{cols} columns:\n{screen}"
        );
    }
}
