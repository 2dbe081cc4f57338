//! The cross-process lock around the state file. Only `store` uses it.
//!
//! Normal mode takes `flock` (std `File::try_lock*`) on the sidecar `<state>.lock`, which is
//! never renamed or deleted by kamal-dev: locking the state file itself would be undone by the
//! rename that replaces it. Where the file system refuses `flock` (some NFS mounts), or when
//! `KAMAL_DEV_LOCK=dotlock`, an `O_EXCL`-created `<state>.dotlock` is the lock instead; a
//! dotlock left by a dead process on this host is broken under a second `O_EXCL` "breaker"
//! file so that two waiters can never both break it and delete each other's fresh lock.
//! The exclusive holder writes who it is (pid, host, command, start time) into the lock file
//! so a waiter that times out can say whom it waited for.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use jiff::Timestamp;

use super::StateError;

/// Which lock to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// `flock`, falling back to the dotlock when the file system does not support it.
    #[default]
    Auto,
    Flock,
    Dotlock,
}

impl LockMode {
    /// The environment variable that forces a mode (`auto`, `flock`, `dotlock`).
    pub const ENV: &'static str = "KAMAL_DEV_LOCK";

    /// The mode from [`LockMode::ENV`]; unset or empty means [`LockMode::Auto`].
    pub fn from_env() -> Result<LockMode, StateError> {
        match std::env::var(Self::ENV) {
            Err(_) => Ok(LockMode::Auto),
            Ok(value) => match value.trim() {
                "" | "auto" => Ok(LockMode::Auto),
                "flock" => Ok(LockMode::Flock),
                "dotlock" => Ok(LockMode::Dotlock),
                _ => Err(StateError::BadLockMode(value)),
            },
        }
    }
}

/// Who holds (or held) the exclusive lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// `kamal-dev <subcommand>`: never the full command line, which may carry secrets.
    pub command: String,
    pub since: Timestamp,
    /// Distinguishes two lock generations held by the same pid.
    nonce: String,
}

impl Holder {
    fn current(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            command: command.to_string(),
            since: Timestamp::now(),
            nonce: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn to_text(&self) -> String {
        format!(
            "pid={}\nhost={}\ncommand={}\nsince={}\nnonce={}\n",
            self.pid, self.host, self.command, self.since, self.nonce
        )
    }

    /// Lenient: the file may be empty or half-written by a holder that is starting up.
    fn parse(text: &str) -> Option<Holder> {
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(Holder {
            pid: field("pid")?.parse().ok()?,
            host: field("host")?,
            command: field("command")?,
            since: field("since")?.parse().ok()?,
            nonce: field("nonce")?,
        })
    }

    /// `pid 4242 (kamal-dev deploy, since 10:31:02)`, naming the host when it is not this one.
    pub fn describe(&self) -> String {
        let zoned = self.since.to_zoned_datetime(jiff::tz::TimeZone::system());
        let fresh =
            Timestamp::now().duration_since(self.since) < jiff::SignedDuration::from_hours(20);
        let since = if fresh {
            zoned.strftime("%H:%M:%S").to_string()
        } else {
            zoned.strftime("%Y-%m-%d %H:%M:%S").to_string()
        };
        let host = if self.host == host_name() {
            String::new()
        } else {
            format!(" on host {}", self.host)
        };
        format!("pid {}{host} ({}, since {since})", self.pid, self.command)
    }

    fn is_dead_here(&self) -> bool {
        self.host == host_name() && !pid_alive(self.pid)
    }
}

/// A held lock; released on drop.
#[derive(Debug)]
pub(super) enum Guard {
    /// Readers in dotlock mode take no lock: the rename that publishes a write is atomic.
    None,
    Flock {
        file: File,
        exclusive: bool,
    },
    Dotlock {
        path: PathBuf,
        nonce: String,
    },
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self {
            Guard::None => {}
            Guard::Flock { file, exclusive } => {
                if *exclusive {
                    // Empty the holder record so a later waiter does not name a finished run.
                    let _ = file.set_len(0);
                }
                let _ = file.unlock();
            }
            Guard::Dotlock { path, nonce } => {
                let ours = fs::read_to_string(&*path)
                    .ok()
                    .and_then(|t| Holder::parse(&t))
                    .is_some_and(|h| h.nonce == *nonce);
                if ours {
                    let _ = fs::remove_file(&*path);
                }
            }
        }
    }
}

/// Takes the lock for one state file.
#[derive(Debug, Clone)]
pub(super) struct Locker {
    pub state_path: PathBuf,
    pub mode: LockMode,
    pub timeout: Duration,
    pub command: String,
}

impl Locker {
    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.state_path, ".lock")
    }

    pub fn dotlock_path(&self) -> PathBuf {
        sibling(&self.state_path, ".dotlock")
    }

    /// Take the lock, exclusive for writers and shared for readers. Gives up when the lock
    /// has not changed hands for the whole timeout: while other runs come and go the state is
    /// making progress, and neither poll order nor a busy writer should make us fail.
    pub fn acquire(&self, exclusive: bool) -> Result<Guard, StateError> {
        let mut deadline = Deadline::new(self.timeout);
        if self.mode == LockMode::Dotlock {
            return self.dotlock(exclusive, deadline);
        }
        let path = self.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StateError::io("open the lock file", &path, e))?;
        let mut attempt = 0u32;
        loop {
            let result = if exclusive {
                file.try_lock()
            } else {
                file.try_lock_shared()
            };
            match result {
                Ok(()) => {
                    if exclusive {
                        write_holder(&file, &Holder::current(&self.command))
                            .map_err(|e| StateError::io("write the lock file", &path, e))?;
                    }
                    return Ok(Guard::Flock { file, exclusive });
                }
                Err(TryLockError::WouldBlock) => {
                    if deadline.expired(&path) {
                        return Err(self.locked(&path));
                    }
                    pause(&mut attempt);
                }
                Err(TryLockError::Error(err))
                    if self.mode == LockMode::Auto && flock_unsupported(&err) =>
                {
                    return self.dotlock(exclusive, deadline);
                }
                Err(TryLockError::Error(err)) => {
                    return Err(StateError::io("lock", &path, err));
                }
            }
        }
    }

    fn dotlock(&self, exclusive: bool, mut deadline: Deadline) -> Result<Guard, StateError> {
        if !exclusive {
            return Ok(Guard::None);
        }
        let path = self.dotlock_path();
        let mut attempt = 0u32;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    let holder = Holder::current(&self.command);
                    if let Err(err) = write_holder(&file, &holder) {
                        let _ = fs::remove_file(&path);
                        return Err(StateError::io("write the lock file", &path, err));
                    }
                    return Ok(Guard::Dotlock {
                        path,
                        nonce: holder.nonce,
                    });
                }
                Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                    let stale = match read_holder(&path) {
                        Some(holder) if holder.is_dead_here() => Some(Stale::Dead(holder.nonce)),
                        None if older_than(&path, ABANDONED) => Some(Stale::Unsigned),
                        Some(_) | None => None,
                    };
                    if let Some(stale) = stale {
                        self.break_stale(&path, &stale)?;
                        continue;
                    }
                    if deadline.expired(&path) {
                        return Err(self.locked(&path));
                    }
                    pause(&mut attempt);
                }
                Err(err) => return Err(StateError::io("create the lock file", &path, err)),
            }
        }
    }

    /// Delete a dotlock whose holder died, unless someone else replaced it meanwhile.
    fn break_stale(&self, dotlock: &Path, stale: &Stale) -> Result<(), StateError> {
        let breaker = sibling(&self.state_path, ".dotlock.break");
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&breaker)
        {
            Ok(_) => {
                // Only the breaker's owner deletes a dotlock, so between this check and the
                // removal nobody else can have deleted the stale one and created a new one.
                let still = match (stale, read_holder(dotlock)) {
                    (Stale::Dead(nonce), Some(holder)) => holder.nonce == *nonce,
                    (Stale::Unsigned, None) => older_than(dotlock, ABANDONED),
                    _ => false,
                };
                if still {
                    let _ = fs::remove_file(dotlock);
                }
                let _ = fs::remove_file(&breaker);
                Ok(())
            }
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                // A breaker killed mid-way leaves its file behind; its work takes
                // microseconds, so one older than a few seconds is abandoned.
                if older_than(&breaker, ABANDONED) {
                    let _ = fs::remove_file(&breaker);
                } else {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(())
            }
            Err(err) => Err(StateError::io("create the lock file", &breaker, err)),
        }
    }

    fn locked(&self, lock_file: &Path) -> StateError {
        StateError::Locked {
            path: self.state_path.display().to_string(),
            lock_file: lock_file.display().to_string(),
            holder: read_holder(lock_file).map(Box::new),
        }
    }
}

/// Writing a lock file's holder record, or breaking a stale dotlock, takes microseconds; a
/// file still in that in-between state after this long belongs to a process that was killed.
const ABANDONED: Duration = Duration::from_secs(5);

/// Why a dotlock may be broken.
enum Stale {
    /// Its holder (this nonce) runs on this host and is gone.
    Dead(String),
    /// It never got a holder record: its creator died right after creating it.
    Unsigned,
}

fn older_than(path: &Path, age: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// The end of waiting, pushed back whenever the lock file shows a new holder.
struct Deadline {
    timeout: Duration,
    at: Instant,
    looked: bool,
    /// The lock file's text at the last look (`None`: no file).
    seen: Option<String>,
}

impl Deadline {
    fn new(timeout: Duration) -> Deadline {
        Deadline {
            timeout,
            at: Instant::now() + timeout,
            looked: false,
            seen: None,
        }
    }

    fn expired(&mut self, lock_file: &Path) -> bool {
        let now = Instant::now();
        let current = fs::read_to_string(lock_file).ok();
        if self.looked && current != self.seen {
            self.at = now + self.timeout;
        }
        self.looked = true;
        self.seen = current;
        now >= self.at
    }
}

/// `.kamal/dev_state.yml` + `.lock` -> `.kamal/dev_state.yml.lock`.
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn write_holder(mut file: &File, holder: &Holder) -> std::io::Result<()> {
    file.set_len(0)?;
    // `set_len` does not move the cursor; write from the start without seeking through `&File`.
    std::io::Seek::rewind(&mut file)?;
    file.write_all(holder.to_text().as_bytes())
}

fn read_holder(path: &Path) -> Option<Holder> {
    Holder::parse(&fs::read_to_string(path).ok()?)
}

/// Short, growing, slightly jittered sleeps so twenty waiters do not retry in lockstep.
fn pause(attempt: &mut u32) {
    *attempt = attempt.saturating_add(1);
    let base = u64::from((*attempt).min(20));
    let jitter = u64::from(std::process::id() % 5);
    std::thread::sleep(Duration::from_millis(base + jitter + 1));
}

fn flock_unsupported(err: &std::io::Error) -> bool {
    if err.kind() == ErrorKind::Unsupported {
        return true;
    }
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        let code = err.raw_os_error();
        [
            Errno::ENOLCK,
            Errno::EOPNOTSUPP,
            Errno::ENOSYS,
            Errno::EINVAL,
        ]
        .iter()
        .any(|e| Some(*e as i32) == code)
    }
    #[cfg(not(unix))]
    false
}

fn host_name() -> String {
    #[cfg(unix)]
    {
        nix::unistd::gethostname()
            .map_or_else(|_| "localhost".into(), |h| h.to_string_lossy().into_owned())
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_else(|_| "localhost".into())
    }
}

/// Whether `pid` runs on this host. Unknown answers count as alive: a live lock must never be
/// broken.
fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        let Ok(raw) = i32::try_from(pid) else {
            return true;
        };
        if raw <= 0 {
            return true;
        }
        !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
            Err(Errno::ESRCH)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_round_trips_and_tolerates_partial_text() {
        let holder = Holder::current("kamal-dev deploy");
        assert_eq!(Holder::parse(&holder.to_text()), Some(holder.clone()));
        assert_eq!(Holder::parse("pid=12\nhost=x\n"), None);
        assert_eq!(Holder::parse(""), None);
        let text = holder.describe();
        assert!(
            text.starts_with(&format!("pid {} (kamal-dev deploy, since ", holder.pid)),
            "{text}"
        );
    }

    #[test]
    fn this_process_is_alive() {
        assert!(pid_alive(std::process::id()));
        assert!(!Holder::current("x").is_dead_here());
    }

    #[test]
    fn dotlock_excludes_and_breaks_a_dead_holders_lock() {
        let dir = tempfile::tempdir().unwrap();
        let locker = Locker {
            state_path: dir.path().join("s.yml"),
            mode: LockMode::Dotlock,
            timeout: Duration::from_millis(50),
            command: "kamal-dev test".into(),
        };
        let guard = locker.acquire(true).unwrap();
        let err = locker.acquire(true).unwrap_err();
        assert!(err.to_string().contains("kamal-dev test"), "{err}");
        drop(guard);
        assert!(!locker.dotlock_path().exists());

        // A holder on this host whose pid is gone (pid 0 never names a user process here:
        // use a pid far beyond pid_max instead).
        let mut dead = Holder::current("kamal-dev deploy");
        dead.pid = 4_194_304 + 7;
        fs::write(locker.dotlock_path(), dead.to_text()).unwrap();
        let guard = locker.acquire(true).unwrap();
        drop(guard);
        assert!(!locker.dotlock_path().exists());
    }

    #[test]
    fn a_fresh_unsigned_dotlock_is_respected() {
        let dir = tempfile::tempdir().unwrap();
        let locker = Locker {
            state_path: dir.path().join("s.yml"),
            mode: LockMode::Dotlock,
            timeout: Duration::from_millis(50),
            command: "kamal-dev test".into(),
        };
        // Its creator may be about to write its record: wait, do not break it.
        fs::write(locker.dotlock_path(), "").unwrap();
        let err = locker.acquire(true).unwrap_err();
        assert!(err.to_string().contains("did not record which"), "{err}");
        assert!(locker.dotlock_path().exists());
    }
}
