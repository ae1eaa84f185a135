//! What a new user meets in the first hour (issue #14): exit codes for usage errors, a registry
//! address given where an image belongs, and logs without colour codes when redirected.

use crate::support::{irel, irel_env, make_layout, ok_stdout, skopeo_push, Registry};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn usage_errors_exit_2_with_one_line_naming_the_input() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["digest", "a.example/UPPER/x:1"], "a.example/UPPER/x:1"),
        (vec!["copy", "a.example/x:1", "b.example/Bad Name"], "Bad Name"),
        (
            vec!["layout", "push", "/nonexistent", "sha256:zz", "b.example/x:1"],
            "digest",
        ),
        (
            vec!["copy", "--dest-creds", "nocolon", "a.example/x:1", "b.example/x:1"],
            "--dest-creds",
        ),
        (vec!["sync", "docker://a.example/x"], "SRC and DST"),
        (vec!["relocate", "-r", "b.example/p"], "name images"),
        (vec!["sync", "ftp://x", "dir:/tmp/x"], "ftp://x"),
        (vec!["save", "-o", "/tmp/irel-never.tgz"], "name at least one image"),
    ];
    for (args, named) in cases {
        let out = irel(&args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("irel: ") && err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn a_registry_address_without_a_repository_is_caught_before_any_request() {
    for args in [
        vec!["copy", "a.example/x:1", "127.0.0.1:15100"],
        vec!["copy", "localhost:5000", "a.example/x:1"],
        vec!["tags", "registry.example.com:443"],
    ] {
        let out = irel(&args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("registry address without a repository")
                && err.contains("docker.io/library/")
                && err.contains("/REPOSITORY[:TAG]"),
            "{err}"
        );
        assert!(!err.contains("dns error"), "no request was made: {err}");
    }
    let side = stderr_of(&irel(&["copy", "a.example/x:1", "127.0.0.1:15100"]));
    assert!(side.starts_with("irel: destination image 127.0.0.1:15100: "), "{side}");
    // Other failures name the side that failed, as written and as Docker's rules read it.
    let reg = Registry::start();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = irel(&[
        "copy",
        "--retry-times",
        "0",
        &format!("{}/none/here:1", reg.addr),
        &format!("127.0.0.1:{free}/x:1"),
    ]);
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!("irel: source image {}/none/here:1: ", reg.addr)),
        "{err}"
    );
    let layout = reg.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 92);
    skopeo_push(&layout, "t", &format!("{}/some/app:t", reg.addr), &[]);
    let out = irel(&[
        "copy",
        "--retry-times",
        "0",
        &format!("{}/some/app:t", reg.addr),
        &format!("127.0.0.1:{free}/x"),
    ]);
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!("irel: destination image 127.0.0.1:{free}/x: ")),
        "{err}"
    );
    // map keeps Go irel's output byte for byte, and warns.
    let out = irel(&["map", "-r", "example.com/user", "127.0.0.1:15100"]);
    assert_eq!(
        ok_stdout(&out).trim(),
        "example.com/user/library-127.0.0.1-03113688664aae7459200d6686e89f52:15100"
    );
    assert!(stderr_of(&out).starts_with("irel: warning: image 127.0.0.1:15100: "));
}

#[test]
fn logs_carry_no_colour_codes_unless_on_a_terminal() {
    let reg = Registry::start();
    let layout = reg.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 93);
    skopeo_push(&layout, "t", &format!("{}/c/app:t", reg.addr), &[]);
    let image = format!("{}/c/app:t", reg.addr);
    for (flag, env) in [
        ("--debug", vec![]),
        ("-v", vec![]),
        ("--debug", vec![("NO_COLOR", "1")]),
    ] {
        let out = irel_env(&[flag, "digest", &image], &env);
        let err = stderr_of(&out);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains('\u{1b}'), "{flag}: {err:?}");
    }
    assert!(
        stderr_of(&irel(&["--debug", "digest", &image])).contains("GET"),
        "debug logs requests"
    );
}

#[test]
fn what_would_surprise_is_refused() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 94);
    skopeo_push(&layout, "t", &format!("{}/one/app:t", src.addr), &[]);
    let image = format!("{}/one/app:t", src.addr);

    // A single-platform image is not copied for another platform.
    let out = irel(&[
        "copy",
        "--platform",
        "linux/arm64",
        &image,
        &format!("{}/one/arm:t", dst.addr),
    ]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("single-platform image for linux/amd64, not linux/arm64"),
        "{err}"
    );
    assert!(!dst.log_text().contains("PUT /v2/"), "nothing written");
    let out = irel(&[
        "copy",
        "--platform",
        "linux/amd64",
        &image,
        &format!("{}/one/amd:t", dst.addr),
    ]);
    assert!(ok_stdout(&out).contains(&fx.digest));

    // Counts of zero.
    for args in [
        vec!["copy", "--concurrency", "0", "a.example/x:1", "b.example/x:1"],
        vec!["sync", "--jobs", "0", "docker://a.example/x", "docker://b.example"],
        vec!["bench", "push", "--layers", "0", "b.example/x:1"],
    ] {
        let out = irel(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
    }

    // curl's --resolve HOST:PORT:ADDR works as HOST:ADDR does.
    let named = format!("registry.irel.test:{}", src.port);
    let resolve = format!("registry.irel.test:{}:127.0.0.1", src.port);
    let out = irel(&[
        "--resolve",
        &resolve,
        "--insecure-registry",
        &named,
        "digest",
        &format!("{named}/one/app:t"),
    ]);
    assert_eq!(ok_stdout(&out).trim(), fx.digest);
}

#[test]
fn json_is_printed_wherever_results_are() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 95);
    skopeo_push(&layout, "t", &format!("{}/j/app:t", src.addr), &[]);
    let image = format!("{}/j/app:t", src.addr);
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = ok_stdout(&irel(&all));
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    };
    let v = json(&["map", "-r", "example.com/user", "docker.io/istio/proxyv2"]);
    assert_eq!(
        v["relocated"],
        "example.com/user/istio-proxyv2-f93a2cacc6cafa0474a2d6990a4dd1a0"
    );
    assert_eq!(v["original"], "docker.io/istio/proxyv2");

    let dir = src.scratch().join("out");
    let dir_s = dir.to_str().unwrap();
    let v = json(&["layout", "add", dir_s, &image]);
    assert_eq!(
        (v["digest"].as_str(), v["layout"].as_str()),
        (Some(fx.digest.as_str()), Some(dir_s))
    );
    let v = json(&["layout", "find", dir_s, &image]);
    assert_eq!(v["digest"], fx.digest.as_str());
    let pushed = format!("{}/j/pushed:t", dst.addr);
    let v = json(&["layout", "push", dir_s, &fx.digest, &pushed]);
    assert_eq!(
        (v["digest"].as_str(), v["image"].as_str()),
        (Some(fx.digest.as_str()), Some(pushed.as_str()))
    );
    let bundle = src.scratch().join("b.tgz");
    let v = json(&["save", "-o", bundle.to_str().unwrap(), &image]);
    assert_eq!(
        (v["digest"].as_str(), v["image"].as_str()),
        (Some(fx.digest.as_str()), Some(image.as_str()))
    );
}

#[test]
fn layouts_are_never_made_of_other_directories_nor_left_half_made() {
    let src = Registry::start();
    let layout = src.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 96);
    skopeo_push(&layout, "t", &format!("{}/l/app:t", src.addr), &[]);
    let image = format!("{}/l/app:t", src.addr);

    // A directory holding other files is not turned into a layout.
    let project = src.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("notes.txt"), "mine").unwrap();
    let out = irel(&["layout", "add", project.to_str().unwrap(), &image]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read_dir(&project).unwrap().count(), 1, "nothing written there");

    // A first add that fails leaves no layout behind, new directory or empty one.
    let fresh = src.scratch().join("fresh");
    let missing = format!("{}/l/none:t", src.addr);
    assert_eq!(
        irel(&["layout", "add", fresh.to_str().unwrap(), &missing])
            .status
            .code(),
        Some(1)
    );
    assert!(!fresh.exists(), "the layout it created is gone");
    let empty = src.scratch().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(
        irel(&["layout", "add", empty.to_str().unwrap(), &missing])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "the empty directory stays empty"
    );
    // An existing layout keeps what it had when a later add fails.
    ok_stdout(&irel(&["layout", "add", empty.to_str().unwrap(), &image]));
    assert_eq!(
        irel(&["layout", "add", empty.to_str().unwrap(), &missing])
            .status
            .code(),
        Some(1)
    );
    let found = ok_stdout(&irel(&["layout", "find", empty.to_str().unwrap(), &image]));
    assert!(found.contains(&fx.digest));

    // save does not invent directories, and names the one that is missing.
    let out = irel(&["save", "-o", "/nonexistent-irel/dir/b.tgz", &image]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/nonexistent-irel/dir does not exist"), "{err}");
    assert!(!std::path::Path::new("/nonexistent-irel").exists());

    // relocate from a bundle names the bundle the user gave, not a temporary directory.
    let bundle = src.scratch().join("b.tgz");
    ok_stdout(&irel(&["save", "-o", bundle.to_str().unwrap(), &image]));
    let out = irel(&[
        "relocate",
        "-r",
        &format!("{}/reloc", src.addr),
        "--archive",
        bundle.to_str().unwrap(),
        "example.com/not/there:1",
    ]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: holds no image named example.com/not/there:1",
            bundle.display()
        )),
        "{err}"
    );
    assert!(!err.contains("irel-bundle-"), "{err}");
}

#[test]
fn upload_errors_name_the_blob_and_repository_not_the_session_url() {
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 97);
    skopeo_push(&layout, "t", &format!("{}/u/app:t", src.addr), &[]);
    let proxy = crate::support::Proxy::start(
        &dst.addr,
        crate::support::Behaviour {
            faults: vec![crate::support::Fault::new(
                "PUT /v2/u/app/blobs/uploads/",
                usize::MAX,
                crate::support::Action::Status(400, None, Some("DIGEST_INVALID")),
            )],
            ..Default::default()
        },
    );
    let out = irel(&[
        "copy",
        &format!("{}/u/app:t", src.addr),
        &format!("{}/u/app:t", proxy.addr),
    ]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("_state") && !err.contains("/blobs/uploads/"), "{err}");
    assert!(
        err.contains(&format!("PUT blob {}/u/app (blob sha256:", proxy.addr)) && err.contains("DIGEST_INVALID"),
        "{err}"
    );
}

/// Forwards every connection to `127.0.0.1:port` on to `to`, from `after` on (before that the
/// port is closed: connections are refused).
fn late_forwarder(port: u16, to: String, after: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        for client in listener.incoming().flatten() {
            let upstream = std::net::TcpStream::connect(&to).unwrap();
            let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut u_write);
                let _ = u_write.shutdown(std::net::Shutdown::Write);
            });
            let (mut u_read, mut c_write) = (upstream, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut u_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

#[test]
fn a_registry_not_yet_listening_is_tried_again_and_the_error_names_both_schemes() {
    let reg = Registry::start();
    let layout = reg.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64"], 98);
    skopeo_push(&layout, "t", &format!("{}/r/app:t", reg.addr), &[]);
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };

    // Refused at first, listening 300 ms later (a registry restarting): the digest comes.
    let port = free_port();
    late_forwarder(port, reg.addr.clone(), std::time::Duration::from_millis(300));
    let out = irel(&["-v", "digest", &format!("127.0.0.1:{port}/r/app:t")]);
    assert_eq!(ok_stdout(&out).trim(), fx.digest);
    assert!(stderr_of(&out).contains("first contact failed"), "{}", stderr_of(&out));

    // Never listening: after the retries, one line naming both schemes tried.
    let port = free_port();
    let started = std::time::Instant::now();
    let out = irel(&["digest", &format!("127.0.0.1:{port}/r/app:t")]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "retried first"
    );
    assert!(
        err.contains(&format!("https://127.0.0.1:{port}/v2/ and http://127.0.0.1:{port}/v2/")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn each_command_offers_only_the_flags_that_do_something_and_shows_an_example() {
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        ok_stdout(&irel(&all))
    };
    let absent = |args: &[&str], flags: &[&str]| {
        let text = help(args);
        for flag in flags {
            assert!(!text.contains(flag), "{args:?} offers {flag}:\n{text}");
        }
    };
    absent(
        &["map"],
        &[
            "--creds",
            "--timeout",
            "--retry-times",
            "--quiet",
            "--insecure-registry",
        ],
    );
    absent(&["login"], &["--retry-times", "--json", "--creds", "--quiet"]);
    absent(&["logout"], &["--insecure-registry", "--json", "--timeout"]);
    absent(&["completions"], &["--creds", "--json"]);
    absent(&["layout", "find"], &["--creds", "--timeout", "--quiet"]);
    absent(&["manifest"], &["--json", "--quiet"]);
    absent(&["tags"], &["--quiet"]);
    let copy = help(&["copy"]);
    for flag in [
        "--creds",
        "--timeout",
        "--retry-times",
        "--quiet",
        "--json",
        "--insecure-registry",
        "--debug",
    ] {
        assert!(copy.contains(flag), "copy lacks {flag}");
    }
    for command in [
        vec!["copy"],
        vec!["digest"],
        vec!["save"],
        vec!["relocate"],
        vec!["sync"],
        vec!["tags"],
        vec!["catalog"],
        vec!["manifest"],
        vec!["referrers"],
        vec!["inspect"],
        vec!["login"],
        vec!["logout"],
        vec!["completions"],
        vec!["map"],
        vec!["layout", "add"],
        vec!["layout", "find"],
        vec!["layout", "push"],
        vec!["bench", "push"],
        vec!["bench", "pull"],
        vec!["bench", "copy"],
    ] {
        assert!(help(&command).contains("Example"), "{command:?} has no example");
    }
    // Before the command, as Go irel users write them: taken when the command offers them…
    let out = irel(&["--json", "map", "-r", "example.com/u", "busybox"]);
    assert!(ok_stdout(&out).starts_with('{'));
    // …and refused, naming both, when it does not.
    let out = irel(&["--creds", "a:b", "map", "-r", "example.com/u", "busybox"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--creds") && err.contains("irel map"), "{err}");
}

#[test]
fn a_sync_to_dir_leaves_no_half_written_image_directory() {
    let src = Registry::start();
    for (repo, seed) in [("lib/good", 99u64), ("lib/bad", 100)] {
        let layout = src.scratch().join(repo.replace('/', "-"));
        make_layout(&layout, "t", &[64 << 10], &["amd64"], seed);
        skopeo_push(&layout, "t", &format!("{}/{repo}:t", src.addr), &[]);
    }
    let proxy = crate::support::Proxy::start(
        &src.addr,
        crate::support::Behaviour {
            faults: vec![crate::support::Fault::new(
                "GET /v2/lib/bad/blobs/",
                usize::MAX,
                crate::support::Action::CutResponseAfter(100),
            )],
            ..Default::default()
        },
    );
    let out_dir = src.scratch().join("usb");
    let dst = format!("dir:{}", out_dir.display());
    let good = irel(&["sync", &format!("docker://{}/lib/good", proxy.addr), &dst]);
    assert!(good.status.success(), "{}", stderr_of(&good));
    let bad = irel(&[
        "sync",
        "--retry-times",
        "0",
        &format!("docker://{}/lib/bad", proxy.addr),
        &dst,
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr_of(&bad));
    let scope = out_dir.join(proxy.addr.replace(':', "-"));
    assert!(scope.join("lib/good:t/manifest.json").exists());
    assert!(
        !scope.join("lib/bad:t").exists(),
        "the failed image's directory is gone"
    );
}

/// A plain http server on loopback that is not a registry (answers 404 to everything).
fn not_a_registry() -> String {
    crate::support::serve(|_req: hyper::Request<hyper::body::Incoming>| async {
        hyper::Response::builder()
            .status(404)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    })
    .to_string()
}

#[test]
fn what_a_new_user_tried_next_works() {
    let (src, dst) = (Registry::start(), Registry::start());
    let index_layout = src.scratch().join("index");
    let index = make_layout(&index_layout, "t", &[1024], &["amd64", "arm64"], 101);
    skopeo_push(&index_layout, "t", &format!("{}/n/multi:t", src.addr), &[]);
    let single_layout = src.scratch().join("single");
    let single = make_layout(&single_layout, "t", &[1024], &["amd64"], 102);
    skopeo_push(&single_layout, "t", &format!("{}/n/single:t", src.addr), &[]);

    // referrers and inspect by digest: an index's own manifests are not its referrers.
    for (repo, digest) in [("n/multi", &index.digest), ("n/single", &single.digest)] {
        let image = format!("{}/{repo}@{digest}", src.addr);
        assert_eq!(ok_stdout(&irel(&["referrers", &image])), "", "{repo}");
        let shown = ok_stdout(&irel(&["inspect", &image]));
        assert!(!shown.contains("Referrer:"), "{repo}: {shown}");
    }

    // A registry's root as the relocation prefix, as map takes it.
    let image = format!("{}/n/single:t", src.addr);
    let mapped = ok_stdout(&irel(&["map", "-r", &dst.addr, &image]));
    let out = ok_stdout(&irel(&["relocate", "-r", &dst.addr, &image]));
    assert!(out.contains(mapped.trim()) && out.contains(&single.digest), "{out}");
    // A bad prefix is a usage error, before anything is done.
    assert_eq!(irel(&["relocate", "-r", "bad prefix", &image]).status.code(), Some(2));

    // A web server that is not a registry is named as such.
    let web = not_a_registry();
    let err = stderr_of(&irel(&["digest", &format!("{web}/a/b:1")]));
    assert!(err.contains("is not a registry API endpoint"), "{err}");

    // A reader that goes away early is no error.
    let status = std::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; {} completions bash | head -1 >/dev/null",
                env!("CARGO_BIN_EXE_irel")
            ),
        ])
        .status()
        .unwrap();
    assert!(status.success());

    // save -o NAME.tar writes an uncompressed tar (read in place later).
    let tar = src.scratch().join("bundle.tar");
    ok_stdout(&irel(&["save", "-o", tar.to_str().unwrap(), &image]));
    let bytes = std::fs::read(&tar).unwrap();
    assert_ne!(&bytes[..2], &[0x1f, 0x8b], "not gzip");
    assert_eq!(&bytes[257..262], b"ustar");
    // A file that is not an archive is named as such, and its contents are never shown.
    let not_tar = src.scratch().join("passwd");
    std::fs::write(&not_tar, "root:x:0:0:root:/root:/bin/bash\n".repeat(20)).unwrap();
    let out = irel(&["relocate", "-r", &dst.addr, "--archive", not_tar.to_str().unwrap()]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not a tar or tar.gz archive") && !err.contains("root:"),
        "{err}"
    );
}

#[test]
fn sync_locations_that_cannot_be_meant_are_refused_and_dry_runs_speak_json() {
    for (args, says) in [
        (
            vec!["sync", "docker://127.0.0.1:5000", "docker://127.0.0.1:5001/x"],
            "whole registry",
        ),
        (
            vec!["sync", "docker://127.0.0.1:5000/a", "docker://127.0.0.1:5001/a/b:tag"],
            "drop the tag",
        ),
    ] {
        let out = irel(&args);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says) && !err.contains("dns"), "{err}");
    }
    let (src, dst) = (Registry::start(), Registry::start());
    let layout = src.scratch().join("layout");
    make_layout(&layout, "t", &[1024], &["amd64"], 103);
    skopeo_push(&layout, "t", &format!("{}/d/app:t", src.addr), &[]);
    let out = ok_stdout(&irel(&[
        "sync",
        "--dry-run",
        "--json",
        &format!("docker://{}/d/app", src.addr),
        &format!("docker://{}/m", dst.addr),
    ]));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["outcome"], "planned");
    assert_eq!(lines[1]["summary"]["planned"], 1);
}

#[test]
fn a_sync_reports_each_image_as_it_ends() {
    use std::io::BufRead;
    let src = Registry::start();
    let dst = Registry::start();
    for (tag, seed) in [("a", 104u64), ("b", 105), ("c", 106)] {
        let layout = src.scratch().join(tag);
        make_layout(&layout, "t", &[32 << 10], &["amd64"], seed);
        skopeo_push(&layout, "t", &format!("{}/s/app:{tag}", src.addr), &[]);
    }
    // The second image of the plan (the registry's listing order) is slow; one image at a
    // time, in plan order.
    let order: Vec<String> = ok_stdout(&irel(&["tags", &format!("{}/s/app", src.addr)]))
        .lines()
        .map(str::to_string)
        .collect();
    let (fast, slow) = (order[0].clone(), order[1].clone());
    let proxy = crate::support::Proxy::start(
        &src.addr,
        crate::support::Behaviour {
            faults: vec![crate::support::Fault::new(
                &format!("GET /v2/s/app/manifests/{slow}"),
                usize::MAX,
                crate::support::Action::Delay(std::time::Duration::from_secs(4)),
            )],
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_irel"))
        .args([
            "sync",
            "--jobs",
            "1",
            &format!("docker://{}/s/app", proxy.addr),
            &format!("docker://{}/m", dst.addr),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(first.contains(&format!("s/app:{fast} ")), "{first}");
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(child.wait().unwrap().success());
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
    assert!(
        first_at < std::time::Duration::from_secs(3),
        "the first image was reported after {first_at:?}, not as it ended"
    );
    assert!(rest.iter().any(|l| l.contains(&format!("s/app:{slow} "))) && rest.last().unwrap().starts_with("sync: "));
}
