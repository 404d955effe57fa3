//! The `[review]` section of `grantledger.toml`: owners of groups and projects
//! (the first reviewer rules, in file order), extra privileged groups, and
//! campaign definitions kept in the file (declarative, in git).
//!
//! ```toml
//! [review]
//! privileged_groups = ["security-*"]     # beside site-admins, jira-administrators, org-admins
//!
//! [[review.owner]]
//! name = "platform"
//! groups = ["dev-*"]                      # names or globs
//! projects = ["OPS"]                      # keys or globs: their role actors
//! reviewer = "lead@acme.com"              # account id or email
//!
//! [[review.campaign]]
//! id = "q3-admins"                        # `review create --from-config q3-admins`
//! name = "Q3 Jira admins"
//! groups = ["jira-*"]
//! privileged = true
//! projects = ["OPS:Administrators"]       # KEY or KEY:Role (globs)
//! products = ["jira-software"]
//! all = false
//! include_apps = false
//! since = "2026-07-01T00:00:00Z"          # a time, a log position, or a campaign id
//! fallback = "security@acme.com"
//! managers = "managers.csv"               # relative to the config file
//! due = "2026-10-15T00:00:00Z"
//! undecided = "keep"                      # or "revoke"
//! require_revoke_comment = true
//! remediation_syncs = 2
//! ```
//!
//! The file is checked as a whole: an error names its line and column and never
//! quotes a value.

use serde::Deserialize;

/// Why the `[review]` section was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct ConfigError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub reason: String,
}

/// An owner entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Its name (recorded with the rule).
    pub name: String,
    /// Group names or globs.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Project keys or globs.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The owner: account id or email.
    pub reviewer: String,
}

/// A campaign defined in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CampaignDef {
    /// The id it gets when created.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Every membership and role grant.
    #[serde(default)]
    pub all: bool,
    /// Group names or globs.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The privileged groups.
    #[serde(default)]
    pub privileged: bool,
    /// `KEY` or `KEY:Role`.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Product keys.
    #[serde(default)]
    pub products: Vec<String>,
    /// Keep app accounts too.
    #[serde(default)]
    pub include_apps: bool,
    /// A time, a position or a campaign id.
    pub since: Option<String>,
    /// The fallback reviewer.
    pub fallback: Option<String>,
    /// A manager CSV (relative to the config file).
    pub managers: Option<String>,
    /// RFC 3339.
    pub due: Option<String>,
    /// `keep` or `revoke`.
    pub undecided: Option<String>,
    /// Whether a revocation needs a comment.
    #[serde(default)]
    pub require_revoke_comment: bool,
    /// Completed syncs before an unconfirmed removal is flagged.
    pub remediation_syncs: Option<u32>,
}

/// The `[review]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    /// Extra privileged groups (names or globs).
    #[serde(default)]
    pub privileged_groups: Vec<String>,
    /// Owners, in file order.
    #[serde(default, rename = "owner")]
    pub owners: Vec<Owner>,
    /// Campaign definitions.
    #[serde(default, rename = "campaign")]
    pub campaigns: Vec<CampaignDef>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    review: Option<ReviewConfig>,
}

/// The same section read again for where its entries are, so that a value
/// that parses but makes no sense is refused at its own line.
#[derive(Deserialize)]
struct Located {
    #[serde(default)]
    review: Option<LocatedReview>,
}

#[derive(Deserialize)]
struct LocatedReview {
    #[serde(default)]
    owner: Vec<toml::Spanned<LocatedOwner>>,
    #[serde(default)]
    campaign: Vec<toml::Spanned<LocatedCampaign>>,
}

#[derive(Deserialize)]
struct LocatedOwner {
    reviewer: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
struct LocatedCampaign {
    id: Option<toml::Spanned<String>>,
    undecided: Option<toml::Spanned<String>>,
    due: Option<toml::Spanned<String>>,
}

fn at(text: &str, offset: usize, reason: String) -> ConfigError {
    let (line, column) = place(text, offset);
    ConfigError {
        line,
        column,
        reason,
    }
}

/// What parses but cannot be used, at its line: an owner of nothing or of no
/// one, a campaign id given twice, an undecided rule or a due time that is not one.
fn check(text: &str, cfg: &ReviewConfig) -> Result<(), ConfigError> {
    let Ok(Located {
        review: Some(located),
    }) = toml::from_str::<Located>(text)
    else {
        return Ok(());
    };
    for (i, (o, spanned)) in cfg.owners.iter().zip(&located.owner).enumerate() {
        let entry = spanned.span().start;
        if o.groups.is_empty() && o.projects.is_empty() {
            return Err(at(
                text,
                entry,
                format!(
                    "[[review.owner]] number {} names no groups and no projects",
                    i + 1
                ),
            ));
        }
        if o.reviewer.trim().is_empty() {
            let offset = spanned
                .get_ref()
                .reviewer
                .as_ref()
                .map_or(entry, |r| r.span().start);
            return Err(at(
                text,
                offset,
                format!(
                    "[[review.owner]] number {} has an empty reviewer: give an account id or an email",
                    i + 1
                ),
            ));
        }
    }
    let mut ids: Vec<&str> = Vec::new();
    for (c, spanned) in cfg.campaigns.iter().zip(&located.campaign) {
        let l = spanned.get_ref();
        let entry = spanned.span().start;
        let id_at = l.id.as_ref().map_or(entry, |s| s.span().start);
        if c.id.trim().is_empty() {
            return Err(at(
                text,
                id_at,
                "a [[review.campaign]] has an empty id".into(),
            ));
        }
        if ids.contains(&c.id.as_str()) {
            return Err(at(
                text,
                id_at,
                "this [[review.campaign]] id is already used above: campaign ids must differ"
                    .into(),
            ));
        }
        ids.push(&c.id);
        if let (Some(u), Some(span)) = (&c.undecided, &l.undecided) {
            if !matches!(u.trim().to_lowercase().as_str(), "keep" | "revoke") {
                return Err(at(
                    text,
                    span.span().start,
                    "undecided must be \"keep\" or \"revoke\"".into(),
                ));
            }
        }
        if let (Some(d), Some(span)) = (&c.due, &l.due) {
            if chrono::DateTime::parse_from_rfc3339(d.trim()).is_err() {
                return Err(at(
                    text,
                    span.span().start,
                    "due must be an RFC 3339 time such as 2026-10-15T00:00:00Z".into(),
                ));
            }
        }
    }
    Ok(())
}

use grantledger_model::line_and_column as place;

impl ReviewConfig {
    /// Parses the `[review]` section of a config file's text (other sections are
    /// left to their readers).
    pub fn parse(text: &str) -> Result<ReviewConfig, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| place(text, s.start));
            // toml's message may quote the offending value; keep its first
            // sentence up to a quote.
            let msg = e.message();
            let reason = msg
                .split(['`', '"'])
                .next()
                .unwrap_or(msg)
                .trim()
                .to_owned();
            ConfigError {
                line,
                column,
                reason: if reason.is_empty() {
                    "invalid [review] section".into()
                } else {
                    reason
                },
            }
        })?;
        let cfg = file.review.unwrap_or_default();
        check(text, &cfg)?;
        Ok(cfg)
    }

    /// The privileged groups: the built-in ones and the configured ones.
    pub fn privileged(&self) -> Vec<String> {
        crate::scope::BUILT_IN_PRIVILEGED
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.privileged_groups.iter().cloned())
            .collect()
    }

    /// The campaign defined under `id`.
    pub fn campaign(&self, id: &str) -> Option<&CampaignDef> {
        self.campaigns.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_owners_and_campaigns_and_ignores_other_sections() {
        let cfg = ReviewConfig::parse(
            r#"
[jira]
site = "x"
[review]
privileged_groups = ["sec-*"]
[[review.owner]]
name = "platform"
groups = ["dev-*"]
reviewer = "lead@acme.com"
[[review.campaign]]
id = "q3"
name = "Q3"
all = true
undecided = "revoke"
"#,
        )
        .unwrap();
        assert_eq!(cfg.owners.len(), 1);
        assert_eq!(
            cfg.campaign("q3").unwrap().undecided.as_deref(),
            Some("revoke")
        );
        assert!(cfg.privileged().contains(&"site-admins".to_owned()));
        let err = ReviewConfig::parse("[review]\nowners = 3\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err =
            ReviewConfig::parse("[review]\n[[review.owner]]\nname = \"x\"\nreviewer = \"a\"\n")
                .unwrap_err();
        assert!(err.reason.contains("no groups"));
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn values_that_parse_but_make_no_sense_are_refused_at_their_line() {
        let base = "[jira]\nsite = \"x\"\n[review]\n[[review.owner]]\nname = \"a\"\ngroups = [\"g\"]\nreviewer = \"lead@acme.com\"\n";
        assert!(ReviewConfig::parse(base).is_ok());
        let cases = [
            ("[[review.owner]]\nname = \"b\"\ngroups = [\"h\"]\nreviewer = \" \"\n", 11, "empty reviewer"),
            ("[[review.campaign]]\nid = \"q3\"\nname = \"Q3\"\nundecided = \"later\"\n", 11, "keep"),
            ("[[review.campaign]]\nid = \"q3\"\nname = \"Q3\"\ndue = \"next friday\"\n", 11, "RFC 3339"),
            (
                "[[review.campaign]]\nid = \"q3\"\nname = \"Q3\"\n[[review.campaign]]\nid = \"q3\"\nname = \"again\"\n",
                12,
                "already used",
            ),
        ];
        for (tail, line, says) in cases {
            let err = ReviewConfig::parse(&format!("{base}{tail}")).unwrap_err();
            assert_eq!(err.line, line, "{tail}: {err}");
            assert!(err.reason.contains(says), "{err}");
            assert!(!err.to_string().contains("later") && !err.to_string().contains("friday"));
        }
    }
}
