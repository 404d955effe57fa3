//! Grants: a principal gained or lost an entitlement, with the cause.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::access::{Grant, GrantCause};

/// A principal gained an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantAdded {
    /// Who gained what.
    pub grant: Grant,
    /// Why.
    pub cause: GrantCause,
}

/// A principal lost an entitlement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRemoved {
    /// Who lost what.
    pub grant: Grant,
    /// Why.
    pub cause: GrantCause,
}
