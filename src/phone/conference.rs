//! The local conference, sans-IO: which calls are mixed together. The audio engine does the
//! mixing (every member hears the microphone and the other members, never itself); this part
//! decides who is a member and keeps that true as calls come and go.
//!
//! - Merge takes every answered call in (up to `maxlines`, since a line is a call) and resumes
//!   the ones we held; a merge while a conference runs adds the calls outside it.
//! - A call placed "to add to the conference" joins when it is answered; the members are not
//!   held by `autohold` then (they are the conference the user is adding to).
//! - Taking one member out leaves it as a call of its own, on hold, while the others keep
//!   talking; split ends the conference and holds every former member but the current line.
//! - Holding the conference holds every member (each far end hears silence); resuming resumes
//!   them all.
//! - A member that hangs up leaves; with fewer than two members the conference is over.

use super::{Action, Phone, Refused, refused};
use crate::model::{CallState, ConferenceOp, Event, NoticeKind};
use std::collections::BTreeSet;

/// The calls in the local conference and the calls that join it once answered.
#[derive(Debug, Default)]
pub(super) struct Conference {
    members: BTreeSet<u32>,
    joining: BTreeSet<u32>,
}

impl Phone {
    /// The calls mixed together now (empty: no conference).
    pub fn conference_members(&self) -> Vec<u32> {
        self.conference.members.iter().copied().collect()
    }

    /// Carries out a conference operation on the calls we have. Adding a new party is the
    /// driver's (it places the call): it asks [`Phone::may_add_to_conference`] first and tells
    /// [`Phone::join_conference_when_answered`] the line it got.
    pub fn conference(&mut self, op: &ConferenceOp) -> Result<(), Refused> {
        match op {
            ConferenceOp::Merge => self.merge_calls(None),
            ConferenceOp::Add { .. } => self.may_add_to_conference(),
            ConferenceOp::Remove { line } => self.take_out_of_conference(*line),
            ConferenceOp::Split => self.split_conference(),
            ConferenceOp::Hold { on } => self.hold_conference(*on),
        }
    }

    /// Whether a new call may be placed to join the conference: there must be an answered
    /// call to join it with.
    pub fn may_add_to_conference(&self) -> Result<(), Refused> {
        if self.answered_lines().is_empty() {
            return Err(refused(
                NoticeKind::Call,
                "conference: no answered call to add a party to".into(),
            ));
        }
        Ok(())
    }

    /// The call just placed on `line` joins the conference (or makes one with the answered
    /// calls) when the far end answers.
    pub fn join_conference_when_answered(&mut self, line: u32) {
        self.conference.joining.insert(line);
    }

    /// Whether `line`, just answered, was placed to join the conference: then it joins, and
    /// the line policy does not hold the others.
    pub(super) fn joins_conference_on_answer(&mut self, line: u32) -> bool {
        if !self.conference.joining.remove(&line) {
            return false;
        }
        if let Err(r) = self.merge_calls(Some(line)) {
            self.report(Event::warning(r.kind, r.message));
        }
        true
    }

    /// `line` is over: it leaves the conference (which ends with fewer than two members).
    pub(super) fn leave_conference(&mut self, line: u32) {
        self.conference.joining.remove(&line);
        if self.conference.members.remove(&line) {
            if self.conference.members.len() < 2 {
                self.conference.members.clear();
            }
            self.publish_conference();
        }
    }

    /// Whether both lines are in the conference (switching between them holds neither).
    pub(super) fn both_in_conference(&self, a: u32, b: u32) -> bool {
        self.conference.members.contains(&a) && self.conference.members.contains(&b)
    }

    fn answered_lines(&self) -> Vec<u32> {
        self.lines
            .iter()
            .filter(|(_, i)| i.state == CallState::Connected)
            .map(|(l, _)| *l)
            .collect()
    }

    /// Every answered call (and `joining`, answered just now) becomes a member; the ones we
    /// held are resumed.
    fn merge_calls(&mut self, joining: Option<u32>) -> Result<(), Refused> {
        let mut members = self.conference.members.clone();
        members.extend(self.answered_lines());
        members.extend(joining);
        if members.len() < 2 {
            return Err(refused(
                NoticeKind::Call,
                "conference: it takes two answered calls to merge".into(),
            ));
        }
        if members == self.conference.members {
            return Ok(());
        }
        for &line in &members {
            if self.lines.get(&line).is_some_and(|i| i.held_by_us) {
                self.actions.push_back(Action::Hold { line, on: false });
            }
        }
        self.conference.members = members;
        self.publish_conference();
        Ok(())
    }

    fn take_out_of_conference(&mut self, line: u32) -> Result<(), Refused> {
        if !self.conference.members.remove(&line) {
            return Err(refused(
                NoticeKind::Call,
                format!("conference: line {line} is not in the conference"),
            ));
        }
        self.hold_if_talking(line);
        if self.conference.members.len() < 2 {
            self.conference.members.clear();
        }
        self.publish_conference();
        Ok(())
    }

    fn split_conference(&mut self) -> Result<(), Refused> {
        let members = std::mem::take(&mut self.conference.members);
        if members.is_empty() {
            return Err(refused(
                NoticeKind::Call,
                "conference: there is no conference to split".into(),
            ));
        }
        let current = self.current;
        for line in members.into_iter().filter(|l| Some(*l) != current) {
            self.hold_if_talking(line);
        }
        self.publish_conference();
        Ok(())
    }

    fn hold_conference(&mut self, on: bool) -> Result<(), Refused> {
        if self.conference.members.is_empty() {
            return Err(refused(
                NoticeKind::Call,
                "conference: there is no conference to hold".into(),
            ));
        }
        let members: Vec<u32> = self.conference.members.iter().copied().collect();
        for line in members {
            if self.lines.get(&line).is_some_and(|i| i.held_by_us != on) {
                self.actions.push_back(Action::Hold { line, on });
            }
        }
        Ok(())
    }

    fn hold_if_talking(&mut self, line: u32) {
        if self
            .lines
            .get(&line)
            .is_some_and(|i| i.state == CallState::Connected && !i.held_by_us)
        {
            self.actions.push_back(Action::Hold { line, on: true });
        }
    }

    /// Tells the driver (the audio engine's mix) and the faces who is in the conference.
    fn publish_conference(&mut self) {
        let lines = self.conference_members();
        self.actions.push_back(Action::Conference {
            lines: lines.clone(),
        });
        self.report(Event::Conference { lines });
    }
}
