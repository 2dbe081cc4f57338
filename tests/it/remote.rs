//! Remote execution against the real test services (`.ci/services.sh`): OpenSSH sshd on
//! 127.0.0.10.. port 22 and a test key. Skips, saying why, unless `KAMAL_DEV_TEST_SERVICES=1`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kamal_dev::error::UserFacing as _;
use kamal_dev::remote::{
    ConnectOptions, Connector, Executor, Exit, Fingerprint, Local, Pool, RemoteError, SshTarget,
    Stream,
};

struct Services {
    key: PathBuf,
    hosts: Vec<String>,
    host_key: Option<Fingerprint>,
    sshd_log: Option<PathBuf>,
}

fn services() -> Option<Services> {
    if std::env::var("KAMAL_DEV_TEST_SERVICES").as_deref() != Ok("1") {
        eprintln!(
            "skipped: KAMAL_DEV_TEST_SERVICES is not 1; run `.ci/services.sh` as root and \
             `source /tmp/kamal-dev-services/env` to test against a real sshd"
        );
        return None;
    }
    let key =
        PathBuf::from(std::env::var("KAMAL_DEV_TEST_SSH_KEY").expect("KAMAL_DEV_TEST_SSH_KEY"));
    let hosts = std::env::var("KAMAL_DEV_TEST_SSH_HOSTS")
        .expect("KAMAL_DEV_TEST_SSH_HOSTS")
        .split(',')
        .map(str::to_string)
        .collect();
    let host_key = std::env::var("KAMAL_DEV_TEST_SSH_HOST_KEY_FINGERPRINT")
        .ok()
        .map(|fp| Fingerprint::parse(&fp).expect("fingerprint from services env"));
    let sshd_log = std::env::var_os("KAMAL_DEV_TEST_SSHD_LOG").map(PathBuf::from);
    Some(Services {
        key,
        hosts,
        host_key,
        sshd_log,
    })
}

impl Services {
    fn connector(&self, options: ConnectOptions) -> Connector {
        // Config names the public key; the connector finds the private key next to it.
        let public = PathBuf::from(format!("{}.pub", self.key.display()));
        Connector::new(Some(&public), options).expect("load test key")
    }

    fn target(&self, index: usize) -> SshTarget {
        SshTarget::new(self.hosts[index].clone()).with_name(format!("test-{index}"))
    }

    async fn executor(&self) -> Executor {
        let connection = self
            .connector(ConnectOptions::default())
            .connect(&self.target(0), None)
            .await
            .expect("connect to the first test host");
        Executor::Ssh(connection)
    }
}

fn awkward() -> Vec<String> {
    [
        "plain",
        "",
        "two words",
        "it's",
        "\"double\"",
        "$(touch /tmp/kamal-dev-pwned)",
        "`id`",
        "$HOME",
        "line1\nline2\n",
        "back\\slash",
        "tab\tsep",
        "*",
        "~",
        ";|&<>",
        "-n",
        "ünïcödé ✓",
    ]
    .into_iter()
    .map(str::to_string)
    .collect()
}

/// `printf '%s\0' args...` prints each argument NUL-terminated, exactly as received.
async fn echo_args(executor: &Executor, args: &[String]) -> Vec<String> {
    let mut command = vec!["printf".to_string(), "%s\\0".to_string()];
    command.extend(args.iter().cloned());
    let output = executor.run_checked(&command, None).await.expect("printf");
    let mut got: Vec<String> = output
        .stdout
        .split(|b| *b == 0)
        .map(|part| String::from_utf8(part.to_vec()).expect("utf-8"))
        .collect();
    assert_eq!(
        got.pop().as_deref(),
        Some(""),
        "output ends with a terminator"
    );
    got
}

#[tokio::test]
async fn argv_arrives_exactly_over_ssh_and_locally() {
    let Some(services) = services() else { return };
    let _ = std::fs::remove_file("/tmp/kamal-dev-pwned");
    let args = awkward();
    let ssh = services.executor().await;
    assert_eq!(echo_args(&ssh, &args).await, args);
    let local = Executor::Local(Local);
    assert_eq!(echo_args(&local, &args).await, args);
    assert!(
        !std::path::Path::new("/tmp/kamal-dev-pwned").exists(),
        "an argument was run by the remote shell"
    );
}

#[tokio::test]
async fn stdin_data_lands_in_a_private_file_and_not_in_sshd_log() {
    let Some(services) = services() else { return };
    let marker = format!("KD_SECRET_{}_{}", std::process::id(), line!());
    let data = format!("TOKEN={marker}\nOTHER='x y'\n");
    let dir = format!("/tmp/kamal-dev-remote-test-{}", std::process::id());
    let path = format!("{dir}/sub dir/env");
    let ssh = services.executor().await;
    ssh.write_file(&path, 0o600, data.as_bytes())
        .await
        .expect("write_file");
    let mode = ssh
        .run_checked(&["stat", "-c", "%a", &path], None)
        .await
        .expect("stat");
    assert_eq!(mode.stdout_text().trim(), "600");
    let back = ssh.run_checked(&["cat", &path], None).await.expect("cat");
    assert_eq!(back.stdout, data.as_bytes());

    // A megabyte through `cat` both ways: stdin and stdout flow at the same time.
    let big: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    let echoed = ssh
        .run_checked(&["cat"], Some(&big))
        .await
        .expect("cat big");
    assert_eq!(echoed.stdout.len(), big.len());
    assert!(echoed.stdout == big);

    let _ = ssh.run(&["rm", "-rf", &dir], None).await;
    if let Some(log) = services.sshd_log {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(!text.contains(&marker), "secret found in {}", log.display());
    }
}

#[tokio::test]
async fn many_concurrent_commands_share_one_connection() {
    let Some(services) = services() else { return };
    let ssh = services.executor().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let ssh = ssh.clone();
        tasks.spawn(async move {
            let out = ssh
                .run_checked(&["sh", "-c", "echo \"$1\"", "sh", &i.to_string()], None)
                .await
                .expect("concurrent command");
            (i, out.stdout_text().trim().to_string())
        });
    }
    let mut seen = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (i, text) = result.expect("task");
        assert_eq!(text, i.to_string());
        seen.push(i);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..40).collect::<Vec<_>>());

    // Proof that commands really overlap: each of 8 waits until all 8 have started. Run one
    // after another, the first would wait out its 30 s limit and fail.
    let dir = format!("/tmp/kamal-dev-rendezvous-{}", std::process::id());
    ssh.run_checked(&["mkdir", "-p", &dir], None).await.unwrap();
    let script = r#"touch "$1/$2"; n=0; while [ "$(ls "$1" | wc -l)" -lt 8 ]; do n=$((n+1)); [ $n -gt 600 ] && exit 9; sleep 0.05; done"#;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let ssh = ssh.clone();
        let dir = dir.clone();
        tasks.spawn(async move {
            ssh.run(&["sh", "-c", script, "sh", &dir, &i.to_string()], None)
                .await
                .expect("rendezvous command")
                .exit
        });
    }
    while let Some(exit) = tasks.join_next().await {
        assert_eq!(exit.expect("task"), Exit::Code(0));
    }
    let _ = ssh.run(&["rm", "-rf", &dir], None).await;
}

#[tokio::test]
async fn host_key_is_trusted_on_first_use_and_a_change_is_refused() {
    let Some(services) = services() else { return };
    let connector = services.connector(ConnectOptions::default());
    let target = services.target(1);
    let first = connector.connect(&target, None).await.expect("first use");
    assert!(first.host_key_first_seen());
    let seen = first.host_key().clone();
    if let Some(want) = &services.host_key {
        assert_eq!(&seen, want, "fingerprint matches ssh-keygen -l");
    }
    let again = connector
        .connect(&target, Some(&seen))
        .await
        .expect("same key");
    assert!(!again.host_key_first_seen());
    assert_eq!(again.host_key(), &seen);

    let wrong = Fingerprint::parse("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").unwrap();
    let err = connector.connect(&target, Some(&wrong)).await.unwrap_err();
    assert!(matches!(err, RemoteError::HostKeyChanged { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "host key of test-1 ({}) changed since it was first seen",
            target.host
        )
    );
    assert!(err.hint().unwrap().contains("kamal-dev list --rebuild"));

    let pool = Pool::new(connector);
    let a = pool.get(&target, Some(&seen)).await.expect("pool");
    let b = pool.get(&target, Some(&seen)).await.expect("pool again");
    assert_eq!(a.host_key(), b.host_key());
    assert!(matches!(
        pool.get(&target, Some(&wrong)).await,
        Err(RemoteError::HostKeyChanged { .. })
    ));
    pool.close_all().await;
}

#[tokio::test]
async fn a_closed_port_gives_a_clear_error_within_the_deadline() {
    let Some(services) = services() else { return };
    let connector = services.connector(ConnectOptions {
        retry_for: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..ConnectOptions::default()
    });
    let target = SshTarget::new(services.hosts[0].clone())
        .with_name("booting")
        .with_port(1);
    let started = Instant::now();
    let err = connector.connect(&target, None).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1),
        "gave up too early: {waited:?}"
    );
    // Generous: this checks that it gives up at all, not how fast a loaded machine is.
    assert!(waited < Duration::from_secs(30), "took {waited:?}");
    let RemoteError::Unreachable { attempts, .. } = &err else {
        panic!("expected Unreachable, got {err:?}");
    };
    assert!(*attempts > 1, "retried: {attempts}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "could not connect to booting (root@{}:1)",
            target.host
        )),
        "{message}"
    );
    eprintln!("{message}\n  hint: {}", err.hint().unwrap());
    assert!(
        err.hint()
            .unwrap()
            .contains("last error: connection refused;"),
        "{:?}",
        err.hint()
    );
}

#[tokio::test]
async fn an_unknown_key_is_rejected_with_a_hint_naming_it() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_other");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let connector = Connector::new(Some(&key), ConnectOptions::default()).expect("load key");
    let err = connector
        .connect(&services.target(2), None)
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteError::AuthRejected { .. }), "{err:?}");
    assert!(err.to_string().contains("(root@127.0.0."), "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains(&format!("{}.pub", key.display()))
    );
}

#[tokio::test]
async fn exit_codes_signals_and_streamed_lines_match_on_both_executors() {
    let Some(services) = services() else { return };
    let ssh = services.executor().await;
    for executor in [ssh, Executor::Local(Local)] {
        let label = executor.label();
        let out = executor.run(&["sh", "-c", "exit 7"], None).await.unwrap();
        assert_eq!(out.exit, Exit::Code(7), "{label}");
        let out = executor
            .run(&["sh", "-c", "kill -KILL $$"], None)
            .await
            .unwrap();
        assert_eq!(out.exit, Exit::Signal("KILL".into()), "{label}");

        let mut lines = Vec::new();
        let exit = executor
            .run_streaming(
                &[
                    "sh",
                    "-c",
                    "echo one; echo two >&2; printf 'three\\r\\nfour'",
                ],
                None,
                |stream, line| lines.push((stream, line.to_string())),
            )
            .await
            .unwrap();
        assert!(exit.success(), "{label}");
        let stdout: Vec<_> = lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stdout)
            .map(|(_, l)| l.as_str())
            .collect();
        let stderr: Vec<_> = lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stderr)
            .map(|(_, l)| l.as_str())
            .collect();
        assert_eq!(stdout, ["one", "three", "four"], "{label}");
        assert_eq!(stderr, ["two"], "{label}");

        let echoed = executor
            .run_checked(&["cat"], Some(b"from stdin"))
            .await
            .unwrap();
        assert_eq!(echoed.stdout, b"from stdin", "{label}");
    }
}

/// Whether any process on this machine (sshd's test hosts are loopback) has `needle` in its
/// command line.
fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| {
            String::from_utf8_lossy(&cmdline)
                .split('\0')
                .any(|arg| arg == needle)
        })
}

#[tokio::test]
async fn a_dropped_command_is_stopped_on_the_machine() {
    let Some(services) = services() else { return };
    let ssh = services.executor().await;
    // Like `docker logs -f`: prints until stopped. The marker ($0) finds it in /proc. OpenSSH
    // ignores signal requests for root logins, so what stops it is the closed channel (its
    // next write fails); a command that never prints would run to its end.
    let marker = format!("kamal-dev-follow-{}-{}", std::process::id(), line!());
    let argv = [
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.1; done",
        marker.as_str(),
    ];
    let mut ticks = 0;
    let follow = ssh.run_streaming(&argv, None, |_, _| ticks += 1);
    let timed_out = tokio::time::timeout(Duration::from_secs(2), follow).await;
    assert!(timed_out.is_err(), "the loop ended by itself");
    assert!(ticks > 0, "no line streamed before the timeout");
    let mut gone = false;
    for _ in 0..50 {
        if !process_running(&marker) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "{marker} still runs after its command was dropped");
    // The connection is still usable afterwards.
    let out = ssh
        .run_checked(&["echo", "still here"], None)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"still here\n");
}

/// An ssh-agent started for one test, stopped (by its own pid) when dropped.
struct Agent {
    child: std::process::Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent");
        for _ in 0..100 {
            if socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            child,
            socket,
            _dir: dir,
        }
    }

    fn add(&self, key: &std::path::Path) {
        let status = std::process::Command::new("ssh-add")
            .arg("-q")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .status()
            .expect("ssh-add");
        assert!(status.success());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn ssh_agent_signs_when_the_key_file_has_a_passphrase() {
    let Some(services) = services() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_locked");
    std::fs::copy(&services.key, &key).unwrap();
    std::fs::copy(
        format!("{}.pub", services.key.display()),
        dir.path().join("id_locked.pub"),
    )
    .unwrap();
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-P", "", "-N", "a passphrase", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen -p");
    assert!(status.success());
    let public = dir.path().join("id_locked.pub");

    let no_agent = ConnectOptions {
        agent_socket: None,
        ..ConnectOptions::default()
    };
    let err = Connector::new(Some(&public), no_agent).unwrap_err();
    assert!(matches!(err, RemoteError::KeyEncrypted { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("ssh-add"));

    let agent = Agent::start();
    agent.add(&services.key);
    let options = ConnectOptions {
        agent_socket: Some(agent.socket.clone()),
        ..ConnectOptions::default()
    };
    let connector = Connector::new(Some(&public), options).expect("agent credentials");
    let connection = connector
        .connect(&services.target(3), None)
        .await
        .expect("login through ssh-agent");
    let out = Executor::Ssh(connection)
        .run_checked(&["id", "-un"], None)
        .await
        .unwrap();
    assert_eq!(out.stdout_text().trim(), "root");
}

#[tokio::test]
async fn connecting_waits_for_a_machine_that_is_still_booting() {
    let Some(services) = services() else { return };
    let sshd = format!("{}:22", services.hosts[0]);
    // Reserve a port, free it: nothing listens there for the first second (refused), then
    // for a second connections are accepted and dropped at once (sshd not ready), then the
    // "machine" is up and connections reach the real sshd.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let boot = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let ready_at = Instant::now() + Duration::from_secs(1);
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            if Instant::now() < ready_at {
                drop(inbound);
                continue;
            }
            let sshd = sshd.clone();
            tokio::spawn(async move {
                let mut outbound = tokio::net::TcpStream::connect(sshd).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let connector = services.connector(ConnectOptions {
        retry_for: Duration::from_secs(30),
        ..ConnectOptions::default()
    });
    let target = SshTarget::new("127.0.0.1")
        .with_port(port)
        .with_name("booting");
    let connection = connector
        .connect(&target, None)
        .await
        .expect("connects once up");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let out = Executor::Ssh(connection)
        .run_checked(&["echo", "up"], None)
        .await
        .unwrap();
    assert_eq!(out.stdout, b"up\n");
    boot.abort();
}

#[tokio::test]
async fn connection_attempts_are_capped() {
    let Some(services) = services() else { return };
    // A "server" that accepts and never answers; it records how many connections are open
    // at once. With a cap of 2, six machines are tried two at a time.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (open2, peak2) = (open.clone(), peak.clone());
    let server = tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let now = open2.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            peak2.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            let open = open2.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    let connector = services.connector(ConnectOptions {
        max_concurrent_starts: 2,
        connect_timeout: Duration::from_secs(1),
        retry_for: Duration::from_secs(1),
        ..ConnectOptions::default()
    });
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let connector = connector.clone();
        let target = SshTarget::new("127.0.0.1")
            .with_port(port)
            .with_name(format!("silent-{i}"));
        tasks.spawn(async move { connector.connect(&target, None).await });
    }
    while let Some(result) = tasks.join_next().await {
        let err = result.unwrap().unwrap_err();
        assert!(err.is_unreachable(), "{err:?}");
        assert!(
            err.hint().unwrap().contains("handshake did not finish"),
            "{:?}",
            err.hint()
        );
    }
    server.abort();
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak concurrent attempts: {peak}");
}
