//! Golden bytes: a checked-in encoded record per event type must decode to the
//! sample and re-encode byte for byte. Any change of the binary format fails here.
//!
//! A new event type needs a sample below and its golden file, written with
//! `GRANTLEDGER_BLESS=1 cargo test -p grantledger-eventlog --test golden`. Never
//! re-bless an existing file: a stored log must stay readable; change the type's
//! schema version and add an upcaster instead.

use std::collections::BTreeSet;
use std::path::PathBuf;

use grantledger_eventlog::{codec, Hash, Record};
use grantledger_model::*;

fn user(id: &str, email: Option<&str>, active: bool) -> UserRecord {
    UserRecord {
        account_id: AccountId::from(id),
        account_type: AccountType::Atlassian,
        display_name: "Mia Krystof".into(),
        email: email.map(str::to_owned),
        active,
    }
}

fn project(key: &str, archived: bool) -> ProjectRecord {
    ProjectRecord {
        project_id: ProjectId::from("10000"),
        key: key.into(),
        name: "Example".into(),
        archived,
    }
}

fn stats() -> SyncStats {
    SyncStats {
        requests: 120,
        retries: 3,
        minimum_requests: 118,
        pages: 117,
        items_seen: 5_000,
        events_written: 42,
        bytes: 1_234_567,
        wait_ms: 2_000,
        duration_ms: 9_876,
    }
}

fn samples() -> Vec<Event> {
    let run = SyncRunId::from("run-2026-11-28T00:00:00Z");
    let a = AccountId::from("5b10a2844c20165700ede21g");
    vec![
        SyncStarted {
            run: run.clone(),
            site: "acme.atlassian.net".into(),
            started_at: Timestamp(1_764_288_000_000_000),
        }
        .into(),
        SyncCompleted {
            run: run.clone(),
            stats: stats(),
        }
        .into(),
        SyncFailed {
            run: run.clone(),
            reason: "Jira answered 401".into(),
            unfinished_scopes: vec!["group-members:g1".into()],
            stats: stats(),
        }
        .into(),
        UserObserved {
            user: user(a.as_str(), Some("mia@example.com"), true),
        }
        .into(),
        UserChanged {
            before: user(a.as_str(), Some("mia@example.com"), true),
            after: user(a.as_str(), None, true),
        }
        .into(),
        UserDeactivated {
            account_id: a.clone(),
        }
        .into(),
        UserReactivated {
            account_id: a.clone(),
        }
        .into(),
        UserVanished {
            account_id: a.clone(),
        }
        .into(),
        GroupObserved {
            group: GroupRecord {
                group_id: GroupId::from("276f955c-63d7-42c8-9520-92d01dca0625"),
                name: "jira-administrators".into(),
            },
        }
        .into(),
        GroupRenamed {
            group_id: GroupId::from("276f955c-63d7-42c8-9520-92d01dca0625"),
            from: "jira-admins".into(),
            to: "jira-administrators".into(),
        }
        .into(),
        GroupVanished {
            group_id: GroupId::from("276f955c-63d7-42c8-9520-92d01dca0625"),
            name: "jira-administrators".into(),
        }
        .into(),
        ProjectObserved {
            project: project("EX", false),
        }
        .into(),
        ProjectChanged {
            before: project("EX", false),
            after: project("EXA", true),
        }
        .into(),
        ProjectVanished {
            project_id: ProjectId::from("10000"),
            key: "EX".into(),
        }
        .into(),
        ProjectRoleObserved {
            role: RoleRecord {
                project_id: ProjectId::from("10000"),
                role_id: RoleId::from("10002"),
                name: "Administrators".into(),
            },
        }
        .into(),
        ProjectRoleVanished {
            project_id: ProjectId::from("10000"),
            role_id: RoleId::from("10002"),
        }
        .into(),
        ProductAccessGroupsChanged {
            product: ProductKey::from("jira-software"),
            name: "Jira Software".into(),
            groups: vec![GroupId::from("g1"), GroupId::from("g2")],
        }
        .into(),
        GrantAdded {
            grant: Grant::role(
                Principal::Group(GroupId::from("g1")),
                ProjectId::from("10000"),
                RoleId::from("10002"),
            ),
            cause: GrantCause::AppliedByRequest {
                request: RequestId::from("req-1"),
                command: CommandId::from("cmd-1"),
            },
        }
        .into(),
        GrantRemoved {
            grant: Grant::membership(a, GroupId::from("g1")),
            cause: GrantCause::RemovedByReview {
                campaign: CampaignId::from("q4"),
                command: CommandId::from("cmd-2"),
            },
        }
        .into(),
        CommandIssued {
            command: CommandId::from("cmd-3"),
            site: "acme".into(),
            action: CommandAction::Add,
            grant: Grant::membership(AccountId::from("u-3"), GroupId::from("g1")),
            purpose: CommandPurpose::GrantForRequest {
                request: RequestId::from("req-3"),
            },
        }
        .into(),
        CommandSucceeded {
            command: CommandId::from("cmd-3"),
            jira: JiraOutcome::Changed,
            site: SiteOutcome::Recorded,
            attempts: 2,
        }
        .into(),
        CommandFailed {
            command: CommandId::from("cmd-4"),
            kind: CommandFailureKind::Refused,
            reason: "Jira refused: the account is inactive".into(),
            attempts: 1,
        }
        .into(),
        CommandStarted {
            command: CommandId::from("cmd-3"),
        }
        .into(),
        AccessRequested {
            request: RequestId::from("r7"),
            site: "acme".into(),
            requester: AccountId::from("u-7"),
            grant: Grant::membership(AccountId::from("u-7"), GroupId::from("g1")),
            duration_secs: 3_600,
            justification: Some("incident INC-9".into()),
            ticket: Some("OPS-123".into()),
            policy: "on-call".into(),
            approvals_needed: 2,
            max_duration_secs: 28_800,
            break_glass: false,
            at: Timestamp(1_764_288_000_000_000),
        }
        .into(),
        ApprovalGiven {
            request: RequestId::from("r7"),
            approver: AccountId::from("u-8"),
            comment: Some("ok".into()),
            at: Timestamp(1_764_288_060_000_000),
        }
        .into(),
        RequestApproved {
            request: RequestId::from("r7"),
            approvers: vec![AccountId::from("u-8"), AccountId::from("u-9")],
            at: Timestamp(1_764_288_120_000_000),
        }
        .into(),
        RequestDenied {
            request: RequestId::from("r8"),
            by: AccountId::from("u-8"),
            reason: Some("not on call".into()),
            at: Timestamp(1_764_288_180_000_000),
        }
        .into(),
        RequestCancelled {
            request: RequestId::from("r9"),
            by: AccountId::from("u-7"),
            at: Timestamp(1_764_288_240_000_000),
        }
        .into(),
        AccessGranted {
            request: RequestId::from("r7"),
            command: CommandId::from("r7-grant"),
            expires_at: Timestamp(1_764_291_720_000_000),
            at: Timestamp(1_764_288_120_500_000),
        }
        .into(),
        AccessAlreadyHeld {
            request: RequestId::from("r10"),
            command: Some(CommandId::from("r10-grant")),
            why: PreExisting::InJira,
            expires_at: Timestamp(1_764_291_720_000_000),
            at: Timestamp(1_764_288_120_500_000),
        }
        .into(),
        AccessExtended {
            request: RequestId::from("r7"),
            by: AccountId::from("u-9"),
            from: Timestamp(1_764_291_720_000_000),
            until: Timestamp(1_764_295_320_000_000),
            at: Timestamp(1_764_291_000_000_000),
        }
        .into(),
        AccessExpired {
            request: RequestId::from("r7"),
            deadline: Timestamp(1_764_295_320_000_000),
            action: ExpiryAction::Revoke {
                command: CommandId::from("r7-expire"),
            },
            at: Timestamp(1_764_295_320_200_000),
        }
        .into(),
        AccessTakenOver {
            request: RequestId::from("r11"),
            from: RequestId::from("r7"),
            at: Timestamp(1_764_295_320_200_000),
        }
        .into(),
        RevocationRequested {
            request: RequestId::from("r12"),
            by: AccountId::from("u-8"),
            reason: Some("done early".into()),
            command: Some(CommandId::from("r12-revoke")),
            at: Timestamp(1_764_290_000_000_000),
        }
        .into(),
        AccessRevoked {
            request: RequestId::from("r7"),
            command: CommandId::from("r7-expire"),
            removed_in_jira: true,
            at: Timestamp(1_764_295_321_000_000),
        }
        .into(),
        RequestFailed {
            request: RequestId::from("r13"),
            command: CommandId::from("r13-grant"),
            step: RequestStep::Grant,
            reason: "Jira refused: the account is inactive".into(),
            at: Timestamp(1_764_288_300_000_000),
        }
        .into(),
        RemovalRetried {
            request: RequestId::from("r7"),
            command: CommandId::from("r7-revoke-2"),
            attempt: 2,
            at: Timestamp(1_764_295_400_000_000),
        }
        .into(),
        CampaignCreated {
            campaign: CampaignId::from("c1"),
            site: "acme".into(),
            name: "Q3 admins".into(),
            scope: CampaignScope {
                selectors: vec![
                    ScopeSelector::AllGrants,
                    ScopeSelector::Groups {
                        patterns: vec!["dev-*".into()],
                    },
                    ScopeSelector::PrivilegedGroups {
                        patterns: vec!["site-admins".into(), "security-*".into()],
                    },
                    ScopeSelector::ProjectRoles {
                        projects: vec!["OPS".into()],
                        roles: vec!["Administrators".into()],
                    },
                    ScopeSelector::ProductAccess {
                        products: vec![ProductKey::from("jira-software")],
                    },
                ],
                account_types: vec![AccountType::Atlassian, AccountType::App],
                since: Some(Since::Campaign(CampaignId::from("c0"))),
            },
            reviewers: vec![
                ReviewerRule::Owner {
                    name: "ops".into(),
                    groups: vec!["ops-*".into()],
                    projects: vec!["OPS".into()],
                    reviewer: AccountId::from("owner-1"),
                },
                ReviewerRule::Manager {
                    managers: vec![ManagerOf {
                        user: AccountId::from("a1"),
                        manager: AccountId::from("m1"),
                    }],
                },
                ReviewerRule::Fallback {
                    reviewer: AccountId::from("sec-1"),
                },
            ],
            due: Some(Timestamp(1_765_000_000_000_000)),
            undecided: UndecidedRule::Revoke,
            comment_required_for_revoke: true,
            remediation_sync_limit: 2,
            created_by: "auditor@acme.com".into(),
            at: Timestamp(1_764_300_000_000_000),
        }
        .into(),
        CampaignLaunched {
            campaign: CampaignId::from("c1"),
            position: 1234,
            head_hash: "ab".repeat(32),
            since_position: Some(1000),
            item_count: 2,
            digest: "cd".repeat(32),
            chunks: 1,
            launched_by: "auditor@acme.com".into(),
            at: Timestamp(1_764_300_100_000_000),
        }
        .into(),
        CampaignItemsFrozen {
            campaign: CampaignId::from("c1"),
            chunk: 0,
            items: vec![
                CampaignItem {
                    item: 1,
                    grant: Grant::membership(AccountId::from("a1"), GroupId::from("g1")),
                    reviewer: AccountId::from("m1"),
                    rule: 1,
                },
                CampaignItem {
                    item: 2,
                    grant: Grant::role(
                        Principal::Group(GroupId::from("g2")),
                        ProjectId::from("10000"),
                        RoleId::from("10002"),
                    ),
                    reviewer: AccountId::from("owner-1"),
                    rule: 0,
                },
            ],
        }
        .into(),
        ItemDecided {
            campaign: CampaignId::from("c1"),
            item: 1,
            decision: Decision::Revoke,
            by: AccountId::from("m1"),
            comment: Some("left the team".into()),
            at: Timestamp(1_764_300_200_000_000),
        }
        .into(),
        ItemReassigned {
            campaign: CampaignId::from("c1"),
            item: 2,
            from: AccountId::from("owner-1"),
            to: AccountId::from("sec-1"),
            by: None,
            reason: ReassignReason::SelfReview,
            comment: None,
            at: Timestamp(1_764_300_100_000_000),
        }
        .into(),
        CampaignClosed {
            campaign: CampaignId::from("c1"),
            closed_by: "auditor@acme.com".into(),
            undecided: 1,
            head_position: 1300,
            head_hash: "ef".repeat(32),
            at: Timestamp(1_764_400_000_000_000),
        }
        .into(),
        RevocationIssued {
            campaign: CampaignId::from("c1"),
            item: 1,
            command: CommandId::from("c1-i1-revoke"),
            position: 1301,
            at: Timestamp(1_764_400_000_000_001),
        }
        .into(),
        RemediationVerified {
            campaign: CampaignId::from("c1"),
            item: 1,
            run: SyncRunId::from("run-9"),
            position: 1400,
            at: Timestamp(1_764_410_000_000_000),
        }
        .into(),
        RemediationFlagged {
            campaign: CampaignId::from("c1"),
            item: 2,
            reason: FlagReason::Reappeared { position: 1500 },
            at: Timestamp(1_764_420_000_000_000),
        }
        .into(),
        AuditRecordObserved {
            run: run.clone(),
            record_id: 50_001,
            created: Timestamp(1_764_287_000_512_000),
            summary: "Project roles changed".into(),
            category: "projects".into(),
            author: Some(AccountId::from("5b10ac8d82e05b22cc7d4ef5")),
            object: Some(AuditItem {
                id: Some("10002".into()),
                name: Some("Developers".into()),
                type_name: Some("PROJECT_ROLE".into()),
            }),
            associated: vec![AuditItem {
                id: Some("10000".into()),
                name: Some("Example".into()),
                type_name: Some("PROJECT".into()),
            }],
            changed: vec![AuditValueChange {
                field: "Users".into(),
                from: None,
                to: Some("5b10a2844c20165700ede21g".into()),
            }],
        }
        .into(),
        AuditLogRead {
            run: run.clone(),
            from: Some(Timestamp(1_764_286_000_000_000)),
            to: Timestamp(1_764_288_000_000_000),
            records_read: 3,
            records_new: 1,
            oldest: None,
        }
        .into(),
    ]
}

fn record(i: usize, event: Event) -> Record {
    Record {
        position: 42 + i as u64,
        recorded_at: Timestamp(1_764_288_000_123_456),
        stream: StreamId::jira_site("acme"),
        stream_version: 7,
        event_id: (i % 2 == 0).then(|| EventId::new(format!("evt-{i}"))),
        causation: match i % 3 {
            0 => Some(Causation::SyncRun(SyncRunId::from("run-1"))),
            1 => Some(Causation::Operator("ops@example.com".into())),
            _ => None,
        },
        event,
        prev_hash: Hash([7; 32]),
        hash: Hash::ZERO,
    }
}

#[test]
fn every_event_type_has_a_sample() {
    let sampled: BTreeSet<&str> = samples().iter().map(Event::event_type).collect();
    let all: BTreeSet<&str> = EVENT_TYPES.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        sampled, all,
        "add a sample (and bless its golden file) for each new event type"
    );
}

#[test]
fn golden_bytes_decode_and_reencode_byte_for_byte() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("GRANTLEDGER_BLESS").is_some();
    for (i, event) in samples().into_iter().enumerate() {
        let name = event.event_type();
        let path = dir.join(format!("{name}.bin"));
        let mut sample = record(i, event);
        let (bytes, hash) = codec::encode(&sample);
        sample.hash = hash;
        if bless && !path.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("{}: {e}; write it with GRANTLEDGER_BLESS=1", path.display())
        });
        let decoded = codec::decode_record(&golden)
            .unwrap_or_else(|e| panic!("{name}: golden bytes no longer decode: {e}"));
        assert_eq!(
            decoded, sample,
            "{name}: golden bytes decode to something else"
        );
        assert_eq!(
            codec::encode(&decoded).0,
            golden,
            "{name}: re-encoding changed the bytes"
        );
        assert_eq!(
            bytes, golden,
            "{name}: the sample encodes differently from its golden file"
        );
    }
}
