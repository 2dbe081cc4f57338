//! Malformed configs through the real binary: exit code 2 and the exact message, no panic.

use crate::common::TestContext;

#[test]
fn placeholder_for_config_errors() {
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", "service: a\nprovider:\n  type: upclod\n");
    let output = ctx.command().arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
