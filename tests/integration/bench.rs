//! `irel bench`: generated images pushed, pulled and copied through real registries, with
//! the digests cross-checked by skopeo.

use crate::support::{irel, ok_stdout, skopeo_digest, Registry};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok_stdout(out)).expect("bench --json prints one JSON object")
}

#[test]
fn bench_push_pull_and_copy_report_what_they_moved() {
    let (a, b) = (Registry::start(), Registry::start());
    let img = format!("{}/bench/img:1", a.addr);

    let push = json(&irel(&[
        "bench", "push", "--size", "3MiB", "--layers", "3", "--json", &img,
    ]));
    let digest = push["digest"].as_str().unwrap().to_string();
    assert_eq!(
        skopeo_digest(&img, &[]),
        digest,
        "the pushed image is what the report says"
    );
    assert_eq!(push["operation"], "push");
    assert_eq!(
        (push["blobs"].as_u64(), push["blobs_transferred"].as_u64()),
        (Some(4), Some(4))
    );
    assert!(push["bytes"].as_u64().unwrap() > 3 << 20, "{push}");
    assert!(push["megabytes_per_second"].as_f64().unwrap() > 0.0);
    let latency = &push["blob_latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() <= latency["p95"].as_f64().unwrap());
    // Two pings (https first, then plain http, which a loopback registry may speak), HEAD tag,
    // POST + PUT for each of 4 blobs, PUT manifest.
    assert_eq!(push["requests"], 4 + 2 * 4, "{push}");
    assert!(push["peak_rss_bytes"].as_u64().unwrap() > 0);

    // The same seed makes the same image.
    let again = json(&irel(&[
        "bench",
        "push",
        "--size",
        "3MiB",
        "--layers",
        "3",
        "--json",
        &format!("{}/bench/again:1", a.addr),
    ]));
    assert_eq!(again["digest"].as_str(), Some(digest.as_str()));

    let pull = json(&irel(&["bench", "pull", "--json", &img]));
    assert_eq!(
        (pull["digest"].as_str(), pull["bytes"].as_u64()),
        (Some(digest.as_str()), push["bytes"].as_u64())
    );

    let copied = format!("{}/bench/img:1", b.addr);
    let copy = json(&irel(&["bench", "copy", "--json", &img, &copied]));
    assert_eq!(copy["blobs_transferred"], 4);
    assert_eq!(skopeo_digest(&copied, &[]), digest);

    // The human report names what a person looks for.
    let text = ok_stdout(&irel(&["bench", "pull", &copied]));
    for what in ["MB/s", "p50", "p95", "requests", "cpu", "peak memory", &digest] {
        assert!(text.contains(what), "{what} missing from:\n{text}");
    }
}

#[test]
fn bench_rejects_a_bad_size_as_a_usage_error() {
    let out = irel(&["bench", "push", "--size", "lots", "localhost:1/x:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1GiB"));
}
