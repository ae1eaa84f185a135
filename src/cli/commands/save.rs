//! `irel save -o BUNDLE.tgz IMAGE…`: a thick bundle, every platform of each image in an OCI
//! layout inside a `.tar.gz`.

use crate::cli::args::SaveArgs;
use crate::cli::client::{client_for, copy_options};
use crate::cli::interrupt::block_on;
use crate::cli::operands::{image_list, parse_ref, writable_output};
use crate::cli::{Cli, Failure};

pub(crate) fn run(cli: &Cli, args: &SaveArgs) -> Result<(), Failure> {
    let SaveArgs {
        output,
        images,
        images_file,
        referrers,
        ..
    } = args;
    let list = image_list(images, images_file.as_deref())?;
    if list.is_empty() {
        return Err(Failure::usage("save: name at least one image, or --images FILE"));
    }
    writable_output("-o", output)?;
    let refs = list
        .iter()
        .map(|i| parse_ref("image", i))
        .collect::<Result<Vec<_>, _>>()?;
    let named: Vec<_> = refs.iter().map(|r| (r, None, "--creds")).collect();
    let client = client_for(cli, &named)?;
    let options = copy_options(cli).referrers(*referrers);
    let digests = block_on(client.save(&refs, output, &options))??;
    for (r, d) in refs.iter().zip(digests) {
        match cli.flags.json {
            true => outln!(
                "{}",
                serde_json::json!({"image": r.to_string(), "digest": d.to_string(), "bundle": output})
            ),
            false => outln!("saved {r} with digest {d} to {}", output.display()),
        }
    }
    Ok(())
}
