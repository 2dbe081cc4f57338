//! Shared test helpers: run the real binary in a temporary project folder.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The folder `../shared` (conformance corpus, fixtures), from `KAMAL_DEV_SHARED`. `None`
/// when the variable is unset: tests that need it print why they did not run.
pub fn shared_dir() -> Option<PathBuf> {
    std::env::var_os("KAMAL_DEV_SHARED").map(PathBuf::from)
}

/// A temporary project folder and a way to run `kamal-dev` inside it.
pub struct TestContext {
    pub dir: tempfile::TempDir,
}

impl TestContext {
    pub fn new() -> Self {
        TestContext {
            dir: tempfile::tempdir().expect("create temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file relative to the project folder, creating parent folders.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// `kamal-dev` with the project folder as working directory and a clean environment.
    pub fn command(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("kamal-dev").expect("binary");
        cmd.current_dir(self.dir.path())
            .env_remove("VERBOSE")
            .env("NO_COLOR", "1")
            .env("HOME", self.dir.path());
        cmd
    }
}

pub mod fake_cloud;
pub mod fake_hetzner;
pub mod fake_http;
pub mod fake_upcloud;
pub mod project;
