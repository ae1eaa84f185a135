//! Name resolution with per-host overrides (like curl's `--resolve`), so a registry can be
//! reached under a name that DNS does not know, with TLS and the scheme policy still keyed on
//! that name.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

/// A resolver that answers overridden names itself and asks the system for the rest.
#[derive(Clone, Default)]
pub(crate) struct OverrideResolver {
    overrides: Arc<HashMap<String, IpAddr>>,
}

impl OverrideResolver {
    pub(crate) fn new(overrides: HashMap<String, IpAddr>) -> Self {
        OverrideResolver {
            overrides: Arc::new(overrides),
        }
    }
}

type Addrs = std::vec::IntoIter<SocketAddr>;

impl Service<Name> for OverrideResolver {
    type Response = Addrs;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Addrs, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(ip) = self.overrides.get(&name.as_str().to_ascii_lowercase()) {
            let addrs = vec![SocketAddr::new(*ip, 0)].into_iter();
            return Box::pin(async move { Ok(addrs) });
        }
        let mut gai = GaiResolver::new();
        Box::pin(async move {
            let addrs = gai.call(name).await?;
            Ok(addrs.collect::<Vec<_>>().into_iter())
        })
    }
}
