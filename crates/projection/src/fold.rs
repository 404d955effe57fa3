//! Folding many records fast. [`SiteState`] keeps its grants in ordered maps
//! keyed by strings (group and account ids, grants), which is what its readers
//! want; folding a long stretch of the log into them costs a descent with string
//! comparisons per grant record and a clone of every key. [`NumberedSite`] folds
//! the same records with the grant storage numbered — each account, group, role,
//! product and principal once in a table, the memberships, role actors and last
//! changes as hash maps of numbers — and turns into a [`SiteState`] at the end,
//! building each ordered map in bulk. Everything else (directory records, sync
//! runs, positions) is folded by [`SiteState`] itself, so the rules live in one
//! place. Used by [`crate::Queries::state_at`] for long replays (ADR 0021).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use grantledger_eventlog::{Position, Projection, Record};
use grantledger_model::*;

use crate::changes::GrantChanges;
use crate::state::{Site, SiteState};

/// Values numbered in the order they were first met, looked up by their text
/// (one part, or two for a project role).
///
/// The table holds a hash of each value's text and its number, and the texts
/// are kept end to end in one buffer: confirming a match reads that buffer,
/// which a few megabytes hold for a whole site, rather than a string allocated
/// anywhere in a heap that millions of decoded records have churned (a cache
/// miss per lookup, the larger part of a long fold's time). Two texts with one
/// hash are both found: the second and later ones are in `collided`, by text.
#[derive(Debug, Clone)]
struct Numbers<T> {
    values: Vec<T>,
    /// Each value's text, parts separated by 0xff (never in UTF-8).
    text: Vec<u8>,
    /// Where each value's text ends in `text`.
    ends: Vec<usize>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    collided: HashMap<Vec<u8>, u32>,
    /// The texts' hash, seeded per table: ids are chosen by the Jira site, which
    /// must not be able to pick ones that crowd one bucket.
    seed: foldhash::fast::RandomState,
}

impl<T> Default for Numbers<T> {
    fn default() -> Self {
        Self {
            values: Vec::new(),
            text: Vec::new(),
            ends: Vec::new(),
            by_hash: HashMap::default(),
            collided: HashMap::new(),
            seed: foldhash::fast::RandomState::default(),
        }
    }
}

/// The hash of a text in parts.
fn text_hash(seed: &foldhash::fast::RandomState, parts: &[&str]) -> u64 {
    let mut h = seed.build_hasher();
    for p in parts {
        h.write(p.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// A text in parts, joined as [`Numbers`] keeps it.
fn joined(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0xff);
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

impl<T> Numbers<T> {
    /// The number of the value whose text is `parts`, given it (made by `value`)
    /// when first met.
    fn id(&mut self, parts: &[&str], value: impl FnOnce() -> T) -> u32 {
        self.id_hashed(text_hash(&self.seed, parts), parts, value)
    }

    /// [`Self::id`], given the text's hash.
    fn id_hashed(&mut self, hash: u64, parts: &[&str], value: impl FnOnce() -> T) -> u32 {
        match self.by_hash.get(&hash) {
            Some(&id) if self.is(id, parts) => id,
            Some(_) => {
                let key = joined(parts);
                if let Some(&id) = self.collided.get(&key) {
                    return id;
                }
                let id = self.push(&key, value());
                self.collided.insert(key, id);
                id
            }
            None => {
                let id = self.push(&joined(parts), value());
                self.by_hash.insert(hash, id);
                id
            }
        }
    }

    /// The number of the value whose text is `parts`, if it was met.
    fn get(&self, parts: &[&str]) -> Option<u32> {
        self.get_hashed(text_hash(&self.seed, parts), parts)
    }

    /// [`Self::get`], given the text's hash.
    fn get_hashed(&self, hash: u64, parts: &[&str]) -> Option<u32> {
        match self.by_hash.get(&hash) {
            Some(&id) if self.is(id, parts) => Some(id),
            Some(_) => self.collided.get(&joined(parts)).copied(),
            None => None,
        }
    }

    fn push(&mut self, text: &[u8], value: T) -> u32 {
        let id = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct ids");
        self.text.extend_from_slice(text);
        self.ends.push(self.text.len());
        self.values.push(value);
        id
    }

    /// Whether value `id`'s text is `parts`.
    fn is(&self, id: u32, parts: &[&str]) -> bool {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let mut text = &self.text[start..self.ends[i]];
        for (n, p) in parts.iter().enumerate() {
            if n > 0 {
                match text.split_first() {
                    Some((0xff, rest)) => text = rest,
                    _ => return false,
                }
            }
            match text.strip_prefix(p.as_bytes()) {
                Some(rest) => text = rest,
                None => return false,
            }
        }
        text.is_empty()
    }

    fn value(&self, id: u32) -> &T {
        &self.values[id as usize]
    }
}

/// A [`Hasher`] for keys that are hashes already: it keeps the `u64` it is given.
#[derive(Debug, Default, Clone, Copy)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64`s are hashed with it; anything else is folded in plainly.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Hash maps and sets keyed by our own numbers (dense, chosen by us: an
/// unseeded hash is safe on them).
type NumberMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
type NumberSet<K> = HashSet<K, rustc_hash::FxBuildHasher>;

/// A principal in numbers: an account (in `accounts`) or a group (in `groups`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum P {
    User(u32),
    Group(u32),
}

/// An entitlement in numbers: a group (in `groups`), a project role (in
/// `roles`) or a product (in `products`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum E {
    Member(u32),
    Role(u32),
    Product(u32),
}

/// A [`Site`] whose grant storage is numbered while it folds; see the module
/// documentation. Its `site.state` holds everything but the memberships, role
/// actors and last changes, which are here until [`NumberedSite::into_site`].
#[derive(Debug, Clone)]
pub(crate) struct NumberedSite {
    site: Site,
    accounts: Numbers<AccountId>,
    groups: Numbers<GroupId>,
    roles: Numbers<(ProjectId, RoleId)>,
    products: Numbers<ProductKey>,
    /// Members of each group (possibly empty sets: dropped at the end).
    members: NumberMap<u32, NumberSet<u32>>,
    /// Actors of each role (possibly empty sets).
    actors: NumberMap<u32, NumberSet<P>>,
    /// Where each grant last changed.
    changes: NumberMap<(P, E), Position>,
}

impl NumberedSite {
    /// Takes a site's state over, numbering its grant storage.
    pub(crate) fn from_site(mut site: Site) -> Self {
        let members = std::mem::take(&mut site.state.members);
        let role_actors = std::mem::take(&mut site.state.role_actors);
        let changes = std::mem::take(&mut site.state.grant_changes).into_map();
        let mut n = NumberedSite {
            site,
            accounts: Numbers::default(),
            groups: Numbers::default(),
            roles: Numbers::default(),
            products: Numbers::default(),
            members: NumberMap::default(),
            actors: NumberMap::default(),
            changes: NumberMap::with_capacity_and_hasher(changes.len(), Default::default()),
        };
        for (group, users) in &members {
            let g = n.group(group);
            let mut set = NumberSet::default();
            for u in users {
                set.insert(n.account(u));
            }
            n.members.insert(g, set);
        }
        for (key, actors) in &role_actors {
            let r = n.role(&key.0, &key.1);
            let set: NumberSet<P> = actors.iter().map(|a| n.principal(a)).collect();
            n.actors.insert(r, set);
        }
        for (grant, position) in &changes {
            let key = n.grant(grant);
            n.changes.insert(key, *position);
        }
        n
    }

    fn account(&mut self, u: &AccountId) -> u32 {
        self.accounts.id(&[u.as_str()], || u.clone())
    }

    fn group(&mut self, g: &GroupId) -> u32 {
        self.groups.id(&[g.as_str()], || g.clone())
    }

    fn role(&mut self, project: &ProjectId, role: &RoleId) -> u32 {
        // A clone of the pair only when first met.
        self.roles.id(&[project.as_str(), role.as_str()], || {
            (project.clone(), role.clone())
        })
    }

    fn principal(&mut self, p: &Principal) -> P {
        match p {
            Principal::User(u) => P::User(self.account(u)),
            Principal::Group(g) => P::Group(self.group(g)),
        }
    }

    fn entitlement(&mut self, e: &Entitlement) -> E {
        match e {
            Entitlement::GroupMembership { group } => E::Member(self.group(group)),
            Entitlement::ProjectRole { project, role } => E::Role(self.role(project, role)),
            Entitlement::ProductAccess { product } => {
                E::Product(self.products.id(&[product.as_str()], || product.clone()))
            }
        }
    }

    fn grant(&mut self, g: &Grant) -> (P, E) {
        (
            self.principal(&g.principal),
            self.entitlement(&g.entitlement),
        )
    }

    /// As `SiteState::set_grant`, in numbers.
    fn set_grant(&mut self, key: (P, E), present: bool) {
        match key {
            (P::User(u), E::Member(g)) => {
                if present {
                    self.members.entry(g).or_default().insert(u);
                } else if let Some(set) = self.members.get_mut(&g) {
                    set.remove(&u);
                }
            }
            (p, E::Role(r)) => {
                if present {
                    self.actors.entry(r).or_default().insert(p);
                } else if let Some(set) = self.actors.get_mut(&r) {
                    set.remove(&p);
                }
            }
            // Not stored grants, as in `SiteState::set_grant`.
            (P::Group(_), E::Member(_)) | (_, E::Product(_)) => {}
        }
    }

    fn apply_grant(&mut self, record: &Record, grant: &Grant, present: bool) {
        let key = self.grant(grant);
        self.set_grant(key, present);
        // As `SiteState::apply`: a removal is forgotten unless removals are remembered.
        if present || self.site.state.remember_removals {
            self.changes.insert(key, record.position);
        } else {
            self.changes.remove(&key);
        }
        self.site.state.advance(record);
    }

    /// What a vanished group, project or role takes with it, as
    /// `SiteState::apply_event` does.
    fn vanish(&mut self, event: &Event) {
        match event {
            Event::GroupVanished(e) => {
                if let Some(g) = self.groups.get(&[e.group_id.as_str()]) {
                    self.members.remove(&g);
                    for set in self.actors.values_mut() {
                        set.remove(&P::Group(g));
                    }
                }
            }
            Event::ProjectVanished(e) => {
                let roles = &self.roles;
                self.actors.retain(|r, _| roles.value(*r).0 != e.project_id);
            }
            Event::ProjectRoleVanished(e) => {
                if let Some(r) = self.roles.get(&[e.project_id.as_str(), e.role_id.as_str()]) {
                    self.actors.remove(&r);
                }
            }
            _ => {}
        }
    }

    /// The site, its grant storage turned back into ordered maps.
    pub(crate) fn to_site(&self) -> Site {
        let mut site = self.site.clone();
        self.fill(&mut site.state);
        site
    }

    /// The same, consuming.
    pub(crate) fn into_site(mut self) -> Site {
        let stream = self.site.stream.clone();
        let mut site = std::mem::replace(
            &mut self.site,
            Site {
                stream,
                state: SiteState::default(),
            },
        );
        self.fill(&mut site.state);
        site
    }

    /// Builds the state's memberships, role actors and grant changes from the
    /// numbered storage: three independent builds, run side by side (each on a
    /// thread of its own when one can be had).
    fn fill(&self, state: &mut SiteState) {
        std::thread::scope(|scope| {
            let members = Beside::start(scope, || self.members_map());
            let actors = Beside::start(scope, || self.actors_map());
            state.grant_changes = self.changes_map();
            state.members = members.join();
            state.role_actors = actors.join();
        });
    }

    fn account_of(&self, u: u32) -> AccountId {
        self.accounts.value(u).clone()
    }

    fn principal_of(&self, p: P) -> Principal {
        match p {
            P::User(u) => Principal::User(self.account_of(u)),
            P::Group(g) => Principal::Group(self.groups.value(g).clone()),
        }
    }

    fn members_map(&self) -> BTreeMap<GroupId, BTreeSet<AccountId>> {
        self.members
            .iter()
            .filter(|(_, set)| !set.is_empty())
            .map(|(g, set)| {
                let users: BTreeSet<AccountId> = set.iter().map(|u| self.account_of(*u)).collect();
                (self.groups.value(*g).clone(), users)
            })
            .collect()
    }

    fn actors_map(&self) -> BTreeMap<(ProjectId, RoleId), BTreeSet<Principal>> {
        self.actors
            .iter()
            .filter(|(_, set)| !set.is_empty())
            .map(|(r, set)| {
                let actors: BTreeSet<Principal> =
                    set.iter().map(|p| self.principal_of(*p)).collect();
                (self.roles.value(*r).clone(), actors)
            })
            .collect()
    }

    fn changes_map(&self) -> GrantChanges {
        let principal = |p: P| self.principal_of(p);
        let entitlement = |e: E| match e {
            E::Member(g) => Entitlement::GroupMembership {
                group: self.groups.value(g).clone(),
            },
            E::Role(r) => {
                let (project, role) = self.roles.value(r).clone();
                Entitlement::ProjectRole { project, role }
            }
            E::Product(p) => Entitlement::ProductAccess {
                product: self.products.value(p).clone(),
            },
        };
        // Grants ordered by their principal's and entitlement's ranks among the
        // few distinct ones: `Grant`'s own order (principal, then entitlement)
        // without comparing strings per grant; the map is then built from
        // sorted input in one pass.
        fn ranks<K: Copy + Eq + Hash, V: Ord>(
            keys: impl Iterator<Item = K>,
            value: impl Fn(K) -> V,
        ) -> HashMap<K, (u32, V)> {
            let distinct: HashSet<K> = keys.collect();
            let mut sorted: Vec<(V, K)> = distinct.into_iter().map(|k| (value(k), k)).collect();
            sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            sorted
                .into_iter()
                .enumerate()
                .map(|(i, (v, k))| (k, (i as u32, v)))
                .collect()
        }
        let principals = ranks(self.changes.keys().map(|(p, _)| *p), principal);
        let entitlements = ranks(self.changes.keys().map(|(_, e)| *e), entitlement);
        let mut changes: Vec<(u32, u32, P, E, Position)> = self
            .changes
            .iter()
            .map(|((p, e), position)| (principals[p].0, entitlements[e].0, *p, *e, *position))
            .collect();
        changes.sort_unstable_by_key(|c| (c.0, c.1));
        changes
            .into_iter()
            .map(|(_, _, p, e, position)| {
                (
                    Grant {
                        principal: principals[&p].1.clone(),
                        entitlement: entitlements[&e].1.clone(),
                    },
                    position,
                )
            })
            .collect::<BTreeMap<Grant, Position>>()
            .into()
    }
}

/// A build run on a thread of its own beside the caller's, or on the caller's
/// when no thread can be started.
enum Beside<'scope, T> {
    Thread(std::thread::ScopedJoinHandle<'scope, T>),
    Done(T),
}

impl<'scope, T: Send + 'scope> Beside<'scope, T> {
    fn start<'env, F: Fn() -> T + Send + Sync + 'scope>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        build: F,
    ) -> Self {
        let build = std::sync::Arc::new(build);
        let on_thread = build.clone();
        match std::thread::Builder::new().spawn_scoped(scope, move || on_thread()) {
            Ok(handle) => Beside::Thread(handle),
            Err(_) => Beside::Done(build()),
        }
    }

    fn join(self) -> T {
        match self {
            // A panic in the build is the caller's, as if it had run here.
            Beside::Thread(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
            Beside::Done(v) => v,
        }
    }
}

impl Projection for NumberedSite {
    fn apply(&mut self, record: &Record) {
        if record.stream != self.site.stream {
            self.site.state.position = record.position;
            return;
        }
        match &record.event {
            Event::GrantAdded(e) => self.apply_grant(record, &e.grant, true),
            Event::GrantRemoved(e) => self.apply_grant(record, &e.grant, false),
            event @ (Event::GroupVanished(_)
            | Event::ProjectVanished(_)
            | Event::ProjectRoleVanished(_)) => {
                self.vanish(event);
                self.site.state.apply(record);
            }
            // Every other event leaves the grant storage alone.
            _ => self.site.state.apply(record),
        }
    }

    fn position(&self) -> Position {
        self.site.state.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_eventlog::Hash;
    use proptest::prelude::*;

    fn cause() -> GrantCause {
        GrantCause::ObservedInSync {
            run: SyncRunId::from("r"),
        }
    }

    /// Events over a few users, groups, projects, roles and products, so that
    /// the same grants are added, removed and vanish often.
    fn event(kind: u8, a: u8, b: u8) -> Event {
        let user = AccountId::new(format!("u{}", a % 5));
        let group = GroupId::new(format!("g{}", b % 3));
        let project = ProjectId::new(format!("p{}", a % 2));
        let role = RoleId::new(format!("r{}", b % 2));
        let principal = if b % 4 == 0 {
            Principal::Group(GroupId::new(format!("g{}", a % 3)))
        } else {
            Principal::User(user.clone())
        };
        let grant = match kind % 4 {
            0 | 1 => Grant::membership(user.clone(), group.clone()),
            2 => Grant::role(principal.clone(), project.clone(), role.clone()),
            _ => Grant {
                principal: principal.clone(),
                entitlement: Entitlement::ProductAccess {
                    product: ProductKey::from("jira-software"),
                },
            },
        };
        match kind % 13 {
            0..=4 => GrantAdded {
                grant,
                cause: cause(),
            }
            .into(),
            5..=7 => GrantRemoved {
                grant,
                cause: cause(),
            }
            .into(),
            8 => GroupVanished {
                group_id: group,
                name: String::new(),
            }
            .into(),
            9 => ProjectVanished {
                project_id: project,
                key: String::new(),
            }
            .into(),
            10 => ProjectRoleVanished {
                project_id: project,
                role_id: role,
            }
            .into(),
            11 => GrantAdded {
                grant: Grant {
                    principal: Principal::Group(group.clone()),
                    entitlement: Entitlement::GroupMembership { group },
                },
                cause: cause(),
            }
            .into(),
            _ => UserDeactivated { account_id: user }.into(),
        }
    }

    fn record(position: Position, stream: &StreamId, event: Event) -> Record {
        Record {
            position,
            recorded_at: Timestamp::from_micros(position as i64),
            stream: stream.clone(),
            stream_version: position,
            event_id: None,
            causation: None,
            event,
            prev_hash: Hash::ZERO,
            hash: Hash::ZERO,
        }
    }

    #[test]
    fn numbers_tell_apart_texts_with_one_hash_and_texts_in_parts() {
        let mut n: Numbers<&str> = Numbers::default();
        // Three texts forced onto one hash: the second and third are found by text.
        assert_eq!(n.id_hashed(7, &["a"], || "a"), 0);
        assert_eq!(n.id_hashed(7, &["b"], || "b"), 1);
        assert_eq!(n.id_hashed(7, &["c"], || "c"), 2);
        assert_eq!(n.id_hashed(7, &["b"], || unreachable!()), 1);
        assert_eq!(n.id_hashed(7, &["a"], || unreachable!()), 0);
        assert_eq!(n.get_hashed(7, &["c"]), Some(2));
        assert_eq!(n.get_hashed(7, &["d"]), None);
        assert_eq!(n.get_hashed(8, &["a"]), None);
        assert_eq!((n.value(0), n.value(1), n.value(2)), (&"a", &"b", &"c"));
        // A text in two parts is not the same text joined, nor its parts swapped.
        let mut n: Numbers<u8> = Numbers::default();
        assert_eq!(n.id(&["ab", "c"], || 0), 0);
        assert_eq!(n.id(&["a", "bc"], || 1), 1);
        assert_eq!(n.id(&["abc"], || 2), 2);
        assert_eq!(n.id(&["c", "ab"], || 3), 3);
        assert_eq!(n.get(&["ab", "c"]), Some(0));
        assert_eq!(n.get(&["ab"]), None);
        assert_eq!(n.get(&["ab", "c", ""]), None);
        // And by the real hash, many values come back with their numbers.
        let mut n: Numbers<String> = Numbers::default();
        for i in 0..2000 {
            assert_eq!(n.id(&[&format!("u{i}")], || format!("u{i}")), i);
        }
        for i in (0..2000).rev() {
            assert_eq!(n.get(&[&format!("u{i}")]), Some(i));
            assert_eq!(n.value(i), &format!("u{i}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Folding in numbers gives the state folding into `SiteState` gives, at
        /// every position, whether it starts from nothing or from a state taken
        /// over half-way.
        #[test]
        fn numbered_folds_equal_the_state_fold(
            events in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>()), 1..120),
            split in any::<u8>(),
        ) {
            let ours = StreamId::jira_site("acme");
            let other = StreamId::jira_site("other");
            let records: Vec<Record> = events
                .iter()
                .enumerate()
                .map(|(i, (k, a, b, theirs))| {
                    record(i as u64 + 1, if *theirs { &other } else { &ours }, event(*k, *a, *b))
                })
                .collect();
            let split = usize::from(split) % records.len();
            let mut plain = Site::new("acme");
            let mut numbered = NumberedSite::from_site(Site::new("acme"));
            for (i, r) in records.iter().enumerate() {
                plain.apply(r);
                numbered.apply(r);
                prop_assert_eq!(numbered.position(), plain.position());
                prop_assert_eq!(&numbered.to_site(), &plain);
                if i == split {
                    numbered = NumberedSite::from_site(numbered.into_site());
                }
            }
            prop_assert_eq!(numbered.into_site(), plain);
        }
    }
}
