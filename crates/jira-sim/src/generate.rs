//! The deterministic org generator: same preset and seed, same org.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::org::{
    Org, Preset, SimApplicationRole, SimAuditItem, SimAuditRecord, SimGroup, SimProject, SimRole,
    SimUser,
};

mod names;

use names::{APPS, FIRST, LAST, PROJ_ADJ, PROJ_NOUN, TEAM_KINDS, TEAM_WORDS};

/// A small counter-based PRNG (SplitMix64). Deterministic across platforms,
/// so generated orgs and ratio faults are reproducible from a seed.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(digits);
        s
    }

    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// The SplitMix64 output function: a good 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Plan {
    users: usize,
    apps: usize,
    customers: usize,
    groups: usize,
    memberships: usize,
    projects: usize,
    roles: usize,
    audit: usize,
}

fn plan(preset: Preset) -> Plan {
    match preset {
        Preset::Small => Plan {
            users: 50,
            apps: 3,
            customers: 5,
            groups: 12,
            memberships: 150,
            projects: 6,
            roles: 3,
            audit: 12,
        },
        Preset::Medium => Plan {
            users: 2_000,
            apps: 30,
            customers: 150,
            groups: 200,
            memberships: 20_000,
            projects: 100,
            roles: 4,
            audit: 100,
        },
        Preset::Large => Plan {
            users: 20_000,
            apps: 150,
            customers: 1_500,
            groups: 2_000,
            memberships: 200_000,
            projects: 1_000,
            roles: 6,
            audit: 500,
        },
    }
}

/// Role catalog: the same role has the same id in every project.
pub(crate) const ROLES: &[(u64, &str)] = &[
    (10002, "Administrators"),
    (10100, "Member"),
    (10101, "Viewer"),
    (10003, "atlassian-addons-project-access"),
    (10004, "Service Desk Team"),
    (10005, "Service Desk Customers"),
];

/// Names of the groups every generated org has, in generation order.
pub const JIRA_SOFTWARE_USERS: &str = "jira-software-users";
/// Service desk agents.
pub const JIRA_SERVICEDESK_USERS: &str = "jira-servicedesk-users";
/// Jira administrators.
pub const JIRA_ADMINISTRATORS: &str = "jira-administrators";
/// Site administrators (the members of this group are the org's `site_admins`).
pub const SITE_ADMINS: &str = "site-admins";
/// The user directory Jira Cloud names on audit records' users and groups.
pub(crate) const DIRECTORY_ID: &str = "10000";
/// Its name (`parentName`).
pub(crate) const DIRECTORY_NAME: &str =
    "com.atlassian.crowd.directory.IdentityPlatformRemoteDirectory";

impl Org {
    /// Generates an org of the given size. Deterministic: the same preset and
    /// seed always give the same org, on every platform.
    pub fn generate(preset: Preset, seed: u64) -> Org {
        let p = plan(preset);
        let mut rng = SplitMix64::new(seed ^ 0x6a69_7261_2d73_696d);
        let site = "acme".to_owned();
        let cloud_id = rng.uuid();

        // --- users -------------------------------------------------------
        let mut kinds: Vec<u8> = Vec::with_capacity(p.users);
        kinds.extend(std::iter::repeat_n(0u8, p.users - 1 - p.apps - p.customers));
        kinds.extend(std::iter::repeat_n(1u8, p.apps));
        kinds.extend(std::iter::repeat_n(2u8, p.customers));
        shuffle(&mut rng, &mut kinds);
        kinds.insert(0, 0);

        let mut seen = HashSet::with_capacity(p.users);
        let mut users = Vec::with_capacity(p.users);
        for (i, kind) in kinds.iter().enumerate() {
            let account_id = loop {
                let id = match kind {
                    0 if rng.chance(0.6) => format!("5{}", rng.hex(23)),
                    0 => format!("712020:{}", rng.uuid()),
                    1 => format!("557058:{}", rng.uuid()),
                    _ => format!("qm:{}:{}", rng.uuid(), rng.uuid()),
                };
                if seen.insert(id.clone()) {
                    break id;
                }
            };
            let first = *rng.pick(FIRST);
            let last = *rng.pick(LAST);
            let user = match kind {
                _ if i == 0 => SimUser {
                    account_id,
                    account_type: "atlassian".into(),
                    display_name: "Site Admin".into(),
                    email: Some("admin@example.test".into()),
                    email_hidden: false,
                    active: true,
                },
                // A deleted account (right to be forgotten): inactive, no email.
                0 if rng.chance(0.01) => SimUser {
                    account_id,
                    account_type: "atlassian".into(),
                    display_name: "Former user".into(),
                    email: None,
                    email_hidden: false,
                    active: false,
                },
                0 => SimUser {
                    account_id,
                    account_type: "atlassian".into(),
                    display_name: format!("{first} {last}"),
                    email: Some(format!(
                        "{}.{}.{i}@{site}.example",
                        first.to_ascii_lowercase(),
                        last.to_ascii_lowercase()
                    )),
                    email_hidden: rng.chance(0.2),
                    active: rng.chance(0.93),
                },
                1 => {
                    let app = *rng.pick(APPS);
                    SimUser {
                        account_id,
                        account_type: "app".into(),
                        display_name: if i % 3 == 0 {
                            app.to_owned()
                        } else {
                            format!("{app} ({i})")
                        },
                        email: None,
                        email_hidden: false,
                        active: rng.chance(0.9),
                    }
                }
                _ => SimUser {
                    account_id,
                    account_type: "customer".into(),
                    display_name: format!("{first} {last}"),
                    email: Some(format!(
                        "{}.{}{i}@customer-mail.example",
                        first.to_ascii_lowercase(),
                        last.to_ascii_lowercase()
                    )),
                    email_hidden: false,
                    active: rng.chance(0.95),
                },
            };
            users.push(user);
        }
        let staff: Vec<usize> = (0..users.len()).filter(|&i| kinds[i] == 0).collect();
        let apps: Vec<usize> = (0..users.len()).filter(|&i| kinds[i] == 1).collect();
        let customers: Vec<usize> = (0..users.len()).filter(|&i| kinds[i] == 2).collect();

        // --- groups ------------------------------------------------------
        let mut groups: Vec<SimGroup> = Vec::with_capacity(p.groups);
        let mut members: Vec<Vec<usize>> = Vec::with_capacity(p.groups);
        let ns = staff.len();
        let fixed: [(&str, usize); 6] = [
            (JIRA_SOFTWARE_USERS, ns * 85 / 100),
            ("confluence-users", ns * 55 / 100),
            (JIRA_SERVICEDESK_USERS, (ns * 8 / 100).max(3)),
            (JIRA_ADMINISTRATORS, (ns * 4 / 1000).max(3)),
            (SITE_ADMINS, (ns * 15 / 10000).max(2)),
            ("administrators", (ns * 2 / 1000).max(2)),
        ];
        for (name, size) in fixed {
            let mut m = sample(&mut rng, &staff, size);
            if matches!(
                name,
                JIRA_SOFTWARE_USERS | JIRA_ADMINISTRATORS | SITE_ADMINS
            ) && !m.contains(&0)
            {
                m.push(0);
            }
            groups.push(SimGroup {
                group_id: rng.uuid(),
                name: name.into(),
            });
            members.push(m);
        }
        groups.push(SimGroup {
            group_id: rng.uuid(),
            name: "atlassian-addons-admin".into(),
        });
        members.push(apps.clone());

        let fixed_total: usize = members.iter().map(Vec::len).sum();
        let teams = p.groups.saturating_sub(groups.len());
        let sizes = zipf_sizes(
            teams,
            p.memberships.saturating_sub(fixed_total),
            ns * 6 / 10,
        );
        let mut names: HashSet<String> = groups.iter().map(|g| g.name.clone()).collect();
        for size in sizes {
            let name = loop {
                let n = format!("{}-{}", rng.pick(TEAM_KINDS), rng.pick(TEAM_WORDS));
                let n = if names.contains(&n) {
                    format!("{n}-{}", rng.range(2, 999))
                } else {
                    n
                };
                if names.insert(n.clone()) {
                    break n;
                }
            };
            groups.push(SimGroup {
                group_id: rng.uuid(),
                name,
            });
            members.push(sample(&mut rng, &staff, size));
        }
        let mut memberships = BTreeMap::new();
        for (g, m) in groups.iter().zip(&members) {
            let set: BTreeSet<String> = m.iter().map(|&i| users[i].account_id.clone()).collect();
            memberships.insert(g.group_id.clone(), set);
        }
        let gid = |name: &str| {
            groups
                .iter()
                .find(|g| g.name == name)
                .map(|g| g.group_id.clone())
                .unwrap_or_default()
        };
        let site_admins: BTreeSet<String> = memberships[&gid(SITE_ADMINS)].clone();

        // --- projects ----------------------------------------------------
        let mut keys = HashSet::new();
        let mut projects = Vec::with_capacity(p.projects);
        let active_staff: Vec<usize> = staff.iter().copied().filter(|&i| users[i].active).collect();
        let team_ids: Vec<String> = groups[7..].iter().map(|g| g.group_id.clone()).collect();
        for i in 0..p.projects {
            let (name, kind) = if i == 0 {
                ("Customer Support".to_owned(), "service_desk")
            } else {
                let kind = match rng.below(10) {
                    0..=6 => "software",
                    7 | 8 => "service_desk",
                    _ => "business",
                };
                let name = format!("{} {}", rng.pick(PROJ_ADJ), rng.pick(PROJ_NOUN));
                let name = if i >= 100 {
                    format!("{name} {i}")
                } else {
                    name
                };
                (name, kind)
            };
            let initials: String = name
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .filter(char::is_ascii_alphabetic)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let mut key = initials.clone();
            let mut n = 1;
            while key.len() < 2 || !keys.insert(key.clone()) {
                n += 1;
                key = format!("{initials}{n}");
            }
            let mut roles = Vec::with_capacity(p.roles);
            for &(id, rname) in &ROLES[..p.roles] {
                let mut user_actors = BTreeSet::new();
                let mut group_actors = BTreeSet::new();
                let mut add_users = |rng: &mut SplitMix64, pool: &[usize], n: usize| {
                    for u in sample(rng, pool, n) {
                        user_actors.insert(users[u].account_id.clone());
                    }
                };
                match id {
                    10002 => {
                        group_actors.insert(gid(JIRA_ADMINISTRATORS));
                        let n = rng.range(1, 3);
                        add_users(&mut rng, &active_staff, n);
                    }
                    10100 => {
                        for _ in 0..rng.range(1, 3) {
                            if !team_ids.is_empty() {
                                group_actors.insert(rng.pick(&team_ids).clone());
                            }
                        }
                        let n = rng.range(0, 15);
                        add_users(&mut rng, &staff, n);
                    }
                    10101 => {
                        if rng.chance(0.5) {
                            group_actors.insert(gid(JIRA_SOFTWARE_USERS));
                        }
                        let n = rng.range(0, 8);
                        add_users(&mut rng, &staff, n);
                    }
                    10003 => {
                        group_actors.insert(gid("atlassian-addons-admin"));
                        let n = rng.range(0, 2);
                        add_users(&mut rng, &apps, n);
                    }
                    10004 => {
                        if kind == "service_desk" {
                            group_actors.insert(gid(JIRA_SERVICEDESK_USERS));
                            let n = rng.range(0, 5);
                            add_users(&mut rng, &staff, n);
                        }
                    }
                    _ => {
                        if i == 0 {
                            // One big role: most customers act in the support desk.
                            let n = customers.len() * 4 / 5;
                            add_users(&mut rng, &customers, n);
                        } else if kind == "service_desk" {
                            let n = rng.range(0, 40);
                            add_users(&mut rng, &customers, n);
                        }
                    }
                }
                roles.push(SimRole {
                    id,
                    name: rname.into(),
                    user_actors,
                    group_actors,
                });
            }
            projects.push(SimProject {
                id: (10000 + i).to_string(),
                key,
                name,
                project_type: kind.into(),
                archived: i + 1 == p.projects || (i != 0 && rng.chance(0.08)),
                roles,
            });
        }

        // --- products ----------------------------------------------------
        let application_roles = vec![
            SimApplicationRole {
                key: "jira-software".into(),
                name: "Jira Software".into(),
                groups: vec![
                    JIRA_SOFTWARE_USERS.into(),
                    JIRA_ADMINISTRATORS.into(),
                    SITE_ADMINS.into(),
                    "administrators".into(),
                ],
                default_groups: vec![JIRA_SOFTWARE_USERS.into()],
                number_of_seats: (p.users as u32).div_ceil(100) * 100,
            },
            SimApplicationRole {
                key: "jira-servicedesk".into(),
                name: "Jira Service Management".into(),
                groups: vec![JIRA_SERVICEDESK_USERS.into(), SITE_ADMINS.into()],
                default_groups: vec![JIRA_SERVICEDESK_USERS.into()],
                number_of_seats: (p.users as u32 / 5).div_ceil(10) * 10,
            },
        ];

        // --- a past of admin changes ---------------------------------------
        let admin = users[0].account_id.clone();
        let base = chrono::DateTime::parse_from_rfc3339("2025-01-06T09:00:00Z")
            .map(|t| t.timestamp())
            .unwrap_or(1_736_154_000);
        let mut audit = Vec::with_capacity(p.audit);
        for n in 0..p.audit {
            let g = 7 + rng.below(groups.len() - 7);
            let Some(member) = members[g].get(rng.below(members[g].len().max(1))) else {
                continue;
            };
            let when =
                chrono::DateTime::from_timestamp(base + (n as i64) * 2_221, 0).unwrap_or_default();
            audit.push(SimAuditRecord {
                id: audit.len() as u64 + 1,
                created: when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                summary: "User added to group".into(),
                category: "group management".into(),
                author_account_id: Some(admin.clone()),
                object_item: SimAuditItem {
                    id: String::new(),
                    name: groups[g].name.clone(),
                    type_name: "GROUP".into(),
                    directory: Some((DIRECTORY_ID.into(), DIRECTORY_NAME.into())),
                },
                associated_items: vec![SimAuditItem {
                    id: users[*member].account_id.clone(),
                    name: users[*member].account_id.clone(),
                    type_name: "USER".into(),
                    directory: Some((DIRECTORY_ID.into(), DIRECTORY_NAME.into())),
                }],
                changed_values: Vec::new(),
            });
        }

        Org {
            site,
            cloud_id,
            users,
            groups,
            memberships,
            projects,
            application_roles,
            site_admins,
            audit,
        }
    }
}

fn shuffle<T>(rng: &mut SplitMix64, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// `n` distinct items of `pool` (all of it when `n >= pool.len()`).
fn sample(rng: &mut SplitMix64, pool: &[usize], n: usize) -> Vec<usize> {
    if n >= pool.len() {
        return pool.to_vec();
    }
    if n * 2 > pool.len() {
        let mut copy = pool.to_vec();
        for i in 0..n {
            let j = i + rng.below(copy.len() - i);
            copy.swap(i, j);
        }
        copy.truncate(n);
        return copy;
    }
    let mut picked = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let v = pool[rng.below(pool.len())];
        if picked.insert(v) {
            out.push(v);
        }
    }
    out
}

/// Sizes of `k` groups following a Zipf-like law (a few large, many small),
/// each between 2 and `cap`, summing to about `total`.
fn zipf_sizes(k: usize, total: usize, cap: usize) -> Vec<usize> {
    let cap = cap.max(2);
    let weights: Vec<f64> = (0..k).map(|r| 1.0 / ((r + 1) as f64).powf(1.2)).collect();
    let sizes_for = |scale: f64| -> Vec<usize> {
        weights
            .iter()
            .map(|w| ((scale * w).round() as usize).clamp(2, cap))
            .collect()
    };
    let (mut lo, mut hi) = (0.0f64, total as f64 + 1.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if sizes_for(mid).iter().sum::<usize>() < total {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    sizes_for(hi)
}
