//! Name-resolution failures told apart from other connect errors, by type.

use super::resolve::{is_name_not_resolved, TypedResolver};
use reqwest::dns::{Name, Resolve};

#[tokio::test]
async fn a_name_that_does_not_resolve_is_known_by_its_type() {
    // `.invalid` never resolves (RFC 2606); the lookup fails locally.
    let name: Name = "grantledger-test.invalid".parse().unwrap();
    let err = match TypedResolver.resolve(name).await {
        Ok(_) => panic!("a .invalid name resolved"),
        Err(e) => e,
    };
    assert!(is_name_not_resolved(err.as_ref()), "{err}");
    assert!(
        err.to_string().contains("grantledger-test.invalid"),
        "{err}"
    );
    assert!(err.source().is_some());
}

#[tokio::test]
async fn loopback_resolves_and_other_errors_are_not_taken_for_dns() {
    let name: Name = "localhost".parse().unwrap();
    let addrs: Vec<_> = TypedResolver.resolve(name).await.unwrap().collect();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    assert!(!is_name_not_resolved(&refused));
}
