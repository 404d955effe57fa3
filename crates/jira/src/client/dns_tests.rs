//! Name-resolution failures told apart from other connect errors.

use super::is_dns_failure;

#[test]
fn name_resolution_failures_are_told_apart_from_other_connect_errors() {
    assert!(is_dns_failure(
        "could not connect (failed to lookup address information: Name or service not known)"
    ));
    assert!(is_dns_failure(
        "could not connect (dns error: no record found)"
    ));
    assert!(!is_dns_failure(
        "could not connect (Connection refused (os error 111))"
    ));
    assert!(!is_dns_failure("the request timed out after 30s"));
}
