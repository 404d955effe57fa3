//! Request policies: which entitlements can be asked for, who approves, how many
//! approvals, for how long, what the requester must say, and whether break-glass
//! is allowed. They live in the config file (`grantledger.toml`), under `[jit]`:
//!
//! ```toml
//! [jit]
//! # Groups that give Jira administration beyond the built-in list
//! # (site-admins, jira-administrators, org-admins): names or globs.
//! privileged_groups = ["security-*"]
//! # Calls to Jira the scheduler makes at once (grants and removals); default 8.
//! concurrency = 8
//!
//! [[jit.policy]]
//! name = "developers"
//! groups = ["dev-*", "jira-software-users"]   # or: projects = ["OPS"] with roles = ["Developers"]
//! approvers = ["5b10a2844c20165700ede21g"]     # account ids or emails
//! approver_groups = ["team-leads"]             # members, from the live projection
//! approvals = 1
//! max_duration = "8h"
//! require_justification = true
//! require_ticket = false
//! break_glass_max = "1h"                       # absent: no break-glass
//! ```
//!
//! The first policy (in file order) whose `groups`, or `projects` and `roles`,
//! match the entitlement applies; no match means "not requestable". A file with
//! one error is refused as a whole, naming the line, the column and the reason;
//! the messages never quote a value.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

pub use grantledger_model::names::{
    glob_matches, BUILT_IN_PRIVILEGED_GROUPS as BUILT_IN_PRIVILEGED,
};

/// The longest a policy may allow access to last: 90 days.
pub const LONGEST_DURATION_SECS: u64 = 90 * 24 * 3600;

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct PolicyError {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to write instead.
    pub reason: String,
}

/// What an entitlement is, by the names people use in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntitlementName<'a> {
    /// A group, by name.
    Group(&'a str),
    /// A project role, by project key and role name.
    Role {
        /// The project's key.
        project_key: &'a str,
        /// The role's name.
        role: &'a str,
    },
}

/// One policy, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Its name, as events and errors name it.
    pub name: String,
    /// The group names or globs it covers.
    pub groups: Vec<String>,
    /// The project keys or globs it covers (with `roles`).
    pub projects: Vec<String>,
    /// The role names or globs it covers (with `projects`).
    pub roles: Vec<String>,
    /// Whether the entitlements it covers may be asked for.
    pub requestable: bool,
    /// Approvers by account id or email.
    pub approvers: Vec<String>,
    /// Approvers as members of these groups (names), from the live projection.
    pub approver_groups: Vec<String>,
    /// Distinct approvals asked for.
    pub approvals: u32,
    /// Whether this policy explicitly lets a privileged group be granted with
    /// fewer than two approvals.
    pub privileged_single_approval: bool,
    /// The longest access it allows, extensions included, in seconds.
    pub max_duration_secs: u64,
    /// A justification must be given.
    pub require_justification: bool,
    /// A ticket reference must be given.
    pub require_ticket: bool,
    /// The longest break-glass access, in seconds; `None`: no break-glass.
    pub break_glass_max_secs: Option<u64>,
}

/// The policy that applies to one entitlement, with the rules it yields for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<'a> {
    /// The policy.
    pub policy: &'a Policy,
    /// Whether the entitlement is a privileged group.
    pub privileged: bool,
    /// The approvals needed: the policy's, raised to two for a privileged group
    /// unless the policy explicitly says otherwise.
    pub approvals_needed: u32,
}

/// Every policy of a config file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policies {
    /// The policies.
    pub policies: Vec<Policy>,
    /// Extra privileged groups (names or globs).
    pub privileged_groups: Vec<String>,
    /// `concurrency`: how many commands (grants and removals) the scheduler lets
    /// call Jira at once — the round trips in flight; recording intents and
    /// outcomes in the log does not count against it. `None` for
    /// [`DEFAULT_CONCURRENCY`].
    pub concurrency: Option<usize>,
}

/// The scheduler's default number of commands calling Jira at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The most commands calling Jira at once (`concurrency` above it is refused).
pub const MAX_CONCURRENCY: usize = 64;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    jit: Option<RawJit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJit {
    #[serde(default)]
    privileged_groups: Vec<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    #[serde(default)]
    policy: Vec<Spanned<RawPolicy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    name: Option<Spanned<String>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
    #[serde(default)]
    projects: Vec<Spanned<String>>,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    requestable: Option<bool>,
    #[serde(default)]
    approvers: Vec<Spanned<String>>,
    #[serde(default)]
    approver_groups: Vec<Spanned<String>>,
    approvals: Option<Spanned<i64>>,
    #[serde(default)]
    privileged_single_approval: bool,
    max_duration: Option<Spanned<String>>,
    #[serde(default)]
    require_justification: bool,
    #[serde(default)]
    require_ticket: bool,
    break_glass_max: Option<Spanned<String>>,
}

use grantledger_model::line_and_column as place;

fn error_at(text: &str, span: Range<usize>, reason: impl Into<String>) -> PolicyError {
    let (line, column) = place(text, span.start);
    PolicyError {
        line,
        column,
        reason: reason.into(),
    }
}

/// A deserializer's message without any value it quoted (double-quoted text is
/// dropped; back-quoted key names are kept).
fn without_values(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(['"', '`']) {
        let quote = &rest[i..i + 1];
        let Some(len) = rest[i + 1..].find(quote) else {
            out.push_str(rest[..i].trim_end());
            return out;
        };
        let inner = &rest[i + 1..i + 1 + len];
        let key_like = quote == "`"
            && inner.len() <= 32
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if key_like {
            out.push_str(&rest[..i + len + 2]);
        } else {
            out.push_str(rest[..i].trim_end());
        }
        rest = &rest[i + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Parses a duration: a whole number followed by `s`, `m`, `h` or `d`
/// (`90m`, `8h`, `2d`), or several (`1h30m`).
pub fn parse_duration(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("a duration is empty: write e.g. 30m, 8h or 2d".into());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in raw.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => {
                return Err(
                    "a duration is a number and a unit (s, m, h or d), e.g. 30m, 8h or 2d".into(),
                )
            }
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| "a duration's unit must follow a number, e.g. 30m, 8h or 2d")?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or("a duration is too long")?;
    }
    if !digits.is_empty() {
        return Err("a duration needs a unit (s, m, h or d), e.g. 30m, 8h or 2d".into());
    }
    if total == 0 {
        return Err("a duration must be longer than zero".into());
    }
    Ok(total)
}

/// A duration in the shortest exact words: `8h`, `1h30m`, `2d`.
pub fn format_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out.push_str(&format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    out
}

fn names(text: &str, list: Vec<Spanned<String>>, what: &str) -> Result<Vec<String>, PolicyError> {
    list.into_iter()
        .map(|s| {
            let span = s.span();
            let v = s.into_inner();
            if v.trim().is_empty() {
                Err(error_at(
                    text,
                    span,
                    format!("an entry of `{what}` is empty"),
                ))
            } else if v.chars().any(char::is_control) {
                Err(error_at(
                    text,
                    span,
                    format!("an entry of `{what}` contains a control character"),
                ))
            } else {
                Ok(v.trim().to_owned())
            }
        })
        .collect()
}

fn duration_field(text: &str, field: Spanned<String>, what: &str) -> Result<u64, PolicyError> {
    let span = field.span();
    let secs = parse_duration(field.get_ref())
        .map_err(|why| error_at(text, span.clone(), format!("`{what}`: {why}")))?;
    if secs > LONGEST_DURATION_SECS {
        return Err(error_at(
            text,
            span,
            format!("`{what}` is longer than 90 days: time-bound access should be short"),
        ));
    }
    Ok(secs)
}

impl Policies {
    /// Parses and checks the `[jit]` section of a config file's text (other
    /// sections are left to their readers). Any error refuses the whole file.
    pub fn parse(text: &str) -> Result<Policies, PolicyError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| place(text, s.start));
            PolicyError {
                line,
                column,
                reason: without_values(e.message()),
            }
        })?;
        let Some(raw) = file.jit else {
            return Ok(Policies::default());
        };
        let privileged_groups = names(text, raw.privileged_groups, "privileged_groups")?;
        let concurrency = match raw.concurrency {
            None => None,
            Some(n) => {
                let span = n.span();
                match usize::try_from(n.into_inner()) {
                    Ok(v) if (1..=MAX_CONCURRENCY).contains(&v) => Some(v),
                    _ => {
                        return Err(error_at(
                            text,
                            span,
                            format!("`concurrency` must be from 1 to {MAX_CONCURRENCY}"),
                        ))
                    }
                }
            }
        };
        let mut policies: Vec<Policy> = Vec::new();
        for spanned in raw.policy {
            let span = spanned.span();
            let p = spanned.into_inner();
            let at = |reason: String| error_at(text, span.clone(), reason);
            let name = match p.name {
                None => return Err(at("a [[jit.policy]] needs a `name`".into())),
                Some(n) => {
                    let s = n.span();
                    let v = n.into_inner().trim().to_owned();
                    if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
                        return Err(error_at(
                            text,
                            s,
                            "a policy's `name` must be 1 to 64 printable characters",
                        ));
                    }
                    if policies.iter().any(|q| q.name.eq_ignore_ascii_case(&v)) {
                        return Err(error_at(
                            text,
                            s,
                            "two policies have this `name`: names must be unique",
                        ));
                    }
                    v
                }
            };
            let groups = names(text, p.groups, "groups")?;
            let projects = names(text, p.projects, "projects")?;
            let roles = names(text, p.roles, "roles")?;
            match (groups.is_empty(), projects.is_empty(), roles.is_empty()) {
                (false, true, true) | (true, false, false) => {}
                (false, _, _) => {
                    return Err(at(format!(
                        "policy {name}: give either `groups`, or `projects` with `roles`, not both"
                    )))
                }
                (true, true, true) => {
                    return Err(at(format!(
                    "policy {name}: it covers nothing: give `groups`, or `projects` with `roles`"
                )))
                }
                (true, _, _) => {
                    return Err(at(format!(
                        "policy {name}: `projects` and `roles` go together: give both"
                    )))
                }
            }
            let requestable = p.requestable.unwrap_or(true);
            let approvers = names(text, p.approvers, "approvers")?;
            let approver_groups = names(text, p.approver_groups, "approver_groups")?;
            let approvals = match p.approvals {
                None => 1,
                Some(a) => {
                    let s = a.span();
                    let v = *a.get_ref();
                    if !(1..=10).contains(&v) {
                        return Err(error_at(
                            text,
                            s,
                            format!("policy {name}: `approvals` must be from 1 to 10"),
                        ));
                    }
                    v as u32
                }
            };
            if requestable && approvers.is_empty() && approver_groups.is_empty() {
                return Err(at(format!(
                    "policy {name}: nobody could approve: give `approvers` or `approver_groups` (or `requestable = false`)"
                )));
            }
            if requestable && approver_groups.is_empty() && (approvers.len() as u32) < approvals {
                return Err(at(format!(
                    "policy {name}: `approvals` asks for more distinct approvers than `approvers` lists"
                )));
            }
            let max_duration_secs = match p.max_duration {
                Some(d) => duration_field(text, d, "max_duration")?,
                None if requestable => {
                    return Err(at(format!(
                        "policy {name}: give `max_duration` (e.g. \"8h\"): access is granted for a limited time"
                    )))
                }
                None => 0,
            };
            let break_glass_max_secs = match p.break_glass_max {
                None => None,
                Some(d) => {
                    let s = d.span();
                    let secs = duration_field(text, d, "break_glass_max")?;
                    if secs > max_duration_secs {
                        return Err(error_at(
                            text,
                            s,
                            format!(
                                "policy {name}: `break_glass_max` is longer than `max_duration`"
                            ),
                        ));
                    }
                    Some(secs)
                }
            };
            policies.push(Policy {
                name,
                groups,
                projects,
                roles,
                requestable,
                approvers,
                approver_groups,
                approvals,
                privileged_single_approval: p.privileged_single_approval,
                max_duration_secs,
                require_justification: p.require_justification,
                require_ticket: p.require_ticket,
                break_glass_max_secs,
            });
        }
        Ok(Policies {
            policies,
            privileged_groups,
            concurrency,
        })
    }

    /// How many commands the scheduler runs at once.
    pub fn scheduler_concurrency(&self) -> usize {
        self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }

    /// Whether a group (by name) is privileged: a built-in administration group or
    /// one listed in `privileged_groups`.
    pub fn is_privileged_group(&self, name: &str) -> bool {
        BUILT_IN_PRIVILEGED
            .iter()
            .any(|b| b.eq_ignore_ascii_case(name.trim()))
            || self
                .privileged_groups
                .iter()
                .any(|p| glob_matches(p, name.trim()))
    }

    /// The first policy that covers `entitlement`, with the approvals it needs.
    pub fn matching(&self, entitlement: &EntitlementName<'_>) -> Option<Matched<'_>> {
        let policy = self.policies.iter().find(|p| match entitlement {
            EntitlementName::Group(g) => p.groups.iter().any(|pat| glob_matches(pat, g)),
            EntitlementName::Role { project_key, role } => {
                p.projects.iter().any(|pat| glob_matches(pat, project_key))
                    && p.roles.iter().any(|pat| glob_matches(pat, role))
            }
        })?;
        let privileged = match entitlement {
            EntitlementName::Group(g) => self.is_privileged_group(g),
            EntitlementName::Role { .. } => false,
        };
        let approvals_needed = if privileged && !policy.privileged_single_approval {
            policy.approvals.max(2)
        } else {
            policy.approvals
        };
        Some(Matched {
            policy,
            privileged,
            approvals_needed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[jira]
site = "acme"

[jit]
privileged_groups = ["security-*"]

[[jit.policy]]
name = "developers"
groups = ["dev-*", "jira-software-users"]
approvers = ["a1", "a2"]
approvals = 1
max_duration = "8h"
require_justification = true
break_glass_max = "1h"

[[jit.policy]]
name = "admins"
groups = ["site-admins", "security-ops"]
approver_groups = ["team-leads"]
max_duration = "2h"

[[jit.policy]]
name = "ops roles"
projects = ["OPS"]
roles = ["Developers", "Admin*"]
approvers = ["a1"]
max_duration = "1d"
require_ticket = true

[[jit.policy]]
name = "everything else"
groups = ["*"]
requestable = false
"#;

    #[test]
    fn a_good_file_gives_its_policies_in_order_and_the_first_match_applies() {
        let p = Policies::parse(GOOD).unwrap();
        assert_eq!(p.policies.len(), 4);
        let dev = p.matching(&EntitlementName::Group("DEV-backend")).unwrap();
        assert_eq!(dev.policy.name, "developers");
        assert_eq!(dev.approvals_needed, 1);
        assert_eq!(dev.policy.max_duration_secs, 8 * 3600);
        assert_eq!(dev.policy.break_glass_max_secs, Some(3600));
        assert!(dev.policy.require_justification);
        let role = p
            .matching(&EntitlementName::Role {
                project_key: "ops",
                role: "Administrators",
            })
            .unwrap();
        assert_eq!(role.policy.name, "ops roles");
        assert!(p
            .matching(&EntitlementName::Role {
                project_key: "WEB",
                role: "Developers",
            })
            .is_none());
        let other = p.matching(&EntitlementName::Group("finance")).unwrap();
        assert!(!other.policy.requestable);
    }

    #[test]
    fn privileged_groups_need_two_approvals_unless_the_policy_says_otherwise() {
        let p = Policies::parse(GOOD).unwrap();
        for g in ["site-admins", "security-ops"] {
            let m = p.matching(&EntitlementName::Group(g)).unwrap();
            assert!(m.privileged, "{g}");
            assert_eq!(m.policy.approvals, 1);
            assert_eq!(m.approvals_needed, 2, "{g}");
        }
        assert!(p.is_privileged_group("Jira-Administrators"));
        assert!(p.is_privileged_group("org-admins"));
        assert!(!p.is_privileged_group("dev-backend"));
        let explicit = GOOD.replace(
            "approver_groups = [\"team-leads\"]",
            "approver_groups = [\"team-leads\"]\nprivileged_single_approval = true",
        );
        let p = Policies::parse(&explicit).unwrap();
        let m = p.matching(&EntitlementName::Group("site-admins")).unwrap();
        assert_eq!(m.approvals_needed, 1);
    }

    #[test]
    fn no_jit_section_means_nothing_is_requestable() {
        let p = Policies::parse("[jira]\nsite = \"acme\"\n").unwrap();
        assert!(p.matching(&EntitlementName::Group("devs")).is_none());
    }

    fn refused(text: &str) -> PolicyError {
        Policies::parse(text).unwrap_err()
    }

    #[test]
    fn an_error_anywhere_refuses_the_file_with_its_line_and_reason() {
        let bad_duration = GOOD.replace("\"1d\"", "\"1 fortnight\"");
        let e = refused(&bad_duration);
        assert_eq!(e.line, 28, "{e}");
        assert!(e.reason.contains("max_duration"), "{e}");
        assert!(!e.to_string().contains("fortnight"), "{e}");

        let e = refused(&GOOD.replace("approvals = 1", "approvals = 0"));
        assert_eq!(e.line, 12, "{e}");
        assert!(e.reason.contains("from 1 to 10"), "{e}");

        let e = refused(&GOOD.replace("approvals = 1", "approvals = 3"));
        assert!(e.reason.contains("more distinct approvers"), "{e}");

        let e = refused(&GOOD.replace("require_ticket = true", "require_tiket = true"));
        assert!(e.reason.contains("require_tiket"), "{e}");
        assert_eq!(e.line, 29, "{e}");

        let e = refused(&GOOD.replace("max_duration = \"2h\"", "max_duration = \"200d\""));
        assert!(e.reason.contains("90 days"), "{e}");

        let e = refused(&GOOD.replace("break_glass_max = \"1h\"", "break_glass_max = \"9h\""));
        assert!(e.reason.contains("longer than `max_duration`"), "{e}");

        let e = refused(&GOOD.replace("name = \"admins\"", "name = \"Developers\""));
        assert!(e.reason.contains("unique"), "{e}");

        let e = refused(&GOOD.replace("roles = [\"Developers\", \"Admin*\"]\n", ""));
        assert!(e.reason.contains("go together"), "{e}");

        let e = refused(&GOOD.replace("approvers = [\"a1\"]\n", ""));
        assert!(e.reason.contains("nobody could approve"), "{e}");

        let e = refused(&GOOD.replace("max_duration = \"8h\"\n", ""));
        assert!(e.reason.contains("give `max_duration`"), "{e}");

        let e = refused("[jit]\n[[jit.policy]]\nname = \"x\"\ngroups = \"SECRETVALUE\"\n");
        assert_eq!(e.line, 4, "{e}");
        assert!(!e.to_string().contains("SECRETVALUE"), "{e}");
    }

    #[test]
    fn the_scheduler_concurrency_defaults_to_8_and_is_checked() {
        assert_eq!(Policies::parse(GOOD).unwrap().scheduler_concurrency(), 8);
        let with = |n: &str| GOOD.replacen("[jit]\n", &format!("[jit]\nconcurrency = {n}\n"), 1);
        assert_eq!(
            Policies::parse(&with("32"))
                .unwrap()
                .scheduler_concurrency(),
            32
        );
        for bad in ["0", "-3", "65"] {
            let e = refused(&with(bad));
            assert_eq!(e.line, 6, "{bad}: {e}");
            assert!(e.reason.contains("from 1 to 64"), "{bad}: {e}");
        }
        let e = refused(&with("\"many\""));
        assert!(!e.to_string().contains("many"), "{e}");
    }

    #[test]
    fn durations_and_globs() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        for bad in ["", "0h", "h", "12", "3w", "1.5h", "-1h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(172_800), "2d");
        assert!(glob_matches("dev-*", "DEV-backend"));
        assert!(glob_matches("*-admins", "site-admins"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "abbc"));
        assert!(glob_matches("*a*b*", "xxaxxbxx"));
        assert!(!glob_matches("dev-*", "devs"));
        assert!(glob_matches("*", ""));
    }
}
