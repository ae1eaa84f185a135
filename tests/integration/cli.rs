//! The CLI's contract: Go irel's commands and messages, one-line errors, exit codes.

use crate::support::{irel, make_layout, ok_stdout, skopeo_push, Registry};

#[test]
fn map_prints_go_irel_names() {
    let cases = [
        (
            "example.com/user",
            "docker.io/istio/proxyv2",
            "example.com/user/istio-proxyv2-f93a2cacc6cafa0474a2d6990a4dd1a0",
        ),
        (
            "example.com/user",
            "projectriff/builder:v1",
            "example.com/user/projectriff-builder-a4a25a99d48adad8310050be267a10ce:v1",
        ),
        (
            "test.host/testuser",
            "some.registry.com/some-user",
            "test.host/testuser/some-user-9482d6a53a1789fb7304a4fe88362903",
        ),
    ];
    for (prefix, image, want) in cases {
        assert_eq!(ok_stdout(&irel(&["map", "-r", prefix, image])), want);
        assert_eq!(ok_stdout(&irel(&["map", "--repository-prefix", prefix, image])), want);
    }
}

#[test]
fn digest_prints_the_digest_alone() {
    let a = Registry::start();
    let layout = a.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[1024], &["amd64", "arm64"], 9);
    skopeo_push(&layout, "t", &format!("{}/d/app:t", a.addr), &[]);
    assert_eq!(ok_stdout(&irel(&["digest", &format!("{}/d/app:t", a.addr)])), fx.digest);
    assert_eq!(ok_stdout(&irel(&["dig", &format!("{}/d/app:t", a.addr)])), fx.digest);
    // skopeo's transport prefix is accepted on registry images.
    assert_eq!(
        ok_stdout(&irel(&["digest", &format!("docker://{}/d/app:t", a.addr)])),
        fx.digest
    );
}

#[test]
fn bad_input_exits_2_with_one_line_naming_it() {
    for args in [
        vec!["digest", "Docker/Bad:tag:x"],
        vec!["copy", "ok/image", "docker.io/UPPER/case"],
        vec!["map", "-r", "example.com/user", "a@sha256:abc"],
        vec!["map", "-r", "Bad/Prefix", "busybox"],
    ] {
        let out = irel(&args);
        assert_eq!(out.status.code(), Some(2), "a usage error: {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("irel: "), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = irel(&["map", "-r", "x", "UPPER"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"UPPER\""));
    // Clap's own usage errors: exit 2 as well.
    assert_eq!(irel(&["copy", "only-one-arg"]).status.code(), Some(2));
    // A path where an image belongs says which commands take paths.
    let out = irel(&["copy", "localhost:5000/a:1", "dir:/tmp/somewhere"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"dir:/tmp/somewhere\"") && err.contains("`irel sync`"),
        "{err}"
    );
}

#[test]
fn unknown_tag_is_reported_with_the_registry_code() {
    let a = Registry::start();
    let out = irel(&["digest", &format!("{}/none/here:v1", a.addr)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist") || err.contains("UNKNOWN"), "{err}");
    // A copy names the missing image, the registry's code and how to see what is there.
    let src = format!("{}/none/here:v1", a.addr);
    let out = irel(&["copy", &src, &format!("{}/x:1", a.addr)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("UNKNOWN"), "{err}");
    assert!(
        err.contains(&format!("{src} does not exist; `irel tags {}/none/here`", a.addr)),
        "{err}"
    );
}
