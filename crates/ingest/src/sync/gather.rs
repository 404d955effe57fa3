//! Gathering a PageBean listing: planning its pages from the first one,
//! checking that concurrently fetched pages fit together, and a listing done.

use super::*;

/// Pages of one PageBean listing gathered concurrently.
pub(super) struct Gather {
    pub(super) pages: BTreeMap<u64, (PageMeta, Payload)>,
    pub(super) outstanding: usize,
}

/// Whether concurrently fetched pages fit together into one consistent listing.
pub(super) fn consistent(pages: &BTreeMap<u64, (PageMeta, Payload)>, size: u64) -> bool {
    let Some((_, (first, _))) = pages.first_key_value() else {
        return false;
    };
    let Some(total) = first.total else {
        return false;
    };
    let n = pages.len();
    let mut sum = 0u64;
    for (i, (start, (meta, items))) in pages.iter().enumerate() {
        let last = i + 1 == n;
        if meta.total != Some(total) || *start != i as u64 * size {
            return false;
        }
        // A server that ignores startAt echoes another offset (or the same page).
        if meta.start_at.is_some_and(|echoed| echoed != *start) {
            return false;
        }
        if !last && (items.len() as u64 != size || meta.is_last == Some(true)) {
            return false;
        }
        if last && meta.is_last == Some(false) {
            return false;
        }
        sum += items.len() as u64;
    }
    sum == total
}

impl Run<'_> {
    pub(super) fn on_page(
        &mut self,
        list: List,
        start: u64,
        result: Result<(PageMeta, Payload), JiraError>,
    ) {
        let (meta, items) = match result {
            Ok(ok) => ok,
            Err(e) => {
                // One failed page fails the listing: its other page requests,
                // queued or in flight, are cancelled at once.
                self.gathers.remove(&list);
                self.cancel(&list);
                let scope = list.scope();
                if matches!(self.scopes.get(&scope), Some(Status::Pending)) {
                    self.finish_scope(scope, Err(e));
                }
                return;
            }
        };
        if start == 0 {
            let size = list.requested_page_size();
            let ceiling = list.ceiling(self.client);
            let mut gather = Gather {
                pages: BTreeMap::new(),
                outstanding: 0,
            };
            if let Some(total) = meta.total.filter(|t| *t > ceiling) {
                self.inflight.remove(&list);
                let e = JiraError::Limit {
                    endpoint: list.endpoint(),
                    what: format!("the listing's reported total ({total})"),
                    limit: ceiling,
                    unit: " items",
                };
                return self.finish_scope(list.scope(), Err(e));
            }
            if meta.is_last != Some(true) {
                match meta.total {
                    // Planned only when the server honours the page size asked
                    // (Jira's documented cap) and echoes the offset: at most
                    // ceil(ceiling / page size) pages, never a number the server
                    // chose. Anything else is paged one by one by the cursor.
                    Some(total)
                        if total > size
                            && meta.max_results == Some(size)
                            && meta.start_at == Some(0) =>
                    {
                        // Fetch the rest concurrently, ahead of new scopes, so a huge
                        // group does not end up as a long serial tail.
                        let starts: Vec<u64> =
                            (1..total.div_ceil(size)).map(|k| k * size).collect();
                        gather.outstanding = starts.len();
                        for s in starts.into_iter().rev() {
                            self.queue.push_front(Job::Page(list.clone(), s));
                        }
                    }
                    _ => {
                        // No total to plan with, a clamped page size, or a total
                        // that contradicts isLast: list it the careful way, page
                        // after page, within the cursor's ceilings.
                        self.inflight.remove(&list);
                        self.queue.push_front(Job::Relist(list.clone()));
                        self.relisted += 1;
                        self.gathers.remove(&list);
                        return;
                    }
                }
            }
            gather.pages.insert(0, (meta, items));
            self.gathers.insert(list.clone(), gather);
        } else {
            let Some(g) = self.gathers.get_mut(&list) else {
                return; // the listing already failed or is being relisted
            };
            g.pages.insert(start, (meta, items));
            g.outstanding -= 1;
        }
        let ready = self.gathers.get(&list).is_some_and(|g| g.outstanding == 0);
        if !ready {
            return;
        }
        let Some(gather) = self.gathers.remove(&list) else {
            return;
        };
        self.inflight.remove(&list);
        let size = list.requested_page_size();
        // One page marked last, at the offset asked, needs no fitting, unless
        // its total says otherwise.
        let single = gather.pages.len() == 1
            && gather
                .pages
                .first_key_value()
                .is_some_and(|(_, (m, items))| {
                    m.is_last == Some(true)
                        && m.start_at == Some(0)
                        && m.total.is_none_or(|t| t == items.len() as u64)
                });
        if !single && !consistent(&gather.pages, size) {
            warn!(list = ?list, "pages fetched concurrently do not fit together; listing again page by page");
            self.relisted += 1;
            self.queue.push_front(Job::Relist(list));
            return;
        }
        let mut all: Option<Payload> = None;
        for (_, (_, items)) in gather.pages {
            match &mut all {
                None => all = Some(items),
                Some(a) => {
                    if !a.append(items) {
                        return self.fail_scope(list.scope(), ScopeFailure::MixedPages);
                    }
                }
            }
        }
        if let Some(all) = all {
            self.list_done(list, Ok(all));
        }
    }

    pub(super) fn list_done(&mut self, list: List, result: Result<Payload, JiraError>) {
        let scope = list.scope();
        let result = match result {
            Ok(listing) => match self.confirmed(scope.clone(), listing) {
                Some(Ok(listing)) => Ok(listing),
                Some(Err(why)) => return self.fail_scope(scope, why),
                None => return,
            },
            Err(e) => Err(e),
        };
        let data = match (list, result) {
            (_, Err(e)) => return self.finish_scope(scope, Err(e)),
            (List::Groups, Ok(Payload::Groups(groups))) => {
                self.group_index = GroupIndex::from_groups(groups.iter());
                let ids: BTreeSet<GroupId> = groups
                    .iter()
                    .filter_map(|g| {
                        g.group_id
                            .as_deref()
                            .filter(|s| !s.is_empty())
                            .map(GroupId::from)
                    })
                    .collect();
                // A refresh lists the members of the groups the audit log names
                // and of groups the log does not know yet; a sync all of them.
                let named: BTreeSet<GroupId> = match &self.refresh {
                    Some(a) => groups
                        .iter()
                        .filter(|g| g.name.as_ref().is_some_and(|n| a.group_names.contains(n)))
                        .filter_map(|g| g.group_id.as_deref().map(GroupId::from))
                        .collect(),
                    None => BTreeSet::new(),
                };
                for g in ids {
                    if self.refresh.is_some()
                        && !named.contains(&g)
                        && self.state.groups.contains_key(&g)
                    {
                        continue;
                    }
                    self.discover(Scope::Members(g.clone()), Job::Page(List::Members(g), 0));
                }
                Data::Groups(groups)
            }
            (List::Projects, Ok(Payload::Projects(projects))) => {
                for p in &projects {
                    let id = ProjectId::new(p.id.clone());
                    if let Some(a) = &self.refresh {
                        let known = self.state.projects.contains_key(&id);
                        if known && !a.projects.contains(&id) {
                            // Only the roles the records name, if the log knows them.
                            let roles: Vec<RoleId> = a
                                .roles
                                .iter()
                                .filter(|(p, _)| *p == id)
                                .map(|(_, r)| r.clone())
                                .collect();
                            let all_known = roles.iter().all(|r| {
                                self.state.roles.get(&id).is_some_and(|m| m.contains_key(r))
                            });
                            if all_known {
                                for r in roles {
                                    self.discover(
                                        Scope::Actors(id.clone(), r.clone()),
                                        Job::Role(id.clone(), r),
                                    );
                                }
                                continue;
                            }
                        }
                    }
                    self.discover(Scope::Roles(id.clone()), Job::RoleMap(id));
                }
                Data::Projects(projects)
            }
            (List::Members(g), Ok(Payload::Users(users))) => Data::Members(g, users),
            (_, Ok(_)) => {
                return self.fail_scope(scope, ScopeFailure::WrongKind);
            }
        };
        self.finish_scope(scope, Ok(data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(start: u64, n: usize, total: u64, last: bool) -> (u64, (PageMeta, Payload)) {
        let users = (0..n)
            .map(|i| User {
                account_id: format!("a{}", start + i as u64),
                account_type: None,
                active: Some(true),
                display_name: None,
                email_address: None,
            })
            .collect();
        let meta = PageMeta {
            start_at: Some(start),
            max_results: Some(50),
            total: Some(total),
            is_last: Some(last),
            next_page: None,
            count: n,
        };
        (start, (meta, Payload::Users(users)))
    }

    #[test]
    fn pages_fit_only_when_they_tile_the_total() {
        let good: BTreeMap<_, _> = [
            page(0, 50, 120, false),
            page(50, 50, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(consistent(&good, 50));
        let short: BTreeMap<_, _> = [
            page(0, 50, 120, false),
            page(50, 49, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(!consistent(&short, 50));
        let moved: BTreeMap<_, _> = [
            page(0, 50, 121, false),
            page(50, 50, 120, false),
            page(100, 20, 120, true),
        ]
        .into();
        assert!(!consistent(&moved, 50));
        // A server that ignores startAt answers offset 0 for every page.
        let mut ignored: BTreeMap<_, _> = [page(0, 50, 100, false), page(50, 50, 100, true)].into();
        ignored.get_mut(&50).unwrap().0.start_at = Some(0);
        assert!(!consistent(&ignored, 50));
        let lying_last: BTreeMap<_, _> = [page(0, 50, 100, true), page(50, 50, 100, true)].into();
        assert!(!consistent(&lying_last, 50));
    }
}
