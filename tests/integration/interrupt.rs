//! Ctrl-C (SIGINT) and SIGTERM at several points of the long commands: each exits 130 within
//! two seconds, with the destination's upload sessions cancelled and every temporary file and
//! directory irel made removed; what a SIGKILL leaves is removed by the next run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{irel, make_layout, ok_stdout, skopeo_push, Action, Behaviour, Fault, Proxy, Registry};

const MIB: usize = 1 << 20;

fn spawn(args: &[&str], tmpdir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_irel"))
        .args(args)
        .env("TMPDIR", tmpdir)
        .env("DOCKER_CONFIG", "/nonexistent-irel-test-docker-config")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (20 s at most) until `ready` holds, then sends `signal`; returns the exit code, what
/// irel wrote on stderr and how long it took to exit after the signal.
fn signal_when(child: Child, signal: &str, ready: impl Fn() -> bool) -> (Option<i32>, String, Duration) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "the command never reached the point to interrupt"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Instant::now();
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
        sent.elapsed(),
    )
}

/// Every file and directory below `dir`.
fn contents(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
            out.push(e.path());
        }
    }
    out
}

fn seeded(reg: &Registry, repo: &str, layers: &[usize], seed: u64) -> (String, String) {
    let layout = reg.scratch().join(format!("layout-{seed}"));
    let fx = make_layout(&layout, "t", layers, &["amd64"], seed);
    let image = format!("{}/{repo}:t", reg.addr);
    skopeo_push(&layout, "t", &image, &[]);
    (image, fx.digest)
}

#[test]
fn a_copy_interrupted_mid_upload_cancels_its_sessions_and_exits_130_at_once() {
    let (src, dst) = (Registry::start(), Registry::start());
    // Config and three layers: four upload sessions.
    let (image, digest) = seeded(&src, "i/app", &[2 * MIB, 2 * MIB, 2 * MIB], 71);
    // Uploads hang at the destination: the sessions are open when the signal comes.
    let proxy = Proxy::start(
        &dst.addr,
        Behaviour {
            faults: vec![Fault::new(
                "PUT /v2/i/app/blobs/uploads/",
                usize::MAX,
                Action::Delay(Duration::from_secs(60)),
            )],
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    for signal in ["-INT", "-TERM"] {
        let target = format!("{}/i/app:t", proxy.addr);
        let before = proxy.seen_matching("PUT /v2/i/app/blobs/uploads/").len();
        let child = spawn(&["copy", &image, &target], tmp.path());
        let (code, stderr, took) = signal_when(child, signal, || {
            // Every blob's session is open (a POST still in flight names no session to cancel).
            proxy.seen_matching("PUT /v2/i/app/blobs/uploads/").len() >= before + 4
        });
        assert_eq!(code, Some(130), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            took < Duration::from_secs(2),
            "{signal}: exited {took:?} after the signal"
        );
        let posts = proxy.seen_matching("POST /v2/i/app/blobs/uploads/").len();
        let deletes = proxy.seen_matching("DELETE /v2/i/app/blobs/uploads/").len();
        assert!(
            posts >= 2 && deletes >= 2,
            "{signal}: {posts} sessions opened, {deletes} cancelled"
        );
        let uploads = dst
            .scratch()
            .join("storage/docker/registry/v2/repositories/i/app/_uploads");
        let left: Vec<_> = contents(&uploads).into_iter().filter(|p| p.ends_with("data")).collect();
        assert!(left.is_empty(), "{signal}: upload sessions left holding data: {left:?}");
        assert!(
            contents(tmp.path()).is_empty(),
            "{signal}: left in TMPDIR: {:?}",
            contents(tmp.path())
        );
    }
    // A rerun (straight to the registry) finishes the job.
    let target = format!("{}/i/app:t", dst.addr);
    assert!(ok_stdout(&irel(&["copy", &image, &target])).contains(&digest));
}

#[test]
fn relocate_from_a_bundle_interrupted_early_or_late_leaves_no_temporary_files() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (image, _) = seeded(&src, "b/app", &[16 * MIB, 16 * MIB], 72);
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("bundle.tgz");
    ok_stdout(&irel(&["save", "-o", bundle.to_str().unwrap(), &image]));
    let tmp = tempfile::tempdir().unwrap();
    let has = |needle: &'static str| {
        let tmp = tmp.path().to_path_buf();
        move || contents(&tmp).iter().any(|p| p.to_string_lossy().contains(needle))
    };

    // Early: during the decompression (blobs are being extracted).
    let prefix = format!("{}/reloc", dst.addr);
    let args = ["relocate", "-r", &prefix, "--archive", bundle.to_str().unwrap()];
    let (code, stderr, took) = signal_when(spawn(&args, tmp.path()), "-INT", has("blobs/sha256/"));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(took < Duration::from_secs(2), "exited {took:?} after the signal");
    assert!(contents(tmp.path()).is_empty(), "left: {:?}", contents(tmp.path()));

    // Late: while the blobs are uploaded (held up by the proxy).
    let proxy = Proxy::start(
        &dst.addr,
        Behaviour {
            faults: vec![Fault::new(
                "PUT /v2/",
                usize::MAX,
                Action::Delay(Duration::from_secs(60)),
            )],
            ..Default::default()
        },
    );
    let prefix = format!("{}/reloc", proxy.addr);
    let args = ["relocate", "-r", &prefix, "--archive", bundle.to_str().unwrap()];
    let (code, stderr, took) = signal_when(spawn(&args, tmp.path()), "-INT", || {
        // Config and both layers: every session is open.
        proxy
            .seen_matching("/blobs/uploads/")
            .iter()
            .filter(|(l, _)| l.starts_with("PUT"))
            .count()
            >= 3
    });
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(2), "exited {took:?} after the signal");
    assert!(contents(tmp.path()).is_empty(), "left: {:?}", contents(tmp.path()));
    assert!(
        proxy.seen_matching("DELETE /v2/").len() >= proxy.seen_matching("POST /v2/").len(),
        "every session opened was cancelled"
    );
}

#[test]
fn save_interrupted_or_killed_leaves_nothing_beside_the_output_for_long() {
    let src = Registry::start();
    let (image, digest) = seeded(&src, "s/app", &[4 * MIB, 4 * MIB], 73);
    let proxy = Proxy::start(
        &src.addr,
        Behaviour {
            faults: vec![Fault::new(
                "GET /v2/s/app/blobs/",
                usize::MAX,
                Action::Delay(Duration::from_secs(60)),
            )],
            ..Default::default()
        },
    );
    let slow_image = format!("{}/s/app:t", proxy.addr);
    let out_dir = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("b.tgz");
    let args = ["save", "-o", output.to_str().unwrap(), &slow_image];
    let downloading = || proxy.seen_matching("GET /v2/s/app/blobs/").len() >= 2;

    let (code, stderr, took) = signal_when(spawn(&args, tmp.path()), "-INT", downloading);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(took < Duration::from_secs(2), "exited {took:?} after the signal");
    assert!(
        contents(out_dir.path()).is_empty(),
        "left: {:?}",
        contents(out_dir.path())
    );
    assert!(contents(tmp.path()).is_empty(), "left: {:?}", contents(tmp.path()));

    // Killed outright: its staging directory stays, until the next save to the same output.
    let before = proxy.seen_matching("GET /v2/s/app/blobs/").len();
    let (code, _, _) = signal_when(spawn(&args, tmp.path()), "-KILL", || {
        proxy.seen_matching("GET /v2/s/app/blobs/").len() >= before + 2
    });
    assert_eq!(code, None, "killed");
    assert!(
        !contents(out_dir.path()).is_empty(),
        "a SIGKILL leaves the staging directory"
    );
    assert!(!contents(tmp.path()).is_empty(), "and the run's temporary directory");
    let saved = ok_stdout(&irel_in(&["save", "-o", output.to_str().unwrap(), &image], tmp.path()));
    assert!(saved.contains(&digest));
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, vec!["b.tgz".to_string()], "the dead run's staging is gone");
    assert!(contents(tmp.path()).is_empty(), "left: {:?}", contents(tmp.path()));
}

fn irel_in(args: &[&str], tmpdir: &Path) -> std::process::Output {
    spawn(args, tmpdir).wait_with_output().unwrap()
}

#[test]
fn an_interrupted_relocation_has_reported_and_mapped_what_landed() {
    let (src, dst) = (Registry::start(), Registry::start());
    let (fast, fast_digest) = seeded(&src, "r/fast", &[64 << 10], 74);
    seeded(&src, "r/slow", &[64 << 10], 75);
    let proxy = Proxy::start(
        &src.addr,
        Behaviour {
            faults: vec![Fault::new(
                "GET /v2/r/slow/",
                usize::MAX,
                Action::Delay(Duration::from_secs(60)),
            )],
            ..Default::default()
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let mapping = tmp.path().join("mapping.json");
    let work = tempfile::tempdir().unwrap();
    let fast_via = fast.replace(&src.addr, &proxy.addr);
    let slow_via = format!("{}/r/slow:t", proxy.addr);
    let child = spawn(
        &[
            "relocate",
            "-r",
            &format!("{}/reloc", dst.addr),
            "--mapping-output",
            mapping.to_str().unwrap(),
            &fast_via,
            &slow_via,
        ],
        work.path(),
    );
    let (code, _, took) = signal_when(child, "-INT", || !proxy.seen_matching("GET /v2/r/slow/").is_empty());
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(2));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&mapping).expect("the mapping")).unwrap();
    let map = written.as_object().unwrap();
    assert_eq!(map.len(), 1, "{written}");
    let relocated = map[&fast_via].as_str().unwrap();
    assert_eq!(ok_stdout(&irel(&["digest", relocated])).trim(), fast_digest);
}
