//! The stamp's clock and the work in progress it moves: storage jobs, ECE action plans and
//! Service Fabric upgrades advance with it, or stay stuck, as their state says.
//!
//! A scenario may set `[stamp] clock`, the stamp's time when it loads; its times are written
//! relative to that. pep keeps the offset from real time ([`StampTime`], saved with the stamp),
//! so the stamp's clock runs in real time from the load on, also across restarts. Before every
//! command the shell advances the stamp to its current time ([`Stamp::advance`]):
//!
//! - a Running storage job that is moving gains progress at the rate it has shown so far (a job
//!   at 0% at the nominal rate of [`NOMINAL_JOB_HOURS`]); a job without progress for
//!   [`JOB_STALL_HOURS`] is stuck and stays stuck; a Suspended job waits. A repair job that
//!   completes leaves its virtual disk Healthy unless a physical disk is still unhealthy;
//! - an InProgress action plan completes after its expected duration unless it is stuck (running
//!   more than [`PLAN_STUCK_FACTOR`] times its expected duration) or blocked: its current step's
//!   role is unhealthy ([`Stamp::role_blocker`]). A blocked plan remembers since when; once the
//!   blocker is fixed, ECE resumes it and it completes;
//! - a ring upgrade rolling forward completes [`UPGRADE_DOMAIN_MINUTES`] per remaining domain
//!   after its start, unless it is held: a failure reason, or a ring node not Up with health Ok.

use super::{ActionPlan, Ring, Stamp, StorageJob, Upgrade};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Hours without progress after which a storage job is stuck.
pub const JOB_STALL_HOURS: u64 = 4;
/// Hours a storage job at 0% is assumed to need in all.
pub const NOMINAL_JOB_HOURS: u64 = 4;
/// A plan running longer than this many times its expected duration is stuck.
pub const PLAN_STUCK_FACTOR: f64 = 2.0;
/// Minutes an upgrade domain takes when nothing holds it.
pub const UPGRADE_DOMAIN_MINUTES: i64 = 15;
/// Hours per upgrade domain after which a rolling upgrade is stuck (Service Fabric's health
/// check and safety check retry for at most this long before an operator is needed).
pub const UPGRADE_DOMAIN_TIMEOUT_HOURS: i64 = 2;

/// How many hours an action plan of `name` normally takes (Azure Stack Hub's guidance: an
/// update runs for up to a day; secret rotation and node operations for hours).
pub fn expected_plan_hours(name: &str) -> f64 {
    match name.to_ascii_lowercase().as_str() {
        "update" | "updatestamp" => 24.0,
        "addnode" | "replacenode" | "repairnode" => 12.0,
        "rotatesecrets" | "rotatesecret" => 6.0,
        "backup" | "infrastructurebackup" => 2.0,
        _ => 8.0,
    }
}

/// The stamp's clock as pep runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StampTime {
    /// Stamp time minus real time, seconds.
    pub offset_seconds: i64,
    /// Up to when work in progress has been advanced (stamp time).
    pub advanced_to: Option<DateTime<Utc>>,
}

impl StampTime {
    /// Whether the clock was never set (a stamp on real time, not yet advanced).
    pub fn is_unset(&self) -> bool {
        self.offset_seconds == 0 && self.advanced_to.is_none()
    }
}

impl Stamp {
    /// Sets the clock so that the stamp's time is `[stamp] clock` at real time `wall` (the load).
    pub fn anchor_clock(&mut self, wall: DateTime<Utc>) {
        if let Some(clock) = self.stamp.clock {
            self.time.offset_seconds = (clock - wall).num_seconds();
        }
    }

    /// The stamp's time at real time `wall`.
    pub fn now_at(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        wall + Duration::seconds(self.time.offset_seconds)
    }

    /// The stamp's time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.now_at(Utc::now())
    }

    /// Whether anything moves with the clock: an active storage job, a plan InProgress, a ring
    /// upgrade rolling forward. Nothing in progress can start by itself, so a stamp without any
    /// need not be advanced.
    pub fn work_in_progress(&self) -> bool {
        self.storage.jobs.iter().any(StorageJob::is_active)
            || self
                .ece
                .action_plans
                .iter()
                .any(|p| p.status == "InProgress")
            || self
                .rings
                .iter()
                .any(|r| r.upgrade.state == "RollingForwardInProgress")
    }

    /// Advances work in progress to stamp time `now`. Returns whether anything a command shows
    /// changed (a job's percent, a plan's or an upgrade's state), so the caller saves the stamp.
    pub fn advance(&mut self, now: DateTime<Utc>) -> bool {
        let from = self.time.advanced_to.unwrap_or(now);
        if now < from {
            return false;
        }
        let dt = (now - from).num_seconds().max(0) as u64;
        self.time.advanced_to = Some(now);
        let mut changed = false;
        let healthy_disks = self.storage.physical_disks.iter().all(|d| {
            d.usage.eq_ignore_ascii_case("Retired")
                || (d.health == "Healthy" && d.operational_status == "OK")
        });
        let mut repaired: Vec<String> = Vec::new();
        for job in self.storage.jobs.iter_mut() {
            if job.advance(dt) {
                changed = true;
                if job.state == "Completed" {
                    repaired.push(job.virtual_disk.clone());
                }
            }
        }
        for name in repaired {
            let busy = self
                .storage
                .jobs
                .iter()
                .any(|j| j.virtual_disk.eq_ignore_ascii_case(&name) && j.is_active());
            if let Some(v) = self
                .storage
                .virtual_disks
                .iter_mut()
                .find(|v| v.name.eq_ignore_ascii_case(&name))
            {
                if healthy_disks && !busy {
                    v.health = "Healthy".into();
                    v.operational_status = "OK".into();
                }
            }
            self.reevaluate_pool();
        }
        let blockers: Vec<Option<String>> = self
            .ece
            .action_plans
            .iter()
            .map(|p| {
                p.current_step()
                    .and_then(|i| self.role_blocker(&p.steps[i].role))
            })
            .collect();
        for (plan, blocker) in self.ece.action_plans.iter_mut().zip(blockers) {
            changed |= plan.advance(now, blocker.is_some());
        }
        for ring in self.rings.iter_mut() {
            changed |= ring.advance(now);
        }
        changed
    }
}

impl StorageJob {
    /// Whether the job is still to finish (not Completed, Failed or Canceled).
    pub fn is_active(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "Completed" | "Failed" | "Canceled" | ""
        )
    }

    /// Seconds since the job's progress last changed.
    pub fn seconds_without_progress(&self) -> u64 {
        self.no_progress_seconds.unwrap_or(if self.progress == 0 {
            self.elapsed_seconds
        } else {
            0
        })
    }

    /// Whether the job has made no progress for [`JOB_STALL_HOURS`] or more.
    pub fn is_stalled(&self) -> bool {
        self.is_active() && self.seconds_without_progress() >= JOB_STALL_HOURS * 3600
    }

    /// Moves the job on by `dt` seconds; true when its percent or state changed.
    fn advance(&mut self, dt: u64) -> bool {
        if !self.is_active() || dt == 0 {
            return false;
        }
        let still = self.seconds_without_progress();
        if self.state != "Running" || self.is_stalled() {
            if self.state == "Running" {
                self.elapsed_seconds += dt;
            }
            self.no_progress_seconds = Some(still + dt);
            return false;
        }
        if self.bytes_total == 0 {
            self.bytes_total = 100 << 30;
            self.bytes_processed = self.bytes_total / 100 * u64::from(self.progress.min(100));
        }
        let moving = self.elapsed_seconds.saturating_sub(still);
        let rate = if self.bytes_processed > 0 && moving > 0 {
            self.bytes_processed as f64 / moving as f64
        } else {
            self.bytes_total as f64 / (NOMINAL_JOB_HOURS * 3600) as f64
        };
        let before = self.progress;
        self.elapsed_seconds += dt;
        self.bytes_processed =
            (self.bytes_processed as f64 + rate * dt as f64).min(self.bytes_total as f64) as u64;
        self.progress = (self.bytes_processed as u128 * 100 / u128::from(self.bytes_total)) as u32;
        self.no_progress_seconds = Some(0);
        if self.bytes_processed >= self.bytes_total {
            self.progress = 100;
            self.state = "Completed".into();
        }
        self.progress != before || self.state == "Completed"
    }
}

impl ActionPlan {
    /// The plan's expected duration.
    pub fn expected(&self) -> Duration {
        let hours = self
            .expected_duration_hours
            .unwrap_or_else(|| expected_plan_hours(&self.name));
        Duration::seconds((hours * 3600.0) as i64)
    }

    /// How long the plan has run at `now` (None: not InProgress, or no start).
    pub fn running_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        (self.status == "InProgress")
            .then_some(self.start)
            .flatten()
            .map(|s| now - s)
    }

    /// Whether the plan is InProgress far longer than expected.
    pub fn is_stuck(&self, now: DateTime<Utc>) -> bool {
        self.running_for(now).is_some_and(|d| {
            d.num_seconds() as f64 > self.expected().num_seconds() as f64 * PLAN_STUCK_FACTOR
        })
    }

    fn advance(&mut self, now: DateTime<Utc>, blocked: bool) -> bool {
        let Some(running) = self.running_for(now) else {
            return false;
        };
        if blocked {
            if self.blocked_since.is_none() {
                self.blocked_since = Some(now);
                return true;
            }
            return false;
        }
        let resumed = self.blocked_since.is_some();
        if resumed || (!self.is_stuck(now) && running >= self.expected()) {
            let from = self.current_step().unwrap_or(self.steps.len());
            self.finish_from(from, now);
            return true;
        }
        false
    }
}

impl Upgrade {
    /// Whether a rolling-forward upgrade is held (a failure reason).
    fn has_failure(&self) -> bool {
        !self.failure_reason.trim().is_empty()
    }
}

impl Ring {
    /// Upgrade domains of the ring.
    pub fn upgrade_domains(&self) -> usize {
        let mut d: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.upgrade_domain.as_str())
            .collect();
        d.sort_unstable();
        d.dedup();
        d.len().max(1)
    }

    /// Why the ring's rolling upgrade cannot go on: its failure reason, or a node not Up with
    /// health Ok. None when it is not rolling forward or nothing holds it.
    pub fn upgrade_blocker(&self) -> Option<String> {
        if self.upgrade.state != "RollingForwardInProgress" {
            return None;
        }
        if self.upgrade.has_failure() {
            return Some(self.upgrade.failure_reason.clone());
        }
        self.nodes
            .iter()
            .find(|n| !n.status.eq_ignore_ascii_case("Up") || !n.health.eq_ignore_ascii_case("Ok"))
            .map(|n| format!("node {} is {} with health {}", n.name, n.status, n.health))
    }

    /// Whether the upgrade is stuck at `now`: rolling back, failed, or rolling forward for
    /// longer than [`UPGRADE_DOMAIN_TIMEOUT_HOURS`] per domain.
    pub fn upgrade_is_stuck(&self, now: DateTime<Utc>) -> bool {
        match self.upgrade.state.as_str() {
            "" | "RollingForwardCompleted" | "RollingBackCompleted" => false,
            "RollingForwardInProgress" | "RollingForwardPending" => {
                self.upgrade.start_time.is_some_and(|s| {
                    now - s
                        > Duration::hours(
                            UPGRADE_DOMAIN_TIMEOUT_HOURS * self.upgrade_domains() as i64,
                        )
                })
            }
            _ => true,
        }
    }

    fn advance(&mut self, now: DateTime<Utc>) -> bool {
        if self.upgrade.state != "RollingForwardInProgress"
            || self.upgrade_blocker().is_some()
            || self.upgrade_is_stuck(now)
        {
            return false;
        }
        let remaining = self
            .upgrade_domains()
            .saturating_sub(self.upgrade.completed_domains.len())
            .max(1) as i64;
        let start = self.upgrade.start_time.unwrap_or(now);
        if now - start >= Duration::minutes(UPGRADE_DOMAIN_MINUTES * remaining) {
            self.complete_upgrade();
            return true;
        }
        false
    }
}
