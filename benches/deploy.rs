//! The deploy benchmark (issue 7): the real, release-built `kamal-dev deploy` of N = 1, 10
//! and 50 workspaces against the fake UpCloud API (every machine takes a fixed 3 seconds to
//! boot) with real sshd and Docker. Prints wall time, T(N)/T(1) and the peak RSS of the
//! kamal-dev process, and checks them against the targets: T(10)/T(1) <= 1.3,
//! T(50)/T(1) <= 2.0, peak RSS <= 60 MB at N = 50. A benchmark, not a test: it reports
//! misses and exits 0 unless a deploy itself fails.
//!
//! Run: `.ci/services.sh && source /tmp/kamal-dev-services/env && cargo bench --bench deploy`.
//! Skips, saying why, without the services. Knobs (environment):
//! `KAMAL_DEV_BENCH_COUNTS` (default `1,10,50`), `KAMAL_DEV_BENCH_SPREAD=1` (one machine per
//! workspace; the 16 test addresses repeat, so machines share hosts) instead of packing four
//! workspaces per 4xCPU-8GB machine, `KAMAL_DEV_BENCH_BOOT_MS` (default 3000),
//! `KAMAL_DEV_BENCH_TRACE=1` (deploy with `--format json` and write each event with the
//! milliseconds since start to `/tmp/kamal-dev-bench-trace-<N>.log`, to see where time goes).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/it/common"]
#[allow(dead_code, unused_imports)]
mod common {
    pub mod fake_http;
    pub mod fake_upcloud;
    pub mod project;
}

use common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};
use common::project::{Cleanup, ProjectBuilder, Services, containers, unique};

const TARGET_10: f64 = 1.3;
const TARGET_50: f64 = 2.0;
const TARGET_RSS_MB: f64 = 60.0;

struct Measured {
    count: u32,
    wall: Duration,
    peak_rss_kb: u64,
    machines: usize,
    /// Share of the host's CPU time that was busy during the deploy (all processes: the
    /// deploy's sshd sessions, docker CLIs and dockerd, and anything else running).
    host_busy: f64,
}

fn main() {
    let Some(services) = Services::from_env("the deploy benchmark") else {
        return;
    };
    let counts: Vec<u32> = std::env::var("KAMAL_DEV_BENCH_COUNTS")
        .unwrap_or_else(|_| "1,10,50".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let spread = std::env::var("KAMAL_DEV_BENCH_SPREAD").as_deref() == Ok("1");
    let boot = Duration::from_millis(
        std::env::var("KAMAL_DEV_BENCH_BOOT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000),
    );
    println!(
        "deploy benchmark: boot delay {} ms, {}, image {}",
        boot.as_millis(),
        if spread {
            "vms.spread: true (one machine per workspace, 16 addresses shared)"
        } else {
            "vms.spread: false (4 workspaces per 4xCPU-8GB machine)"
        },
        services.image
    );
    // Warm the page cache, Docker and sshd once so N = 1 is not charged for a cold start.
    if let Err(why) = deploy(&services, 1, spread, boot) {
        eprintln!("warm-up deploy failed: {why}");
        std::process::exit(1);
    }
    let mut results = Vec::new();
    for count in counts {
        match deploy(&services, count, spread, boot) {
            Ok(measured) => {
                println!(
                    "  N = {:>3}: {:>7.2} s, peak RSS {:>6.1} MB, {} machine(s), host CPU {:.0}% busy",
                    measured.count,
                    measured.wall.as_secs_f64(),
                    kb_to_mb(measured.peak_rss_kb),
                    measured.machines,
                    measured.host_busy * 100.0
                );
                results.push(measured);
            }
            Err(why) => {
                eprintln!("deploy of {count} failed: {why}");
                std::process::exit(1);
            }
        }
    }
    report(&results);
}

#[allow(clippy::cast_precision_loss)] // kilobytes of a process fit an f64 exactly
fn kb_to_mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn report(results: &[Measured]) {
    let Some(base) = results.iter().find(|m| m.count == 1) else {
        return;
    };
    println!();
    println!(
        "{:>4}  {:>9}  {:>9}  {:>12}",
        "N", "wall (s)", "T(N)/T(1)", "peak RSS MB"
    );
    for measured in results {
        let ratio = measured.wall.as_secs_f64() / base.wall.as_secs_f64();
        println!(
            "{:>4}  {:>9.2}  {:>9.2}  {:>12.1}",
            measured.count,
            measured.wall.as_secs_f64(),
            ratio,
            kb_to_mb(measured.peak_rss_kb)
        );
    }
    println!();
    for measured in results {
        let ratio = measured.wall.as_secs_f64() / base.wall.as_secs_f64();
        let target = match measured.count {
            10 => Some(TARGET_10),
            50 => Some(TARGET_50),
            _ => None,
        };
        if let Some(target) = target {
            let verdict = if ratio <= target { "met" } else { "MISSED" };
            println!(
                "target T({})/T(1) <= {target}: {ratio:.2} {verdict}",
                measured.count
            );
        }
        if measured.count == 50 {
            let mb = kb_to_mb(measured.peak_rss_kb);
            let verdict = if mb <= TARGET_RSS_MB { "met" } else { "MISSED" };
            println!("target peak RSS <= {TARGET_RSS_MB} MB at N = 50: {mb:.1} MB {verdict}");
        }
    }
}

/// One deploy of `count` workspaces into a fresh project and fake provider; the containers
/// are removed again before returning.
fn deploy(
    services: &Services,
    count: u32,
    spread: bool,
    boot: Duration,
) -> Result<Measured, String> {
    let fake = FakeUpcloud::start(FakeUpcloudConfig {
        boot_delay: boot,
        ips: (10..=25)
            .map(|last| Ipv4Addr::new(127, 0, 0, last))
            .collect(),
        ..FakeUpcloudConfig::default()
    });
    let service = unique(&format!("bench{count}x"));
    let _cleanup = Cleanup {
        service: service.clone(),
    };
    let (plan, cpus, memory) = if spread {
        ("1xCPU-1GB", "0.5", "256m")
    } else {
        ("4xCPU-8GB", "1", "1g")
    };
    let project = ProjectBuilder::upcloud(&service, fake.url(), services)
        .machines(spread, plan)
        .limits(cpus, memory)
        .forward_ports(&[8080])
        .secret("BENCH_TOKEN", "bench-secret-value")
        .build();
    let log = project.root().join("deploy.log");
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let count_arg = count.to_string();
    let trace = std::env::var("KAMAL_DEV_BENCH_TRACE").as_deref() == Ok("1");
    let mut args = vec!["deploy", "-y", "--count", &count_arg];
    if trace {
        args.extend(["--format", "json"]);
    }
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    let mut child = project
        .command(&args)
        .stdout(if trace {
            Stdio::piped()
        } else {
            Stdio::from(log_file.try_clone().map_err(|e| e.to_string())?)
        })
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("spawn kamal-dev: {e}"))?;
    let tracer = child.stdout.take().map(|stdout| {
        let path = format!("/tmp/kamal-dev-bench-trace-{count}.log");
        std::thread::spawn(move || {
            use std::io::{BufRead as _, Write as _};
            let Ok(mut out) = std::fs::File::create(&path) else {
                return;
            };
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = writeln!(out, "{:>6} {line}", started.elapsed().as_millis());
            }
        })
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_rss_kb = 0;
    let status = loop {
        // VmHWM is the kernel's own high-water mark of the resident set, so sampling it now
        // and then still yields the true peak (up to the last sample before exit).
        if let Some(hwm) = vm_hwm_kb(&status_path) {
            peak_rss_kb = peak_rss_kb.max(hwm);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait for kamal-dev: {e}")),
        }
    };
    let wall = started.elapsed();
    let host_busy = match (cpu_before, cpu_ticks()) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            ratio(busy1 - busy0, total1 - total0)
        }
        _ => 0.0,
    };
    if let Some(tracer) = tracer {
        let _ = tracer.join();
    }
    if !status.success() {
        return Err(format!("{status}; output:\n{}", tail(&log, 30)));
    }
    let running = running_containers(&service);
    if running != count as usize {
        return Err(format!(
            "{running} of {count} containers running after the deploy; output:\n{}",
            tail(&log, 30)
        ));
    }
    Ok(Measured {
        count,
        wall,
        peak_rss_kb,
        machines: fake.servers().len(),
        host_busy,
    })
}

/// (busy, total) jiffies over all CPUs from /proc/stat; idle and iowait count as not busy.
fn cpu_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

#[allow(clippy::cast_precision_loss)] // jiffies over seconds fit an f64 exactly
fn ratio(part: u64, whole: u64) -> f64 {
    part as f64 / whole as f64
}

fn vm_hwm_kb(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn running_containers(service: &str) -> usize {
    let ids = containers(service);
    if ids.is_empty() {
        return 0;
    }
    Command::new("docker")
        .args(["inspect", "--format", "{{.State.Status}}"])
        .args(&ids)
        .stderr(Stdio::null())
        .output()
        .map_or(0, |o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.trim() == "running")
                .count()
        })
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
