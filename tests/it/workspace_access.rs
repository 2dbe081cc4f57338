//! Working inside deployed workspaces, end to end against the real test services
//! (`.ci/services.sh`): the fake UpCloud hands out 127.0.0.10.. where the test sshd answers,
//! and that "machine" is this host with its Docker. Covers source delivery (git with a token,
//! upload honouring .gitignore), `exec`, `ssh-config` with the system ssh client, `forward`,
//! and `install-binstub` (which needs no services). Each test has its own project, service
//! name and workspaces, and removes its containers and folders at the end.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::TestContext;
use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};

/// The test key, or `None` (after saying why) without the services.
fn services() -> Option<PathBuf> {
    if std::env::var("KAMAL_DEV_TEST_SERVICES").as_deref() != Ok("1") {
        eprintln!(
            "skipped: KAMAL_DEV_TEST_SERVICES is not 1; run `.ci/services.sh` as root and \
             `source /tmp/kamal-dev-services/env` to test against a real sshd and Docker"
        );
        return None;
    }
    Some(PathBuf::from(
        std::env::var("KAMAL_DEV_TEST_SSH_KEY").expect("KAMAL_DEV_TEST_SSH_KEY"),
    ))
}

/// A temp project deploying `count` busybox workspaces of `service` to the fake UpCloud.
struct Project {
    ctx: TestContext,
    fake: FakeUpcloud,
    service: String,
    count: u32,
}

impl Project {
    fn new(key: &Path, service: &str, count: u32, source_yaml: &str) -> Project {
        Project::with_devcontainer(
            key,
            service,
            count,
            source_yaml,
            r#"{ "image": "local/busybox:latest", "forwardPorts": [8080] }"#,
        )
    }

    fn with_devcontainer(
        key: &Path,
        service: &str,
        count: u32,
        source_yaml: &str,
        devcontainer: &str,
    ) -> Project {
        let fake = FakeUpcloud::start(FakeUpcloudConfig {
            boot_delay: Duration::from_millis(50),
            ..FakeUpcloudConfig::default()
        });
        let ctx = TestContext::new();
        ctx.write(
            "config/dev.yml",
            format!(
                "service: {service}\nimage: .devcontainer/devcontainer.json\nprovider:\n  type: upcloud\n  zone: fi-hel1\n  plan: 1xCPU-1GB\n  api_url: {url}\nssh:\n  key_path: {key}.pub\ndefaults:\n  cpus: 0.1\n  memory: 64m\nvms:\n  count: {count}\n  spread: false\n{source_yaml}",
                url = fake.url(),
                key = key.display(),
            ),
        );
        ctx.write(".devcontainer/devcontainer.json", devcontainer);
        let project = Project {
            ctx,
            fake,
            service: service.to_string(),
            count,
        };
        project.cleanup();
        project
    }

    fn names(&self) -> Vec<String> {
        (1..=self.count)
            .map(|i| format!("{}-{i}", self.service))
            .collect()
    }

    fn kamal_dev(&self) -> assert_cmd::Command {
        let mut cmd = self.ctx.command();
        cmd.env("UPCLOUD_TOKEN", "anything")
            .timeout(Duration::from_secs(240));
        cmd
    }

    fn deploy(&self) -> String {
        let output = self
            .kamal_dev()
            .args(["deploy", "-y"])
            .output()
            .expect("run deploy");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "deploy failed: {stderr}");
        stderr
    }

    /// `exec NAME -- argv`, returning (exit code, stdout, stderr).
    fn exec(&self, target: &[&str], argv: &[&str]) -> (i32, String, String) {
        let output = self
            .kamal_dev()
            .arg("exec")
            .args(target)
            .arg("--")
            .args(argv)
            .output()
            .expect("run exec");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn cleanup(&self) {
        for name in self.names() {
            let _ = Command::new("docker")
                .args(["rm", "-f", &name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(workspace_dir(&name));
            let _ = std::fs::remove_file(format!("/root/.kamal-dev/env/{name}.env"));
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.cleanup();
        let _ = &self.fake;
    }
}

/// Where deploy puts a workspace's folder on a machine (the machines here are this host).
fn workspace_dir(name: &str) -> PathBuf {
    PathBuf::from(format!("/var/lib/kamal-dev/workspaces/{name}"))
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=kamal-dev test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?} failed");
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file()
            && let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

/// Read every process's command line until `stop`, returning those containing `needle`.
fn sample_cmdlines(needle: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut hits = Vec::new();
        loop {
            let last = stop.load(Ordering::Relaxed);
            if let Ok(procs) = std::fs::read_dir("/proc") {
                for entry in procs.flatten() {
                    if let Ok(bytes) = std::fs::read(entry.path().join("cmdline"))
                        && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                    {
                        hits.push(String::from_utf8_lossy(&bytes).replace('\0', " "));
                    }
                }
            }
            if last {
                break;
            }
        }
        hits
    })
}

#[test]
fn git_source_clones_each_workspace_branch_and_leaks_no_token() {
    let Some(key) = services() else { return };
    let repos = tempfile::tempdir().expect("temp dir");
    let bare = repos.path().join("origin.git");
    let work = repos.path().join("work");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    git(&bare, &["init", "--bare", "--quiet"]);
    git(&work, &["init", "--quiet"]);
    std::fs::write(work.join("README"), "hello from main\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "--quiet", "-m", "first"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    // The first workspace's branch exists already, with a file of its own.
    git(&work, &["checkout", "--quiet", "-b", "ws/wagit-1"]);
    std::fs::write(work.join("ONLY-ON-BRANCH"), "1\n").unwrap();
    git(&work, &["add", "ONLY-ON-BRANCH"]);
    git(&work, &["commit", "--quiet", "-m", "branch"]);
    git(&work, &["push", "--quiet", "origin", "ws/wagit-1"]);

    let token = format!("kdtok-{}", std::process::id());
    let project = Project::new(
        &key,
        "wagit",
        2,
        &format!(
            "source:\n  git:\n    url: file://{}\n    branch: \"ws/{{name}}\"\n    base: main\n    token_secret: GIT_TOKEN\n",
            bare.display()
        ),
    );
    project
        .ctx
        .write(".kamal/secrets", format!("GIT_TOKEN={token}\n"));

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_cmdlines(token.clone(), Arc::clone(&stop));
    let deploy_log = project.deploy();
    stop.store(true, Ordering::Relaxed);
    let hits = sampler.join().expect("sampler");
    assert!(hits.is_empty(), "the token was on a command line: {hits:?}");
    assert!(!deploy_log.contains(&token), "the token was printed");

    for name in project.names() {
        let (code, head, stderr) = project.exec(&[&name], &["cat", ".git/HEAD"]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(head.trim(), format!("ref: refs/heads/ws/{name}"));
        let (_, readme, _) = project.exec(&[&name], &["cat", "README"]);
        assert_eq!(readme.trim(), "hello from main");
        let dir = workspace_dir(&name);
        let config = std::fs::read_to_string(dir.join(".git/config")).expect(".git/config");
        assert!(!config.contains(&token), ".git/config holds the token");
        let leaked = files_containing(&dir, token.as_bytes());
        assert!(
            leaked.is_empty(),
            "token in files on the machine: {leaked:?}"
        );
    }
    let leaked = files_containing(Path::new("/root/.kamal-dev"), token.as_bytes());
    assert!(
        leaked.is_empty(),
        "token in files on the machine: {leaked:?}"
    );
    // The existing branch was checked out, the missing one created from main.
    let (code, _, _) = project.exec(&["wagit-1"], &["test", "-f", "ONLY-ON-BRANCH"]);
    assert_eq!(code, 0, "wagit-1 did not check out its existing branch");
    let (code, _, _) = project.exec(&["wagit-2"], &["test", "-f", "ONLY-ON-BRANCH"]);
    assert_eq!(code, 1, "wagit-2 was not created from main");
}

#[test]
fn upload_skips_ignored_files_and_exec_reaches_every_workspace() {
    let Some(key) = services() else { return };
    // A non-root remoteUser: the uploaded files must be theirs to edit.
    let project = Project::with_devcontainer(
        &key,
        "waup",
        2,
        "source:\n  upload: app\n",
        r#"{ "image": "local/busybox:latest", "remoteUser": "nobody" }"#,
    );
    project.ctx.write("app/.gitignore", "*.log\nbuild/\n");
    project.ctx.write("app/keep.txt", "kept\n");
    project.ctx.write("app/src/main.sh", "echo hi\n");
    project.ctx.write("app/debug.log", "noise\n");
    project.ctx.write("app/build/out.bin", "binary\n");
    project.deploy();

    let (code, listing, stderr) = project.exec(&["waup-1"], &["find", "."]);
    assert_eq!(code, 0, "{stderr}");
    assert!(listing.contains("./keep.txt"), "{listing}");
    assert!(listing.contains("./src/main.sh"), "{listing}");
    assert!(
        !listing.contains("debug.log"),
        "ignored file uploaded: {listing}"
    );
    assert!(
        !listing.contains("build"),
        "ignored folder uploaded: {listing}"
    );

    let (code, out, stderr) = project.exec(
        &["waup-1"],
        &[
            "sh",
            "-c",
            "id -u && touch made-by-user && echo more >> keep.txt",
        ],
    );
    assert_eq!(
        code, 0,
        "the remote user cannot edit the uploaded files: {stderr}"
    );
    assert_eq!(out.trim(), "65534");

    // --all: every workspace answers, each line prefixed with its name.
    let (code, out, stderr) = project.exec(&["--all"], &["cat", "keep.txt"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(out.lines().any(|l| l == "waup-1 | more"), "{out}");
    assert!(out.lines().any(|l| l == "waup-2 | kept"), "{out}");
    // One workspace: the command's own exit code; all: 1 when any failed.
    let (code, _, _) = project.exec(&["waup-2"], &["sh", "-c", "exit 3"]);
    assert_eq!(code, 3);
    let (code, _, stderr) = project.exec(&["--all"], &["sh", "-c", "test \"$HOSTNAME\" = never"]);
    assert_eq!(code, 1, "{stderr}");
    // logs: the container's output (the exec above wrote none to it) and a clear miss.
    let output = project
        .kamal_dev()
        .args(["logs", "waup-1", "--tail", "5"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = project
        .kamal_dev()
        .args(["logs", "nope-9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let (code, _, stderr) = project.exec(&["nope-9"], &["true"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no workspace named nope-9"), "{stderr}");
}

/// Run `cmd` with `input` on its stdin (then end of file) and collect its output.
fn with_input(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("command output")
}

/// A free local port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn ssh_config_works_with_system_ssh_and_forward_reaches_the_container() {
    let Some(key) = services() else { return };
    let project = Project::new(&key, "wassh", 1, "");
    project.deploy();

    let config = project.ctx.path().join(".kamal/ssh_config");
    let after_deploy = std::fs::read_to_string(&config).expect("deploy writes .kamal/ssh_config");
    assert!(
        after_deploy.contains("Host wassh-1.machine\n"),
        "{after_deploy}"
    );
    let output = project
        .kamal_dev()
        .arg("ssh-config")
        .output()
        .expect("ssh-config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config = project.ctx.path().join(".kamal/ssh_config");
    assert_eq!(stdout.trim(), format!("Include {}", config.display()));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("Host wassh-1\n"), "{text}");
    let known = std::fs::read_to_string(project.ctx.path().join(".kamal/known_hosts")).unwrap();
    assert!(known.starts_with("127.0.0."), "{known}");

    // The system ssh with only the generated file, run from another folder: the workspace
    // entry's ProxyCommand (`kamal-dev ssh NAME --stdio`) finds the project by itself.
    let ssh = |args: &[&str]| -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg(&config)
            .args(["-o", "BatchMode=yes"])
            .args(args)
            .current_dir("/")
            .env("HOME", project.ctx.path())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("UPCLOUD_TOKEN")
            .stdin(Stdio::null());
        cmd
    };
    let run = |cmd: &mut Command| -> (Option<i32>, String, String) {
        let output = cmd.output().expect("run ssh");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // The machine entry runs commands; strict checking against the pinned key passes.
    let (code, _, stderr) = run(&mut ssh(&["wassh-1.machine", "true"]));
    assert_eq!(code, Some(0), "ssh -F ... wassh-1.machine true: {stderr}");
    // `ssh <workspace> true`, as the issue asks, and a command that proves where it ran,
    // with its exit code passed back.
    let started = Instant::now();
    let (code, _, stderr) = run(&mut ssh(&["wassh-1", "true"]));
    assert_eq!(code, Some(0), "ssh -F ... wassh-1 true: {stderr}");
    eprintln!("ssh -F ... wassh-1 true took {:?}", started.elapsed());
    let (code, stdout, stderr) = run(&mut ssh(&[
        "wassh-1",
        "test ! -e /var/lib/kamal-dev && echo in-container-$((6*7)) $PWD; exit 3",
    ]));
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    assert!(
        stdout.contains("in-container-42 /workspaces/"),
        "{stdout}{stderr}"
    );
    // stdin reaches the command and its end reaches it too (`cat` exits).
    let output = with_input(
        &mut ssh(&["wassh-1", "cat; echo done-$?"]),
        b"piped-through\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "piped-through\ndone-0\n",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // An interactive session with a terminal lands in the container's login shell.
    let output = with_input(
        ssh(&["-tt", "wassh-1"]).env("TERM", "xterm-kamal-test"),
        b"test ! -e /var/lib/kamal-dev && test -t 0 && echo tty-in-container-$((6*7)) $PWD $TERM; exit 4\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("tty-in-container-42 /workspaces/"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(" xterm-kamal-test"),
        "TERM not passed on: {stdout}"
    );
    assert_eq!(output.status.code(), Some(4));
    // A workspace that is not recorded: the proxy says so on ssh's stderr.
    let text = std::fs::read_to_string(&config).unwrap();
    let broken = project.ctx.path().join(".kamal/ssh_config_broken");
    std::fs::write(
        &broken,
        text.replace("ssh wassh-1 --stdio", "ssh wassh-9 --stdio"),
    )
    .unwrap();
    let (code, _, stderr) = run(Command::new("ssh")
        .arg("-F")
        .arg(&broken)
        .args(["-o", "BatchMode=yes", "wassh-1", "true"])
        .env("HOME", project.ctx.path())
        .stdin(Stdio::null()));
    assert_eq!(code, Some(255), "{stderr}");
    assert!(stderr.contains("no workspace named wassh-9"), "{stderr}");

    // `kamal-dev ssh` (system ssh with the pinned key) with a piped script: the container,
    // or with --machine the machine; the shell's exit code comes back.
    let output = project
        .kamal_dev()
        .args(["ssh", "wassh-1"])
        .write_stdin("test ! -e /var/lib/kamal-dev && echo via-ssh-$((6*7)) $PWD; exit 5\n")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("via-ssh-42 /workspaces/"),
        "{:?} {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(5));
    let output = project
        .kamal_dev()
        .args(["ssh", "wassh-1", "--machine"])
        .write_stdin("test -d /var/lib/kamal-dev/workspaces/wassh-1 && echo on-machine-$((6*7))\n")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("on-machine-42"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A web server on port 8080 inside the container, reached through `forward`.
    let (code, _, stderr) = project.exec(
        &["wassh-1"],
        &["sh", "-c", "mkdir -p /tmp/www && echo forwarded-ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www && httpd -p 8081 -h /tmp/www"],
    );
    assert_eq!(code, 0, "{stderr}");
    // `ssh -W localhost:PORT <workspace>` (a forward through the proxy, as VS Code and
    // `ssh -L` use) reaches the container's own localhost: 8080 is published (through its
    // machine port), 8081 is not (through the container's address).
    let through_proxy = |port: u16| -> String {
        let mut answer = String::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let output = with_input(
                &mut ssh(&["-W", &format!("localhost:{port}"), "wassh-1"]),
                b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
            );
            answer = String::from_utf8_lossy(&output.stdout).into_owned();
            if answer.contains("forwarded-ok") {
                break;
            }
            answer.push_str(&String::from_utf8_lossy(&output.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
        answer
    };
    for port in [8080, 8081] {
        let answer = through_proxy(port);
        assert!(
            answer.contains("forwarded-ok"),
            "ssh -W localhost:{port}: {answer}"
        );
    }
    let local = free_port();
    let mut forward = Command::new(assert_cmd::cargo::cargo_bin("kamal-dev"))
        .args(["forward", "wassh-1", &format!("{local}:8080")])
        .current_dir(project.ctx.path())
        .env("HOME", project.ctx.path())
        .env("UPCLOUD_TOKEN", "anything")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start forward");
    let started = Instant::now();
    let mut answer = String::new();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", local)) {
            let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = socket.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
            answer.clear();
            let _ = socket.read_to_string(&mut answer);
            if answer.contains("forwarded-ok") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = forward.kill();
    let _ = forward.wait();
    assert!(
        answer.contains("forwarded-ok"),
        "no answer through the forward: {answer:?}"
    );

    // A local port that is taken is said so, and nothing starts.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = project
        .kamal_dev()
        .args(["forward", "wassh-1", &format!("{port}:8080")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("local port {port} is already in use")),
        "{stderr}"
    );
}

#[test]
fn install_binstub_adds_dev_dispatch_and_keeps_kamal() {
    let ctx = TestContext::new();
    let original = "#!/bin/sh\n# the project's own binstub\necho \"kamal $*\"\n";
    ctx.write("bin/kamal", original);
    let binstub = ctx.path().join("bin/kamal");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&binstub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    ctx.command().arg("install-binstub").assert().success();
    let once = std::fs::read_to_string(&binstub).unwrap();
    ctx.command().arg("install-binstub").assert().success();
    assert_eq!(
        std::fs::read_to_string(&binstub).unwrap(),
        once,
        "not idempotent"
    );
    assert!(once.ends_with("# the project's own binstub\necho \"kamal $*\"\n"));

    let other = Command::new(&binstub)
        .args(["deploy", "-d", "staging"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&other.stdout),
        "kamal deploy -d staging\n"
    );
    let dev = Command::new(&binstub)
        .args(["dev", "--version"])
        .env("KAMAL_DEV", assert_cmd::cargo::cargo_bin("kamal-dev"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dev.stdout).starts_with("kamal-dev "),
        "{}",
        String::from_utf8_lossy(&dev.stdout)
    );
}

/// The clone script hands the token to git only through its credential helper: a server
/// asking for Basic auth receives `x-access-token:<token>`, while no process's command line
/// carries it. (Runs the script on this machine; needs only git.)
#[tokio::test]
async fn git_token_reaches_the_server_only_through_the_credential_helper() {
    use base64::Engine as _;
    use kamal_dev::config::GitSource;
    use kamal_dev::remote::Executor;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let server_seen = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let auth = text
                .lines()
                .find_map(|l| l.strip_prefix("Authorization: ").map(str::to_string));
            let reply = match auth {
                None => {
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"t\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                }
                Some(header) => {
                    server_seen.lock().unwrap().push(header);
                    "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                }
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });

    let token = format!("kdhelper-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("checkout");
    let source = GitSource {
        url: format!("http://127.0.0.1:{port}/repo.git"),
        branch: Some("ws/one".into()),
        base: None,
        token_secret: Some("GIT_TOKEN".into()),
    };
    let argv =
        kamal_dev::deploy::source::git_argv(&source, Some("ws/one"), target.to_str().unwrap())
            .unwrap();
    assert!(!argv.iter().any(|a| a.contains(&token)));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_cmdlines(token.clone(), Arc::clone(&stop));
    let output = Executor::local()
        .run(&argv, Some(format!("{token}\n").as_bytes()))
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(
        !output.success(),
        "the server refuses, so the clone must fail"
    );
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
    );
    assert_eq!(seen.lock().unwrap().first(), Some(&expected));
    let hits = sampler.join().unwrap();
    assert!(hits.is_empty(), "the token was on a command line: {hits:?}");
    assert!(!output.stderr_text().contains(&token));
    assert!(files_containing(dir.path(), token.as_bytes()).is_empty());
}

/// The files of a Dockerfile devcontainer whose build copies its whole context.
fn write_dockerfile_devcontainer(ctx: &TestContext) {
    ctx.write(
        ".devcontainer/devcontainer.json",
        r#"{ "build": { "dockerfile": "Dockerfile", "context": ".." } }"#,
    );
    ctx.write(
        ".devcontainer/Dockerfile",
        "FROM local/busybox:latest\nCOPY . /ctx/\n",
    );
    ctx.write("hello.txt", "hello-from-the-build\n");
    ctx.write("debug.log", "ignored by .dockerignore\n");
    ctx.write(".dockerignore", "*.log\n");
}

/// What the built image holds under /ctx (its build context), via `kamal-dev exec`.
fn built_context(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn remove_images(service: &str) {
    let listed = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("reference=vsc-{service}-*"),
        ])
        .output();
    if let Ok(listed) = listed {
        for id in String::from_utf8_lossy(&listed.stdout).split_whitespace() {
            let _ = Command::new("docker")
                .args(["rmi", "-f", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn dockerfile_devcontainer_builds_on_the_machine_from_a_streamed_context() {
    let Some(key) = services() else { return };
    let project = Project::new(&key, "wabld", 1, "");
    write_dockerfile_devcontainer(&project.ctx);
    project.ctx.write(".kamal/secrets", "NOT_IN_THE_IMAGE=1\n");
    let dry = project
        .kamal_dev()
        .args(["deploy", "--dry-run"])
        .output()
        .unwrap();
    assert!(dry.status.success());
    project.deploy();
    let output = project
        .kamal_dev()
        .args([
            "exec",
            "wabld-1",
            "--",
            "sh",
            "-c",
            "cat /ctx/hello.txt; ls -a /ctx",
        ])
        .output()
        .unwrap();
    let listing = built_context(&output);
    remove_images("wabld");
    assert!(listing.contains("hello-from-the-build"), "{listing}");
    assert!(listing.contains(".dockerignore"), "{listing}");
    assert!(
        !listing.contains("debug.log"),
        ".dockerignore not honoured: {listing}"
    );
    assert!(
        !listing.contains(".kamal\n"),
        "secrets folder in the context: {listing}"
    );
    // Nothing of the build is left on the machine but the image.
    assert!(
        !std::path::Path::new("/var/lib/kamal-dev/build").exists(),
        "build files left on the machine"
    );
}

#[test]
fn dockerfile_devcontainer_builds_with_the_local_provider() {
    if services().is_none() {
        return;
    }
    let ctx = TestContext::new();
    ctx.write(
        "config/dev.yml",
        "service: walbd\nimage: .devcontainer/devcontainer.json\nprovider:\n  type: local\ndefaults:\n  cpus: 0.1\n  memory: 64m\n",
    );
    write_dockerfile_devcontainer(&ctx);
    let cleanup = || {
        let _ = Command::new("docker")
            .args(["rm", "-f", "walbd-1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        remove_images("walbd");
    };
    cleanup();
    let deploy = ctx.command().args(["deploy", "-y"]).output().unwrap();
    assert!(
        deploy.status.success(),
        "{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    let output = ctx
        .command()
        .args(["exec", "walbd-1", "--", "cat", "/ctx/hello.txt"])
        .output()
        .unwrap();
    let text = built_context(&output);
    cleanup();
    assert_eq!(text, "hello-from-the-build\n");
}

#[test]
fn features_devcontainer_builds_on_the_machine_with_its_options() {
    let Some(key) = services() else { return };
    // A base image whose devcontainer metadata names its remote user, as the published
    // devcontainer images do: the Feature must be installed for that user.
    let base = with_input(
        Command::new("docker").args([
            "build",
            "-q",
            "-t",
            "kamal-dev-test/labelled-busybox:latest",
            "-",
        ]),
        b"FROM local/busybox:latest\nLABEL devcontainer.metadata=\"[{\\\"remoteUser\\\":\\\"nobody\\\"}]\"\n",
    );
    assert!(
        base.status.success(),
        "labelled base image: {}",
        String::from_utf8_lossy(&base.stderr)
    );
    let project = Project::with_devcontainer(
        &key,
        "wafea",
        1,
        "",
        r#"{ "image": "kamal-dev-test/labelled-busybox:latest", "features": { "./hello": { "greeting": "hello there" } } }"#,
    );
    project.ctx.write(
        ".devcontainer/hello/devcontainer-feature.json",
        r#"{ "id": "hello", "version": "1.0.0", "name": "Hello",
             "options": { "greeting": { "type": "string", "default": "hi" },
                          "punctuation": { "type": "string", "default": "!" } } }"#,
    );
    project.ctx.write(
        ".devcontainer/hello/install.sh",
        "#!/bin/sh\necho \"$GREETING$PUNCTUATION as $_REMOTE_USER\" > /feature.txt\n",
    );
    let dry = project
        .kamal_dev()
        .args(["deploy", "--dry-run"])
        .output()
        .unwrap();
    let dry_text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_text.contains("the files of 1 Feature(s) streamed into"),
        "{dry_text}"
    );
    project.deploy();
    let output = project
        .kamal_dev()
        .args(["exec", "wafea-1", "--", "cat", "/feature.txt"])
        .output()
        .unwrap();
    let text = built_context(&output);
    remove_images("wafea");
    assert_eq!(text, "hello there! as nobody\n");
}

/// A Feature layer: a tar of `devcontainer-feature.json` and `install.sh`.
fn feature_layer(metadata: &str, install: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, text) in [
        ("devcontainer-feature.json", metadata),
        ("install.sh", install),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder
            .append_data(&mut header, name, text.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn registry_feature_is_downloaded_with_a_token_and_built_on_the_machine() {
    use crate::common::fake_http::{respond, serve};
    use sha2::Digest as _;

    let Some(key) = services() else { return };
    let layer = Arc::new(feature_layer(
        r#"{ "id": "hello", "version": "1.0.0", "name": "Hello",
             "options": { "greeting": { "type": "string", "default": "hi" } } }"#,
        "#!/bin/sh\necho \"$GREETING\" > /oci-feature.txt\n",
    ));
    let layer_digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(layer.as_slice()))
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.devcontainers", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": "application/vnd.devcontainers.layer.v1+tar", "digest": layer_digest, "size": layer.len(),
                    "annotations": {"org.opencontainers.image.title": "devcontainer-feature-hello.tgz"}}],
    });
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let registry = {
        let (layer, base, seen) = (Arc::clone(&layer), Arc::clone(&base), Arc::clone(&seen));
        let layer_digest = layer_digest.clone();
        serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let (layer, base, seen) = (Arc::clone(&layer), Arc::clone(&base), Arc::clone(&seen));
            let (manifest, layer_digest) = (manifest.clone(), layer_digest.clone());
            async move {
                let path = request.uri().to_string();
                let authorised = request
                    .headers()
                    .get("authorization")
                    .is_some_and(|v| v.to_str().unwrap_or_default() == "Bearer t0k3n");
                seen.lock().unwrap().push(path.clone());
                if path.starts_with("/token?") {
                    return Ok(respond(
                        200,
                        &serde_json::json!({"token": "t0k3n"}),
                        "application/json",
                    ));
                }
                if !authorised {
                    let mut response =
                        respond(401, &serde_json::json!({"errors": []}), "application/json");
                    let challenge = format!(
                        "Bearer realm=\"{}/token\",service=\"fake\",scope=\"repository:features/hello:pull\"",
                        base.get().cloned().unwrap_or_default()
                    );
                    response
                        .headers_mut()
                        .insert("www-authenticate", challenge.parse().unwrap());
                    return Ok(response);
                }
                if path == "/v2/features/hello/manifests/1" {
                    return Ok(respond(
                        200,
                        &manifest,
                        "application/vnd.oci.image.manifest.v1+json",
                    ));
                }
                if path == format!("/v2/features/hello/blobs/{layer_digest}") {
                    return Ok(hyper::Response::new(http_body_util::Full::new(
                        hyper::body::Bytes::from(layer.to_vec()),
                    )));
                }
                Ok(respond(
                    404,
                    &serde_json::json!({"errors": []}),
                    "application/json",
                ))
            }
        })
    };
    base.set(registry.url.clone()).unwrap();
    let reference = format!(
        "{}/features/hello:1",
        registry.url.trim_start_matches("http://")
    );
    let project = Project::with_devcontainer(
        &key,
        "waoci",
        1,
        "",
        &format!(
            r#"{{ "image": "local/busybox:latest", "features": {{ "{reference}": {{ "greeting": "from the registry" }} }} }}"#
        ),
    );
    project.deploy();
    let output = project
        .kamal_dev()
        .args(["exec", "waoci-1", "--", "cat", "/oci-feature.txt"])
        .output()
        .unwrap();
    let text = built_context(&output);
    remove_images("waoci");
    assert_eq!(text, "from the registry\n");
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().any(|p| p.starts_with("/token?")), "{seen:?}");
    assert!(
        seen.iter().any(|p| p.contains("/blobs/sha256:")),
        "{seen:?}"
    );
    // Later commands resolve the Feature from the cache, without the registry.
    drop(registry);
    let run_args = project
        .kamal_dev()
        .args(["devcontainer", "run-args", "--workspace-folder", "."])
        .output()
        .unwrap();
    assert!(
        run_args.status.success(),
        "{}",
        String::from_utf8_lossy(&run_args.stderr)
    );
}
