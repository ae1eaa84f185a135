//! # irel: container image relocation
//!
//! A byte-exact OCI / Docker Registry v2 client written on hyper, and the copy engine behind the
//! `irel` command: copy images and multi-arch indexes between repositories and registries with
//! their digests preserved, and map image names under a repository prefix the way Go irel does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), irel::Error> {
//! let client = irel::Client::builder()
//!     .insecure_registry("lab-registry:5000")
//!     .credentials(irel::auth::DockerConfig::load_default()?)
//!     .build()?;
//! let src: irel::Reference = "registry.example.com/team/app:1.2".parse()?;
//! let dst = irel::mapping::flatten_repo_path_preserve_tag_digest("lab-registry:5000/acme", &src)?;
//! let report = client.copy(&src, &dst, &irel::CopyOptions::default()).await?;
//! assert_eq!(report.digest, Some(client.digest(&src).await?));
//! # Ok(()) }
//! ```
//!
//! Layers, from the top: [`Client::copy`] (the copy engine) → manifest and blob operations on
//! [`Client`] → [`auth`] → [`transport`] → hyper. The library never prints.
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod auth;
pub mod bench;
pub mod blob;
mod client;
pub mod copy;
mod error;
mod inspect;
pub mod mapping;
pub mod model;
pub mod places;
pub mod relocate;
mod remedy;
pub mod session;
#[cfg(feature = "sync")]
pub mod sync;
pub mod text;
pub mod transport;

pub use client::{Client, ClientBuilder};
pub use copy::{copy_content, ContentDestination, ContentSource, CopyOptions, CopyReport, RegistryRepository};
pub use error::{Error, RegistryErrorCode, RegistryErrorEntry, RegistryHint};
pub use inspect::{ImageSummary, InstanceSummary};
pub use model::{manifest, reference};
pub use places::layout;
pub use places::registry::{ListingLimits, MountOutcome, Registry};
pub use reference::{Digest, Reference};
pub use remedy::Remedy;
