//! Name resolution through a resolver of our own, so that a host name that does
//! not resolve is told by its type in the error chain ([`NameNotResolved`]),
//! never by the wording of a lower layer's message.

use std::error::Error;
use std::fmt;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A host name that resolved to no address.
#[derive(Debug)]
pub(crate) struct NameNotResolved {
    host: String,
    cause: std::io::Error,
}

impl fmt::Display for NameNotResolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the host name {} does not resolve: {}",
            self.host, self.cause
        )
    }
}

impl Error for NameNotResolved {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

/// The system's resolver (`getaddrinfo`, through tokio), its failures typed.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TypedResolver;

impl Resolve for TypedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let failed = |cause: std::io::Error| -> Box<dyn Error + Send + Sync> {
                Box::new(NameNotResolved {
                    host: host.clone(),
                    cause,
                })
            };
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(failed)?
                .collect();
            if addrs.is_empty() {
                return Err(failed(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no address",
                )));
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Whether `e`'s chain holds a [`NameNotResolved`].
pub(crate) fn is_name_not_resolved(e: &(dyn Error + 'static)) -> bool {
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<NameNotResolved>() {
            return true;
        }
        cur = err.source();
    }
    false
}
