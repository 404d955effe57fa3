//! How people name entitlements in configuration: the groups that are always
//! privileged and the glob patterns that policies, campaign scopes and allow-lists
//! use. One definition, so that a JIT policy, a review scope and the out-of-band
//! report agree on what `site-admins` or `dev-*` covers.

/// The groups that give administration of the site or of Jira, always privileged.
pub const BUILT_IN_PRIVILEGED_GROUPS: &[&str] =
    &["site-admins", "jira-administrators", "org-admins"];

/// Whether `name` matches `pattern`: `*` any run of characters, `?` one
/// character, otherwise equal ignoring case.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    // Iterative matching with one backtrack point for the last star.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
