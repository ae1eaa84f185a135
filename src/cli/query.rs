//! Commands that read without copying: `tags`, `catalog`, `manifest`, `referrers`, `inspect`.

use std::io::Write;

use irel::manifest::Platform;

use super::{client_for, parse_ref, runtime, Cli, Failure};

/// `irel tags REPO`: every tag, one per line (all pages).
pub(super) fn tags(cli: &Cli, repository: &str) -> Result<(), Failure> {
    let r = parse_ref("repository", repository)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let tags = runtime()?.block_on(client.tags(&r))?;
    if cli.flags.json {
        outln!("{}", serde_json::json!({"repository": r.name(), "tags": tags}));
    } else {
        print_lines(&tags)?;
    }
    Ok(())
}

/// `irel catalog REGISTRY`: every repository, one per line (all pages).
pub(super) fn catalog(cli: &Cli, registry: &str) -> Result<(), Failure> {
    // Any repository of the registry names it for credentials.
    let r = parse_ref("registry", &format!("{registry}/catalog"))?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let repositories = runtime()?.block_on(client.catalog(r.registry(), None))?;
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"registry": registry, "repositories": repositories})
        );
    } else {
        print_lines(&repositories)?;
    }
    Ok(())
}

/// `irel manifest REF [--platform P]`: the manifest's exact bytes.
pub(super) fn manifest(cli: &Cli, reference: &str, platform: Option<&Platform>) -> Result<(), Failure> {
    let r = parse_ref("image", reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let rt = runtime()?;
    let r = match platform {
        Some(p) => rt.block_on(client.resolve_platform(&r, p))?,
        None => r,
    };
    let m = rt.block_on(client.get_manifest(&r))?;
    std::io::stdout().write_all(&m.bytes)?;
    Ok(())
}

/// `irel referrers REF [--artifact-type T]`: `DIGEST ARTIFACT_TYPE` per line.
pub(super) fn referrers(cli: &Cli, reference: &str, artifact_type: Option<&str>) -> Result<(), Failure> {
    let r = parse_ref("image", reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let rt = runtime()?;
    let subject = match r.digest() {
        Some(d) => d.clone(),
        None => rt.block_on(client.digest(&r))?,
    };
    let found = rt.block_on(client.referrers(&r, &subject, artifact_type))?;
    if cli.flags.json {
        outln!(
            "{}",
            serde_json::json!({"subject": r.with_digest(subject).to_string(), "referrers": found})
        );
    } else {
        let lines: Vec<String> = found
            .iter()
            .map(|f| format!("{} {}", f.digest, f.artifact_type.as_deref().unwrap_or("-")))
            .collect();
        print_lines(&lines)?;
    }
    Ok(())
}

/// `irel inspect REF`: digest, media type, platforms and sizes.
pub(super) fn inspect(cli: &Cli, reference: &str) -> Result<(), Failure> {
    let r = parse_ref("image", reference)?;
    let client = client_for(cli, &[(&r, None, "--creds")])?;
    let s = runtime()?.block_on(client.inspect(&r))?;
    if cli.flags.json {
        outln!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    outln!("Name:       {r}");
    outln!("Digest:     {}", s.digest);
    outln!("MediaType:  {}", s.media_type);
    outln!("Manifest:   {} bytes", s.manifest_size);
    for i in &s.instances {
        outln!(
            "Platform:   {:<20} {} ({} bytes)",
            i.platform.as_deref().unwrap_or("(none stated)"),
            i.digest,
            i.size
        );
    }
    if let (Some(config), Some(total)) = (s.config_size, s.total_size) {
        outln!("Config:     {config} bytes");
        for (n, size) in s.layer_sizes.iter().enumerate() {
            outln!("Layer {:<4} {size} bytes", n + 1);
        }
        outln!("Total:      {total} bytes ({:.1} MiB)", total as f64 / (1 << 20) as f64);
    }
    for referrer in &s.referrers {
        outln!(
            "Referrer:   {} {}",
            referrer.digest,
            referrer.artifact_type.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

fn print_lines(lines: &[String]) -> Result<(), Failure> {
    for l in lines {
        outln!("{l}");
    }
    Ok(())
}
