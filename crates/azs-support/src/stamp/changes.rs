//! The stamp's behaviour: the state changes repairs make, with their cross-effects, as methods of
//! the stamp. Repair commands decide *whether* to change something (refusals, `-WhatIf`,
//! confirmation); these methods are the one place that says *what* a change does to the rest of
//! the stamp:
//!
//! - a service started gets a fresh process; stopped, it loses it. `FabricHostSvc` carries its
//!   VM's fabric nodes, `GatewayService` its gateway's site-to-site connections;
//! - a VM restarted runs again, booted now, with its automatic services (delayed or not) started
//!   as above; its fabric nodes come up, and a ring upgrade held up by one of them completes;
//! - ECE retries a failed step once its role is healthy, and resumes a blocked one (see `clock`).

use super::node::Process;
use super::{ActionPlan, NodeState, Ring, ServiceState, Stamp};
use chrono::{DateTime, Utc};

/// Processor load of a VM just booted, percent.
const FRESH_BOOT_CPU_PERCENT: f64 = 15.0;
/// Memory in use of a VM just booted, percent.
const FRESH_BOOT_MEMORY_PERCENT: f64 = 45.0;

impl Stamp {
    /// Marks service `name` on `node` Running with a fresh process, and applies the
    /// cross-effects. Nothing happens for an unknown node or service.
    pub fn start_service(&mut self, node: &str, name: &str, now: DateTime<Utc>) {
        // The process image a service runs in: as on other nodes, else a service host.
        let template = self
            .nodes()
            .flat_map(|n| n.processes.iter())
            .find(|p| p.service.eq_ignore_ascii_case(name))
            .map_or(("svchost".to_string(), 30.0, 500), |p| {
                (p.name.clone(), p.working_set_mb, p.handles)
            });
        let Some((n, service)) = self.set_service_state(node, name, ServiceState::Running) else {
            return;
        };
        // A fresh id above every current one (the replaced process's included).
        let max = n.processes.iter().map(|p| p.id).max().unwrap_or(4);
        n.processes
            .retain(|p| !p.service.eq_ignore_ascii_case(&service));
        n.processes.push(Process {
            name: template.0,
            id: (max / 4 + 1) * 4,
            cpu_seconds: 0.0,
            working_set_mb: template.1,
            handles: template.2,
            service: service.clone(),
            start_time: Some(now),
        });
        let node_name = n.name.clone();
        self.service_cross_effects(&node_name, &service, true);
    }

    /// Marks service `name` on `node` Stopped, removes its process, and applies the
    /// cross-effects.
    pub fn stop_service(&mut self, node: &str, name: &str) {
        let Some((n, service)) = self.set_service_state(node, name, ServiceState::Stopped) else {
            return;
        };
        n.processes
            .retain(|p| !p.service.eq_ignore_ascii_case(&service));
        let node_name = n.name.clone();
        self.service_cross_effects(&node_name, &service, false);
    }

    /// Removes the files of `node` at `paths` (case-insensitive); the space they held returns to
    /// their drive. Returns the bytes freed.
    pub fn remove_files(&mut self, node: &str, paths: &[String]) -> u64 {
        const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
        let Some(n) = self.node_mut(node) else {
            return 0;
        };
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut n.files)
            .into_iter()
            .partition(|f| paths.iter().any(|p| p.eq_ignore_ascii_case(&f.path)));
        n.files = kept;
        let mut freed = 0;
        for f in gone {
            freed += f.size_bytes;
            let drive = f.path.get(..2).unwrap_or_default();
            if let Some(d) = n
                .disks
                .iter_mut()
                .find(|d| d.drive.eq_ignore_ascii_case(drive))
            {
                let free = (d.free_gb + f.size_bytes as f64 / GIB).min(d.size_gb);
                d.free_gb = (free * 100.0).round() / 100.0;
            }
        }
        freed
    }

    /// Sets service `name` on `node` to `state`; the node and the service's own name, or None
    /// for an unknown node or service.
    fn set_service_state(
        &mut self,
        node: &str,
        name: &str,
        state: ServiceState,
    ) -> Option<(&mut super::Node, String)> {
        let n = self.node_mut(node)?;
        let s = n
            .services
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(name))?;
        s.state = state;
        let service = s.name.clone();
        Some((n, service))
    }

    /// FabricHostSvc carries the VM's fabric nodes; GatewayService the gateway's S2S connections.
    fn service_cross_effects(&mut self, node: &str, service: &str, running: bool) {
        if service.eq_ignore_ascii_case("FabricHostSvc") {
            for fnode in self
                .rings
                .iter_mut()
                .flat_map(|r| r.nodes.iter_mut())
                .filter(|f| f.name.eq_ignore_ascii_case(node))
            {
                let (status, health) = if running {
                    ("Up", "Ok")
                } else {
                    ("Down", "Error")
                };
                fnode.status = status.into();
                fnode.health = health.into();
            }
            if running {
                self.reopen_replicas_on(node);
            }
        }
        if service.eq_ignore_ascii_case("GatewayService") {
            for c in self
                .network
                .connections
                .iter_mut()
                .filter(|c| c.gateway.eq_ignore_ascii_case(node))
            {
                c.status = if running { "Connected" } else { "NotConnected" }.into();
            }
        }
    }

    /// Restarts infrastructure VM `name`: Running, booted now, every Automatic service started
    /// (with its cross-effects). Returns what did not come back: the VM itself when its host is
    /// not Up (it cannot start there), else its Automatic services that are not Running.
    pub fn restart_vm(&mut self, name: &str, now: DateTime<Utc>) -> Vec<String> {
        let host = self.vm(name).map(|v| v.host.clone()).unwrap_or_default();
        if let Some(h) = self.host(&host).filter(|h| h.state != NodeState::Up) {
            return vec![format!("the VM (host {} is {})", h.name, h.state)];
        }
        let Some(vm) = self.node_mut(name) else {
            return Vec::new();
        };
        vm.state = NodeState::Running;
        vm.boot_time = now;
        // A fresh boot gives back what a leak or a runaway process held.
        vm.cpu_percent = vm.cpu_percent.min(FRESH_BOOT_CPU_PERCENT);
        vm.memory_percent = vm.memory_percent.min(FRESH_BOOT_MEMORY_PERCENT);
        let automatic: Vec<String> = vm
            .services
            .iter()
            .filter(|s| s.start_type.is_automatic())
            .map(|s| s.name.clone())
            .collect();
        for service in &automatic {
            self.start_service(name, service, now);
        }
        // Fabric nodes on the VM come up with it (whether or not it runs FabricHostSvc).
        for fnode in self
            .rings
            .iter_mut()
            .flat_map(|r| r.nodes.iter_mut())
            .filter(|f| f.name.eq_ignore_ascii_case(name))
        {
            fnode.status = "Up".into();
            fnode.health = "Ok".into();
        }
        self.reopen_replicas_on(name);
        let Some(vm) = self.node(name) else {
            return Vec::new();
        };
        automatic
            .into_iter()
            .filter(|s| {
                !vm.services
                    .iter()
                    .any(|x| x.name.eq_ignore_ascii_case(s) && x.state == ServiceState::Running)
            })
            .collect()
    }

    /// A fabric node that came up reopens its replicas: those Down or Dropped there are rebuilt
    /// (Ready, health Ok), and the partitions and services they belong to are judged afresh.
    fn reopen_replicas_on(&mut self, node: &str) {
        for ring in self.rings.iter_mut() {
            if !ring.nodes.iter().any(|n| n.name.eq_ignore_ascii_case(node)) {
                continue;
            }
            let mut touched = Vec::new();
            for (si, svc) in ring.services.iter_mut().enumerate() {
                for r in svc
                    .partitions
                    .iter_mut()
                    .flat_map(|p| p.replicas.iter_mut())
                    .filter(|r| r.node.eq_ignore_ascii_case(node))
                {
                    r.status = "Ready".into();
                    r.health = "Ok".into();
                    r.health_detail.clear();
                    if !touched.contains(&si) {
                        touched.push(si);
                    }
                }
            }
            for si in touched {
                ring.reevaluate_service(si);
            }
        }
    }

    /// After VMs `vms` restarted: each ring rolling forward with a node among them whose other
    /// nodes are all Up completes its upgrade (the safety check that held it passes now).
    pub fn complete_upgrades_on(&mut self, vms: &[String]) {
        let on = |n: &str| vms.iter().any(|v| v.eq_ignore_ascii_case(n));
        for ring in self.rings.iter_mut() {
            let touched = ring.nodes.iter().any(|n| on(&n.name));
            let rest_up = ring
                .nodes
                .iter()
                .all(|n| on(&n.name) || n.status.eq_ignore_ascii_case("Up"));
            if touched && rest_up && ring.upgrade.state == "RollingForwardInProgress" {
                ring.complete_upgrade();
            }
        }
    }

    /// After role `role` restarted, ECE retries what waits on it once the role is healthy: a
    /// plan that failed at a step of the role, and a plan InProgress whose current step (hung,
    /// or blocked) acts on the role. The step succeeds and the plan completes.
    pub fn retry_plans_on(&mut self, role: &str, now: DateTime<Utc>) {
        if self.role_blocker(role).is_some() {
            return;
        }
        for plan in self.ece.action_plans.iter_mut() {
            let at = if plan.status.eq_ignore_ascii_case("Failed") {
                plan.steps.iter().position(|s| s.status == "Error")
            } else if plan.status.eq_ignore_ascii_case("InProgress")
                && (plan.is_stuck(now) || plan.blocked_since.is_some())
            {
                plan.current_step()
            } else {
                None
            };
            if let Some(i) = at.filter(|&i| plan.steps[i].role.eq_ignore_ascii_case(role)) {
                plan.finish_from(i, now);
            }
        }
    }

    /// Why role `role` cannot do work now: one of its VMs is not Running, an Automatic service
    /// on one of them is not Running, or (for `BareMetal`) a host is not Up. None: healthy, or
    /// a role the stamp has no nodes of.
    pub fn role_blocker(&self, role: &str) -> Option<String> {
        if role.eq_ignore_ascii_case("BareMetal") {
            return self
                .hosts
                .iter()
                .find(|h| h.state != NodeState::Up)
                .map(|h| format!("host {} is {}", h.name, h.state));
        }
        for vm in self
            .vms
            .iter()
            .filter(|v| v.role.eq_ignore_ascii_case(role))
        {
            if vm.state != NodeState::Running {
                return Some(format!("VM {} is {}", vm.name, vm.state));
            }
            if let Some(s) = vm
                .services
                .iter()
                .find(|s| s.start_type.is_automatic() && s.state != ServiceState::Running)
            {
                return Some(format!("service {} on {} is {}", s.name, vm.name, s.state));
            }
        }
        None
    }
}

impl Stamp {
    /// Repair-VirtualDisk: the disk's jobs complete, the disk becomes Healthy/OK and failing
    /// physical disks are retired; when the disk was not healthy the health cache goes stale and
    /// keeps reporting the old health. The pool is judged afresh. Returns whether anything
    /// changed.
    pub fn repair_virtual_disk(&mut self, name: &str) -> bool {
        let st = &mut self.storage;
        let mut changed = false;
        // The repair resumes what is running and re-runs what failed: each job of the disk
        // ends Completed.
        for j in st.jobs.iter_mut().filter(|j| {
            j.virtual_disk.eq_ignore_ascii_case(name)
                && (j.is_active() || j.state.eq_ignore_ascii_case("Failed"))
        }) {
            j.state = "Completed".into();
            j.progress = 100;
            j.bytes_processed = j.bytes_total;
            j.no_progress_seconds = Some(0);
            changed = true;
        }
        let Some(vd) = st
            .virtual_disks
            .iter_mut()
            .find(|v| v.name.eq_ignore_ascii_case(name))
        else {
            return changed;
        };
        if !vd.is_healthy() {
            if vd.reported_health.is_empty() {
                vd.reported_health = vd.health.clone();
            }
            vd.health = "Healthy".into();
            vd.operational_status = "OK".into();
            st.health_cache_stale = true;
            for d in st.physical_disks.iter_mut().filter(|d| d.has_problem()) {
                d.usage = "Retired".into();
                d.health = "Healthy".into();
                d.operational_status = "OK".into();
            }
            changed = true;
        }
        changed |= self.reevaluate_pool();
        changed
    }

    /// A pool reported unhealthy because of its disks recovers once every physical disk is
    /// fine and every virtual disk is Healthy (its allocation is judged apart). Returns whether
    /// it changed.
    pub fn reevaluate_pool(&mut self) -> bool {
        let st = &mut self.storage;
        let disks_fine = st.physical_disks.iter().all(|d| !d.has_problem())
            && st.virtual_disks.iter().all(|v| v.is_healthy());
        let unhealthy = st.pool.problem().is_some_and(|_| {
            !super::health::status_ok(&st.pool.operational_status)
                || super::health::Health::from_reported(&st.pool.health)
                    != super::health::Health::Healthy
        });
        if disks_fine && unhealthy {
            st.pool.health = "Healthy".into();
            st.pool.operational_status = "OK".into();
            return true;
        }
        false
    }
}

impl Ring {
    /// The upgrade completes: every node at the target version with health Ok, every domain
    /// done, the ring's runtime at the target.
    pub fn complete_upgrade(&mut self) {
        let target = self.upgrade.target_version.clone();
        for n in self.nodes.iter_mut() {
            if !target.is_empty() {
                n.version = target.clone();
            }
            n.health = "Ok".into();
        }
        let mut domains: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.upgrade_domain.clone())
            .collect();
        domains.sort();
        domains.dedup();
        if !target.is_empty() {
            self.runtime_version = target;
        }
        self.upgrade.state = "RollingForwardCompleted".into();
        self.upgrade.completed_domains = domains;
        self.upgrade.current_domain.clear();
        self.upgrade.failure_reason.clear();
        if self.health.eq_ignore_ascii_case("Warning") {
            self.health = "Ok".into();
        }
    }
}

impl ActionPlan {
    /// Steps from `i` on run to success now, and the plan completes.
    pub fn finish_from(&mut self, i: usize, now: DateTime<Utc>) {
        for step in self.steps.iter_mut().skip(i) {
            if matches!(
                step.status.as_str(),
                "Error" | "NotStarted" | "InProgress" | "Failed"
            ) {
                step.start.get_or_insert(now);
                step.status = "Success".into();
                step.end = Some(now);
                step.error.clear();
            }
        }
        self.status = "Completed".into();
        self.end = Some(now);
        self.blocked_since = None;
    }

    /// The step the plan is at: the first InProgress one, else the first not started.
    pub fn current_step(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.status == "InProgress")
            .or_else(|| self.steps.iter().position(|s| s.status == "NotStarted"))
    }
}
