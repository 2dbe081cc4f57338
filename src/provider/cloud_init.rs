//! The default cloud-init user data for new machines: install Docker from the distribution's
//! packages and start it. Data only; the provider passes it through and never runs it.

/// `#cloud-config` that installs and enables Docker on Debian/Ubuntu images. Kept small: the
/// deploy workflow waits for cloud-init to finish over SSH before it uses Docker.
pub const DEFAULT_USER_DATA: &str = "#cloud-config
package_update: true
packages:
  - docker.io
runcmd:
  - [systemctl, enable, --now, docker]
";

#[cfg(test)]
mod tests {
    #[test]
    fn default_user_data_is_cloud_config_installing_docker() {
        assert!(super::DEFAULT_USER_DATA.starts_with("#cloud-config\n"));
        assert!(super::DEFAULT_USER_DATA.contains("docker.io"));
    }
}
