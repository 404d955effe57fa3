//! Two campaigns over the same scope compared: grants that appeared or went
//! between them, decisions that flipped, and access revoked in the earlier one
//! and held again in the later one. A pure function of the two campaigns.

use std::collections::BTreeMap;

use grantledger_model::Grant;

use crate::campaign::{Campaign, Outcome};
use crate::error::ReviewError;

/// What changed between an earlier and a later campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Whether the two scopes are the same (the "since" of a delta aside).
    pub same_scope: bool,
    /// In the later campaign, not in the earlier.
    pub appeared: Vec<Grant>,
    /// In the earlier campaign, not in the later.
    pub went: Vec<Grant>,
    /// In both, decided both times, differently: (grant, earlier, later).
    pub flipped: Vec<(Grant, Outcome, Outcome)>,
    /// Revoked by the earlier campaign (decided or by its undecided rule) and an
    /// item of the later one again.
    pub revoked_then_granted: Vec<Grant>,
}

/// Compares `a` and `b`, ordered by their launch positions (either order may
/// be given). Both must be launched.
pub fn compare(a: &Campaign, b: &Campaign) -> Result<(Comparison, bool), ReviewError> {
    for c in [a, b] {
        if c.launch.is_none() {
            return Err(ReviewError::NotAllowedInState {
                campaign: c.id.clone(),
                action: "be compared (it was never launched)",
                status: c.status.as_str(),
            });
        }
    }
    let pos = |c: &Campaign| c.launch.as_ref().map_or(0, |l| l.position);
    let swapped = pos(a) > pos(b);
    let (early, late) = if swapped { (b, a) } else { (a, b) };
    let scope = |c: &Campaign| {
        let mut s = c.def().scope.clone();
        s.since = None;
        s
    };
    let before: BTreeMap<&Grant, &crate::campaign::Item> =
        early.items.iter().map(|i| (&i.grant, i)).collect();
    let after: BTreeMap<&Grant, &crate::campaign::Item> =
        late.items.iter().map(|i| (&i.grant, i)).collect();
    let mut out = Comparison {
        same_scope: scope(early) == scope(late),
        appeared: Vec::new(),
        went: Vec::new(),
        flipped: Vec::new(),
        revoked_then_granted: Vec::new(),
    };
    for (g, i) in &after {
        match before.get(g) {
            None => out.appeared.push((*g).clone()),
            Some(old) => {
                let (o1, o2) = (early.outcome(old), late.outcome(i));
                if o1 != Outcome::Undecided && o2 != Outcome::Undecided && o1 != o2 {
                    out.flipped.push(((*g).clone(), o1, o2));
                }
                if early.is_revoked(old) {
                    out.revoked_then_granted.push((*g).clone());
                }
            }
        }
    }
    out.went = before
        .keys()
        .filter(|g| !after.contains_key(*g))
        .map(|g| (*g).clone())
        .collect();
    Ok((out, swapped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::{close, create, decide, launch, Frozen};
    use grantledger_model::*;

    fn acct(s: &str) -> AccountId {
        AccountId::from(s)
    }

    fn g(u: &str) -> Grant {
        Grant::membership(acct(u), GroupId::from("g"))
    }

    fn campaign(id: &str, position: u64, users: &[&str]) -> Campaign {
        let mut c = Campaign {
            id: CampaignId::from(id),
            ..Campaign::default()
        };
        let def = CampaignCreated {
            campaign: CampaignId::from(id),
            site: "acme".into(),
            name: id.into(),
            scope: CampaignScope {
                selectors: vec![ScopeSelector::AllGrants],
                account_types: vec![AccountType::Atlassian],
                since: None,
            },
            reviewers: vec![ReviewerRule::Fallback {
                reviewer: acct("sec"),
            }],
            due: None,
            undecided: UndecidedRule::Keep,
            comment_required_for_revoke: false,
            remediation_sync_limit: 1,
            created_by: "a".into(),
            at: Timestamp(1),
        };
        for e in create(&c, def).unwrap() {
            c.apply(&e);
        }
        let frozen = Frozen {
            position,
            head_hash: String::new(),
            since_position: None,
            digest: String::new(),
            items: users
                .iter()
                .map(|u| (g(u), Some((acct("sec"), 0))))
                .collect(),
        };
        for e in launch(&c, frozen, "a", Timestamp(2)).unwrap() {
            c.apply(&e);
        }
        c
    }

    fn decided(mut c: Campaign, item: u32, d: Decision) -> Campaign {
        for e in decide(&c, item, &acct("sec"), d, None, Timestamp(3)).unwrap() {
            c.apply(&e);
        }
        c
    }

    #[test]
    fn appeared_went_flipped_and_revoked_then_granted() {
        let q1 = decided(
            decided(campaign("q1", 10, &["a", "b", "c"]), 1, Decision::Revoke),
            2,
            Decision::Approve,
        );
        let mut q1c = q1.clone();
        for e in close(&q1, "a", (11, String::new()), Timestamp(4)).unwrap() {
            q1c.apply(&e);
        }
        // q2: a is back (revoked in q1), b now revoked, c gone, d new.
        let q2 = decided(campaign("q2", 20, &["a", "b", "d"]), 2, Decision::Revoke);
        let (cmp, swapped) = compare(&q2, &q1c).unwrap();
        assert!(
            swapped,
            "the earlier launch goes first whatever the order given"
        );
        assert!(cmp.same_scope);
        assert_eq!(cmp.appeared, vec![g("d")]);
        assert_eq!(cmp.went, vec![g("c")]);
        assert_eq!(
            cmp.flipped,
            vec![(g("b"), Outcome::Approved, Outcome::Revoked)]
        );
        assert_eq!(cmp.revoked_then_granted, vec![g("a")]);
        // A draft cannot be compared.
        let draft = Campaign::default();
        assert!(matches!(
            compare(&draft, &q2),
            Err(ReviewError::NotAllowedInState { .. })
        ));
    }
}
