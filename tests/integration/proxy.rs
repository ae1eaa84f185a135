//! Behaviours only a bent registry shows, through a forwarding proxy in front of a real one:
//! blob redirects to another origin, and refused mounts.

use base64::Engine as _;
use irel::auth::{Credential, StaticCredentials};
use irel::{Client, CopyOptions, Reference};

use crate::support::{make_layout, skopeo_digest, skopeo_pull_all, skopeo_push, Behaviour, Proxy, Registry};

#[tokio::test]
async fn blob_redirects_to_another_origin_drop_authorization() {
    let registry = Registry::with_basic_auth("carol", "pw-carol");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("carol:pw-carol")
    );
    // "Object storage": another origin, which has its own access to the content.
    let storage = Proxy::start(
        &registry.addr,
        Behaviour {
            upstream_authorization: Some(basic),
            ..Default::default()
        },
    );
    let front = Proxy::start(
        &registry.addr,
        Behaviour {
            redirect_blob_gets_to: Some(format!("http://{}", storage.addr)),
            ..Default::default()
        },
    );
    let layout = registry.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[3000, 2000], &["amd64"], 31);
    skopeo_push(
        &layout,
        "t",
        &format!("{}/app:t", registry.addr),
        &["--dest-creds", "carol:pw-carol"],
    );
    let target = Registry::start();

    let mut creds = StaticCredentials::default();
    creds.insert(
        &front.addr,
        Credential::Basic {
            username: "carol".into(),
            password: "pw-carol".into(),
        },
    );
    let client = Client::builder().credentials(creds).build().unwrap();
    let src: Reference = format!("{}/app:t", front.addr).parse().unwrap();
    let dst: Reference = format!("{}/app:t", target.addr).parse().unwrap();
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.blobs_copied, 3);
    assert_eq!(skopeo_digest(&dst.to_string(), &[]), fx.digest);

    let redirected = storage.seen_matching("GET /v2/app/blobs/");
    assert_eq!(redirected.len(), 3, "every blob GET should land on the storage origin");
    assert!(
        redirected.iter().all(|(_, h)| !h.contains_key("authorization")),
        "Authorization leaked to another origin"
    );
    let at_registry = front.seen_matching("GET /v2/app/blobs/");
    assert!(
        at_registry.iter().all(|(_, h)| h.contains_key("authorization")),
        "the registry itself gets credentials"
    );
}

#[tokio::test]
async fn refused_mount_falls_back_to_streaming_the_blob() {
    let registry = Registry::start();
    let proxy = Proxy::start(
        &registry.addr,
        Behaviour {
            refuse_mounts: true,
            ..Default::default()
        },
    );
    let layout = registry.scratch().join("layout");
    let fx = make_layout(&layout, "t", &[5000, 7000], &["amd64"], 32);
    skopeo_push(&layout, "t", &format!("{}/origin/app:t", registry.addr), &[]);
    let client = Client::builder().build().unwrap();
    let src: Reference = format!("{}/origin/app:t", proxy.addr).parse().unwrap();
    let dst: Reference = format!("{}/other/app:t", proxy.addr).parse().unwrap();
    let report = client.copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!((report.blobs_mounted, report.blobs_copied), (0, 3), "{report:?}");
    assert_eq!(
        proxy.seen_matching("mount=").len(),
        3,
        "irel asked to mount each blob first"
    );
    assert_eq!(skopeo_digest(&format!("{}/other/app:t", registry.addr), &[]), fx.digest);
    skopeo_pull_all(&format!("{}/other/app:t", registry.addr), &[]);
}
