//! How many log collections may run on the endpoint at once. A collection compresses on every
//! core it is given; without a cap a handful of sessions each starting one would starve every
//! other session (and the revocation path) of CPU. A collection takes a slot before it does any
//! work and gives it back when its thread ends; when none is free the command is refused with one
//! line and nothing is collected.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The endpoint's slots for log collections.
#[derive(Debug)]
pub struct JobSlots {
    max: usize,
    running: Arc<AtomicUsize>,
}

/// A slot held by one running collection; dropping it frees the slot.
#[derive(Debug)]
pub struct JobSlot {
    running: Arc<AtomicUsize>,
}

impl JobSlots {
    /// At most `max` collections at once (at least one).
    pub fn new(max: usize) -> Self {
        JobSlots {
            max: max.max(1),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Takes a slot, or says why none is free.
    pub fn acquire(&self) -> Result<JobSlot, String> {
        let taken = self
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(JobSlot {
                running: self.running.clone(),
            }),
            Err(n) => Err(format!(
                "{n} log collection{} already running on this endpoint (at most {} at once); try again when one ends",
                if n == 1 { " is" } else { "s are" },
                self.max
            )),
        }
    }

    /// Collections running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for JobSlot {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_refused_at_the_cap_and_freed_on_drop() {
        let slots = JobSlots::new(2);
        let a = slots.acquire().expect("first");
        let _b = slots.acquire().expect("second");
        let refused = slots.acquire().expect_err("third is refused");
        assert!(
            refused.contains("2 log collections are already running"),
            "{refused}"
        );
        assert!(refused.contains("at most 2 at once"), "{refused}");
        assert_eq!(slots.running(), 2);
        drop(a);
        assert_eq!(slots.running(), 1);
        let _c = slots.acquire().expect("a freed slot is taken again");
    }

    #[test]
    fn a_cap_of_zero_still_allows_one() {
        let slots = JobSlots::new(0);
        let _a = slots.acquire().expect("one");
        assert!(slots
            .acquire()
            .expect_err("refused")
            .contains("1 log collection is already running"));
    }
}
