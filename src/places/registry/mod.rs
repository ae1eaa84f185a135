//! The registry as a place content comes from and goes to: the Distribution / OCI API verbs,
//! one file each ([`blobs`](self) downloads and existence checks, uploads and mounts,
//! manifests, tags, the catalog, referrers, the login check), over a [`Session`]. The copy
//! engine reaches a repository through [`RegistryRepository`], its content-place adapter.
//!
//! What a registry refused once (single-PUT uploads, mount requests) is remembered here for
//! the life of the [`Registry`], so the next blob goes the way that works.

mod blobs;
mod catalog;
mod login;
mod manifests;
mod referrers;
mod repository;
mod tags;
mod uploads;

pub use catalog::ListingLimits;
pub(crate) use referrers::FallbackLocks;
pub use repository::RegistryRepository;
pub use uploads::{MountOutcome, UploadLocation};

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use http::Response;

use crate::error::Error;
use crate::model::name::Repository;
use crate::places::cleanup::Cleanups;
use crate::session::{RegistryRequest, Session};
use crate::transport::ResponseBody;

/// Registries reached through one [`Session`], with what each refused so far. Cheap to clone;
/// clones share the session and what was learned.
///
/// ```
/// let session = irel::session::Session::builder().build().unwrap();
/// let registry = irel::places::registry::Registry::new(session, Default::default());
/// # let _ = registry;
/// ```
#[derive(Clone, Debug)]
pub struct Registry {
    session: Session,
    listing_limits: ListingLimits,
    /// Registries that refused single-PUT uploads: they get PATCH + PUT.
    chunked_uploads: Arc<Mutex<HashSet<String>>>,
    /// Registries that refused a mount POST (`?mount=…&from=…`): they get a HEAD and a plain
    /// upload POST instead.
    mounts_refused: Arc<Mutex<HashSet<String>>>,
    /// Serializes updates of each referrers fallback index.
    fallback_locks: FallbackLocks,
    /// Upload sessions being cancelled after their copy was dropped.
    cleanups: Cleanups,
}

impl Registry {
    /// Registries reached through `session`, each listing bounded by `listing_limits`.
    pub fn new(session: Session, listing_limits: ListingLimits) -> Registry {
        Registry {
            session,
            listing_limits,
            chunked_uploads: Arc::default(),
            mounts_refused: Arc::default(),
            fallback_locks: Arc::default(),
            cleanups: Cleanups::default(),
        }
    }

    /// The session requests go through.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The upload sessions being cancelled after their copy was dropped: a program that stops
    /// on a signal awaits [`Cleanups::settled`] before it exits.
    pub fn cleanups(&self) -> &Cleanups {
        &self.cleanups
    }

    /// `scheme://host` of the registry serving `r`.
    pub(crate) async fn base_url(&self, r: &Repository) -> Result<String, Error> {
        self.session.base_url(r).await
    }

    /// Sends `request` through the session; see [`Session::send`].
    pub(crate) async fn send(&self, request: RegistryRequest) -> Result<(Response<ResponseBody>, String), Error> {
        self.session.send_at(request).await
    }

    /// How many times a broken download is resumed.
    pub(crate) fn retry_times(&self) -> u32 {
        self.session.retry_times()
    }
}
