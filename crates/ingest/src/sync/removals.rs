//! Removal confirmation: a second listing that must agree, and users looked
//! up by id, before anything is recorded as gone (ADR 0004, ADR 0006).

use super::*;

/// A user listing whose removals are being looked up one by one.
pub(super) struct UserLookup {
    pub(super) listing: Vec<User>,
    pub(super) outstanding: usize,
    pub(super) asked: usize,
    pub(super) removed: usize,
    pub(super) still_there: Vec<AccountId>,
    pub(super) error: Option<JiraError>,
}

/// An even sample of at most `max` of `ids` (all of them when few enough).
pub(super) fn sample(ids: Vec<String>, max: usize) -> Vec<String> {
    if ids.len() <= max || max == 0 {
        return if max == 0 { Vec::new() } else { ids };
    }
    let step = ids.len().div_ceil(max);
    ids.into_iter().step_by(step).collect()
}

/// The second listing, plus what only the first held (the first may have seen
/// something the second missed across a shifting page boundary; it is kept, and
/// the next sync decides). Returns the merge and how many items came from the
/// first only.
pub(super) fn merge_listings(first: Payload, second: Payload) -> (Payload, u64) {
    pub(super) fn add<T>(
        mut second: Vec<T>,
        first: Vec<T>,
        key: impl Fn(&T) -> Option<String>,
    ) -> (Vec<T>, u64) {
        let have: BTreeSet<String> = second.iter().filter_map(&key).collect();
        let only_first: Vec<T> = first
            .into_iter()
            .filter(|item| key(item).is_some_and(|k| !have.contains(&k)))
            .collect();
        let n = only_first.len() as u64;
        second.extend(only_first);
        (second, n)
    }
    match (first, second) {
        (Payload::Users(a), Payload::Users(b)) => {
            let (v, n) = add(b, a, |u| Some(u.account_id.clone()));
            (Payload::Users(v), n)
        }
        (Payload::Groups(a), Payload::Groups(b)) => {
            let (v, n) = add(b, a, |g| g.group_id.clone());
            (Payload::Groups(v), n)
        }
        (Payload::Projects(a), Payload::Projects(b)) => {
            let (v, n) = add(b, a, |p| Some(p.id.clone()));
            (Payload::Projects(v), n)
        }
        (_, second) => (second, 0),
    }
}

impl Run<'_> {
    /// Why a user listing cannot be complete, when it plainly cannot: the
    /// account running the sync is itself a user.
    pub(super) fn user_listing_impossible(&self, users: &[User]) -> Option<ScopeFailure> {
        if users.is_empty() {
            return Some(ScopeFailure::EmptyUserListing);
        }
        let me = self.client.caller_account_id()?;
        (!users.iter().any(|u| u.account_id == me)).then_some(ScopeFailure::CallerNotListed(me))
    }

    /// Two user listings agree on who is gone; before recording it, ask Jira
    /// for each of them (or a sample) by id.
    pub(super) fn look_up_removed_users(&mut self, users: Vec<User>) {
        if let Some(why) = self.user_listing_impossible(&users) {
            return self.fail_scope(Scope::Users, why);
        }
        let listing = Payload::Users(users);
        let removed = crate::confirm::removed_by(&self.state, &Scope::Users, &listing);
        let Payload::Users(users) = listing else {
            return;
        };
        if removed.is_empty() || self.opts.max_user_lookups == 0 {
            if let Some(held_back) = self.mass_removal(&Scope::Users, removed.len()) {
                return self.fail_scope(Scope::Users, held_back);
            }
            return self.finish_scope(Scope::Users, Ok(Data::Users(users)));
        }
        let n = removed.len();
        let ids = sample(removed.into_iter().collect(), self.opts.max_user_lookups);
        self.user_lookup = Some(UserLookup {
            listing: users,
            outstanding: ids.len(),
            asked: ids.len(),
            removed: n,
            still_there: Vec::new(),
            error: None,
        });
        for id in ids.into_iter().rev() {
            self.queue.push_front(Job::UserLookup(AccountId::new(id)));
        }
    }

    pub(super) fn on_user_lookup(
        &mut self,
        id: AccountId,
        result: Result<Option<User>, JiraError>,
    ) {
        let Some(l) = self.user_lookup.as_mut() else {
            return;
        };
        l.outstanding -= 1;
        match result {
            Ok(Some(_)) => l.still_there.push(id),
            Ok(None) => {}
            Err(e) => {
                l.error.get_or_insert(e);
            }
        }
        if l.outstanding > 0 {
            return;
        }
        let Some(l) = self.user_lookup.take() else {
            return;
        };
        if let Some(e) = l.error {
            return self.finish_scope(Scope::Users, Err(e));
        }
        if let Some(first) = l.still_there.first() {
            let why = ScopeFailure::UsersStillThere {
                found: l.still_there.len(),
                asked: l.asked,
                missing: l.removed,
                first: first.clone(),
            };
            return self.fail_scope(Scope::Users, why);
        }
        if let Some(held_back) = self.mass_removal(&Scope::Users, l.removed) {
            return self.fail_scope(Scope::Users, held_back);
        }
        self.finish_scope(Scope::Users, Ok(Data::Users(l.listing)));
    }

    /// A role map, role or product listing: confirmed by a second listing when
    /// it would remove a large share of its scope, then finished (a role map
    /// also reveals its roles' actor scopes).
    pub(super) fn finish_other(&mut self, scope: Scope, result: Result<Data, JiraError>) {
        let data = match result {
            Ok(data) => data,
            Err(e) => return self.finish_scope(scope, Err(e)),
        };
        let data = if let Some(first) = self.first_others.remove(&scope) {
            let a =
                crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &first);
            let b = crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &data);
            if a != b {
                return self.fail_scope(scope, crate::confirm::disagreement(&a, &b));
            }
            if let Some(held_back) = self.mass_removal(&scope, a.len()) {
                return self.fail_scope(scope, held_back);
            }
            data
        } else {
            let removed =
                crate::confirm::removed_by_other(&self.state, &self.group_index, &scope, &data);
            let held = crate::confirm::held(&self.state, &scope);
            let job = match &scope {
                Scope::Products => Some(Job::Products),
                Scope::Roles(p) => Some(Job::RoleMap(p.clone())),
                Scope::Actors(p, r) => Some(Job::Role(p.clone(), r.clone())),
                _ => None,
            };
            match job {
                Some(job)
                    if held > self.opts.confirm_min_items
                        && removed.len() as f64 >= self.opts.confirm_share * held as f64 =>
                {
                    debug!(%scope, held, removed = removed.len(), "a listing would remove a large share; listing it again");
                    self.confirm_relists += 1;
                    self.first_others.insert(scope, data);
                    self.queue.push_front(job);
                    return;
                }
                _ => data,
            }
        };
        if let Data::Roles(p, roles) = &data {
            for role in roles {
                self.discover(
                    Scope::Actors(p.clone(), role.id.clone()),
                    Job::Role(p.clone(), role.id.clone()),
                );
            }
        }
        self.finish_scope(scope, Ok(data));
    }

    /// `Some(MassRemoval)` when removing `removed` items of `scope` is a mass
    /// removal this run may not record (see `SyncOptions::mass_removal_share`).
    fn mass_removal(&self, scope: &Scope, removed: usize) -> Option<ScopeFailure> {
        let held = crate::confirm::held(&self.state, scope);
        let mass = removed > self.opts.mass_removal_min
            && removed as f64 >= self.opts.mass_removal_share * held as f64;
        (mass && !self.opts.allow_mass_removal)
            .then_some(ScopeFailure::MassRemoval { removed, held })
    }

    /// Jira pages by offset: a member removed from an early page while another is
    /// added to a later one shifts someone across a page boundary unseen, and a
    /// complete-looking listing misses them. So a listing that would remove
    /// anything is taken a second time, and only what is missing from both is
    /// removed. Returns the listing to diff, or `None` while the second is fetched.
    pub(super) fn confirmed(
        &mut self,
        scope: Scope,
        listing: Payload,
    ) -> Option<Result<Payload, ScopeFailure>> {
        if let Some(first) = self.first_listings.remove(&scope) {
            // Both listings must agree on what is gone: a server whose answers
            // change from one listing to the next (or a site changing under the
            // sync) proves no removal; the next sync decides.
            let a = crate::confirm::removed_by(&self.state, &scope, &first);
            let b = crate::confirm::removed_by(&self.state, &scope, &listing);
            if a != b {
                return Some(Err(crate::confirm::disagreement(&a, &b)));
            }
            // Users are asked for by id first (`look_up_removed_users`), which
            // names a listing's gap more precisely; their mass check follows it.
            if scope != Scope::Users {
                if let Some(held_back) = self.mass_removal(&scope, a.len()) {
                    return Some(Err(held_back));
                }
            }
            let (merged, kept) = merge_listings(first, listing);
            self.kept_unconfirmed += kept;
            return Some(Ok(merged));
        }
        if crate::confirm::removed_by(&self.state, &scope, &listing).is_empty() {
            return Some(Ok(listing));
        }
        let job = match &scope {
            Scope::Users => Job::Users,
            Scope::Groups => Job::Page(List::Groups, 0),
            Scope::Projects => Job::Page(List::Projects, 0),
            Scope::Members(g) => Job::Page(List::Members(g.clone()), 0),
            _ => return Some(Ok(listing)),
        };
        if let Some(list) = List::of(&scope) {
            self.inflight.remove(&list);
        }
        self.confirm_relists += 1;
        self.first_listings.insert(scope, listing);
        self.queue.push_front(job);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_must_be_missing_from_both_listings() {
        let users = |ids: &[&str]| {
            Payload::Users(
                ids.iter()
                    .map(|id| User {
                        account_id: (*id).into(),
                        account_type: None,
                        active: Some(true),
                        display_name: None,
                        email_address: None,
                    })
                    .collect(),
            )
        };
        // The first listing missed "b" (shifted across a page boundary), the second
        // missed nothing but no longer has "a" (removed in between).
        let (merged, kept) = merge_listings(users(&["a", "c"]), users(&["b", "c"]));
        let Payload::Users(merged) = merged else {
            panic!("a merge of user listings is a user listing")
        };
        let mut ids: Vec<&str> = merged.iter().map(|u| u.account_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(kept, 1);
    }
}
