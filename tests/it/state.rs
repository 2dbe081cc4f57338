//! The state store under real processes: concurrent writers, writers killed mid-write, the
//! dotlock fallback, lock timeouts that name the holder, and files it must refuse to touch.
//! Writers are `kamal-dev __internal state-bump`, which adds one workspace per update.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kamal_dev::state::{State, parse};

use crate::common::TestContext;

const STATE: &str = ".kamal/dev_state.yml";

fn bump(ctx: &TestContext, id: &str, times: u32) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("kamal-dev"));
    cmd.current_dir(ctx.path())
        .env("NO_COLOR", "1")
        .env_remove("KAMAL_DEV_LOCK")
        .args(["__internal", "state-bump", "--id", id, "--times"])
        .arg(times.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn read_state(ctx: &TestContext) -> State {
    let text = std::fs::read_to_string(ctx.path().join(STATE)).expect("state file exists");
    parse(&text, STATE).unwrap_or_else(|e| panic!("state file does not parse: {e}\n{text}"))
}

/// Read the file without any lock while writers run: every read must parse, and versions
/// only move forward.
fn watch_while_running(ctx: &TestContext, children: &mut [Child]) {
    let path = ctx.path().join(STATE);
    let mut last = 0;
    let mut reads = 0;
    while !children
        .iter_mut()
        .all(|c| c.try_wait().expect("poll writer").is_some())
    {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let state = parse(&text, STATE)
                .unwrap_or_else(|e| panic!("a reader saw a broken file: {e}\n{text}"));
            assert!(
                state.serial >= last,
                "serial went back from {last} to {}",
                state.serial
            );
            assert_eq!(state.workspaces.len() as u64, state.serial);
            last = state.serial;
            reads += 1;
        }
        // Sparse on purpose: parsing competes with the writers for the CPU.
        std::thread::sleep(Duration::from_millis(250));
    }
    eprintln!("{reads} reads while writing");
}

/// Run `processes` writers of `times` updates each at once and check nothing was lost.
fn hammer(ctx: &TestContext, processes: u32, times: u32, lock_mode: Option<&str>) {
    let mut children: Vec<Child> = (0..processes)
        .map(|p| {
            let mut cmd = bump(ctx, &format!("p{p}"), times);
            if let Some(mode) = lock_mode {
                cmd.env("KAMAL_DEV_LOCK", mode);
            }
            cmd.spawn().expect("spawn writer")
        })
        .collect();
    watch_while_running(ctx, &mut children);
    for child in children {
        let out = child.wait_with_output().expect("wait for writer");
        assert!(
            out.status.success(),
            "writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let state = read_state(ctx);
    let total = u64::from(processes * times);
    assert_eq!(state.serial, total, "every update must be counted once");
    assert_eq!(state.workspaces.len() as u64, total);
    for p in 0..processes {
        for n in 1..=times {
            assert!(
                state.workspaces.contains_key(&format!("p{p}-{n}")),
                "p{p}-{n} was lost"
            );
        }
    }
}

#[test]
fn twenty_writers_lose_no_update() {
    let ctx = TestContext::new();
    // No time limit here: speed is not asserted by tests on a shared machine.
    hammer(&ctx, 20, 50, None);
    let backup = std::fs::read_to_string(ctx.path().join(".kamal/dev_state.yml.bak")).unwrap();
    assert_eq!(parse(&backup, "bak").unwrap().serial, 999);
}

#[test]
fn forced_dotlock_excludes_writers_and_cleans_up() {
    let ctx = TestContext::new();
    hammer(&ctx, 8, 15, Some("dotlock"));
    assert!(!ctx.path().join(".kamal/dev_state.yml.dotlock").exists());
}

/// A small xorshift: the kill moments only need to be spread, not unpredictable.
struct Moments(u64);

impl Moments {
    fn next_micros(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[test]
fn writers_killed_at_random_moments_leave_old_or_new_file() {
    let ctx = TestContext::new();
    // Start from a file big enough that writing it takes a moment.
    bump(&ctx, "base", 40).status().expect("seed the state");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_secs() ^ u64::from(d.subsec_nanos()))
        | 1;
    eprintln!("kill moments seed: {seed}");
    let mut moments = Moments(seed);
    let mut previous = read_state(&ctx).serial;
    let (mut interrupted, mut completed) = (0, 0);
    for iteration in 0..200u32 {
        // Alternate lock modes so that stale dotlocks of killed writers must be recovered.
        let mode = if iteration % 2 == 0 {
            "flock"
        } else {
            "dotlock"
        };
        let mut child = bump(&ctx, &format!("k{iteration}"), 2)
            .env("KAMAL_DEV_LOCK", mode)
            .spawn()
            .expect("spawn writer");
        std::thread::sleep(Duration::from_micros(moments.next_micros(60_000)));
        let _ = child.kill(); // SIGKILL on Unix
        let status = child.wait().expect("reap writer");
        if status.success() {
            completed += 1;
        } else {
            interrupted += 1;
        }
        let state = read_state(&ctx);
        assert!(
            state.serial >= previous && state.serial <= previous + 2,
            "iteration {iteration}: serial went from {previous} to {}",
            state.serial
        );
        assert_eq!(
            state.workspaces.len() as u64,
            state.serial,
            "iteration {iteration}: the file is not one committed version"
        );
        previous = state.serial;
    }
    eprintln!("{interrupted} writers killed, {completed} finished");
    assert!(interrupted > 0, "no writer was ever interrupted");
    // A last writer gets through: killed writers left no lock behind that blocks it.
    let out = bump(&ctx, "after", 1)
        .env("KAMAL_DEV_LOCK", "dotlock")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(ctx.path().join(".kamal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

fn wait_for_holder(lock_file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(lock_file).is_ok_and(|t| t.contains("nonce=")) {
        assert!(Instant::now() < deadline, "the holder never took the lock");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_timeout_names_holder(mode: &str, lock_file: &str) {
    let ctx = TestContext::new();
    let mut holder = bump(&ctx, "holder", 1)
        .env("KAMAL_DEV_LOCK", mode)
        .args(["--hold-ms", "20000"])
        .spawn()
        .unwrap();
    wait_for_holder(&ctx.path().join(lock_file));
    let out = bump(&ctx, "waiter", 1)
        .env("KAMAL_DEV_LOCK", mode)
        .args(["--lock-timeout-ms", "300"])
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "error: state file {STATE} is locked by pid {} (kamal-dev __internal, since ",
        holder.id()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hint: wait for it to finish, or if that process is gone, delete {lock_file}"
        )),
        "{stderr}"
    );
}

#[test]
fn lock_timeout_names_the_holder() {
    assert_timeout_names_holder("flock", ".kamal/dev_state.yml.lock");
}

#[test]
fn dotlock_timeout_names_the_holder() {
    assert_timeout_names_holder("dotlock", ".kamal/dev_state.yml.dotlock");
}

#[test]
fn corrupt_file_is_reported_with_position_and_left_alone() {
    let ctx = TestContext::new();
    let text = "version: 1\ndeployments:\n  a:\n    container_name: a\n    status: sideways\n";
    ctx.write(STATE, text);
    let out = bump(&ctx, "x", 1).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: .kamal/dev_state.yml:5:13: "),
        "{stderr}"
    );
    assert!(stderr.contains(".kamal/dev_state.yml.bak"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join(STATE)).unwrap(),
        text
    );
}

#[test]
fn newer_schema_version_is_refused() {
    let ctx = TestContext::new();
    let text = "version: 2\nsomething_new: true\n";
    ctx.write(STATE, text);
    let out = bump(&ctx, "x", 1).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("has schema version 2, but this kamal-dev reads up to version 1"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: upgrade kamal-dev"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join(STATE)).unwrap(),
        text
    );
}

#[test]
fn seed_format_is_migrated_and_kept_as_backup() {
    let ctx = TestContext::new();
    let seed = "deployments:\n  my-app-1:\n    vm_id: 0012ab-uuid\n    vm_ip: 94.2.3.1\n    \
                container_name: my-app-1\n    status: running\n    deployed_at: '2025-11-15T10:00:00Z'\n";
    ctx.write(STATE, seed);
    let out = bump(&ctx, "new", 1).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(ctx.path().join(STATE)).unwrap();
    assert!(text.starts_with("version: 1\n"), "{text}");
    assert!(text.contains("    vm_id: 0012ab-uuid\n"), "{text}");
    let state = read_state(&ctx);
    assert_eq!(state.workspaces.len(), 2);
    assert_eq!(
        state.workspaces["my-app-1"].vm_ip.as_deref(),
        Some("94.2.3.1")
    );
    let backup = std::fs::read_to_string(ctx.path().join(".kamal/dev_state.yml.bak")).unwrap();
    assert_eq!(backup, seed);
}
