//! The deployment engine (ECE): cloud definition, role definitions, role nodes, and action plans
//! with their steps and the team that owns each failing component.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// ECE (`[ece]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Ece {
    /// The cloud definition (XML). Empty: `Get-AzsSupportECECloudDefinitionXml` falls back to
    /// `backup_cloud_definition`.
    pub cloud_definition: String,
    /// The backup copy of the cloud definition.
    pub backup_cloud_definition: String,
    /// Role definitions.
    #[serde(rename = "role")]
    pub roles: Vec<EceRole>,
    /// Action plans.
    #[serde(rename = "action_plan")]
    pub action_plans: Vec<ActionPlan>,
}

/// A role definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct EceRole {
    /// Role name (`ERCS`, `ACS`, `BareMetal`, ...).
    pub name: String,
    /// `VirtualMachine` or `BareMetal`.
    pub kind: String,
    /// The role's definition (XML fragment).
    pub definition: String,
    /// Owning team, for routing.
    pub owning_team: String,
}

/// An action plan instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ActionPlan {
    /// Instance id (GUID).
    pub id: String,
    /// Plan name (`Update`, `AddNode`, `RotateSecrets`, ...).
    pub name: String,
    /// `InProgress`, `Completed`, `Failed`, `Canceled`.
    pub status: String,
    /// Started.
    pub start: Option<DateTime<Utc>>,
    /// Ended.
    pub end: Option<DateTime<Utc>>,
    /// How long the plan normally takes, hours (absent: the usual duration of plans of its
    /// name; see `stamp::clock::expected_plan_hours`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_duration_hours: Option<f64>,
    /// Since when its current step has been waiting on an unhealthy role (set as the clock
    /// runs; the plan resumes once the role is healthy again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_since: Option<DateTime<Utc>>,
    /// Steps in order.
    #[serde(rename = "step")]
    pub steps: Vec<ActionPlanStep>,
}

/// A step of an action plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ActionPlanStep {
    /// Step index (`1`, `2.1`, ...).
    pub index: String,
    /// Step name.
    pub name: String,
    /// The role or component it acts on (routing uses it).
    pub role: String,
    /// `NotStarted`, `InProgress`, `Success`, `Error`, `Skipped`.
    pub status: String,
    /// Started.
    pub start: Option<DateTime<Utc>>,
    /// Ended.
    pub end: Option<DateTime<Utc>>,
    /// The error message, for a failed step.
    pub error: String,
}
