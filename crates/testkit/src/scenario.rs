//! Given / when / then for event-sourced aggregates: given these events, when
//! this decision runs, then these events (or this error), and the state they
//! lead to.
//!
//! ```
//! use grantledger_model::{Event, GroupObserved, GroupRecord};
//! use grantledger_projection::SiteState;
//! use grantledger_testkit::given;
//!
//! let devs = GroupRecord { group_id: "g1".into(), name: "devs".into() };
//! given::<SiteState>(vec![GroupObserved { group: devs.clone() }.into()])
//!     .when(|state| {
//!         // a decision that renames the group
//!         assert_eq!(state.groups.len(), 1);
//!         vec![grantledger_model::GroupRenamed {
//!             group_id: "g1".into(),
//!             from: "devs".into(),
//!             to: "developers".into(),
//!         }
//!         .into()]
//!     })
//!     .then_types(&["GroupRenamed"])
//!     .then_state(|after| assert_eq!(after.groups[&"g1".into()].name, "developers"));
//! ```

use std::fmt::Debug;

use grantledger_model::Event;
use grantledger_projection::SiteState;

/// An aggregate that is rebuilt by folding its events in order.
pub trait Fold: Clone + Default {
    /// Folds one event in.
    fn fold(&mut self, event: &Event);
}

impl Fold for SiteState {
    fn fold(&mut self, event: &Event) {
        self.apply_event(event);
    }
}

/// The state built from the given events.
#[derive(Debug, Clone)]
pub struct Given<S> {
    state: S,
}

/// Starts a scenario: the aggregate folded from `events`.
pub fn given<S: Fold>(events: impl IntoIterator<Item = Event>) -> Given<S> {
    let mut state = S::default();
    for e in events {
        state.fold(&e);
    }
    Given { state }
}

impl<S: Fold> Given<S> {
    /// Starts a scenario from a state built elsewhere (the state after an
    /// earlier step, say).
    pub fn from_state(state: S) -> Self {
        Given { state }
    }

    /// The state before the decision.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Runs a decision that yields events.
    pub fn when(self, decide: impl FnOnce(&S) -> Vec<Event>) -> Then<S> {
        let events = decide(&self.state);
        Then {
            before: self.state,
            events,
        }
    }

    /// Runs a decision that may refuse; returns the error, or the events as a
    /// [`Then`].
    pub fn when_try<E>(
        self,
        decide: impl FnOnce(&S) -> Result<Vec<Event>, E>,
    ) -> Result<Then<S>, E> {
        let events = decide(&self.state)?;
        Ok(Then {
            before: self.state,
            events,
        })
    }
}

/// What a decision yielded, with the state before it.
#[derive(Debug, Clone)]
pub struct Then<S> {
    before: S,
    events: Vec<Event>,
}

impl<S: Fold> Then<S> {
    /// The events the decision yielded.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The state after folding the yielded events into the state before.
    pub fn after(&self) -> S {
        let mut s = self.before.clone();
        for e in &self.events {
            s.fold(e);
        }
        s
    }

    /// Asserts the yielded event types, in order.
    ///
    /// # Panics
    /// When they differ.
    pub fn then_types(self, expected: &[&str]) -> Self {
        let got: Vec<&str> = self.events.iter().map(Event::event_type).collect();
        assert_eq!(got, expected, "event types");
        self
    }

    /// Asserts the yielded events exactly, in order.
    ///
    /// # Panics
    /// When they differ.
    pub fn then_events(self, expected: &[Event]) -> Self {
        assert_eq!(self.events, expected, "events");
        self
    }

    /// Checks the state after the events with `check`.
    pub fn then_state(self, check: impl FnOnce(&S)) -> Self {
        check(&self.after());
        self
    }

    /// Asserts that running `decide` again on the state after the events yields
    /// nothing: the decision converges.
    ///
    /// # Panics
    /// When the second run yields events.
    pub fn then_converges(self, decide: impl FnOnce(&S) -> Vec<Event>) -> Self {
        let again = decide(&self.after());
        assert!(
            again.is_empty(),
            "a second run yielded {:?}",
            again.iter().map(Event::event_type).collect::<Vec<_>>()
        );
        self
    }
}

impl<S: Fold + Debug + PartialEq> Then<S> {
    /// Asserts the state after the events equals `expected`.
    ///
    /// # Panics
    /// When it differs.
    pub fn then_state_is(self, expected: &S) -> Self {
        assert_eq!(&self.after(), expected, "state after the events");
        self
    }
}
