//! The requests projection: every request folded from its `request:<id>` stream,
//! kept current by a [`grantledger_eventlog::Follower`], so a scheduler pass and
//! `request list` fold only the records appended since the last look instead of
//! reading every request stream again.

use std::collections::BTreeMap;

use grantledger_eventlog::{Position, Projection, Record};
use grantledger_model::RequestId;

use crate::request::Request;

/// Every request in the log, by id (all sites).
#[derive(Debug, Clone, Default)]
pub struct Requests {
    position: Position,
    by_id: BTreeMap<RequestId, Request>,
}

impl Requests {
    /// A request by id.
    pub fn get(&self, id: &RequestId) -> Option<&Request> {
        self.by_id.get(id)
    }

    /// Every request, in id order.
    pub fn all(&self) -> impl Iterator<Item = &Request> + '_ {
        self.by_id.values()
    }

    /// How many requests (request streams) the log holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when the log holds no request.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl Projection for Requests {
    fn apply(&mut self, record: &Record) {
        self.position = record.position;
        if let Some(id) = record.stream.as_str().strip_prefix("request:") {
            self.by_id
                .entry(RequestId::from(id))
                .or_default()
                .apply(&record.event);
        }
    }

    fn position(&self) -> Position {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantledger_eventlog::{EventLog, ExpectedVersion, Follower, NewEvent};
    use grantledger_model::*;

    fn requested(id: &str, at: i64) -> Event {
        AccessRequested {
            request: RequestId::from(id),
            site: "acme".into(),
            requester: AccountId::from("alice"),
            grant: Grant::membership(AccountId::from("alice"), GroupId::from("g")),
            duration_secs: 60,
            justification: None,
            ticket: None,
            policy: "p".into(),
            approvals_needed: 1,
            max_duration_secs: 600,
            break_glass: false,
            at: Timestamp::from_micros(at),
        }
        .into()
    }

    #[test]
    fn folds_each_request_stream_and_only_what_is_new_on_each_look() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(dir.path().join("log")).unwrap();
        let append = |stream: &str, e: Event| {
            log.append(
                &StreamId::parse(stream).unwrap(),
                ExpectedVersion::Any,
                vec![NewEvent::new(e)],
            )
            .unwrap();
        };
        append("request:r1", requested("r1", 1));
        append(
            "command:x",
            CommandStarted {
                command: CommandId::from("x"),
            }
            .into(),
        );
        let mut f = Follower::new(log.clone(), Requests::default());
        f.catch_up().unwrap();
        assert_eq!(f.projection().len(), 1);
        append("request:r2", requested("r2", 2));
        append(
            "request:r1",
            RequestCancelled {
                request: RequestId::from("r1"),
                by: AccountId::from("alice"),
                at: Timestamp::from_micros(3),
            }
            .into(),
        );
        assert_eq!(f.catch_up().unwrap(), 2, "only the two new records");
        let r1 = f.projection().get(&RequestId::from("r1")).unwrap();
        assert_eq!((r1.status, r1.version), (crate::Status::Cancelled, 2));
        let from_stream = Request::from_events(
            log.read_stream(&StreamId::parse("request:r1").unwrap(), 1)
                .unwrap()
                .iter()
                .map(|r| &r.event),
        );
        assert_eq!(r1, &from_stream, "the same as folding the stream");
        assert_eq!(f.projection().len(), 2);
    }
}
