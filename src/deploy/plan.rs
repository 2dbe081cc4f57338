//! The deploy Plan: which workspaces to create, keep or resume, and on which machines. Pure:
//! computed from settings and a summary of the current state, before anything changes, so it
//! can be shown for confirmation, printed by `--dry-run` and table-tested.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Bytes, Config, Limits, Millicores, ProviderKind};

/// What a machine can hold, from the provider's plan catalog. `None` means "no limit we know
/// of" (this host, existing hosts): workspaces are packed onto as few machines as the
/// provider has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub cpus: Millicores,
    pub memory: Bytes,
}

/// A summary of what the state file records, as the plan needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    /// Workspace name -> (machine name, whether it is fully deployed and running or stopped).
    pub workspaces: BTreeMap<String, (String, bool)>,
    /// Machines recorded (in any status).
    pub machines: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not in the state: create it.
    Create,
    /// In the state but not finished (interrupted or failed): run its steps again; each step
    /// checks what already exists, so nothing is duplicated.
    Resume,
    /// Deployed already: leave it alone.
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePlan {
    pub name: String,
    /// 1-based index used by `naming.pattern`.
    pub index: u32,
    pub machine: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachinePlan {
    pub name: String,
    /// `Create` for a machine not in the state; `Keep` for one recorded already (an
    /// interrupted creation is found again by its label, never created twice).
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub workspaces: Vec<WorkspacePlan>,
    pub machines: Vec<MachinePlan>,
    pub limits: Limits,
}

impl Plan {
    pub fn is_noop(&self) -> bool {
        self.workspaces.iter().all(|w| w.action == Action::Keep)
    }

    pub fn count(&self, action: Action) -> usize {
        self.workspaces
            .iter()
            .filter(|w| w.action == action)
            .count()
    }

    /// Machines that host at least one workspace that is not kept as is.
    pub fn machines_to_touch(&self) -> Vec<&MachinePlan> {
        self.machines
            .iter()
            .filter(|m| {
                self.workspaces
                    .iter()
                    .any(|w| w.machine == m.name && w.action != Action::Keep)
            })
            .collect()
    }
}

/// How many workspaces with `limits` fit on a machine of `capacity` (at least one: a single
/// workspace larger than its machine is the user's explicit choice, and docker enforces it).
pub fn per_machine(capacity: Option<Capacity>, limits: &Limits) -> usize {
    let Some(capacity) = capacity else {
        return usize::MAX;
    };
    let by_cpu = limits
        .cpus
        .map_or(u64::MAX, |c| capacity.cpus.0 / c.0.max(1));
    let by_memory = limits
        .memory
        .map_or(u64::MAX, |m| capacity.memory.0 / m.0.max(1));
    let fit = by_cpu.min(by_memory).max(1);
    usize::try_from(fit).unwrap_or(usize::MAX)
}

/// Build the plan for `count` workspaces.
///
/// Workspace `i` is always named by the pattern with index `i`, so re-running with the same
/// count finds the same names. Machines: `local` has one (this host); `ssh` uses the listed
/// hosts; clouds get one per workspace with `vms.spread`, otherwise as few as capacity allows
/// (existing machines are filled first).
pub fn build(config: &Config, count: u32, existing: &Existing, capacity: Option<Capacity>) -> Plan {
    let limits = config.defaults;
    let spread = config.vms.spread;
    let mut assignments: BTreeMap<String, usize> = BTreeMap::new();
    for (machine, _) in existing.workspaces.values() {
        *assignments.entry(machine.clone()).or_default() += 1;
    }
    let fixed_hosts: Option<Vec<String>> = match config.provider.kind {
        ProviderKind::Local => Some(vec!["local".to_string()]),
        ProviderKind::Ssh => Some(config.provider.hosts.clone()),
        ProviderKind::Upcloud | ProviderKind::Hetzner => None,
    };
    let slots = if spread {
        1
    } else {
        per_machine(capacity, &limits)
    };

    let mut workspaces = Vec::new();
    for index in 1..=count {
        let name = config.naming.name(&config.service, index);
        if let Some((machine, done)) = existing.workspaces.get(&name) {
            let action = if *done { Action::Keep } else { Action::Resume };
            workspaces.push(WorkspacePlan {
                name,
                index,
                machine: machine.clone(),
                action,
            });
            continue;
        }
        let machine = match &fixed_hosts {
            Some(hosts) => pick_host(hosts, &assignments, spread),
            None if spread => name.clone(),
            None => pick_packed(config, &assignments, slots),
        };
        *assignments.entry(machine.clone()).or_default() += 1;
        workspaces.push(WorkspacePlan {
            name,
            index,
            machine,
            action: Action::Create,
        });
    }

    let mut machines: Vec<MachinePlan> = Vec::new();
    for workspace in &workspaces {
        if machines.iter().any(|m| m.name == workspace.machine) {
            continue;
        }
        let action = if existing.machines.contains(&workspace.machine) || fixed_hosts.is_some() {
            Action::Keep
        } else {
            Action::Create
        };
        machines.push(MachinePlan {
            name: workspace.machine.clone(),
            action,
        });
    }
    Plan {
        workspaces,
        machines,
        limits,
    }
}

/// Existing hosts: spread goes round-robin by load; packing fills the least-loaded host too
/// (hosts have no known capacity, so balancing is the fair default).
fn pick_host(hosts: &[String], assignments: &BTreeMap<String, usize>, _spread: bool) -> String {
    hosts
        .iter()
        .min_by_key(|h| assignments.get(*h).copied().unwrap_or(0))
        .cloned()
        .unwrap_or_else(|| "local".to_string())
}

/// Cloud packing: the first machine `{service}-vm-{n}` with a free slot.
fn pick_packed(config: &Config, assignments: &BTreeMap<String, usize>, slots: usize) -> String {
    // At most one new machine per existing one is ever needed, so this range always finds one.
    (1..=assignments.len() + 1)
        .map(|n| format!("{}-vm-{n}", config.service))
        .find(|name| assignments.get(name).copied().unwrap_or(0) < slots)
        .unwrap_or_else(|| format!("{}-vm", config.service))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::from_text(text, Path::new("config/dev.yml")).unwrap()
    }

    const CLOUD: &str = "service: app\nprovider:\n  type: upcloud\n  zone: de-fra1\n  plan: 2xCPU-4GB\ndefaults:\n  cpus: 1\n  memory: 2g\n";

    #[allow(clippy::unnecessary_wraps)] // reads like the argument it stands for
    fn four_gb() -> Option<Capacity> {
        Some(Capacity {
            cpus: Millicores(2000),
            memory: Bytes(4 << 30),
        })
    }

    #[test]
    fn local_puts_everything_on_this_host() {
        let plan = build(&config("service: app\n"), 3, &Existing::default(), None);
        let names: Vec<&str> = plan.workspaces.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["app-1", "app-2", "app-3"]);
        assert!(plan.workspaces.iter().all(|w| w.machine == "local"));
        assert_eq!(plan.machines.len(), 1);
        assert_eq!(plan.machines[0].action, Action::Keep);
    }

    #[test]
    fn packing_respects_cpu_and_memory() {
        let plan = build(&config(CLOUD), 5, &Existing::default(), four_gb());
        let machines: Vec<&str> = plan.workspaces.iter().map(|w| w.machine.as_str()).collect();
        assert_eq!(
            machines,
            ["app-vm-1", "app-vm-1", "app-vm-2", "app-vm-2", "app-vm-3"]
        );
        assert_eq!(plan.machines.len(), 3);
        assert!(plan.machines.iter().all(|m| m.action == Action::Create));
    }

    #[test]
    fn spread_gives_one_machine_per_workspace() {
        let text = format!("{CLOUD}vms:\n  spread: true\n");
        let plan = build(&config(&text), 3, &Existing::default(), four_gb());
        let machines: Vec<&str> = plan.machines.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(machines, ["app-1", "app-2", "app-3"]);
    }

    #[test]
    fn rerun_keeps_done_resumes_unfinished_and_adds_missing() {
        let mut existing = Existing::default();
        existing
            .workspaces
            .insert("app-1".into(), ("app-vm-1".into(), true));
        existing
            .workspaces
            .insert("app-2".into(), ("app-vm-1".into(), false));
        existing.machines.insert("app-vm-1".into());
        let same = build(&config(CLOUD), 2, &existing, four_gb());
        assert_eq!(same.count(Action::Keep), 1);
        assert_eq!(same.count(Action::Resume), 1);
        let more = build(&config(CLOUD), 4, &existing, four_gb());
        let actions: Vec<(&str, Action, &str)> = more
            .workspaces
            .iter()
            .map(|w| (w.name.as_str(), w.action, w.machine.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("app-1", Action::Keep, "app-vm-1"),
                ("app-2", Action::Resume, "app-vm-1"),
                ("app-3", Action::Create, "app-vm-2"),
                ("app-4", Action::Create, "app-vm-2"),
            ]
        );
        assert_eq!(more.machines[0].action, Action::Keep);
        assert_eq!(more.machines[1].action, Action::Create);
    }

    #[test]
    fn all_done_is_a_noop() {
        let mut existing = Existing::default();
        existing
            .workspaces
            .insert("app-1".into(), ("local".into(), true));
        let plan = build(&config("service: app\n"), 1, &existing, None);
        assert!(plan.is_noop());
    }

    #[test]
    fn ssh_hosts_are_balanced() {
        let text = "service: app\nprovider:\n  type: ssh\n  hosts: [h1, h2]\n";
        let plan = build(&config(text), 3, &Existing::default(), None);
        let machines: Vec<&str> = plan.workspaces.iter().map(|w| w.machine.as_str()).collect();
        assert_eq!(machines, ["h1", "h2", "h1"]);
        assert!(plan.machines.iter().all(|m| m.action == Action::Keep));
    }

    #[test]
    fn capacity_math() {
        let limits = Limits {
            cpus: Some(Millicores(1500)),
            memory: Some(Bytes(1 << 30)),
            memory_swap: None,
        };
        assert_eq!(per_machine(four_gb(), &limits), 1);
        assert_eq!(per_machine(None, &limits), usize::MAX);
        let big = Limits {
            cpus: Some(Millicores(8000)),
            ..limits
        };
        assert_eq!(per_machine(four_gb(), &big), 1);
    }
}
